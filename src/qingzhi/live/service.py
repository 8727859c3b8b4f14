"""Officers' live state (status, position, body camera) and the map's live layers.

An officer's effective live status is ``off_duty`` whenever the roster says they are not on duty
(``Officer.duty_status``); otherwise it is the stored live status, ``available`` by default.
Positions arrive from devices (``POST /api/live/positions``) or the demo simulator through
``record_positions``; each batch is one event per unit on the bus.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.community import people as community_people
from qingzhi.duty import service as duty
from qingzhi.errors import Conflict, NotFound, ValidationFailed
from qingzhi.geo.datum import Datum, convert
from qingzhi.incidents.enums import Category, subtype_label
from qingzhi.incidents.lifecycle import OPEN_STATUSES, Status, next_steps
from qingzhi.incidents.models import Incident
from qingzhi.incidents.scope import scope_filter
from qingzhi.live import bus
from qingzhi.live.enums import EventKind, LiveStatus
from qingzhi.live.models import OfficerLive
from qingzhi.live.schemas import OfficerLiveUpdate, PositionIn
from qingzhi.org import scope as org_scope
from qingzhi.org.enums import DutyStatus
from qingzhi.org.models import Officer, Unit
from qingzhi.store.base import table_of, utcnow

log = logging.getLogger(__name__)

RECENT_CLOSED = dt.timedelta(hours=24)
OPEN_WINDOW = dt.timedelta(days=7)
MAX_MAP_INCIDENTS = 5_000


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


# ---------------------------------------------------------------- features


def effective_status(officer: Officer, live: OfficerLive | None) -> LiveStatus:
    """The live status shown for an officer (off duty by the roster wins)."""
    if not officer.active or officer.duty_status != DutyStatus.on_duty:
        return LiveStatus.off_duty
    if live is None:
        return LiveStatus.available
    return LiveStatus(live.status)


def officer_feature(
    officer: Officer,
    live: OfficerLive | None,
    unit_names: dict[int, str],
    street: bool | None = None,
) -> dict[str, Any]:
    """An officer as the map and the stream show it; ``street``: whether they are on street
    duty (``duty.service.dispatchable``; the snapshot says it, updates keep it)."""
    status = effective_status(officer, live)
    feature: dict[str, Any] = {
        "id": officer.id,
        "name": officer.name,
        "no": officer.police_number,
        "kind": str(officer.kind),
        "unit_id": officer.unit_id,
        "unit": unit_names.get(officer.unit_id, ""),
        "status": str(status),
        "status_label": status.label,
        "lon": live.lon if live else None,
        "lat": live.lat if live else None,
        "at": _iso(live.fix_at) if live else None,
        "incident_id": live.incident_id if live else None,
        "camera_url": live.camera_url if live else None,
    }
    if street is not None:
        feature["street"] = street
    return feature


def incident_feature(
    *,
    id: int,
    category: Any,
    subtype_label: str,
    status: Any,
    valid: bool,
    lon: float | None,
    lat: float | None,
    received_at: dt.datetime,
    priority: int,
    address: str,
    unit_id: int | None,
    station_id: int | None,
) -> dict[str, Any]:
    """An incident as the map and the stream show it (no personal data)."""

    cat, st = Category(category), Status(status)
    return {
        "id": id,
        "cat": str(cat),
        "cat_label": cat.label,
        "sub_label": subtype_label,
        "status": str(st),
        "status_label": st.label,
        "open": st.is_open,
        "next_steps": next_steps(st),
        "valid": valid,
        "lon": lon,
        "lat": lat,
        "at": _iso(received_at),
        "priority": priority,
        "address": address,
        "unit_id": unit_id,
        "station_id": station_id,
    }


def feature_of(inc: Incident) -> dict[str, Any]:
    """The map feature of an incident row."""

    return incident_feature(
        id=inc.id,
        category=inc.category,
        subtype_label=subtype_label(inc.category, inc.subtype),
        status=inc.status,
        valid=inc.valid,
        lon=inc.lon,
        lat=inc.lat,
        received_at=inc.received_at,
        priority=inc.priority,
        address=inc.address,
        unit_id=inc.unit_id,
        station_id=inc.station_id,
    )


def unit_names(session: Session) -> dict[int, str]:
    """Every unit's name by id."""
    return {uid: name for uid, name in session.execute(select(Unit.id, Unit.name))}


# ---------------------------------------------------------------- snapshots


