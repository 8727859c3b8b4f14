"""Officers (民警, 辅警): their units, teams, zones and duty status."""

from __future__ import annotations

import logging

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import Conflict, NotFound, ValidationFailed
from qingzhi.org import scope as org_scope
from qingzhi.org.enums import DutyStatus, OfficerKind
from qingzhi.org.models import Officer, Unit
from qingzhi.org.schemas import OfficerCreate, OfficerPage, OfficerRead, OfficerUpdate
from qingzhi.org.service.records import officer_snapshot, save_audited, unit_in_scope, zone_by_code
from qingzhi.store.rows import read_of

log = logging.getLogger(__name__)


def _officer_read(o: Officer) -> OfficerRead:
    return read_of(OfficerRead, o, unit_name=o.unit.name)


def list_officers(
    *,
    session: Session,
    actor: Actor,
    unit_id: int | None = None,
    q: str | None = None,
    kind: OfficerKind | None = None,
    duty_status: DutyStatus | str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> OfficerPage:
    """Officers in scope, searchable by name or police number."""
    actor.require(Perm.officer_read)
    query = org_scope.officers(select(Officer), actor)
    if unit_id is not None:
        members = select(Unit.id).where(Unit.central_id == unit_id)
        query = query.where(or_(Officer.unit_id == unit_id, Officer.unit_id.in_(members)))
    if q:
        query = query.where(
            or_(
                Officer.name.contains(q, autoescape=True),
                Officer.police_number.startswith(q, autoescape=True),
            )
        )
    if kind:
        query = query.where(Officer.kind == kind)
    if duty_status:
        try:
            status = DutyStatus(duty_status)
        except ValueError:
            known = ", ".join(d.value for d in DutyStatus)
            raise ValidationFailed.field("duty_status", f"可选：{known}") from None
        query = query.where(Officer.duty_status == status)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(Officer.police_number).offset(offset).limit(limit))
    return OfficerPage(
        items=[_officer_read(o) for o in rows.scalars()], total=total, offset=offset, limit=limit
    )


def _visible_officer(session: Session, actor: Actor, officer_id: int) -> Officer:
    officer = session.get(Officer, officer_id)
    if officer is None or not org_scope.admits_officer(actor, officer):
        raise NotFound()
    return officer


def get_officer(*, session: Session, actor: Actor, officer_id: int) -> OfficerRead:
    """One officer, if in scope."""
    actor.require(Perm.officer_read)
    return _officer_read(_visible_officer(session, actor, officer_id))


def _check_zone(session: Session, zone_code: str | None, unit: Unit) -> int | None:
    if not zone_code:
        return None
    zone = zone_by_code(session, zone_code)
    if zone.station_id != unit.id:
        raise ValidationFailed.field("zone", f"片区 {zone_code} 不属于 {unit.name}")
    return zone.id


def create_officer(*, session: Session, actor: Actor, data: OfficerCreate) -> OfficerRead:
    """Add an officer to a unit in scope."""
    actor.require(Perm.officer_write)
    unit = unit_in_scope(session, actor, data.unit, "unit")
    if session.execute(
        select(Officer.id).where(Officer.police_number == data.police_number)
    ).first():
        raise Conflict(f"警号 {data.police_number} 已存在", details=[{"field": "police_number"}])
    officer = Officer(
        police_number=data.police_number,
        name=data.name,
        kind=data.kind,
        unit_id=unit.id,
        team=data.team,
        zone_id=_check_zone(session, data.zone, unit),
        duty_status=data.duty_status,
    )
    save_audited(session, actor, officer, None)
    return _officer_read(officer)


def update_officer(
    *, session: Session, actor: Actor, officer_id: int, data: OfficerUpdate
) -> OfficerRead:
    """Change an officer's unit, team, zone, duty status or name."""
    actor.require(Perm.officer_write)
    officer = _visible_officer(session, actor, officer_id)
    before = officer_snapshot(officer)
    changes = data.model_dump(exclude_unset=True)
    unit = officer.unit
    if "unit" in changes:
        unit = unit_in_scope(session, actor, changes.pop("unit"), "unit")
        officer.unit_id = unit.id
        officer.unit = unit
    if "zone" in changes or unit.id != before["unit_id"]:
        officer.zone_id = _check_zone(session, changes.pop("zone", None), unit)
    for key, value in changes.items():
        setattr(officer, key, value)
    save_audited(session, actor, officer, before)
    return _officer_read(officer)
