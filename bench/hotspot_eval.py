"""Hotspot forecasting benchmark on the Vancouver police records (issue 6).

Runs the evaluation protocol of ``qingzhi.analysis.evaluation`` for four series (all located
crime; Break and Enter Residential/Other; Theft from Vehicle; Mischief) and every method, through
the same procedure as ``qingzhi hotspot evaluate --tune`` (``methods.run_method``): each method's
settings are chosen by ``methods.tune`` on the three validation quarters before the evaluation
period (``methods.validation_quarters``: 2023-Q2, Q3 and Q4, rolling origin, hits pooled) and
frozen; the ensembles' weights are fitted on the 365 days before the period they forecast, and
(for the criterion on validation) evaluated on the same quarters. Nothing is tuned on the
evaluation period 2024-01-01 to 2024-03-31.

Prints the table, the 1.05x criterion check and the self-exciting point process fit time on the
year before the evaluation period, and writes everything to var/bench/hotspot_eval.json.

    .venv/bin/python bench/hotspot_eval.py [--data DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
from rich.console import Console

from qingzhi.analysis.evaluation import MethodResult, Period
from qingzhi.analysis.events import EventTable, read_events
from qingzhi.analysis.forecast import series_on_grid
from qingzhi.analysis.grid import grid_for
from qingzhi.analysis.methods import (
    HINDSIGHT,
    RECOMMENDED,
    STANDARD_METHODS,
    run_method,
    validation_quarters,
)
from qingzhi.analysis.sepp import fit_sepp
from qingzhi.cli.hotspot import results_table
from qingzhi.config import shared_data_dir

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DATA = shared_data_dir("vancouver_vpd")
SERIES: dict[str, str | None] = {
    "all located crime": None,
    "Break and Enter Residential/Other": "Break and Enter Residential/Other",
    "Theft from Vehicle": "Theft from Vehicle",
    "Mischief": "Mischief",
}
EVALUATION = Period.of("2024-01-01", 91)
VALIDATION = tuple(validation_quarters(EVALUATION.start))
OURS = RECOMMENDED
OTHERS = ("mixture",)


TIME_COLS = ["YEAR", "MONTH", "DAY", "HOUR", "MINUTE"]


def vancouver_files(data: Path) -> list[Path]:
    files = sorted(data.glob("crimedata_csv_AllNeighbourhoods_*.csv.gz"))
    if not files:
        raise SystemExit(f"no Vancouver files in {data}")
    return files


def load(data: Path, category_col: str = "TYPE") -> EventTable:
    """Every located event, with ``category_col`` as its category."""
    return read_events(
        vancouver_files(data), time_cols=TIME_COLS, x_col="X", y_col="Y", category_col=category_col
    )[0]


def run_series(events: EventTable, category: str | None, console: Console) -> dict[str, object]:
    ev = events if category is None else events.of_categories([category])
    series = series_on_grid(ev, grid_for(ev.x, ev.y, 150.0), None if category is None else events)
    results: list[MethodResult] = []
    tuned: dict[str, object] = {}
    validation: dict[str, list[float]] = {}
    fit_seconds: dict[str, float] = {}
    for name in (*STANDARD_METHODS, OURS, *OTHERS):
        run = run_method(name, series, EVALUATION, tuning=VALIDATION, validate=True)
        assert run.validation is not None
        tuned[name] = run.params
        validation[name] = [round(float(v), 4) for v in run.validation.hit_rate]
        fit_seconds[name] = round(run.result.fit_time, 2)
        results.append(run.result)
        log.info("%s: tuning, fit and evaluation %.1f s", name, run.result.total_time)
    results.append(run_method(HINDSIGHT, series, EVALUATION).result)
    title = f"{category or 'all located crime'}: {int(results[0].totals.sum())} events"
    console.print(results_table(results, title))
    return {
        "category": category,
        "n_events_period": int(results[0].totals.sum()),
        "tuned_params": tuned,
        "validation_hit_rate": validation,
        "fit_seconds": fit_seconds,
        "results": [r.to_dict() for r in results],
    }


def criterion(
    report: dict[str, dict[str, object]], console: Console, on_validation: bool = False
) -> dict[str, object]:
    """The issue's criterion on the evaluation period (or, as a check, the validation quarters)."""
    singles = [k for k, v in SERIES.items() if v is not None]
    console.print("validation quarters (pooled):" if on_validation else "evaluation period:")

    def rates(series: str, method: str) -> np.ndarray:
        if on_validation:
            val = report[series]["validation_hit_rate"]
            assert isinstance(val, dict)
            return np.asarray(val[method])
        results = report[series]["results"]
        assert isinstance(results, list)
        for r in results:
            if r["method"] == method:
                return np.asarray(r["hit_rate"])
        raise KeyError(method)

    cov = [1.0, 2.0, 5.0, 10.0, 20.0]
    out: dict[str, object] = {}
    for k in (1.0, 5.0):
        i = cov.index(k)
        ours = float(np.mean([rates(s, OURS)[i] for s in singles]))
        std = {m: float(np.mean([rates(s, m)[i] for s in singles])) for m in STANDARD_METHODS}
        best = max(std, key=lambda m: std[m])
        ratio = ours / std[best] if std[best] > 0 else float("nan")
        ok = ratio >= 1.05
        console.print(
            f"{k:g}%: {OURS} mean hit rate {ours:.4f} vs best standard {best} "
            f"{std[best]:.4f}: ratio {ratio:.3f} -> {'PASS' if ok else 'FAIL'} (need 1.05)"
        )
        out[f"ratio_{k:g}"] = {"ours": ours, "best": best, "best_rate": std[best], "ratio": ratio}
    worst = (np.inf, "", 0.0)
    for s in SERIES:
        for i, k in enumerate(cov):
            best_rate = max(rates(s, m)[i] for m in STANDARD_METHODS)
            rel = rates(s, OURS)[i] / best_rate if best_rate > 0 else 1.0
            if rel < worst[0]:
                worst = (float(rel), s, k)
    ok = worst[0] >= 0.98
    console.print(
        f"worst series/coverage: {worst[1]} at {worst[2]:g}%: {worst[0]:.3f} of the best standard "
        f"method there -> {'PASS' if ok else 'FAIL'} (need >= 0.98)"
    )
    out["worst_relative"] = {"series": worst[1], "coverage": worst[2], "ratio": worst[0]}
    return out


