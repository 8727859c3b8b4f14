"""Early warning (预警): a prospective space-time scan statistic and Poisson control charts.

Scan statistic. The expectation-based Poisson scan of Neill, Moore, Sabhnani & Daniel (2005),
"Detection of emerging space-time clusters" (KDD), in the prospective setting of Kulldorff (2001),
"Prospective time periodic geographical disease surveillance using a scan statistic" (JRSS A):
every region is a circle of cells (a centre cell and its ``k`` nearest cells, k up to
``max_cells``) over the last ``d`` days up to today (d up to ``max_days``; windows must include
today, so old clusters do not alarm again). With observed count ``C`` and baseline expectation
``B`` (from history) the log-likelihood ratio of "rate raised by ``C / B``" against "as expected"
is ``C log(C / B) + B - C`` when ``C > B``, otherwise 0. The highest-scoring region is the alarm
candidate; its p-value is Monte Carlo: the same maximum over ``simulations`` replicates of the
recent days drawn from Poisson(baseline). Alarming when ``p <= alpha`` gives a false-alarm rate of
``alpha`` per run when the baseline is right (for a daily run at 0.05, about one false alarm in
20 days; choose 0.01 for one in 100).

Control charts. For each unit or category, counts per period are compared with a baseline mean
from earlier periods: a Shewhart chart with the exact Poisson upper limit (alarm when the count
exceeds the ``1 - alpha`` quantile) and the Poisson CUSUM of Lucas (1985), which accumulates
``x_t - k`` with ``k = (mu1 - mu0) / ln(mu1 / mu0)`` to catch a sustained rise to ``mu1``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.spatial import cKDTree

from qingzhi.analysis.trends import count_table

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ScanResult:
    """The highest-scoring space-time region, its Monte Carlo p-value and whether it alarms."""

    score: float
    p_value: float
    alarm: bool
    alpha: float
    centre: int  # index of the centre cell
    cells: tuple[int, ...]  # indices of the region's cells
    days: int  # duration ending today
    observed: float
    expected: float


def neighbours(xy: FloatArray, max_cells: int) -> NDArray[np.int64]:
    """For each cell, the indices of itself and its nearest cells (n_cells, max_cells)."""
    k = min(max_cells, len(xy))
    _, idx = cKDTree(xy).query(xy, k=k)
    return np.asarray(idx, dtype=np.int64).reshape(len(xy), k)


def _scores(
    counts: FloatArray, baseline: FloatArray, nb: NDArray[np.int64], max_days: int
) -> tuple[float, int, int, int]:
    """Maximum EBP score and its (centre, region size index, duration index)."""
    c_days = np.cumsum(counts[:, ::-1][:, :max_days], axis=1)  # (n, D): last d days
    b_days = np.cumsum(baseline[:, ::-1][:, :max_days], axis=1)
    c = np.cumsum(c_days[nb], axis=1)  # (n, K, D)
    b = np.cumsum(b_days[nb], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(c > b, c * np.log(np.where(c > 0, c / b, 1.0)) + b - c, 0.0)
    flat = int(np.argmax(f))
    centre, k, d = np.unravel_index(flat, f.shape)
    return float(f.ravel()[flat]), int(centre), int(k), int(d)


def space_time_scan(
    counts: FloatArray,
    baseline: FloatArray,
    xy: FloatArray,
    *,
    max_cells: int = 16,
    max_days: int = 7,
    simulations: int = 99,
    alpha: float = 0.05,
    seed: int = 0,
) -> ScanResult:
    """Expectation-based Poisson space-time scan over recent days (last column = today).

    ``counts`` and ``baseline`` have shape (n_cells, n_days); ``xy`` gives each cell's centre.
    """
    counts = np.asarray(counts, dtype=np.float64)
    baseline = np.maximum(np.asarray(baseline, dtype=np.float64), 1e-12)
    if counts.shape != baseline.shape or counts.ndim != 2 or len(xy) != counts.shape[0]:
        raise ValueError("counts and baseline must be (n_cells, n_days) and match xy")
    d_max = min(max_days, counts.shape[1])
    nb = neighbours(np.asarray(xy, dtype=np.float64), max_cells)
    score, centre, k, d = _scores(counts, baseline, nb, d_max)
    rng = np.random.default_rng(seed)
    recent_base = baseline[:, -d_max:]
    exceed = 0
    for _ in range(simulations):
        sim = rng.poisson(recent_base).astype(np.float64)
        if _scores(sim, recent_base, nb, d_max)[0] >= score:
            exceed += 1
    p = (1.0 + exceed) / (1.0 + simulations)
    cells = tuple(int(v) for v in nb[centre, : k + 1])
    obs = float(counts[list(cells), -(d + 1) :].sum())
    exp = float(baseline[list(cells), -(d + 1) :].sum())
    alarm = score > 0 and p <= alpha
    if alarm:
        log.info(
            "scan alarm: %d cells, %d days, %g observed vs %.1f expected",
            len(cells),
            d + 1,
            obs,
            exp,
        )
    return ScanResult(score, p, alarm, alpha, centre, cells, d + 1, obs, exp)


def scan_baseline(
    history: FloatArray,
    history_weekdays: NDArray[np.int64],
    weekdays: NDArray[np.int64],
) -> FloatArray:
    """Expected counts (n_cells, n_days) for the days to scan, estimated from history.

    ``history`` is (n_cells, n_history_days) of counts with each history day's weekday (0-6) in
    ``history_weekdays``; ``weekdays`` gives the weekday of each day to scan. The expectation of
    cell ``i`` on a day of weekday ``w`` is ``R * f_w * s_i``: ``R`` the mean daily total of the
    history; ``f_w = (C_w + 1) / (R n_w + 1)`` the weekday's events against what ``R`` gives for
    its ``n_w`` days, with one pseudo-event so a sparse history stays near 1; ``s_i`` the cell's
    share of the history with one pseudo-event spread evenly over the cells. So no cell and no
    weekday expects zero, and one event in a quiet cell is never an infinitely unlikely cluster.
    """
    h = np.asarray(history, dtype=np.float64)
    hw = np.asarray(history_weekdays, dtype=np.int64)
    if h.ndim != 2 or h.shape[1] == 0 or len(hw) != h.shape[1]:
        raise ValueError("history must be (n_cells, n_days) with one weekday per day")
    n_cells, n_days = h.shape
    per_day = h.sum(axis=0)
    rate = float(per_day.sum()) / n_days
    factor = np.ones(7)
    for w in range(7):
        on = hw == w
        factor[w] = (float(per_day[on].sum()) + 1.0) / (rate * int(on.sum()) + 1.0)
    total = float(h.sum())
    share = (h.sum(axis=1) + 1.0 / n_cells) / (total + 1.0)
    day_rate = max(rate, 1.0 / n_days) * factor[np.asarray(weekdays, dtype=np.int64) % 7]
    return np.asarray(share[:, None] * day_rate[None, :], dtype=np.float64)


@dataclass(frozen=True)
class ControlChart:
    """One group's chart: counts, baseline mean, Shewhart limit, CUSUM and alarm periods."""

    group: str
    periods: NDArray[np.datetime64]
    counts: NDArray[np.int64]
    baseline_mean: float
    upper_limit: int
    cusum: FloatArray
    shewhart_alarms: tuple[int, ...]
    cusum_alarms: tuple[int, ...]


