"""Data completeness: the days of a record that look missing rather than quiet.

An export may be a sample (the first days of each month) or lose days to an outage; a trend read
over such a gap reports a fall that is only missing data. A day inside the record's span is flagged
when its count is below ``ratio`` (default a quarter) of the usual count for that day —
``no_calls`` when it has none, ``far_below`` otherwise — and that usual count is at least
``min_usual`` (4: a day without calls where 2 are usual happens; where 4 are usual its Poisson
chance is under 2 %). The usual count is the median of the same weekday over the ``weeks``
weeks either side, counting only days that have calls (so other gaps, even most of them, do
not pull it down; weekly rhythm kept), or, when none of them has calls (a sampled export with
weeks missing), the median of all days with calls. A robust baseline of this kind is the usual
screen for missing
data in count series (e.g. the "expected count" checks of surveillance systems, Farrington et
al. 1996, use the same weeks of past years); no model is fitted.

``period_gaps`` gives the flagged days inside a period, for trends and briefs to say "数据缺失"
instead of reading the gap as a change.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import median

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayGap:
    """A day that looks missing: its count, the usual count for it, and why."""

    day: dt.date
    count: int
    usual: float
    reason: str  # "no_calls" | "far_below"

    @property
    def label(self) -> str:
        """Chinese description."""
        if self.reason == "no_calls":
            return f"{self.day.isoformat()} 无任何警情（通常约 {self.usual:.0f} 起）"
        return f"{self.day.isoformat()} 仅 {self.count} 起（通常约 {self.usual:.0f} 起）"


def gaps(
    daily: Mapping[dt.date, int],
    *,
    ratio: float = 0.25,
    weeks: int = 4,
    min_usual: float = 4.0,
) -> list[DayGap]:
    """The days from the first to the last day of ``daily`` that look missing, in order."""
    if not daily:
        return []
    first, last = min(daily), max(daily)
    overall = float(median([c for c in daily.values() if c > 0] or [0]))
    out: list[DayGap] = []
    day = first
    one = dt.timedelta(days=1)
    while day <= last:
        count = daily.get(day, 0)
        neighbours = [
            c
            for k in range(-weeks, weeks + 1)
            if k != 0 and (c := daily.get(day + dt.timedelta(weeks=k), 0)) > 0
        ]
        usual = float(median(neighbours)) if neighbours else overall
        if usual >= min_usual and count < ratio * usual:
            out.append(DayGap(day, count, usual, "no_calls" if count == 0 else "far_below"))
        day += one
    return out


def period_gaps(
    daily: Mapping[dt.date, int],
    start: dt.date,
    end: dt.date,
    *,
    ratio: float = 0.25,
    weeks: int = 4,
    min_usual: float = 4.0,
) -> list[DayGap]:
    """The flagged days within ``start`` … ``end`` (inclusive), judged on the whole record."""
    found = gaps(daily, ratio=ratio, weeks=weeks, min_usual=min_usual)
    return [g for g in found if start <= g.day <= end]
