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

With ``--bank`` it runs the feature-bank experiments instead (named surface features of
``ensemble.surface_features`` computed once per series and quarter; variants are column subsets
with recency weights, ridge, lexicographic or head-only fits; a per-series choice among them by
the tuning objective, in-sample and nested: chosen on two quarters, scored on the third), written
to var/research/hotspot_research_bank[_<fit days>][_subset].json.

    .venv/bin/python -m research.hotspot_research [--data DIR] [--out FILE]
    .venv/bin/python -m research.hotspot_research --bank [--only NAME,...] [--fit-days 365]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from bench.hotspot_eval import DATA, REPO, VALIDATION, load
from qingzhi.analysis.ensemble import (
    KERNEL_FEATURES,
    SMOOTH_FEATURES,
    LogLinearEnsemble,
    fit_loglinear,
    surface_features,
)
from qingzhi.analysis.evaluation import (
    DEFAULT_COVERAGES,
    Period,
    evaluate,
    n_selected,
    study_mask,
)
from qingzhi.analysis.events import EventTable
from qingzhi.analysis.forecast import FloatArray, Forecaster, SeriesData, series_on_grid
from qingzhi.analysis.grid import grid_for
from qingzhi.analysis.methods import pooled
from qingzhi.analysis.prediction import NaiveCounts

log = logging.getLogger(__name__)

SERIES = ("Break and Enter Residential/Other", "Theft from Vehicle", "Mischief")
QUARTERS = VALIDATION
COVERAGES = DEFAULT_COVERAGES


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


def variants() -> dict[str, tuple[Forecaster, tuple[str, ...] | None]]:
    """The variants by name: (forecaster, features to fit for log-linear ones)."""
    smooth = SMOOTH_FEATURES
    specs = {
        "loglinear kernel (recommended)": KERNEL_FEATURES,
        "loglinear smooth (previous)": smooth,
        "loglinear-no-context": tuple(f for f in smooth if not f.startswith("x:")),
        "loglinear-no-smooth": tuple(f for f in smooth if f != "s:all:g150"),
        "loglinear-decays-only": smooth[:4],
        "loglinear-smooth300": (*smooth[:4], "s:all:g300", "x:all:g300"),
    }
    out: dict[str, tuple[Forecaster, tuple[str, ...] | None]] = {
        "naive (all history)": (NaiveCounts(None), None),
        "lex": (Lexicographic(), None),
        "eb-0.1": (EmpiricalBayes(0.1), None),
        "eb-0.3": (EmpiricalBayes(0.3), None),
        "eb-1": (EmpiricalBayes(1.0), None),
    }
    for name, spec in specs.items():
        out[name] = (LogLinearEnsemble(spec, name=name), spec)
    return out


# ------------------------------------------------------------------ feature-bank experiments
#
# The named surface features (``ensemble.surface_features``) of every day of the fit year and the
# quarter are computed once per series and quarter (a bank: days x cells x features); each variant
# is a subset of the columns, optionally with a recency weight on the fit days, a ridge penalty or
# a lexicographic combination with the all-history count. Hits follow the evaluation protocol
# exactly (study mask = cells active before the quarter, ties to the lower flat index).

RINGS = ("c", "r1", "r2")
BASE = SMOOTH_FEATURES
KERNEL = tuple(f"s:{t}:{r}" for t in ("all", "d365", "d91", "d30") for r in RINGS) + tuple(
    f"x:all:{r}" for r in RINGS
)
SHORT = ("s:w7:c", "s:w7:r1", "s:w14:c", "s:w14:r1", "x:w14:c", "x:w14:r1")
CONTEXT_RECENT = ("x:d30:c", "x:d30:r1", "x:d365:c", "x:d365:r1")


@dataclass(frozen=True)
class Variant:
    """A column subset with fit options."""

    features: tuple[str, ...]
    tau: float = 0.0  # recency weight exp(-(last fit day - day) / tau) on fit days; 0 = none
    ridge: float = 0.0
    lex: bool = False  # all-history count first, the model's score breaks ties
    head: float = 0.0  # > 0: re-rank the top share of cells by count with a model fitted on them


def bank_variants() -> dict[str, Variant]:
    """The variants of the feature-bank experiments."""
    return {
        "base (recommended)": Variant(BASE),
        "base + short-term": Variant(BASE + SHORT),
        "kernel (c/r1/r2)": Variant(KERNEL),
        "kernel + g150": Variant((*KERNEL, "s:all:g150", "x:all:g150")),
        "kernel + short-term": Variant(KERNEL + SHORT),
        "kernel + short + ctx recent": Variant(KERNEL + SHORT + CONTEXT_RECENT),
        "base + rings": Variant((*BASE, "s:all:r1", "s:all:r2", "x:all:c", "x:all:r1")),
        "base, recency tau 180": Variant(BASE, tau=180.0),
        "kernel, recency tau 180": Variant(KERNEL, tau=180.0),
        "kernel + short, ridge 1e-3": Variant(KERNEL + SHORT, ridge=1e-3),
        "lex: count, base breaks ties": Variant(BASE, lex=True),
        "lex: count, kernel breaks ties": Variant(KERNEL, lex=True),
        "head 5%: base": Variant(BASE, head=0.05),
        "head 10%: base": Variant(BASE, head=0.10),
        "head 20%: base": Variant(BASE, head=0.20),
        "head 10%: kernel + g150": Variant((*KERNEL, "s:all:g150", "x:all:g150"), head=0.10),
    }