def poisson_upper_limit(mean: float, alpha: float = 0.001) -> int:
    """Smallest u with P(X > u) <= alpha for X ~ Poisson(mean)."""
    return int(stats.poisson.ppf(1.0 - alpha, max(mean, 1e-9)))


def poisson_cusum(counts: FloatArray, mu0: float, mu1: float) -> FloatArray:
    """Lucas (1985) Poisson CUSUM path for a shift from ``mu0`` to ``mu1`` (> mu0)."""
    if not mu1 > mu0 > 0:
        raise ValueError("need mu1 > mu0 > 0")
    k = (mu1 - mu0) / math.log(mu1 / mu0)
    s = 0.0
    out = np.zeros(len(counts))
    for i, x in enumerate(np.asarray(counts, dtype=np.float64)):
        s = max(0.0, s + x - k)
        out[i] = s
    return out


def control_chart(
    counts: Sequence[int] | NDArray[np.int64],
    *,
    baseline_periods: int,
    group: str = "all",
    periods: NDArray[np.datetime64] | None = None,
    alpha: float = 0.001,
    shift: float = 1.5,
    h: float = 5.0,
) -> ControlChart:
    """Chart the periods after the first ``baseline_periods``, whose mean is the baseline."""
    c = np.asarray(counts, dtype=np.int64)
    if not 0 < baseline_periods < len(c):
        raise ValueError("baseline_periods must leave at least one period to chart")
    mu0 = max(float(c[:baseline_periods].mean()), 1e-3)
    ucl = poisson_upper_limit(mu0, alpha)
    monitored = c[baseline_periods:]
    path = poisson_cusum(monitored.astype(np.float64), mu0, mu0 * shift)
    shew = tuple(int(i) + baseline_periods for i in np.flatnonzero(monitored > ucl))
    cus = tuple(int(i) + baseline_periods for i in np.flatnonzero(path > h))
    per = periods if periods is not None else np.arange(len(c)).astype("datetime64[D]")
    return ControlChart(group, per, c, mu0, ucl, path, shew, cus)


def control_charts(
    t: NDArray[np.datetime64],
    groups: Sequence[str] | NDArray[np.str_],
    *,
    freq: str = "W",
    baseline_periods: int = 26,
    alpha: float = 0.001,
) -> list[ControlChart]:
    """One chart per group (unit or category) of counts per period."""
    table = count_table(t, freq, groups)
    return [
        control_chart(
            table.counts[:, j],
            baseline_periods=baseline_periods,
            group=g,
            periods=table.periods,
            alpha=alpha,
        )
        for j, g in enumerate(table.groups)
    ]
