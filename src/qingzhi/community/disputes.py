"""Disputes (矛盾纠纷): opened from a dispute call, a visit's finding or the desk; read in scope
with their parties (``parties``: ID numbers and phones masked on screen; a full read is audited
like a caller's phone), sessions, linked calls and timeline. Their mediation and steps along the
lifecycle: ``mediation``.

Duration of a dispute's mediation = first session's start to settlement.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qingzhi import lifecycle
from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.community.enums import (
    DISPUTE,
    SETTLEMENTS,
    DisputeKind,
    DisputeStatus,
    Risk,
    label,
)
from qingzhi.community.models import (
    Dispute,
    DisputeCall,
    DisputeParty,
    MediationSession,
    Visit,
)
from qingzhi.community.parties import add_parties, caller_party, parties_audit, party_read
from qingzhi.community.schemas import (
    DisputeCreate,
    DisputePage,
    DisputeRead,
    DisputeUpdate,
    LinkedCall,
    SessionRead,
)
from qingzhi.community.scope import View, view_of
from qingzhi.config import Settings
from qingzhi.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from qingzhi.incidents import reads as incidents
from qingzhi.incidents.enums import Category
from qingzhi.incidents.models import Incident
from qingzhi.incidents.repeats import ids_in_scope as incidents_scope_ids
from qingzhi.incidents.repeats import linked_ids, scoped_links
from qingzhi.org.models import Zone
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database
from qingzhi.store.rows import read_of, snapshot

log = logging.getLogger(__name__)

LOCAL = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
NO_PACKAGE = "民警单独调解"
# The columns a new dispute's audit record keeps (with its parties, masked).
DISPUTE_AUDITED = ("incident_id", "visit_id", "zone_id", "kind", "risk")


def local_today() -> dt.date:
    """Today in Beijing time."""
    return dt.datetime.now(LOCAL).date()


def package_label(settings: Settings, code: str | None) -> str:
    """The name of a mediation package (none: the officer alone)."""
    if code is None:
        return NO_PACKAGE
    return settings.community_packages.get(code, code)


def _minutes(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round((b - a).total_seconds() / 60.0, 1)


def overdue(d: Dispute, today: dt.date | None = None) -> bool:
    """A follow-up due before today that has not been made."""
    return (
        d.follow_up_due is not None
        and DisputeStatus(d.status) in SETTLEMENTS
        and d.follow_up_due < (today or local_today())
    )


def _session(s: MediationSession, settings: Settings) -> SessionRead:
    return read_of(
        SessionRead,
        s,
        package_label=package_label(settings, s.package),
        participants=json.loads(s.participants),
        partner_ids=json.loads(s.partner_ids),
        minutes=_minutes(s.started_at, s.ended_at) or 0.0,
        outcome_label=label(s.outcome),
    )


def to_read(
    session: Session,
    d: Dispute,
    settings: Settings,
    *,
    actor: Actor,
    detail: bool = False,
    unmask: bool = False,
    zone_names: dict[int, str] | None = None,
) -> DisputeRead:
    """The API view of a dispute (with parties, sessions and calls when ``detail``)."""
    status = DisputeStatus(d.status)
    if zone_names is None:
        zone_names = (
            {d.zone_id: session.get(Zone, d.zone_id).name}  # type: ignore[union-attr]
            if d.zone_id is not None
            else {}
        )
    out = read_of(
        DisputeRead,
        d,
        zone_name=zone_names.get(d.zone_id) if d.zone_id is not None else None,
        kind_label=label(DisputeKind(d.kind)),
        risk_label=label(Risk(d.risk)),
        status=status,
        status_label=DISPUTE.label(status),
        allowed=sorted(DISPUTE.allowed(status)),
        duration_minutes=_minutes(d.first_session_at, d.settled_at),
        follow_up_overdue=overdue(d),
        parties=[],
        sessions=[],
        calls=[],
    )
    if detail:
        parties = session.scalars(
            select(DisputeParty).where(DisputeParty.dispute_id == d.id).order_by(DisputeParty.id)
        )
        out.parties = [party_read(p, unmask) for p in parties]
        caller = (
            session.scalar(select(Incident.caller_phone).where(Incident.id == d.incident_id))
            if d.incident_id is not None
            else None
        )
        if caller:  # the caller of the call that opened it is a party (phone read from the call)
            out.parties.insert(0, caller_party(caller, unmask))
        sessions = session.scalars(
            select(MediationSession)
            .where(MediationSession.dispute_id == d.id)
            .order_by(MediationSession.started_at, MediationSession.id)
        )
        out.sessions = [_session(s, settings) for s in sessions]
        calls = list(
            session.scalars(
                select(DisputeCall)
                .where(DisputeCall.dispute_id == d.id)
                .order_by(DisputeCall.received_at)
            )
        )
        shown = incidents_scope_ids(session, actor, [c.incident_id for c in calls])
        out.calls = [
            LinkedCall(
                incident_id=c.incident_id if c.incident_id in shown else None,
                received_at=c.received_at,
                reason=c.reason,
                after_settlement=c.after_settlement,
            )
            for c in calls
        ]
    return out


def visible(session: Session, view: View, dispute_id: int) -> Dispute:
    """The dispute if it exists and the caller may see it (else 404, never 403)."""
    view.actor.require(Perm.community_read)
    d = session.get(Dispute, dispute_id)
    if d is None or not view.admits_row(d):
        raise NotFound()
    return d


def get(*, session: Session, actor: Actor, settings: Settings, dispute_id: int) -> DisputeRead:
    """One dispute in scope, parties masked."""
    view = view_of(session, actor)
    return to_read(session, visible(session, view, dispute_id), settings, actor=actor, detail=True)


def reveal(*, db: Database, actor: Actor, settings: Settings, dispute_id: int) -> DisputeRead:
    """One dispute with its parties' ID numbers and phones in full: read, then the read audited
    in a short write transaction of its own (before anything is answered)."""
    if not actor.can(Perm.personal_read):
        raise PermissionDenied("您的角色不能查看当事人完整身份证号码和电话")
    with db.session() as session:
        view = view_of(session, actor)
        d = visible(session, view, dispute_id)
        shown = to_read(session, d, settings, actor=actor, detail=True, unmask=True)
    if shown.parties:
        db.combine(
            "dispute.read_personal",
            _record_reads,
            (actor, shown.id, shown.station_id, [p.id for p in shown.parties]),
        )
    return shown


def _record_reads(
    session: Session, payloads: list[tuple[Actor, int, int | None, list[int]]]
) -> list[Exception | None]:
    for actor, dispute_id, station_id, party_ids in payloads:
        audit.record(
            session=session,
            actor=actor,
            action="dispute.read_personal",
            entity_kind="dispute",
            entity_id=dispute_id,
            unit_id=station_id,
            diff={"fields": ["id_number", "phone"], "party_ids": party_ids},
        )
    return [None] * len(payloads)


def _zone(session: Session, view: View, zone_id: int, field: str = "zone_id") -> Zone:
    zone = session.get(Zone, zone_id)
    if zone is None or not view.admits(zone.station_id, zone.id):
        raise ValidationFailed.field(field, "片区不存在或不在您的权限范围内")
    return zone


def create(
    *, session: Session, actor: Actor, settings: Settings, data: DisputeCreate
) -> DisputeRead:
    """Open a dispute from a dispute incident, a visit's finding, or a zone (the desk)."""
    actor.require(Perm.community_write)
    view = view_of(session, actor)
    station_id: int | None
    zone_id: int | None = None
    lon, lat = (data.location.lon, data.location.lat) if data.location else (None, None)
    reported_at = data.reported_at or utcnow()
    address = data.address
    if data.incident_id is not None:
        try:
            inc = incidents.visible(session, actor, data.incident_id)
        except NotFound:
            raise ValidationFailed.field("incident_id", "警情不存在或不在您的权限范围内") from None
        if inc.category != Category.dispute:
            raise ValidationFailed.field("incident_id", "只能关联“纠纷”类警情")
        taken = session.scalar(select(Dispute.id).where(Dispute.incident_id == inc.id))
        if taken is not None:
            raise Conflict(
                f"incident_id：该警情已有矛盾纠纷（编号 {taken}）",
                details=[{"field": "incident_id", "message": "该警情已有矛盾纠纷", "id": taken}],
            )
        station_id, zone_id = inc.station_id or inc.unit_id, inc.zone_id
        if not view.admits(station_id, zone_id):
            raise ValidationFailed.field("incident_id", "警情不在您的片区")
        reported_at = data.reported_at or inc.received_at
        address = address or inc.address
        if lon is None:
            lon, lat = inc.lon, inc.lat
    if data.visit_id is not None:
        visit = session.get(Visit, data.visit_id)
        if visit is None or not view.admits_row(visit):
            raise ValidationFailed.field("visit_id", "走访记录不存在或不在您的权限范围内")
        station_id, zone_id = visit.station_id, visit.zone_id
        address = address or visit.address
    if data.zone_id is not None:
        zone = _zone(session, view, data.zone_id)
        station_id, zone_id = zone.station_id, zone.id
    if zone_id is None and data.incident_id is None:
        raise ValidationFailed.field("zone_id", "须指定片区、纠纷警情或走访记录")
    d = Dispute(
        station_id=station_id,
        zone_id=zone_id,
        incident_id=data.incident_id,
        visit_id=data.visit_id,
        kind=data.kind,
        risk=data.risk,
        status=DisputeStatus.reported,
        summary=data.summary,
        address=address,
        lon=lon,
        lat=lat,
        reported_at=reported_at,
    )
    session.add(d)
    session.flush()
    add_parties(session, d.id, data.parties)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="dispute.create",
        entity_kind="dispute",
        entity_id=d.id,
        unit_id=station_id,
        after={**snapshot(d, DISPUTE_AUDITED), "parties": parties_audit(data.parties)},
    )
    return to_read(session, d, settings, actor=actor, detail=True)