def sepp_timing(events: EventTable, console: Console) -> dict[str, float]:
    series = series_on_grid(events, grid_for(events.x, events.y, 150.0))
    fit = fit_sepp(series, start=EVALUATION.start - 365, end=EVALUATION.start, bg_bandwidth=150.0)
    console.print(
        f"SEPP fit on the year before the evaluation period: {fit.n_events} events, "
        f"{fit.iterations} EM iterations, {fit.seconds:.1f} s (theta {fit.theta:.3f}, "
        f"1/omega {1 / fit.omega:.1f} days, sigma {fit.sigma:.0f} m)"
    )
    return {
        "n_events": fit.n_events,
        "seconds": fit.seconds,
        "iterations": fit.iterations,
        "theta": fit.theta,
        "omega": fit.omega,
        "sigma": fit.sigma,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "hotspot_eval.json")
    parser.add_argument("--series", default="", help="comma list of series names (default all)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    console = Console(width=120)
    events = load(args.data)
    wanted = [s.strip() for s in args.series.split(",") if s.strip()] or list(SERIES)
    report: dict[str, dict[str, object]] = {}
    for name in wanted:
        report[name] = run_series(events, SERIES[name], console)
    payload: dict[str, object] = {"series": report}
    if len(wanted) == len(SERIES):
        payload["criterion_validation"] = criterion(report, console, on_validation=True)
        payload["criterion"] = criterion(report, console)
    payload["sepp_fit"] = sepp_timing(events, console)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
