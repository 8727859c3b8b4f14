"""The brief's repeat calls (重复报警) and service times (派警、到场), in the brief's scope.

Repeat calls: the calls of the period linked to an earlier call (``repeat_of_id``), grouped by
that first call (its place), and the callers who called most often in the period (two calls or
more), their numbers masked (``incidents.reads.mask_phone``); each row links to the first call.
Service: for the counted incidents of the period (valid, each matter once) by handling unit, the
median minutes from receipt to dispatch and to arrival, the share dispatched within 3 minutes and,
for urban stations (城区派出所, "in towns"), the share arrived within 5 minutes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.incidents.models import Incident
from qingzhi.incidents.reads import mask_phone
from qingzhi.incidents.scope import counted, scope_filter
from qingzhi.intel import service
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Unit
from qingzhi.reports.periods import Period

log = logging.getLogger(__name__)

TOP = 10
DISPATCH_TARGET_S = 180
ARRIVE_TARGET_S = 300
TOWN_KINDS = (UnitKind.urban_station,)


def _window(settings: Settings, period: Period) -> tuple[Any, Any]:
    tz = settings.timezone
    return (
        service.utc(service.local_midnight(period.start, tz), tz),
        service.utc(service.local_midnight(period.end, tz), tz),
    )


def repeat_calls(
    *, session: Session, actor: Actor, settings: Settings, period: Period
) -> dict[str, Any]:
    """The places (first calls) with most repeat calls and the callers who called most."""
    lo, hi = _window(settings, period)
    first = aliased(Incident)
    n = func.count(Incident.id).label("n")
    stmt = (
        select(first.id, first.address, first.category, n)
        .join(first, first.id == Incident.repeat_of_id)
        .where(
            Incident.received_at >= lo,
            Incident.received_at < hi,
            actor.scope.where(first.unit_id, first.station_id),
        )
        .group_by(first.id, first.address, first.category)
        .order_by(n.desc(), first.id)
        .limit(TOP)
    )
    stmt = scope_filter(stmt, actor)
    places = [
        {"incident_id": r.id, "address": r.address, "category": str(r.category), "repeats": r.n}
        for r in session.execute(stmt)
    ]
    total = session.execute(
        scope_filter(
            select(func.count()).where(
                Incident.repeat_of_id.is_not(None),
                Incident.received_at >= lo,
                Incident.received_at < hi,
            ),
            actor,
        )
    ).scalar_one()
    calls = func.count(Incident.id).label("calls")
    last = func.max(Incident.id).label("last_id")
    stmt2 = (
        select(Incident.caller_phone, calls, last)
        .where(
            Incident.caller_phone.is_not(None),
            Incident.caller_phone != "",
            Incident.received_at >= lo,
            Incident.received_at < hi,
        )
        .group_by(Incident.caller_phone)
        .having(func.count(Incident.id) >= 2)
        .order_by(calls.desc(), Incident.caller_phone)
        .limit(TOP)
    )
    callers = [
        {"caller": mask_phone(r.caller_phone), "calls": r.calls, "incident_id": r.last_id}
        for r in session.execute(scope_filter(stmt2, actor))
    ]
    return {"total": int(total), "places": places, "callers": callers}


def _median_minutes(seconds: list[float]) -> float | None:
    return round(float(np.median(seconds)) / 60.0, 1) if seconds else None


def _share(seconds: list[float], limit: float) -> float | None:
    return round(sum(s <= limit for s in seconds) / len(seconds), 4) if seconds else None


def service_times(
    *, session: Session, actor: Actor, settings: Settings, period: Period
) -> list[dict[str, Any]]:
    """Dispatch and arrival times of the period's counted incidents, by handling unit in scope."""
    lo, hi = _window(settings, period)
    stmt = select(
        Incident.unit_id, Incident.received_at, Incident.dispatched_at, Incident.arrived_at
    ).where(counted(), Incident.received_at >= lo, Incident.received_at < hi)
    dispatch: dict[int, list[float]] = defaultdict(list)
    arrive: dict[int, list[float]] = defaultdict(list)
    count: dict[int, int] = defaultdict(int)
    for unit_id, received, dispatched, arrived in session.execute(scope_filter(stmt, actor)):
        if unit_id is None or not actor.scope.admits(unit_id):
            continue
        count[unit_id] += 1
        if dispatched is not None:
            dispatch[unit_id].append((dispatched - received).total_seconds())
        if arrived is not None:
            arrive[unit_id].append((arrived - received).total_seconds())
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(list(count))))}
    rows = []
    for unit_id in sorted(count, key=lambda u: (-count[u], units[u].code if u in units else "")):
        unit = units.get(unit_id)
        if unit is None:
            continue
        town = unit.kind in TOWN_KINDS
        rows.append(
            {
                "unit_id": unit_id,
                "name": unit.name,
                "incidents": count[unit_id],
                "dispatched": len(dispatch[unit_id]),
                "dispatch_median_min": _median_minutes(dispatch[unit_id]),
                "dispatch_within_3min": _share(dispatch[unit_id], DISPATCH_TARGET_S),
                "arrive_median_min": _median_minutes(arrive[unit_id]),
                "arrive_within_5min": _share(arrive[unit_id], ARRIVE_TARGET_S) if town else None,
                "town": town,
            }
        )
    return rows
