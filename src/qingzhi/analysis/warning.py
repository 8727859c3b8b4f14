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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.spatial import cKDTree

from qingzhi.analysis.grid import Grid
from qingzhi.analysis.trends import count_table

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
# An estimator of expected counts: (cell counts, day counts, history weekdays, scan weekdays).
Baseline = Callable[[FloatArray, FloatArray, NDArray[np.int64], NDArray[np.int64]], FloatArray]


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


def _cumulative(values: FloatArray, nb: NDArray[np.int64], max_days: int) -> FloatArray:
    """Sums over every region (n_cells, region sizes, durations ending today)."""
    by_days = np.cumsum(values[:, ::-1][:, :max_days], axis=1)  # (n, D): last d days
    return np.asarray(np.cumsum(by_days[nb], axis=1), dtype=np.float64)  # (n, K, D)


def _scores(c: FloatArray, b: FloatArray) -> tuple[float, int, int, int]:
    """Maximum EBP score of region counts ``c`` against expectations ``b`` and its (centre,
    region size index, duration index)."""
    # Only regions with more events than expected score above 0; in a sparse scan (most cells
    # have no call on most days) they are few, so the logarithms are taken of those only. The
    # first of equal maxima in flat order wins, as ``argmax`` over all regions would pick it.
    raised = np.flatnonzero(c.ravel() > b.ravel())
    if len(raised) == 0:
        return 0.0, 0, 0, 0
    cr, br = c.ravel()[raised], b.ravel()[raised]
    f = cr * np.log(cr / br) + br - cr
    best = int(np.argmax(f))
    if f[best] <= 0.0:
        return 0.0, 0, 0, 0
    centre, k, d = np.unravel_index(int(raised[best]), c.shape)
    return float(f[best]), int(centre), int(k), int(d)


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
    b = _cumulative(baseline, nb, d_max)
    score, centre, k, d = _scores(_cumulative(counts, nb, d_max), b)
    rng = np.random.default_rng(seed)
    recent_base = baseline[:, -d_max:]
    exceed = 0
    for _ in range(simulations):
        sim = rng.poisson(recent_base).astype(np.float64)
        if _scores(_cumulative(sim, nb, d_max), b)[0] >= score:
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
    cell_counts: FloatArray,
    day_counts: FloatArray,
    history_weekdays: NDArray[np.int64],
    weekdays: NDArray[np.int64],
) -> FloatArray:
    """Expected counts (n_cells, n_days) for the days to scan, estimated from history.

    ``cell_counts`` holds the history's events in every cell of the study area (cells without
    history included), ``day_counts`` its events on each history day, whose weekdays (0-6) are
    ``history_weekdays``; ``weekdays`` gives the weekday of each day to scan. The expectation of
    cell ``i`` on a day of weekday ``w`` is ``R * f_w * s_i``: ``R`` the mean daily total of the
    history; ``f_w = (C_w + 1) / (R n_w + 1)`` the weekday's events against what ``R`` gives for
    its ``n_w`` days, with one pseudo-event so a sparse history stays near 1; ``s_i`` the cell's
    share of where events happen.

    Calls keep arriving from places that had none in the history (a county's year of calls
    leaves many cells with one call only), so the cells without history share, evenly, the
    Good-Turing estimate of the chance that the next event falls in such a cell (Good 1953,
    "The population frequencies of species and the estimation of population parameters",
    Biometrika): ``p0 = N1 / N``, the share of the history's ``N`` events that are the only one
    in their cell, and at least one pseudo-event ``1 / (N + 1)``; the cells with history share
    ``1 - p0`` by their counts. The Monte Carlo replicates then draw calls in places without
    history about as often as they come, so one call in a new place does not alarm; several
    there still do.
    """
    per_cell = np.asarray(cell_counts, dtype=np.float64)
    per_day = np.asarray(day_counts, dtype=np.float64)
    hw = np.asarray(history_weekdays, dtype=np.int64)
    if per_cell.ndim != 1 or len(per_cell) == 0 or per_day.ndim != 1 or len(per_day) == 0:
        raise ValueError("need at least one cell and one history day")
    if len(hw) != len(per_day):
        raise ValueError("need one weekday per history day")
    total = float(per_cell.sum())
    if not math.isclose(total, float(per_day.sum())):
        raise ValueError("the cell counts and the day counts must hold the same events")
    n_cells, n_days = len(per_cell), len(per_day)
    rate = total / n_days
    factor = np.ones(7)
    for w in range(7):
        on = hw == w
        factor[w] = (float(per_day[on].sum()) + 1.0) / (rate * int(on.sum()) + 1.0)
    unseen = per_cell == 0
    n_unseen = int(unseen.sum())
    if total == 0:
        share = np.full(n_cells, 1.0 / n_cells)
    else:
        p0 = max(float(np.sum(per_cell == 1)) / total, 1.0 / (total + 1.0)) if n_unseen else 0.0
        share = np.where(unseen, p0 / max(n_unseen, 1), (1.0 - p0) * per_cell / total)
    day_rate = max(rate, 1.0 / n_days) * factor[np.asarray(weekdays, dtype=np.int64) % 7]
    return np.asarray(share[:, None] * day_rate[None, :], dtype=np.float64)


