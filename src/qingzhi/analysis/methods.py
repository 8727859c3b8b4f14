"""The forecasting methods by name, their default settings and the one tuning procedure.

``make_forecaster`` builds a method by name so the CLI, services and the bench construct methods
the same way. ``tune`` is the single tuning procedure used for every series (after Rosser et al.
2017 and Daws, who find settings matter more than the algorithm): each method's settings are
searched over a small fixed grid on one or several validation periods before the evaluation period
(rolling origin: hits and events pooled over the periods), scored by the mean pooled hit rate at 1
and 5% coverage (the coverages the target is stated at), and then frozen. The ensembles' weights
are fitted on the ``fit_days`` before the day they start forecasting (for each validation period,
the year before it). The documented procedure validates on the three quarters before the
evaluation period (``validation_quarters``: for 2024-01-01, 2023-Q2, Q3 and Q4); ``run_method``
tunes (when the method has settings to tune), fits and evaluates one method and times each step,
for ``qingzhi hotspot evaluate --tune`` and the bench alike.

``ensemble`` (the recommended method) is the log-linear Poisson ensemble; ``mixture`` is the
earlier additive mixture, kept for comparison.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from qingzhi.analysis.ensemble import LearnedEnsemble, LogLinearEnsemble, Progress
from qingzhi.analysis.evaluation import (
    DEFAULT_COVERAGES,
    MethodResult,
    Period,
    evaluate,
    evaluate_hindsight,
)
from qingzhi.analysis.forecast import Forecaster, SeriesData
from qingzhi.analysis.prediction import KernelDensity, NaiveCounts, ProspectiveHotspot
from qingzhi.analysis.sepp import SelfExcitingForecaster

log = logging.getLogger(__name__)

ParamValue = float | int | str

STANDARD_METHODS: tuple[str, ...] = ("naive", "kde", "prospective", "sepp")
RECOMMENDED = "ensemble"
HINDSIGHT = "hindsight"
HINDSIGHT_LABEL = "上限（事后）"
ALL_METHODS: tuple[str, ...] = (*STANDARD_METHODS, "ensemble", "mixture", HINDSIGHT)
TUNING_COVERAGES: tuple[float, ...] = (1.0, 5.0)
VALIDATION_QUARTERS = 3

# Defaults: the settings ``tune`` chose most often on the Vancouver validation quarter
# (2023-Q4, four series; see bench/hotspot_eval.py). The naive method keeps the protocol's
# training window unless a window is given (window 0 = all history).
DEFAULTS: dict[str, dict[str, ParamValue]] = {
    "naive": {},
    "kde": {"bandwidth": 50.0, "tau": 365.0, "window": 0.0, "kernel": "gaussian"},
    "prospective": {"bandwidth": 150.0, "window": 365.0},
    "sepp": {"bg_bandwidth": 75.0, "max_days": 60.0, "max_distance": 500.0},
    "ensemble": {},
    "mixture": {},
}

# window 0 means all history.
PARAM_GRIDS: dict[str, dict[str, Sequence[ParamValue]]] = {
    "naive": {"window": (7.0, 28.0, 91.0, 182.0, 365.0, 730.0, 0.0)},
    "kde": {
        "bandwidth": (50.0, 100.0, 200.0, 300.0),
        "tau": (math.inf, 365.0, 90.0),
        "window": (365.0, 0.0),
    },
    "prospective": {"bandwidth": (150.0, 300.0, 450.0), "window": (28.0, 56.0, 112.0, 365.0)},
    "sepp": {"bg_bandwidth": (75.0, 150.0, 300.0)},
    "ensemble": {},
    "mixture": {},
}


def _window(p: Mapping[str, ParamValue], train_days: float | None) -> float | None:
    w = float(p.get("window", train_days or 0.0))
    return w if w > 0 else None


def make_forecaster(
    name: str, train_days: float | None = 365.0, params: Mapping[str, ParamValue] | None = None
) -> Forecaster:
    """Build the forecaster ``name`` with its defaults, overridden by ``params``."""
    p: dict[str, ParamValue] = dict(DEFAULTS.get(name, {}))
    if params:
        p.update(params)
    if name == "naive":
        return NaiveCounts(window=_window(p, train_days))
    if name == "kde":
        return KernelDensity(
            bandwidth=float(p["bandwidth"]),
            tau=float(p["tau"]),
            window=_window(p, train_days),
            kernel=str(p["kernel"]),
        )
    if name == "prospective":
        return ProspectiveHotspot(bandwidth=float(p["bandwidth"]), window=float(p["window"]))
    if name == "sepp":
        return SelfExcitingForecaster(
            window=_window(p, train_days) or 365.0,
            bg_bandwidth=float(p["bg_bandwidth"]),
            max_days=float(p["max_days"]),
            max_distance=float(p["max_distance"]),
        )
    if name == "ensemble":
        return LogLinearEnsemble()
    if name == "mixture":
        return LearnedEnsemble(name="mixture")
    raise ValueError(f"unknown method {name!r}; choose from {', '.join(ALL_METHODS)}")


def learns(forecaster: Forecaster) -> bool:
    """Whether the method fits weights from data before it forecasts (the ensembles)."""
    return isinstance(forecaster, LearnedEnsemble | LogLinearEnsemble)


def prepare(
    forecaster: Forecaster,
    series: SeriesData,
    start: int,
    fit_days: int = 365,
    progress: Progress | None = None,
) -> None:
    """Fit what a method learns from data (the ensembles' weights) on days before ``start``."""
    if isinstance(forecaster, LearnedEnsemble | LogLinearEnsemble):
        forecaster.fit(series, start - fit_days, fit_days, progress)


def tunable(name: str) -> bool:
    """Whether the tuning procedure has settings to choose for the method."""
    return bool(PARAM_GRIDS.get(name))


def _months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    first = dt.date(year, month + 1, 1)
    following = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return min(first + dt.timedelta(days=day.day - 1), following - dt.timedelta(days=1))


def validation_quarters(start: int, n: int = VALIDATION_QUARTERS) -> list[Period]:
    """The ``n`` periods of three calendar months before day ``start``, oldest first: the
    validation quarters of the tuning procedure (2024-01-01 gives 2023-Q2, Q3 and Q4)."""
    first = dt.date(1970, 1, 1) + dt.timedelta(days=int(start))
    epoch = dt.date(1970, 1, 1)
    bounds = [(_months_before(first, 3 * k) - epoch).days for k in range(n, -1, -1)]
    return [Period(a, b - a) for a, b in itertools.pairwise(bounds)]


def expand_methods(spec: str) -> list[str]:
    """Parse a comma list of method names; ``all`` means every method including hindsight."""
    names = [s.strip() for s in spec.split(",") if s.strip()]
    out: list[str] = []
    for n in names:
        for m in ALL_METHODS if n == "all" else (n,):
            if m not in ALL_METHODS:
                raise ValueError(f"unknown method {m!r}; choose from {', '.join(ALL_METHODS)}")
            if m not in out:
                out.append(m)
    return out


def _fit_days(train_days: float | None) -> int:
    return int(train_days) if train_days else 365


def objective(result: MethodResult) -> float:
    """Tuning score: the mean pooled hit rate at the tuning coverages."""
    rates = dict(zip(result.coverages, result.hit_rate, strict=True))
    return float(np.mean([rates[k] for k in TUNING_COVERAGES]))


def pooled(results: Sequence[MethodResult]) -> MethodResult:
    """One result from several periods' results of the same method (days concatenated)."""
    first = results[0]
    return MethodResult(
        first.name,
        first.coverages,
        tuple(d for r in results for d in r.days),
        np.vstack([r.hits for r in results]),
        np.concatenate([r.totals for r in results]),
        first.n_masked,
        float(sum(r.wall_time for r in results)),
        first.params,
    )


def tune(
    name: str,
    series: SeriesData,
    validation: Period | Sequence[Period],
    train_days: float | None = 365.0,
) -> tuple[dict[str, ParamValue], MethodResult]:
    """Grid-search a method's settings on the validation period(s); return the best and its result.

    With several periods (rolling origin) each is forecast from its own past, with the method
    refitted before it, and the hits and events are pooled over the periods.
    """
    periods = [validation] if isinstance(validation, Period) else list(validation)
    if not periods:
        raise ValueError("tune needs at least one validation period")
    coverages = tuple(sorted({*DEFAULT_COVERAGES, *TUNING_COVERAGES}))
    grid = PARAM_GRIDS.get(name, {})
    keys = list(grid)
    best: tuple[float, dict[str, ParamValue], MethodResult] | None = None
    for values in itertools.product(*(grid[k] for k in keys)):
        params = dict(zip(keys, values, strict=True))
        runs = []
        for period in periods:
            f = make_forecaster(name, train_days, params)
            prepare(f, series, period.start, _fit_days(train_days))
            runs.append(evaluate(series, f, period, coverages))
        result = pooled(runs)
        score = objective(result)
        log.debug("tune %s %s: %.4f", name, params, score)
        if best is None or score > best[0] + 1e-12:
            best = (score, params, result)
    assert best is not None
    log.info("tuned %s: %s (%.4f)", name, best[1], best[0])
    return best[1], best[2]


@dataclass(frozen=True)
class MethodRun:
    """One method through the procedure: its evaluation, the settings it ran with and, when it
    was tuned or validated, its pooled result on the validation periods."""

    result: MethodResult
    params: dict[str, ParamValue]
    validation: MethodResult | None


def run_method(
    name: str,
    series: SeriesData,
    period: Period,
    *,
    train_days: float | None = 365.0,
    tuning: Sequence[Period] = (),
    validate: bool = False,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
) -> MethodRun:
    """Tune (on ``tuning``, when the method has settings to tune), fit on the ``train_days``
    before the period (a method that learns) and evaluate one method; each step timed.

    ``train_days`` is the window of the naive and self-exciting methods and the fit period of
    the ensembles; the kernel-density and prospective windows are their own settings; each
    result's ``history`` says what the method used. A method with nothing to tune is not run on
    the tuning periods unless ``validate`` asks for its validation figures (the bench's).
    """
    if name == HINDSIGHT:
        return MethodRun(evaluate_hindsight(series, period, coverages), {}, None)
    params: dict[str, ParamValue] = {}
    validation = None
    tune_time = 0.0
    if tuning and tunable(name):
        began = time.perf_counter()
        params, validation = tune(name, series, tuning, train_days)
        tune_time = time.perf_counter() - began
    elif tuning and validate:
        runs = []
        for p in tuning:
            f = make_forecaster(name, train_days)
            prepare(f, series, p.start, _fit_days(train_days))
            runs.append(evaluate(series, f, p, tuple(sorted({*coverages, *TUNING_COVERAGES}))))
        validation = pooled(runs)
    forecaster = make_forecaster(name, train_days, params)
    began = time.perf_counter()
    prepare(forecaster, series, period.start, _fit_days(train_days))
    fit_time = time.perf_counter() - began if learns(forecaster) else 0.0
    result = evaluate(series, forecaster, period, coverages)
    return MethodRun(replace(result, fit_time=fit_time, tune_time=tune_time), params, validation)
