"""Rolling-origin validation of the recommended method's variants (issue 6 research, reproducible).

For each single-type series (Break and Enter Residential/Other, Theft from Vehicle, Mischief) and
each validation quarter (2023-Q2, Q3, Q4) every variant is fitted on the 365 days before the
quarter and run through the evaluation protocol; hits and events are pooled over the quarters.
Printed: each variant's pooled hit rate at 1/5% per series, and the criterion's ratios against
naive counts over all history (the best standard method on these quarters at 1%). Nothing here
looks at 2024. Variants:

* ``loglinear-*``: the log-linear ensemble (``ensemble.LogLinearEnsemble``) with fewer or other
  features than the recommended set;
* ``eb-a``: an empirical-Bayes (Poisson-gamma) posterior mean with equal exposure, i.e. the
  all-history count plus ``a`` times a prior rate (half own smoothed counts, half all-crime
  smoothed counts rescaled to the series): counts rank, the prior re-ranks near-equal counts;
* ``lex``: counts first, the decayed count (1 year) only to break ties.

    .venv/bin/python bench/hotspot_research.py [--data DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from hotspot_eval import DATA, REPO, load
from qingzhi.analysis.ensemble import LogLinearEnsemble, LogLinearSpec
from qingzhi.analysis.evaluation import Period, evaluate
from qingzhi.analysis.forecast import FloatArray, Forecaster, SeriesData, series_on_grid
from qingzhi.analysis.grid import grid_for
from qingzhi.analysis.methods import pooled
from qingzhi.analysis.prediction import NaiveCounts

log = logging.getLogger(__name__)

SERIES = ("Break and Enter Residential/Other", "Theft from Vehicle", "Mischief")
QUARTERS = (
    Period.of("2023-04-01", 91),
    Period.of("2023-07-01", 92),
    Period.of("2023-10-01", 92),
)
COVERAGES = (1.0, 2.0, 5.0, 10.0, 20.0)


class EmpiricalBayes(Forecaster):
    """All-history count plus ``a`` times a smoothed own/all-crime prior rate (equal exposure)."""

    def __init__(self, a: float, metres: float = 150.0) -> None:
        self.a = a
        self.metres = metres
        self.name = f"eb-{a:g}"

    def predict(self, history: SeriesData, day: int) -> FloatArray:
        """Posterior-mean ranking score."""
        grid = history.grid
        own = history.counts()
        sigma = self.metres / grid.cell
        prior = ndimage.gaussian_filter(own.reshape(grid.shape), sigma, mode="constant").ravel()
        if history.context is not None:
            ctx = history.context.counts()
            scale = float(own.sum()) / max(float(ctx.sum()), 1.0)
            smooth_ctx = ndimage.gaussian_filter(ctx.reshape(grid.shape), sigma, mode="constant")
            prior = 0.5 * prior + 0.5 * scale * smooth_ctx.ravel()
        return np.asarray(own + self.a * prior, dtype=np.float64)


class Lexicographic(Forecaster):
    """All-history counts; the one-year decayed count only breaks ties."""

    name = "lex"

    def predict(self, history: SeriesData, day: int) -> FloatArray:
        """Count plus a tie-breaker below one event."""
        decayed = history.counts(np.exp(-(day - history.t) / 365.0))
        top = max(float(decayed.max()), 1.0)
        return np.asarray(history.counts() + 0.5 * decayed / top, dtype=np.float64)


def variants() -> dict[str, tuple[Forecaster, LogLinearSpec | None]]:
    """The variants by name: (forecaster, spec to fit for log-linear ones)."""
    specs = {
        "loglinear (recommended)": LogLinearSpec(),
        "loglinear-no-context": LogLinearSpec(context_smooth=0.0),
        "loglinear-no-smooth": LogLinearSpec(smooth=0.0),
        "loglinear-decays-only": LogLinearSpec(smooth=0.0, context_smooth=0.0),
        "loglinear-smooth300": LogLinearSpec(smooth=300.0, context_smooth=300.0),
    }
    out: dict[str, tuple[Forecaster, LogLinearSpec | None]] = {
        "naive (all history)": (NaiveCounts(None), None),
        "lex": (Lexicographic(), None),
        "eb-0.1": (EmpiricalBayes(0.1), None),
        "eb-0.3": (EmpiricalBayes(0.3), None),
        "eb-1": (EmpiricalBayes(1.0), None),
    }
    for name, spec in specs.items():
        out[name] = (LogLinearEnsemble(spec, name=name), spec)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--out", type=Path, default=REPO / "var" / "bench" / "hotspot_research.json"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    events = load(args.data)
    rates: dict[str, dict[str, list[float]]] = {}
    seconds: dict[str, float] = {}
    for category in SERIES:
        ev = events.of_categories([category])
        series = series_on_grid(ev, grid_for(ev.x, ev.y, 150.0), events)
        for name, (forecaster, spec) in variants().items():
            began = time.perf_counter()
            runs = []
            for quarter in QUARTERS:
                if spec is not None:
                    forecaster = LogLinearEnsemble(spec, name=name).fit(
                        series, quarter.start - 365, 365
                    )
                runs.append(evaluate(series, forecaster, quarter, COVERAGES))
            result = pooled(runs)
            rates.setdefault(name, {})[category] = [round(float(v), 4) for v in result.hit_rate]
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - began
            print(
                f"{category[:22]:22s} {name:26s} " + " ".join(f"{v:.3f}" for v in result.hit_rate)
            )
    base = rates["naive (all history)"]
    summary: dict[str, dict[str, float]] = {}
    print("\nvariant                     1% ratio  5% ratio  worst (series x coverage)")
    for name, by_series in rates.items():
        r1 = np.mean([by_series[s][0] for s in SERIES]) / np.mean([base[s][0] for s in SERIES])
        r5 = np.mean([by_series[s][2] for s in SERIES]) / np.mean([base[s][2] for s in SERIES])
        worst = min(
            by_series[s][i] / base[s][i] if base[s][i] > 0 else 1.0
            for s in SERIES
            for i in range(len(COVERAGES))
        )
        summary[name] = {"ratio_1": float(r1), "ratio_5": float(r5), "worst": float(worst)}
        print(f"{name:27s} {r1:8.3f}  {r5:8.3f}  {worst:8.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"hit_rate": rates, "vs_naive_all_history": summary, "seconds": seconds}
    args.out.write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
