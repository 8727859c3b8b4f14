"""The rota rule (pure): whether a shift pattern puts someone on duty at a local time.

A shift runs from ``starts_min`` to ``ends_min`` (minutes after local midnight; an end at or before
the start crosses midnight, so ``20:00–08:00`` is a night shift) on the days of a cycle: a person
with ``phase`` p works the shift that *starts* on local day d when ``(d.toordinal() + p) %
cycle_days < on_days``. "上二休一" is a cycle of 3 with 2 days on; Monday to Friday office hours
are a cycle of 7 with 5 on and phase 6 (``date.toordinal() % 7 == 1`` on a Monday). A night
shift that started on Friday still counts on Saturday morning.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

MINUTES_PER_DAY = 24 * 60
WEEKDAYS_PHASE = 6  # with a 7-day cycle and 5 days on: Monday to Friday


@dataclass(frozen=True)
class Pattern:
    """A shift's hours and its cycle of days on and off."""

    starts_min: int
    ends_min: int
    cycle_days: int = 1
    on_days: int = 1

    def __post_init__(self) -> None:
        if not (0 <= self.starts_min < MINUTES_PER_DAY and 0 <= self.ends_min < MINUTES_PER_DAY):
            raise ValueError("shift times must lie within one day (0–1439 minutes)")
        if not (1 <= self.on_days <= self.cycle_days):
            raise ValueError("a cycle needs 1 ≤ on_days ≤ cycle_days")

    @property
    def overnight(self) -> bool:
        """Whether the shift ends on the day after it starts."""
        return self.ends_min <= self.starts_min

    @property
    def hours(self) -> float:
        """The shift's length in hours."""
        span = self.ends_min - self.starts_min
        return (span + MINUTES_PER_DAY if span <= 0 else span) / 60.0

    def works_day(self, day: dt.date, phase: int) -> bool:
        """Whether someone with ``phase`` works the shift that starts on local ``day``."""
        return (day.toordinal() + phase) % self.cycle_days < self.on_days

    def on_duty(self, local: dt.datetime, phase: int) -> bool:
        """Whether someone with ``phase`` is on this shift at the local (naive or aware) time."""
        minute = local.hour * 60 + local.minute
        day = local.date()
        if not self.overnight:
            return self.starts_min <= minute < self.ends_min and self.works_day(day, phase)
        if minute >= self.starts_min:
            return self.works_day(day, phase)
        if minute < self.ends_min:
            return self.works_day(day - dt.timedelta(days=1), phase)
        return False

    def boundaries(self) -> tuple[int, int]:
        """The minutes of the day at which the shift starts and ends."""
        return self.starts_min, self.ends_min


def clock_text(minute: int) -> str:
    """``HH:MM`` of a minute of the day."""
    return f"{minute // 60:02d}:{minute % 60:02d}"
