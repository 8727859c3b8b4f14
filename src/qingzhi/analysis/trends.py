"""Trends (趋势研判): counts by period and group, change tests, CompStat windows, hour-of-week.

Counts of events by day, week or month and by any grouping key (category, unit, zone) are plain
histograms. A change between two periods (环比: this period against the one before; 同比: against
the same period a year earlier) is tested with the exact conditional test for two Poisson counts
(Przyborowski & Wilenski 1940; see Krishnamoorthy & Thomson 2004, "A more powerful test for
comparing two Poisson means"): given ``n = a + b`` events in the two periods with exposures (for
example days) ``ea`` and ``eb``, under no change ``a ~ Binomial(n, ea / (ea + eb))``. The
two-sided exact binomial p-value tells a leader whether "up 30%" is more than noise. CompStat
(Bratton's New York meetings) reports the last 7 and 28 days against the previous window and the
same window a year ago; ``compstat`` does exactly that, with the test on each comparison.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

log = logging.getLogger(__name__)

_FREQ_UNITS = {"D": "D", "W": "W", "M": "M", "Y": "Y"}


@dataclass(frozen=True)
class ChangeTest:
    """Two counts compared: relative change and the exact conditional test's p-value."""

    current: int
    previous: int
    change: float  # relative change of the rate (0.25 = +25%); inf when previous is 0
    p_value: float
    significant: bool

    @property
    def direction(self) -> str:
        """'up', 'down' or 'flat' (flat when not significant)."""
        if not self.significant:
            return "flat"
        return "up" if self.change > 0 else "down"


def change_test(
    current: int,
    previous: int,
    *,
    current_exposure: float = 1.0,
    previous_exposure: float = 1.0,
    alpha: float = 0.05,
) -> ChangeTest:
    """Exact conditional (binomial) test of two Poisson counts with their exposures."""
    if current < 0 or previous < 0:
        raise ValueError("counts must be non-negative")
    rate_c = current / current_exposure
    rate_p = previous / previous_exposure
    change = (rate_c / rate_p - 1.0) if rate_p > 0 else (0.0 if rate_c == 0 else float("inf"))
    n = current + previous
    if n == 0:
        return ChangeTest(current, previous, 0.0, 1.0, False)
    share = current_exposure / (current_exposure + previous_exposure)
    p = float(stats.binomtest(current, n, share, alternative="two-sided").pvalue)
    return ChangeTest(current, previous, change, p, p < alpha)


def period_labels(t: NDArray[np.datetime64], freq: str) -> NDArray[np.datetime64]:
    """Each time's period start for a frequency D (day), W (week, Monday), M (month), Y (year)."""
    if freq == "W":
        days = t.astype("datetime64[D]")
        # 1970-01-01 was a Thursday; shift so weeks start on Monday.
        weekday = (days.astype(np.int64) + 3) % 7
        return np.asarray(days - weekday.astype("timedelta64[D]"), dtype="datetime64[D]")
    if freq not in _FREQ_UNITS:
        raise ValueError("freq must be one of D, W, M, Y")
    return t.astype(f"datetime64[{_FREQ_UNITS[freq]}]")


@dataclass(frozen=True)
class CountTable:
    """Counts by period (rows) and group (columns)."""

    periods: NDArray[np.datetime64]
    groups: tuple[str, ...]
    counts: NDArray[np.int64]  # (n_periods, n_groups)


def count_table(
    t: NDArray[np.datetime64],
    freq: str = "M",
    groups: Sequence[str] | NDArray[np.str_] | None = None,
) -> CountTable:
    """Counts per period (every period between the first and last, zeros included) and group."""
    labels = period_labels(np.asarray(t), freq)
    if len(labels) == 0:
        return CountTable(np.array([], dtype="datetime64[D]"), (), np.zeros((0, 0), np.int64))
    unit = np.datetime_data(labels.dtype)[0]
    first, last = labels.min(), labels.max()
    step = np.timedelta64(7, "D") if freq == "W" else np.timedelta64(1, unit)  # type: ignore[call-overload]
    periods = np.arange(first, last + step, step)
    row = ((labels - first) // step).astype(np.int64)
    g = np.asarray(groups if groups is not None else np.full(len(labels), "all"), dtype=np.str_)
    names, col = np.unique(g, return_inverse=True)
    counts = np.zeros((len(periods), len(names)), dtype=np.int64)
    np.add.at(counts, (row, col), 1)
    return CountTable(periods, tuple(str(n) for n in names), counts)


def window_count(t: NDArray[np.datetime64], end: str | np.datetime64, days: int) -> int:
    """Events in the ``days`` days before ``end`` (end exclusive)."""
    e = int(np.asarray(end, dtype="datetime64[s]").astype(np.int64))
    tt = np.asarray(t).astype("datetime64[s]").astype(np.int64)
    return int(((tt >= e - days * 86_400) & (tt < e)).sum())


def _at(seconds: NDArray[np.int64] | int) -> np.datetime64:
    return np.datetime64(int(seconds), "s")


@dataclass(frozen=True)
class CompStatRow:
    """One CompStat window: current count, previous window (环比) and a year earlier (同比)."""

    days: int
    current: int
    period_over_period: ChangeTest
    year_on_year: ChangeTest


def compstat(
    t: NDArray[np.datetime64], end: str | np.datetime64, windows: Sequence[int] = (7, 28)
) -> list[CompStatRow]:
    """CompStat 7- and 28-day windows ending before ``end`` with their change tests."""
    e = np.asarray(end, dtype="datetime64[s]").astype(np.int64)
    rows = []
    for d in windows:
        cur = window_count(t, _at(e), d)
        prev = window_count(t, _at(e - d * 86_400), d)
        year = window_count(t, _at(e - 364 * 86_400), d)  # same weekdays a year ago
        rows.append(CompStatRow(d, cur, change_test(cur, prev), change_test(cur, year)))
    return rows


def hour_of_week(t: NDArray[np.datetime64]) -> NDArray[np.int64]:
    """Events per hour of the week: 168 counts, index 0 = Monday 00:00-01:00."""
    hours = np.asarray(t).astype("datetime64[h]").astype(np.int64)
    # 1970-01-01 00:00 was a Thursday: Monday-based hour of week is (hours + 72) mod 168.
    how = (hours + 72) % 168
    return np.bincount(how, minlength=168).astype(np.int64)
