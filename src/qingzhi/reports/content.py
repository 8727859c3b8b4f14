"""A brief's figures, computed by the same services as the analysis API (``qingzhi.intel``).

``compute`` returns the brief's content as a JSON-ready dict, every figure from the service the
API route uses, called with the brief's own actor (``brief_actor``: the caller's identity with the
scope of the brief's unit, a central station with its members; the bureau for a bureau brief), so
the brief's numbers are the API's numbers for the same period and scope:

- headline: ``intel.service.trend_report`` by category (环比, 同比, the exact test at p < 0.05);
  a comparison window with days on which the county received no call at all is a feed gap: the
  comparison says "数据缺失" instead of a change;
- by station: ``trend_report`` by unit, with incidents per 10,000 residents (``Unit.population``);
- when: hour-of-day and day-of-week counts against the mean of the 28 days before;
- where: ``intel.maps.hotspot_map`` (Gi*, FDR 0.05) merged into compact places ranked by excess
  over their own history (``analysis.places``; ``reports.where``);
- early warnings: ``intel.maps.early_warnings`` (the scan and the control charts that rose);
- repeat calls, service times: ``reports.calls`` (same scope, same counted incidents).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.scope import scope_for_unit
from qingzhi.config import Settings
from qingzhi.errors import NotFound
from qingzhi.incidents.enums import CATEGORY_LABELS, Category
from qingzhi.incidents.models import Incident
from qingzhi.intel import maps, service
from qingzhi.org.models import Bureau, Unit
from qingzhi.org.scope import admits_unit
from qingzhi.reports import calls, where, work
from qingzhi.reports.periods import Period, previous, year_before

log = logging.getLogger(__name__)

P_THRESHOLD = 0.05  # trends.change_test's alpha, stated in every brief
BASELINE_DAYS = 28
WARNING_DAYS = 7  # the scan looks at the last 7 days of the period (the API default)
SHARED_DAYS = 400  # one load covers every figure: a year of history before the windows
MAX_CHARTS = 10  # control-chart alarms listed (the most excess first; the count is given)
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


@dataclass
class Timings:
    """Seconds spent per stage (for bench/briefs.py)."""

    queries: float = 0.0
    analysis: float = 0.0
    rendering: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)


def category_label(key: str) -> str:
    """A category's Chinese name (the key itself if unknown)."""
    return CATEGORY_LABELS[Category(key)] if key in Category.__members__ else key


def brief_actor(session: Session, actor: Actor, unit_id: int | None) -> Actor:
    """The caller acting with the scope of the brief's unit (404 for a unit out of scope)."""
    if unit_id is None:
        if not actor.scope.whole_bureau:
            raise NotFound("全局研判仅限全局权限的用户生成")
        return actor
    if not admits_unit(actor, unit_id) or session.get(Unit, unit_id) is None:
        raise NotFound()
    return replace(actor, scope=scope_for_unit(session, unit_id))


def feed_gaps(session: Session, settings: Settings, start: dt.date, end: dt.date) -> list[str]:
    """Local dates in [start, end) on which the county's feed recorded no call at all (of any
    kind, valid or not): the data is missing, not quiet. Only dates leave this function."""
    tz = settings.timezone
    stmt = select(Incident.received_at).where(
        Incident.received_at >= service.utc(service.local_midnight(start, tz), tz),
        Incident.received_at < service.utc(service.local_midnight(end, tz), tz),
    )
    seen: set[dt.date] = set()
    for (at,) in session.execute(stmt.execution_options(yield_per=50_000)):
        seen.add(service.utc(at, "UTC").astimezone(ZoneInfo(tz)).date())
    days = (end - start).days
    return [
        (start + dt.timedelta(days=i)).isoformat()
        for i in range(days)
        if start + dt.timedelta(days=i) not in seen
    ]


def first_data_day(session: Session, settings: Settings) -> dt.date | None:
    """The local date of the first call the county recorded (None: no calls at all)."""
    first = session.execute(select(func.min(Incident.received_at))).scalar_one_or_none()
    if first is None:
        return None
    return service.utc(first, "UTC").astimezone(ZoneInfo(settings.timezone)).date()


def _comparison(change: dict[str, Any], gaps: list[str]) -> dict[str, Any]:
    out = dict(change)
    out["missing_days"] = gaps
    if gaps:
        out["verdict"] = "数据缺失"
        out["change"] = None
    return out