@dataclass
class Bank:
    """Features of the fit year and the quarter on the quarter's study mask."""

    x: NDArray[np.float32]  # (days, cells, features)
    y: NDArray[np.float32]  # (days, cells)
    fit_rows: NDArray[np.int64]  # rows of the mask active before the fit year
    fit_days: int
    names: list[str]


def build_bank(series: SeriesData, quarter: Period, names: list[str], fit_days: int) -> Bank:
    """Compute the bank for one series and quarter."""
    mask = study_mask(series, quarter.start)
    fit_mask = study_mask(series, quarter.start - fit_days)
    fit_rows = np.searchsorted(mask, fit_mask).astype(np.int64)
    days = fit_days + quarter.days
    x = np.zeros((days, len(mask), len(names)), dtype=np.float32)
    y = np.zeros((days, len(mask)), dtype=np.float32)
    first = quarter.start - fit_days
    for i in range(days):
        day = first + i
        x[i] = surface_features(series.before(day), day, names)[mask]
        y[i] = series.before(day + 1).since(day).counts()[mask]
    return Bank(x, y, fit_rows, fit_days, names)


def _top(log_counts: NDArray[np.float32], n: int) -> NDArray[np.int64]:
    """Indices of the n largest counts (ties to the lower index)."""
    return np.argsort(-log_counts, kind="stable")[:n].astype(np.int64)


def run_variant(bank: Bank, v: Variant) -> NDArray[np.int64]:
    """Fit on the bank's fit year and return the quarter's hits (days x coverages)."""
    cols = [bank.names.index(n) for n in v.features]
    fx = bank.x[: bank.fit_days][:, bank.fit_rows][:, :, cols].astype(np.float64)
    fy = bank.y[: bank.fit_days][:, bank.fit_rows].astype(np.float64)
    n_days, n_rows, _ = fx.shape
    weights = None
    if v.tau > 0:
        age = (n_days - 1 - np.arange(n_days)).astype(np.float64)
        weights = np.repeat(np.exp(-age / v.tau), n_rows)
    coef = fit_loglinear(fx.reshape(n_days * n_rows, -1), fy.ravel(), weights, v.ridge)
    count_col = bank.names.index("s:all:c")
    n_cells = bank.x.shape[1]
    n_sel = [n_selected(k, n_cells) for k in COVERAGES]
    hits = np.zeros((bank.x.shape[0] - bank.fit_days, len(COVERAGES)), dtype=np.int64)
    head_coef = None
    if v.head > 0:
        n_pool = max(1, int(np.ceil(v.head * n_rows)))
        pools = [_top(bank.x[d, bank.fit_rows, count_col], n_pool) for d in range(n_days)]
        hx = np.vstack([fx[d, pools[d]] for d in range(n_days)])
        hy = np.concatenate([fy[d, pools[d]] for d in range(n_days)])
        head_coef = fit_loglinear(hx, hy)
    for i in range(hits.shape[0]):
        feats = bank.x[bank.fit_days + i][:, cols].astype(np.float64)
        score = np.exp(coef[0] + feats @ coef[1:])
        if head_coef is not None:
            pool = _top(bank.x[bank.fit_days + i][:, count_col], int(np.ceil(v.head * n_cells)))
            score[pool] = 1e9 + np.exp(head_coef[0] + feats[pool] @ head_coef[1:])
        if v.lex:
            count = np.expm1(bank.x[bank.fit_days + i][:, count_col].astype(np.float64))
            score = np.round(count) + 0.5 * score / max(float(score.max()), 1e-300)
        order = np.argsort(-score, kind="stable")
        cum = np.cumsum(bank.y[bank.fit_days + i][order].astype(np.float64))
        hits[i] = [round(float(cum[n - 1])) for n in n_sel]
    return hits


