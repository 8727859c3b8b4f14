"""The organisation's rows found by code or id in the caller's scope, the caller's scope in
words, and the audited snapshots of units, zones and officers.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.errors import NotFound, ValidationFailed
from qingzhi.org import scope as org_scope
from qingzhi.org.models import Bureau, Officer, Unit, Zone
from qingzhi.store.rows import snapshot

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- snapshots for the audit trail


BUREAU_AUDITED = ("code", "name", "population", "boundary", "synthetic")
UNIT_AUDITED = (
    "code",
    "name",
    "kind",
    "central_id",
    "population",
    "jurisdiction",
    "traffic_integrated",
    "service_window",
    "synthetic",
)
ZONE_AUDITED = ("code", "name", "station_id", "population", "geometry", "synthetic")
OFFICER_AUDITED = (
    "police_number",
    "name",
    "kind",
    "unit_id",
    "team",
    "zone_id",
    "duty_status",
    "active",
    "synthetic",
)


def bureau_snapshot(bureau: Bureau) -> dict[str, Any]:
    """The audited fields of the bureau (its boundary as in the store, like a zone's)."""
    return snapshot(bureau, BUREAU_AUDITED)


def unit_snapshot(unit: Unit) -> dict[str, Any]:
    """The audited fields of a unit."""
    return snapshot(unit, UNIT_AUDITED)


def zone_snapshot(zone: Zone) -> dict[str, Any]:
    """The audited fields of a zone."""
    return snapshot(zone, ZONE_AUDITED)


def officer_snapshot(officer: Officer) -> dict[str, Any]:
    """The audited fields of an officer."""
    return snapshot(officer, OFFICER_AUDITED)


# what a unit, zone and officer are audited as: the kind, the fields, the unit it belongs to
_AUDITED: dict[type, tuple[str, tuple[str, ...], str]] = {
    Unit: ("unit", UNIT_AUDITED, "id"),
    Zone: ("zone", ZONE_AUDITED, "station_id"),
    Officer: ("officer", OFFICER_AUDITED, "unit_id"),
}


def save_audited(
    session: Session, actor: Actor, row: Unit | Zone | Officer, before: dict[str, Any] | None
) -> None:
    """Store a new (``before`` None) or changed unit, zone or officer and audit it in the same
    transaction: ``<kind>.create`` or ``<kind>.update`` with its snapshot before and after."""
    kind, fields, unit_field = _AUDITED[type(row)]
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action=f"{kind}.create" if before is None else f"{kind}.update",
        entity_kind=kind,
        entity_id=row.id,
        unit_id=getattr(row, unit_field),
        before=before,
        after=snapshot(row, fields),
    )


# ---------------------------------------------------------------- rows by code or id, in scope


def bureau(session: Session) -> Bureau:
    """The bureau of this deployment."""
    row = session.execute(select(Bureau).order_by(Bureau.id).limit(1)).scalar_one_or_none()
    if row is None:
        raise NotFound("尚未导入组织机构（公安局）")
    return row


def unit_by_code(session: Session, code: str, *, field: str = "unit") -> Unit:
    """The unit with ``code``, or a field error."""
    unit = session.execute(select(Unit).where(Unit.code == code)).scalar_one_or_none()
    if unit is None:
        raise ValidationFailed.field(field, f"单位代码 {code} 不存在")
    return unit


def zone_by_code(session: Session, code: str, *, field: str = "zone") -> Zone:
    """The zone with ``code``, or a field error."""
    zone = session.execute(select(Zone).where(Zone.code == code)).scalar_one_or_none()
    if zone is None:
        raise ValidationFailed.field(field, f"片区代码 {code} 不存在")
    return zone


def visible_unit(session: Session, actor: Actor, unit_id: int) -> Unit:
    """The unit with ``unit_id`` if the caller sees it, else NotFound."""
    unit = session.get(Unit, unit_id)
    if unit is None or not org_scope.admits_unit(actor, unit.id):
        raise NotFound()
    return unit


def unit_in_scope(session: Session, actor: Actor, code: str, field: str) -> Unit:
    """The unit with ``code`` if it is in the caller's scope, else an error on ``field``."""
    station = unit_by_code(session, code, field=field)
    if not org_scope.admits_unit(actor, station.id):
        raise ValidationFailed.field(field, f"单位 {code} 不在您的权限范围内")
    return station


def scope_label(*, session: Session, actor: Actor) -> str:
    """What the caller sees, in words: 全局, or their unit's name (else the units' names)."""
    if actor.scope.whole_bureau:
        return "全局"
    top = session.get(Unit, actor.unit_id) if actor.unit_id else None
    if top is not None:
        return top.name
    names = session.scalars(org_scope.units(select(Unit.name), actor).order_by(Unit.code))
    return "、".join(names)