def _headline(
    session: Session, actor: Actor, settings: Settings, period: Period, marks: Timings
) -> dict[str, Any]:
    t0 = time.perf_counter()
    report = service.trend_report(
        session=session,
        actor=actor,
        settings=settings,
        start=period.start,
        end=period.end,
        freq="day",
        group_by="category",
    )
    marks.marks["trend_category"] = time.perf_counter() - t0
    prev, year = previous(period), year_before(period)
    gaps = {
        "current": feed_gaps(session, settings, period.start, period.end),
        "previous": feed_gaps(session, settings, prev.start, prev.end),
        "year": feed_gaps(session, settings, year.start, year.end),
    }
    rows = [
        {
            "category": c["group"],
            "label": report["labels"].get(c["group"], c["group"]),
            "period_over_period": _comparison(c["period_over_period"], gaps["previous"]),
            "year_on_year": _comparison(c["year_on_year"], gaps["year"]),
        }
        for c in report["comparisons"]
    ]
    rows.sort(key=lambda r: -int(r["period_over_period"]["current"]))
    totals = report["totals"]
    return {
        "total": report["total"],
        "period_over_period": _comparison(totals["period_over_period"], gaps["previous"]),
        "year_on_year": _comparison(totals["year_on_year"], gaps["year"]),
        "by_category": rows,
        "current_gaps": gaps["current"],
        "previous": {"start": prev.start.isoformat(), "end": prev.end.isoformat()},
        "year": {"start": year.start.isoformat(), "end": year.end.isoformat()},
        "hour_of_week": report["hour_of_week"],
    }


def _by_unit(
    session: Session, actor: Actor, settings: Settings, period: Period, gaps: dict[str, Any]
) -> list[dict[str, Any]]:
    report = service.trend_report(
        session=session,
        actor=actor,
        settings=settings,
        start=period.start,
        end=period.end,
        freq="day",
        group_by="unit",
    )
    ids = [int(c["group"]) for c in report["comparisons"] if str(c["group"]).isdigit()]
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))}
    rows: list[dict[str, Any]] = []
    other = {"current": 0, "previous": 0}
    for c in report["comparisons"]:
        key = str(c["group"])
        unit = units.get(int(key)) if key.isdigit() else None
        pop = c["period_over_period"]
        if unit is None or not actor.scope.admits(unit.id):
            # A call in scope through its handling unit whose place lies in another station's
            # jurisdiction: counted, never named.
            other["current"] += int(pop["current"])
            other["previous"] += int(pop["previous"])
            continue
        per_10k = (
            round(int(pop["current"]) / unit.population * 10_000, 2) if unit.population else None
        )
        rows.append(
            {
                "unit_id": unit.id,
                "code": unit.code,
                "name": unit.name,
                "population": unit.population,
                "per_10k": per_10k,
                "period_over_period": _comparison(pop, gaps["previous"]),
                "year_on_year": _comparison(c["year_on_year"], gaps["year"]),
            }
        )
    rows.sort(key=lambda r: (-int(r["period_over_period"]["current"]), r["code"]))
    if other["current"] or other["previous"]:
        rows.append(
            {
                "unit_id": None,
                "code": "",
                "name": "其他单位辖区（本单位处置）",
                "population": None,
                "per_10k": None,
                "period_over_period": _comparison(
                    service._change(other["current"], other["previous"], period.days, period.days),
                    gaps["previous"],
                ),
                "year_on_year": None,
            }
        )
    return rows


def _profiles(session: Session, actor: Actor, settings: Settings, period: Period) -> dict[str, Any]:
    """Hour-of-day and day-of-week counts of the period, and the 28-day baseline scaled to it."""
    tz = settings.timezone
    base_start = period.start - dt.timedelta(days=BASELINE_DAYS)
    ev = service.load_events(
        session=session,
        actor=actor,
        settings=settings,
        start=service.local_midnight(base_start, tz),
        end=service.local_midnight(period.end, tz),
    )
    lo = np.datetime64(period.start, "s")
    cur = ev.t[ev.t >= lo]
    base = ev.t[ev.t < lo]

    def hours(t: Any) -> Any:
        return np.bincount(t.astype("datetime64[h]").astype(np.int64) % 24, minlength=24)

    def weekdays(t: Any) -> Any:  # 1970-01-01 was a Thursday: +3 makes Monday 0
        return np.bincount((t.astype("datetime64[D]").astype(np.int64) + 3) % 7, minlength=7)

    scale = period.days / BASELINE_DAYS
    # The baseline by weekday: the mean count of each weekday over the 28 days (4 of each),
    # times how many of that weekday the period has.
    in_period = np.bincount(
        [(period.start + dt.timedelta(days=i)).weekday() for i in range(period.days)],
        minlength=7,
    )
    return {
        "baseline_days": BASELINE_DAYS,
        "hours": hours(cur).tolist(),
        "hours_baseline": np.round(hours(base) * scale, 2).tolist(),
        "weekdays": weekdays(cur).tolist(),
        "weekdays_baseline": np.round(weekdays(base) / 4.0 * in_period, 2).tolist(),
        "daily": _daily(cur, period),
    }


def _daily(t: Any, period: Period) -> list[int]:
    first = int(np.datetime64(period.start, "D").astype(np.int64))
    days = t.astype("datetime64[D]").astype(np.int64) - first
    out: list[int] = np.bincount(days, minlength=period.days)[: period.days].tolist()
    return out


