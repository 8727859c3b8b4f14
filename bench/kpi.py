"""KPI benchmark (pure part): station scoring with bootstrap, and a reform impact evaluation.

On simulated data shaped like the demo county (``qingzhi.analysis.kpi_sim``: 26 stations, the
seed's populations, ~60,000 valid calls a year, 17 bundled stations):

* **scoring** — 26 stations × 8 quarters, the default prevention-oriented scheme, 1,000
  Poisson-bootstrap draws per quarter (target: under 10 s in all), against the same scoring with
  one draw (the point scores: the baseline in the same run);
* **impact** — one ``evaluate_impact`` over 26 stations × 24 months (naive YoY, Poisson DiD with
  CV3 and the score bootstrap, event study, placebo, displacement, synthetic control; target:
  under 5 s), against a single statsmodels Poisson fit with CR1 (the baseline).

It also prints the figures the issue quotes: the naive year-on-year change of the treated
stations against the DiD rate ratio with its interval, for a true −50% — for the timed panel
(one panel's interval misses the truth 5% of the time) and on average over ``--panels`` panels.

    PYTHONPATH=src .venv/bin/python bench/kpi.py [--seed 2026] [--draws 1000] [--repeat 3]
                                                [--panels 20]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import statsmodels.api as sm

from qingzhi.analysis.impact import did, evaluate_impact, naive_yoy
from qingzhi.analysis.kpi_sim import scoring_truth, simulate_panel, simulate_records
from qingzhi.analysis.panel_glm import single_blas
from qingzhi.analysis.scheme import default_scheme
from qingzhi.analysis.scoring import StationRecords, score_stations

QUARTERS = 8


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs (seconds) and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def quarters(seed: int) -> list[list[StationRecords]]:
    """Eight quarters of records for the 26 stations."""
    rng = np.random.default_rng(seed)
    return [simulate_records(scoring_truth(seed + q), rng) for q in range(QUARTERS)]


def baseline_fit(panel: Any) -> None:
    """One plain Poisson DiD fit with station and month dummies and CR1 (statsmodels)."""
    s, t = panel.values.shape
    unit = np.repeat(np.arange(s), t)
    month = np.tile(np.arange(t), s)
    d = (panel.treated[unit] & (month >= panel.reform_index)).astype(float)
    x = np.column_stack(
        [d, unit[:, None] == np.arange(s), month[:, None] == np.arange(1, t)]
    ).astype(float)
    with warnings.catch_warnings(), single_blas():
        warnings.simplefilter("ignore")
        sm.GLM(panel.values.ravel(), x, family=sm.families.Poisson()).fit(
            cov_type="cluster", cov_kwds={"groups": unit}
        )


def main() -> None:
    """Run both benchmarks and print their figures as JSON lines."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--panels", type=int, default=20)
    args = ap.parse_args()
    scheme = default_scheme()

    data = quarters(args.seed)
    n_records = sum(len(r.records["incidents"]["prevention"]) for q in data for r in q)
    point, _ = best_of(args.repeat, lambda: [score_stations(q, scheme, draws=1) for q in data])
    full, boards = best_of(
        args.repeat, lambda: [score_stations(q, scheme, draws=args.draws) for q in data]
    )
    widths = [np.mean([s.rank_worst - s.rank_best + 1 for s in b.stations]) for b in boards]
    print(
        json.dumps(
            {
                "bench": "scoring",
                "stations": 26,
                "quarters": QUARTERS,
                "incident_records": n_records,
                "draws": args.draws,
                "seconds": round(full, 3),
                "target_seconds": 10,
                "baseline_point_scores_seconds": round(point, 3),
                "ratio_to_baseline": round(full / point, 1),
                "mean_displayed_rank_range_width": round(float(np.mean(widths)), 1),
            },
            ensure_ascii=False,
        )
    )

    panel = simulate_panel(args.seed, rate_ratio=0.5)
    base, _ = best_of(args.repeat, lambda: baseline_fit(panel))
    took, report = best_of(args.repeat, lambda: evaluate_impact(panel, seed=args.seed))
    d = report.did
    print(
        json.dumps(
            {
                "bench": "impact",
                "stations": 26,
                "months": 24,
                "seconds": round(took, 3),
                "target_seconds": 5,
                "baseline_one_glm_fit_seconds": round(base, 3),
                "ratio_to_baseline": round(took / base, 1),
                "true_change": -0.5,
                "naive_yoy_treated": round(report.yoy_treated.change, 4),
                "naive_yoy_controls": round(report.yoy_controls.change, 4),
                "did_change": round(d.rate_ratio - 1, 4),
                "did_interval": [round(d.low - 1, 4), round(d.high - 1, 4)],
                "did_p_boot": d.p_boot,
                "placebo_rate_ratio": round(report.placebo.rate_ratio, 4),
                "placebo_p": round(report.placebo.p_value, 4),
                "pretrend_p_boot": report.event_study.pretrend_p,
                "synthetic_median_rate_ratio": round(report.synthetic.median_rate_ratio, 4),
            },
            ensure_ascii=False,
        )
    )

    naive, ratios, covered = [], [], 0
    for k in range(args.panels):
        p = simulate_panel(args.seed + 1 + k, rate_ratio=0.5)
        naive.append(naive_yoy(p, "treated").change)
        e = did(p, draws=99)
        ratios.append(e.rate_ratio)
        covered += e.low <= 0.5 <= e.high
    print(
        json.dumps(
            {
                "bench": "impact_panels",
                "panels": args.panels,
                "true_change": -0.5,
                "naive_yoy_treated_mean": round(float(np.mean(naive)), 4),
                "did_change_geometric_mean": round(float(np.exp(np.mean(np.log(ratios)))) - 1, 4),
                "did_intervals_covering": covered,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
