"""What one analysis request costs at the bounds of ``intel.budget`` (and at its defaults).

On a demo county store (load it first: ``QINGZHI_DATABASE_URL=sqlite:///var/bench/demo.db
qingzhi demo load``), each case runs in a fresh process and prints its wall time and the process's
peak memory above what it held after the imports; every endpoint is run at its default parameters
(the baseline) and with parameters chosen to sit just under each of its limits, and the ratio to
the baseline is printed. The budget is 1 GB and 30 s a request, a background forecast fit 2 GB
and 10 minutes (see ``qingzhi.intel.budget``). Bureau-wide scope, the store's last year.

    .venv/bin/python bench/analysis_bounds.py [--database sqlite:///var/bench/demo.db] [--only A,B]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DB = f"sqlite:///{REPO / 'var' / 'bench' / 'demo.db'}"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _last_day(session: Any) -> dt.date:
    from sqlalchemy import func, select

    from qingzhi.incidents.models import Incident

    last: dt.datetime = session.scalar(select(func.max(Incident.received_at)))
    return (last + dt.timedelta(hours=8)).date() + dt.timedelta(days=1)


def _bound_cell(extent: tuple[float, float, float, float], limit: int) -> float:
    """The smallest whole-metre cell whose grid stays within ``limit`` cells."""
    from qingzhi.analysis.grid import extent_cells

    cell = 10.0
    while extent_cells(*extent, cell) > limit:
        cell += 1.0
    return cell


def run_case(name: str, database: str) -> dict[str, Any]:
    """Run one case in this process; its seconds, peak MB above the imports, and parameters."""
    from qingzhi.auth.context import system_actor
    from qingzhi.config import Settings
    from qingzhi.incidents.enums import Category
    from qingzhi.intel import areas, budget, forecasting, maps, service
    from qingzhi.store.db import Database

    settings = Settings(database_url=database)
    db = Database.from_settings(settings)
    actor = system_actor("bench")
    with db.session() as s:
        end = _last_day(s)
        start = dt.datetime.combine(end - dt.timedelta(days=365), dt.time())
        stop = dt.datetime.combine(end, dt.time())
        area = areas.jurisdictions(s, actor, settings.projected_crs)
        assert area is not None, "the demo store has jurisdictions"
        xmin, ymin, xmax, ymax = (float(v) for v in area.bounds)
        extent = (xmin, ymin, xmax, ymax)
        params: dict[str, Any] = {}
        if name.startswith("nearrepeat"):
            from qingzhi.analysis.nearrepeat import count_close_pairs

            ev = service.load_events(
                session=s,
                actor=actor,
                settings=settings,
                start=start,
                end=stop,
                categories=[Category.dispute],
            ).located()
            if name == "nearrepeat@bound":
                lo, hi = 100.0, budget.MAX_KNOX_DISTANCE_M
                while hi - lo > 10:
                    mid = (lo + hi) / 2
                    if count_close_pairs(ev.x, ev.y, mid) > budget.MAX_KNOX_PAIRS:
                        hi = mid
                    else:
                        lo = mid
                pairs = count_close_pairs(ev.x, ev.y, lo)
                params = {
                    "distance_edges": [0.0, round(lo / 2), math.floor(lo)],
                    "permutations": max(19, budget.MAX_KNOX_WORK // max(pairs, 1)),
                }
        elif name == "hotspots@bound":
            params = {"cell": _bound_cell(extent, budget.MAX_GRID_CELLS)}
        elif name == "warnings@bound":
            # the finest cell whose study area x 28 days is within the cell-day limit, and as
            # many replicates as the work limit allows on it
            import numpy as np

            cell, n_cells = 200.0, 0
            while True:
                study = areas.study_grid(
                    s, actor, settings.projected_crs, cell, np.zeros(0), np.zeros(0)
                )
                n_cells = int(study.inside.sum())
                if n_cells * 28 <= budget.MAX_SCAN_CELL_DAYS * 0.95:  # room for cells of calls
                    break
                cell += 10.0
            params = {
                "cell": cell,
                "days": 28,
                "simulations": min(999, budget.MAX_SCAN_WORK // (budget.MAX_SCAN_CELL_DAYS)),
            }
        elif name == "forecast-job@rows":
            # the fit with the most rows within the row limit (100 m cells, fit days in 30s)
            from qingzhi.errors import ValidationFailed

            best = (0, 30)
            for fit_days in range(30, 361, 30):
                try:
                    inputs = forecasting.fit_inputs(
                        session=s,
                        actor=actor,
                        settings=settings,
                        params=forecasting.fit_params(
                            day=end, cell=100.0, history_days=730, fit_days=fit_days, categories=[]
                        ),
                    )
                except ValidationFailed:
                    continue
                if inputs is not None and inputs.rows > best[0]:
                    best = (inputs.rows, fit_days)
            params = {"cell": 100.0, "fit_days": best[1]}
        elif name == "forecast-job@bound":
            # the finest cell within the forecast's grid limit, and the longest fit (in steps of
            # 10 days) whose rows are within the row limit
            from qingzhi.errors import ValidationFailed

            cell = _bound_cell(extent, budget.MAX_FORECAST_CELLS)
            fit_days = 360
            while fit_days > 10:
                try:
                    forecasting.fit_inputs(
                        session=s,
                        actor=actor,
                        settings=settings,
                        params=forecasting.fit_params(
                            day=end, cell=cell, history_days=730, fit_days=fit_days, categories=[]
                        ),
                    )
                    break
                except ValidationFailed:
                    fit_days -= 10
            params = {"cell": cell, "fit_days": fit_days}
    from qingzhi.jobs import service as jobs

    base = _peak_mb()
    began = time.perf_counter()
    with db.session() as s:
        if name.startswith("load"):
            out: Any = len(
                service.load_events(
                    session=s, actor=actor, settings=settings, start=start, end=stop
                )
            )
        elif name.startswith("trends"):
            out = service.trend_report(
                session=s,
                actor=actor,
                settings=settings,
                start=end - dt.timedelta(days=28),
                end=end,
            )["total"]
        elif name.startswith("hotspots"):
            out = maps.hotspot_map(
                session=s, actor=actor, settings=settings, start=start, end=stop, **params
            )["properties"]["n_cells"]
        elif name.startswith("nearrepeat"):
            out = maps.near_repeat(
                session=s,
                actor=actor,
                settings=settings,
                start=start,
                end=stop,
                category=Category.dispute,
                **params,
            )["n_pairs"]
        elif name.startswith("warnings"):
            scan = maps.early_warnings(session=s, actor=actor, settings=settings, end=end, **params)
            out = scan["scan"].get("simulations")
        elif name == "forecast@default":
            # the default request's fit made inline, as a job would make it
            fc = forecasting.forecast_map(
                session=s, actor=actor, settings=settings, day=end, inline_seconds=1e9
            )
            assert isinstance(fc, dict)
            out = fc["properties"]["n_active_cells"]
        elif name.startswith("forecast-job"):
            fit_params = forecasting.fit_params(
                day=end, cell=params["cell"], history_days=730, fit_days=params["fit_days"],
                categories=[],
            )  # fmt: skip
            inputs = forecasting.fit_inputs(
                session=s, actor=actor, settings=settings, params=fit_params
            )
            assert inputs is not None
            forecasting.fit_model(inputs)
            out = {"rows": inputs.rows, "cells": inputs.series.grid.n_cells}
        else:
            raise SystemExit(f"unknown case {name}")
    seconds = time.perf_counter() - began
    del jobs
    return {
        "case": name,
        "seconds": seconds,
        "peak_mb": _peak_mb() - base,
        "params": params,
        "out": out,
    }


CASES = [
    "load@default",
    "trends@default",
    "hotspots@default",
    "hotspots@bound",
    "nearrepeat@default",
    "nearrepeat@bound",
    "warnings@default",
    "warnings@bound",
    "forecast@default",
    "forecast-job@rows",
    "forecast-job@bound",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DB)
    parser.add_argument("--only", default="", help="comma list of cases")
    parser.add_argument("--case", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.database), default=str))
        return
    wanted = [c for c in args.only.split(",") if c] or CASES
    results: dict[str, dict[str, Any]] = {}
    print(f"{'case':22} {'seconds':>8} {'× default':>9} {'peak MB':>8}  parameters -> result")
    for case in wanted:
        done = subprocess.run(
            [sys.executable, __file__, "--database", args.database, "--case", case],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(f"{case:22} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        results[case] = r
        baseline = results.get(case.split("@")[0] + "@default")
        ratio = r["seconds"] / baseline["seconds"] if baseline else float("nan")
        print(
            f"{case:22} {r['seconds']:8.1f} {ratio:9.1f} {r['peak_mb']:8.0f}  "
            f"{r['params']} -> {r['out']}"
        )


if __name__ == "__main__":
    main()