def officers(
    *, session: Session, actor: Actor, unit_id: int | None = None, on_duty: bool = False
) -> list[dict[str, Any]]:
    """Every active officer in scope (or only those on duty) with live status and position."""
    actor.require(Perm.officer_read)
    query = (
        select(Officer, OfficerLive)
        .outerjoin(OfficerLive, OfficerLive.officer_id == Officer.id)
        .where(Officer.active.is_(True))
    )
    query = org_scope.officers(query, actor)
    if unit_id is not None:
        members = select(Unit.id).where(Unit.central_id == unit_id)
        query = query.where(or_(Officer.unit_id == unit_id, Officer.unit_id.in_(members)))
    if on_duty:
        query = query.where(Officer.duty_status == DutyStatus.on_duty)
    names = unit_names(session)
    rows = session.execute(query.order_by(Officer.police_number)).all()
    # Street duty (patrol, traffic, community: whom dispatch may send) against office staff,
    # who are on duty but neither dispatchable nor counted as 在岗警力 on the map.
    street = duty.street_officers(session, (o.id for o, _ in rows))
    features = [officer_feature(o, live, names, o.id in street) for o, live in rows]
    # community (两队一室): community-team officers out of the dispatch rota, shown as such
    off_rota = community_people.rota_excluded(session, [o for o, _ in rows], None)
    for feature in features:
        feature["in_rota"] = feature["id"] not in off_rota
    return features