def scan_on_grid(
    grid: Grid,
    x: FloatArray,
    y: FloatArray,
    day: NDArray[np.int64],
    *,
    history_start: int,
    recent_start: int,
    end: int,
    area: NDArray[np.bool_] | None = None,
    max_cells: int = 16,
    simulations: int = 99,
    alpha: float = 0.05,
    seed: int = 0,
    baseline_of: Baseline | None = None,
) -> ScanResult:
    """Scan the days ``[recent_start, end)`` on the cells of ``grid`` against the baseline
    ``scan_baseline`` draws from ``[history_start, recent_start)``.

    ``day`` is each event's local day number (days since 1970-01-01, a Thursday); events outside
    the grid or the days are left out. The study area is the cells where ``area`` (flat, one per
    cell) is true and every cell with an event; all cells without ``area``. The result's cells
    are flat indices of ``grid``. ``baseline_of`` is ``scan_baseline`` unless a study compares
    another estimator with the same signature.
    """
    if not history_start < recent_start < end:
        raise ValueError("need history_start < recent_start < end")
    d = np.asarray(day, dtype=np.int64)
    flat = grid.flat_index(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    keep = (d >= history_start) & (d < end) & (flat >= 0)
    flat, d = flat[keep], d[keep]
    inside = np.ones(grid.n_cells, dtype=bool) if area is None else np.array(area, dtype=bool)
    inside[flat] = True
    cells = np.flatnonzero(inside)
    position = np.cumsum(inside) - 1  # a study cell's row in the arrays below
    row = position[flat]
    past = d < recent_start
    n_history, n_recent = recent_start - history_start, end - recent_start
    cell_counts = np.bincount(row[past], minlength=len(cells)).astype(np.float64)
    day_counts = np.bincount(d[past] - history_start, minlength=n_history).astype(np.float64)
    recent = np.zeros((len(cells), n_recent))
    np.add.at(recent, (row[~past], d[~past] - recent_start), 1.0)
    history_days = np.arange(history_start, recent_start, dtype=np.int64)
    recent_days = np.arange(recent_start, end, dtype=np.int64)
    baseline = (baseline_of or scan_baseline)(
        cell_counts, day_counts, (history_days + 3) % 7, (recent_days + 3) % 7
    )
    xc, yc = grid.centres()
    result = space_time_scan(
        recent,
        baseline,
        np.column_stack([xc[cells], yc[cells]]),
        max_cells=max_cells,
        max_days=n_recent,
        simulations=simulations,
        alpha=alpha,
        seed=seed,
    )
    return replace(
        result,
        centre=int(cells[result.centre]),
        cells=tuple(int(cells[i]) for i in result.cells),
    )


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