def bank_main(events: EventTable, out: Path, only: str = "", fit_days: int = 365) -> None:
    """Run the feature-bank variants; print and save pooled rates and ratios to naive counts.

    ``only``: a comma list of substrings of variant names to run (default all); ``fit_days``: the
    length of the fit period before each quarter.
    """
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    variants_ = {
        k: v for k, v in bank_variants().items() if not wanted or any(w in k for w in wanted)
    }
    names: list[str] = ["s:all:c"]
    for v in variants_.values():
        names += [n for n in v.features if n not in names]
    # hits[variant][series][quarter] (days x coverages); totals[series][quarter]
    hits: dict[str, dict[str, list[NDArray[np.int64]]]] = {}
    totals: dict[str, list[int]] = {}
    seconds: dict[str, float] = {}
    for category in SERIES:
        ev = events.of_categories([category])
        series = series_on_grid(ev, grid_for(ev.x, ev.y, 150.0), events)
        totals[category] = []
        for quarter in QUARTERS:
            began = time.perf_counter()
            bank = build_bank(series, quarter, names, fit_days)
            log.warning("%s %s: bank %.1f s", category, quarter, time.perf_counter() - began)
            naive = run_variant(bank, Variant(("s:all:c",), lex=True))
            hits.setdefault("naive (all history)", {}).setdefault(category, []).append(naive)
            totals[category].append(int(bank.y[bank.fit_days :].sum()))
            for name, v in variants_.items():
                began = time.perf_counter()
                hits.setdefault(name, {}).setdefault(category, []).append(run_variant(bank, v))
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - began
            del bank
    report(hits, totals, seconds, out)


def _rates(h: list[NDArray[np.int64]], t: list[int], quarters: list[int]) -> NDArray[np.float64]:
    return np.asarray(sum(h[q].sum(axis=0) for q in quarters), dtype=np.float64) / sum(
        t[q] for q in quarters
    )


def _ratios(
    rates: dict[str, dict[str, NDArray[np.float64]]], name: str
) -> tuple[float, float, float]:
    base = rates["naive (all history)"]
    ours = rates[name]
    r1 = np.mean([ours[s][0] for s in SERIES]) / np.mean([base[s][0] for s in SERIES])
    r5 = np.mean([ours[s][2] for s in SERIES]) / np.mean([base[s][2] for s in SERIES])
    worst = min(
        ours[s][i] / base[s][i] if base[s][i] > 0 else 1.0
        for s in SERIES
        for i in range(len(COVERAGES))
    )
    return float(r1), float(r5), float(worst)


def report(
    hits: dict[str, dict[str, list[NDArray[np.int64]]]],
    totals: dict[str, list[int]],
    seconds: dict[str, float],
    out: Path,
) -> None:
    """Print pooled rates, ratios and a nested check of per-series selection."""
    allq = list(range(len(QUARTERS)))
    rates = {n: {s: _rates(h[s], totals[s], allq) for s in SERIES} for n, h in hits.items()}
    for name, by_series in rates.items():
        for s in SERIES:
            print(f"{s[:22]:22s} {name:32s} " + " ".join(f"{v:.3f}" for v in by_series[s]))
    # Per-series selection by the tuning objective (mean of the 1% and 5% hit rates): in-sample
    # on all quarters, and nested (choose on two quarters, score the third, pooled).
    candidates = [n for n in hits if n != "naive (all history)"]

    def select(s: str, quarters: list[int]) -> str:
        return max(
            candidates,
            key=lambda n: float(np.mean(_rates(hits[n][s], totals[s], quarters)[[0, 2]])),
        )

    chosen = {s: select(s, allq) for s in SERIES}
    rates["select per series (in-sample)"] = {s: rates[chosen[s]][s] for s in SERIES}
    nested: dict[str, NDArray[np.float64]] = {}
    for s in SERIES:
        h = np.zeros(len(COVERAGES))
        for q in allq:
            pick = select(s, [p for p in allq if p != q])
            h += hits[pick][s][q].sum(axis=0)
        nested[s] = h / sum(totals[s])
    rates["select per series (nested)"] = nested
    print("per-series choice (all quarters):", chosen)
    summary: dict[str, dict[str, float]] = {}
    print("\nvariant                          1% ratio  5% ratio  worst (series x coverage)")
    for name in rates:
        r1, r5, worst = _ratios(rates, name)
        summary[name] = {"ratio_1": r1, "ratio_5": r5, "worst": worst}
        print(f"{name:32s} {r1:8.3f}  {r5:8.3f}  {worst:8.3f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "hit_rate": {
            n: {s: [round(float(v), 4) for v in r[s]] for s in SERIES} for n, r in rates.items()
        },
        "vs_naive_all_history": summary,
        "per_series_choice": chosen,
        "seconds": seconds,
    }
    out.write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--out", type=Path, default=REPO / "var" / "research" / "hotspot_research.json"
    )
    parser.add_argument(
        "--bank", action="store_true", help="run the feature-bank variants (surface features)"
    )
    parser.add_argument("--only", default="", help="bank: comma list of variant name parts")
    parser.add_argument("--fit-days", type=int, default=365, help="bank: days of the fit period")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    events = load(args.data)
    if args.bank:
        suffix = f"_{args.fit_days}" if args.fit_days != 365 else ""
        suffix += "_subset" if args.only else ""
        out = args.out.with_name(f"hotspot_research_bank{suffix}.json")
        bank_main(events, out, args.only, args.fit_days)
        return
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