def map_incidents(
    *, session: Session, actor: Actor, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Incidents for the live map: open ones of the last week and those closed in the last day."""
    actor.require(Perm.incident_read)
    now = now or utcnow()
    query = scope_filter(select(Incident), actor).where(
        Incident.valid.is_(True),
        Incident.lon.is_not(None),
        Incident.received_at >= now - OPEN_WINDOW,  # one time range for the index
        or_(Incident.status.in_(OPEN_STATUSES), Incident.received_at >= now - RECENT_CLOSED),
    )
    rows = session.execute(
        query.order_by(Incident.received_at.desc()).limit(MAX_MAP_INCIDENTS)
    ).scalars()
    return [feature_of(inc) for inc in rows]


# ---------------------------------------------------------------- positions and status


def _live_rows(
    session: Session, officer_ids: Iterable[int], *, lock: bool = False
) -> dict[int, OfficerLive]:
    ids = sorted(set(officer_ids))
    out: dict[int, OfficerLive] = {}
    for start in range(0, len(ids), 500):
        query = select(OfficerLive).where(OfficerLive.officer_id.in_(ids[start : start + 500]))
        if lock:  # in id order, as every locker takes them; refreshed from the locked row
            query = (
                query.order_by(OfficerLive.officer_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        for row in session.execute(query).scalars():
            out[row.officer_id] = row
    return out


def live_rows(
    session: Session, officer_ids: Iterable[int], *, lock: bool = False
) -> dict[int, OfficerLive]:
    """Each named officer's live-state row, created where missing.

    A missing row is inserted with ``ON CONFLICT DO NOTHING``: two transactions creating the same
    officer's row do not fail (on PostgreSQL the second waits for the first and keeps its row).
    With ``lock`` the rows are locked (``FOR UPDATE`` on PostgreSQL; SQLite's writer holds the
    database already) in officer id order, after the missing ones exist, so that a decision on an
    officer's status is made on a row no other transaction can change meanwhile.
    """
    ids = sorted(set(officer_ids))
    rows = _live_rows(session, ids)  # unlocked: which rows are missing
    missing = [oid for oid in ids if oid not in rows]
    if missing:
        table = table_of(OfficerLive)
        dialect = session.connection().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        now = utcnow()
        session.connection().execute(
            insert(table)
            .values(
                [
                    {"officer_id": oid, "status": str(LiveStatus.available), "updated_at": now}
                    for oid in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["officer_id"])
        )
    if lock:
        return _live_rows(session, ids, lock=True)
    if missing:
        rows.update(_live_rows(session, missing))
    return rows


def claim_officers(
    session: Session, officer_ids: Sequence[int], *, also: Iterable[int] = ()
) -> None:
    """Make sure every officer about to be sent is available, deciding on their locked live
    rows (an officer is on at most one incident at a time); 409 naming the first who is not.
    The rows of ``also`` are locked in the same pass (one id order)."""
    officers_by_id = {
        o.id: o
        for o in session.execute(select(Officer).where(Officer.id.in_(list(officer_ids)))).scalars()
    }
    rows = live_rows(session, [*officers_by_id, *also], lock=True)
    for oid in officer_ids:
        o = officers_by_id.get(oid)
        if o is None:
            raise ValidationFailed.field("officer_ids", f"民警 {oid} 不存在或不在权限范围内")
        status = effective_status(o, rows.get(oid))
        if status != LiveStatus.available:
            raise Conflict(
                f"民警 {o.name}（{o.police_number}）当前{status.label}，不能派警",
                details={"officer_id": oid, "status": str(status)},
            )


def record_positions(*, session: Session, actor: Actor, positions: Sequence[PositionIn]) -> int:
    """Store a batch of GPS fixes and publish them, one event per unit; the number accepted.

    Officers are named by id or police number and must be in the caller's scope. Coordinates
    are converted to WGS-84 from their declared datum. A fix older than the stored one is kept
    out of the state (devices resend) but still accepted.
    """
    actor.require(Perm.officer_write)
    ids = {p.officer_id for p in positions if p.officer_id is not None}
    numbers = {p.police_number for p in positions if p.officer_id is None and p.police_number}
    found: dict[int, Officer] = {}
    by_number: dict[str, Officer] = {}
    conds = []
    if ids:
        conds.append(Officer.id.in_(list(ids)))
    if numbers:
        conds.append(Officer.police_number.in_(list(numbers)))
    for o in session.execute(select(Officer).where(or_(*conds))).scalars():
        found[o.id] = o
        by_number[o.police_number] = o
    resolved: list[tuple[Officer, PositionIn]] = []
    for i, p in enumerate(positions):
        who = (
            found.get(p.officer_id)
            if p.officer_id is not None
            else by_number.get(p.police_number or "")
        )
        if who is None or not org_scope.admits_officer(actor, who):
            raise ValidationFailed.field(f"positions.{i}", "民警不存在或不在权限范围内")
        resolved.append((who, p))

    # Datum conversion, grouped by datum.
    lonlat: dict[int, tuple[float, float]] = {}
    for datum in {p.datum for _, p in resolved}:
        idx = [i for i, (_, p) in enumerate(resolved) if p.datum == datum]
        xs = [resolved[i][1].lon for i in idx]
        ys = [resolved[i][1].lat for i in idx]
        if datum == Datum.wgs84:
            cx, cy = xs, ys
        else:
            ax, ay = convert(xs, ys, source=datum, target=Datum.wgs84)
            cx, cy = [float(v) for v in ax], [float(v) for v in ay]
        for k, i in enumerate(idx):
            lonlat[i] = (round(float(cx[k]), 7), round(float(cy[k]), 7))

    now = utcnow()
    rows = live_rows(session, (o.id for o, _ in resolved))
    per_unit: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for i, (o, p) in enumerate(resolved):
        at = (p.at or now).astimezone(dt.UTC)
        lon, lat = lonlat[i]
        row = rows[o.id]
        if row.fix_at is not None and row.fix_at > at:
            continue
        row.lon, row.lat, row.fix_at = lon, lat, at
        row.speed_kmh, row.heading = p.speed_kmh, p.heading
        row.updated_at = now
        status = effective_status(o, row)
        per_unit[o.unit_id].append(
            {"id": o.id, "lon": lon, "lat": lat, "at": _iso(at), "status": str(status)}
        )
    session.flush()
    bus.publish(
        session,
        [
            bus.EventIn(EventKind.positions, {"items": items}, unit_id=unit_id)
            for unit_id, items in per_unit.items()
        ],
        at=now,
    )
    return len(resolved)


def set_officer_states(
    session: Session,
    actor: Actor,
    changes: Sequence[tuple[int, LiveStatus, int | None]],
    *,
    reason: str = "",
) -> None:
    """Set officers' live status and current incident, on their locked live rows; audited and
    published."""
    if not changes:
        return
    ids = [oid for oid, _, _ in changes]
    officers_by_id = {
        o.id: o for o in session.execute(select(Officer).where(Officer.id.in_(ids))).scalars()
    }
    rows = live_rows(session, officers_by_id, lock=True)
    names = unit_names(session)
    street = duty.street_officers(session, officers_by_id)
    events: list[bus.EventIn] = []
    audits: list[audit.Change] = []
    for oid, status, incident_id in changes:
        o = officers_by_id.get(oid)
        if o is None:
            continue
        row = rows[oid]
        before = {"status": row.status, "incident_id": row.incident_id}
        row.status, row.incident_id = str(status), incident_id
        row.updated_at = utcnow()
        after = {"status": row.status, "incident_id": row.incident_id}
        if before == after:
            continue
        audits.append(
            audit.Change(
                "officer.live_status",
                "officer",
                oid,
                o.unit_id,
                diff={"before": before, "after": after, "reason": reason},
            )
        )
        events.append(
            bus.EventIn(
                EventKind.officer, officer_feature(o, row, names, oid in street), unit_id=o.unit_id
            )
        )
    session.flush()
    if audits:
        audit.record_many(session=session, actor=actor, changes=audits)
    bus.publish(session, events)


def update_officer(
    *, session: Session, actor: Actor, officer_id: int, data: OfficerLiveUpdate
) -> dict[str, Any]:
    """Change an officer's live status or body-camera stream URL."""
    actor.require(Perm.officer_write)
    o = session.get(Officer, officer_id)
    if o is None or not org_scope.admits_officer(actor, o):
        raise NotFound()
    row = live_rows(session, [o.id], lock=True)[o.id]  # the incident kept is read locked
    if data.status is not None:
        incident_id = row.incident_id if data.status != LiveStatus.available else None
        set_officer_states(session, actor, [(o.id, data.status, incident_id)], reason="manual")
    if data.camera_url is not None or data.clear_camera:
        before = row.camera_url
        row.camera_url = None if data.clear_camera else data.camera_url
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="officer.camera",
            entity_kind="officer",
            entity_id=o.id,
            unit_id=o.unit_id,
            diff={"before": {"camera_url": before}, "after": {"camera_url": row.camera_url}},
        )
        bus.publish(
            session,
            [
                bus.EventIn(
                    EventKind.officer,
                    officer_feature(o, row, unit_names(session)),
                    unit_id=o.unit_id,
                )
            ],
        )
    return officer_feature(o, row, unit_names(session))