def update(
    *, session: Session, actor: Actor, settings: Settings, dispute_id: int, data: DisputeUpdate
) -> DisputeRead:
    """Change a dispute's type, risk or summary, add parties, or clear its attention flag."""
    actor.require(Perm.community_write)
    view = view_of(session, actor)
    visible(session, view, dispute_id)
    d = lifecycle.locked(session, Dispute, dispute_id)
    assert d is not None
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in ("kind", "risk", "summary", "attention"):
        value = getattr(data, name)
        if value is not None and value != getattr(d, name):
            before[name], after[name] = getattr(d, name), value
            setattr(d, name, value)
    add_parties(session, d.id, data.add_parties)
    if data.add_parties:
        after["parties_added"] = parties_audit(data.add_parties)
    session.flush()
    if after:
        audit.record(
            session=session,
            actor=actor,
            action="dispute.update",
            entity_kind="dispute",
            entity_id=d.id,
            unit_id=d.station_id,
            before={k: str(v) for k, v in before.items()},
            after={k: v if isinstance(v, list) else str(v) for k, v in after.items()},
        )
    return to_read(session, d, settings, actor=actor, detail=True)


def list_disputes(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    status: DisputeStatus | None = None,
    kind: DisputeKind | None = None,
    risk: Risk | None = None,
    zone_id: int | None = None,
    unit_id: int | None = None,
    open_only: bool = False,
    attention: bool | None = None,
    follow_up_due: bool = False,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> DisputePage:
    """Disputes in scope, newest first, with the desk's filters."""
    view = view_of(session, actor)
    actor.require(Perm.community_read)
    query = select(Dispute).where(view.where(Dispute.station_id, Dispute.zone_id))
    if status is not None:
        query = query.where(Dispute.status == status)
    if kind is not None:
        query = query.where(Dispute.kind == kind)
    if risk is not None:
        query = query.where(Dispute.risk == risk)
    if zone_id is not None:
        query = query.where(Dispute.zone_id == zone_id)
    if unit_id is not None:
        query = query.where(Dispute.station_id == unit_id)
    if open_only:
        query = query.where(Dispute.status.not_in([DisputeStatus.closed]))
    if attention is not None:
        query = query.where(Dispute.attention.is_(attention))
    if follow_up_due:
        query = query.where(
            Dispute.status.in_(sorted(SETTLEMENTS)), Dispute.follow_up_due <= local_today()
        )
    if q:
        like = f"%{q}%"
        query = query.where(or_(Dispute.summary.like(like), Dispute.address.like(like)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Dispute.reported_at.desc(), Dispute.id.desc()).limit(limit).offset(offset)
    ).all()
    zone_ids = sorted({d.zone_id for d in rows if d.zone_id is not None})
    names = dict(session.execute(select(Zone.id, Zone.name).where(Zone.id.in_(zone_ids))).all())
    return DisputePage(
        items=[to_read(session, d, settings, actor=actor, zone_names=names) for d in rows],
        total=total,
    )


def timeline(*, session: Session, actor: Actor, dispute_id: int) -> list[audit.AuditEntry]:
    """The dispute's audit trail (creation, sessions, steps, linked calls, full reads)."""
    view = view_of(session, actor)
    d = visible(session, view, dispute_id)

    def entries(kind: str, entity_id: int) -> list[audit.AuditEntry]:
        found = audit.trail_of(session=session, entity_kind=kind, entity_id=entity_id)
        return [e for e in found if actor.scope.admits(e.unit_id)]

    own = entries("dispute", d.id)
    if d.incident_id is None:
        return own
    # Opened at intake: the call's creation record names the dispute (links.at_intake).
    opened = [
        e
        for e in entries("incident", d.incident_id)
        if e.action in ("incident.create", "incident.import")
    ]
    shown = incidents_scope_ids(session, actor, linked_ids(opened[0].diff)) if opened else ()
    opened = [dataclasses.replace(e, diff=scoped_links(e.diff, shown)) for e in opened]
    return opened + own
