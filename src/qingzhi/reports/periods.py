"""The period a brief covers, the periods it is compared with, and when each kind falls due.

A daily brief (日研判) covers one local day 00:00–24:00; a weekly review (周会商) Monday to Sunday;
a monthly plan (月调度) a calendar month. Any date inside the period names it. 环比 compares with
the period just before (the previous day, week or month); 同比 with the same dates a year
before (as the trends API). A period is due once it has
ended and the clock has passed its kind's configured time on the day after (defaults: daily
07:30, weekly Monday 08:00, monthly the 1st 08:00, in the bureau's time zone).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from qingzhi.errors import ValidationFailed
from qingzhi.reports.enums import BriefKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Period:
    """[start, end) in local dates."""

    kind: BriefKind
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        """Its length in days."""
        return (self.end - self.start).days

    @property
    def label(self) -> str:
        """How the brief names it: 2026年12月1日 / 2026年11月23日至29日 / 2026年11月."""
        if self.kind is BriefKind.daily:
            return f"{self.start.year}年{self.start.month}月{self.start.day}日"
        if self.kind is BriefKind.monthly:
            return f"{self.start.year}年{self.start.month}月"
        last = self.end - dt.timedelta(days=1)
        tail = f"{last.month}月{last.day}日" if last.month != self.start.month else f"{last.day}日"
        return f"{self.start.year}年{self.start.month}月{self.start.day}日至{tail}"


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def period_of(kind: BriefKind, day: dt.date) -> Period:
    """The period of ``kind`` that holds ``day``."""
    if kind is BriefKind.daily:
        return Period(kind, day, day + dt.timedelta(days=1))
    if kind is BriefKind.weekly:
        monday = day - dt.timedelta(days=day.weekday())
        return Period(kind, monday, monday + dt.timedelta(days=7))
    first = _month_start(day)
    return Period(kind, first, _next_month(first))


def previous(period: Period) -> Period:
    """The period just before (环比)."""
    return period_of(period.kind, period.start - dt.timedelta(days=1))


def _year_back(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def year_before(period: Period) -> Period:
    """The same dates a year before (同比), as ``intel.service.trend_report`` compares."""
    return Period(period.kind, _year_back(period.start), _year_back(period.end))


def check_ended(period: Period, now: dt.datetime, tz: str) -> None:
    """Refuse a period that has not ended yet (422 naming ``date``)."""
    today = now.astimezone(ZoneInfo(tz)).date()
    if period.end > today:
        raise ValidationFailed.field(
            "date", f"{period.label}尚未结束（截至 {period.end.isoformat()} 0 时），不能生成"
        )


@dataclass(frozen=True)
class Schedule:
    """When each kind falls due: a local time, plus the weekday (weekly) and day (monthly)."""

    daily: dt.time = dt.time(7, 30)
    weekly: dt.time = dt.time(8, 0)
    monthly: dt.time = dt.time(8, 0)
    weekday: int = 0  # Monday
    month_day: int = 1

    def due_at(self, period: Period, tz: str) -> dt.datetime:
        """The moment a period's brief falls due (aware, local)."""
        zone = ZoneInfo(tz)
        if period.kind is BriefKind.daily:
            return dt.datetime.combine(period.end, self.daily, tzinfo=zone)
        if period.kind is BriefKind.weekly:
            offset = (self.weekday - period.end.weekday()) % 7
            return dt.datetime.combine(
                period.end + dt.timedelta(days=offset), self.weekly, tzinfo=zone
            )
        day = period.end.replace(day=min(self.month_day, 28))
        return dt.datetime.combine(day, self.monthly, tzinfo=zone)

    def latest_due(self, kind: BriefKind, now: dt.datetime, tz: str) -> Period:
        """The newest period of ``kind`` whose brief is due at ``now``."""
        local = now.astimezone(ZoneInfo(tz))
        period = previous(period_of(kind, local.date()))
        while self.due_at(period, tz) > local:
            period = previous(period)
        return period

    def due_since(self, kind: BriefKind, now: dt.datetime, tz: str, since: dt.date) -> list[Period]:
        """Every period of ``kind`` due at ``now`` that starts on or after ``since``, oldest first
        (what a runner catches up on after downtime)."""
        out: list[Period] = []
        period = self.latest_due(kind, now, tz)
        while period.start >= since:
            out.append(period)
            period = previous(period)
        return out[::-1]


def parse_time(value: str, field: str) -> dt.time:
    """'07:30' as a time; 422 naming ``field``."""
    try:
        hours, minutes = (int(v) for v in value.split(":"))
        return dt.time(hours, minutes)
    except ValueError:
        raise ValidationFailed.field(field, "须为 HH:MM") from None