def _warnings(session: Session, actor: Actor, settings: Settings, period: Period) -> dict[str, Any]:
    out = maps.early_warnings(
        session=session,
        actor=actor,
        settings=settings,
        end=period.end,
        days=WARNING_DAYS,
    )
    ids = [c["unit_id"] for c in out["control_charts"] if c["unit_id"] is not None]
    names = {
        r.id: r.name for r in session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))
    }
    charts = []
    last_week = out["control_charts"][0]["weeks"][-1] if out["control_charts"] else None
    for c in out["control_charts"]:
        if c["unit_id"] is None or not actor.scope.admits(c["unit_id"]):
            continue
        last = c["alarms"][-1]
        if last["week"] != last_week:  # rose in the last week (the API lists 4 weeks)
            continue
        charts.append(
            {
                "unit_id": c["unit_id"],
                "unit": names.get(c["unit_id"], ""),
                "category": c["category"],
                "label": category_label(c["category"]),
                "baseline_mean": c["baseline_mean"],
                "upper_limit": c["upper_limit"],
                "week": last["week"],
                "count": last["count"],
                "alarms": len(c["alarms"]),
            }
        )
    charts.sort(key=lambda c: -(c["count"] - c["baseline_mean"]))
    scan = dict(out["scan"])
    feature = scan.pop("feature", None)
    if scan.get("alarm") and feature:
        scan["centre"] = where.feature_centre(feature)
        scan["cells"] = len(feature["features"])
    return {
        "end": out["end"],
        "days": out["days"],
        "scan": scan,
        "control_charts": charts[:MAX_CHARTS],
        "n_charts": len(charts),
    }


def compute(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    period: Period,
    unit_id: int | None,
    previous_places: list[dict[str, Any]] | None = None,
    timings: Timings | None = None,
) -> dict[str, Any]:
    """The brief's figures for ``period`` in the scope of ``unit_id`` (None: the bureau),
    with ``actor`` already the brief's actor (``brief_actor``)."""
    marks = timings or Timings()
    t0 = time.perf_counter()
    tz = settings.timezone
    earliest = min(year_before(period).start, period.end - dt.timedelta(days=SHARED_DAYS))
    with service.shared_events(
        session=session,
        actor=actor,
        settings=settings,
        start=service.local_midnight(earliest, tz),
        end=service.local_midnight(period.end, tz),
    ):
        return _compute(session, actor, settings, period, unit_id, previous_places, marks, t0)


def _compute(
    session: Session,
    actor: Actor,
    settings: Settings,
    period: Period,
    unit_id: int | None,
    previous_places: list[dict[str, Any]] | None,
    marks: Timings,
    started: float,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    marks.marks["load"] = t0 - started  # the one shared load of the events
    bureau = session.execute(select(Bureau).order_by(Bureau.id).limit(1)).scalar_one_or_none()
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    headline = _headline(session, actor, settings, period, marks)
    gaps = {
        "previous": headline["period_over_period"]["missing_days"],
        "year": headline["year_on_year"]["missing_days"],
    }
    by_unit = _by_unit(session, actor, settings, period, gaps)
    profiles = _profiles(session, actor, settings, period)
    t1 = time.perf_counter()
    hotspots = where.hotspot_places(
        session=session,
        actor=actor,
        settings=settings,
        period=period,
        previous_places=previous_places or [],
    )
    t2 = time.perf_counter()
    warnings = _warnings(session, actor, settings, period)
    t3 = time.perf_counter()
    repeats = calls.repeat_calls(session=session, actor=actor, settings=settings, period=period)
    service_times = calls.service_times(
        session=session, actor=actor, settings=settings, period=period
    )
    t4 = time.perf_counter()
    population = unit.population if unit is not None else (bureau.population if bureau else None)
    marks.queries += (t0 - started) + (t4 - t3)
    marks.analysis += t1 - t0  # trends, by unit, profiles (on the loaded events)
    marks.analysis += (t2 - t1) + (t3 - t2)
    marks.marks.update(
        {
            "trends_units_profiles": t1 - t0,
            "hotspots": t2 - t1,
            "warnings": t3 - t2,
            "calls": t4 - t3,
        }
    )
    return {
        "kind": str(period.kind),
        "period": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "label": period.label,
            "days": period.days,
        },
        "unit": None
        if unit is None
        else {"id": unit.id, "code": unit.code, "name": unit.name, "kind": str(unit.kind)},
        "bureau": bureau.name if bureau else "公安局",
        "scope_name": unit.name if unit is not None else (bureau.name if bureau else "全局"),
        "population": population,
        "p_threshold": P_THRESHOLD,
        "headline": headline,
        "by_unit": by_unit,
        "profiles": profiles,
        "hotspots": hotspots,
        "warnings": warnings,
        "repeats": repeats,
        "service": service_times,
        "work": work.sections(session, actor, settings, period, unit_id),
    }
