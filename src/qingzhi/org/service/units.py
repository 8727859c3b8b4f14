"""Units and their bundles (捆绑运行): a central station runs 2–3 adjacent member stations."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from shapely.ops import unary_union
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import Conflict, ValidationFailed
from qingzhi.geo.distance import ADJACENCY_TOLERANCE_DEG
from qingzhi.geo.geometry import load_geometry, parse_area, to_geojson_text
from qingzhi.org import scope as org_scope
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Unit
from qingzhi.org.schemas import BundleUpdate, UnitCreate, UnitRead, UnitUpdate
from qingzhi.org.service.records import (
    bureau,
    save_audited,
    unit_in_scope,
    unit_snapshot,
    visible_unit,
)
from qingzhi.org.service.staffing import unit_reads

log = logging.getLogger(__name__)


BUNDLE_MIN, BUNDLE_MAX = 2, 3


def list_units(
    *, session: Session, actor: Actor, q: str | None = None, kind: UnitKind | None = None
) -> list[UnitRead]:
    """Units in the caller's scope, optionally filtered by name/code text and kind."""
    actor.require(Perm.org_read)
    query = org_scope.units(select(Unit), actor).order_by(Unit.code)
    if q:
        # autoescape: % and _ in the text are matched literally, not as LIKE wildcards
        query = query.where(
            or_(Unit.name.contains(q, autoescape=True), Unit.code.contains(q, autoescape=True))
        )
    if kind:
        query = query.where(Unit.kind == kind)
    return unit_reads(session, list(session.execute(query).scalars()))


def get_unit(*, session: Session, actor: Actor, unit_id: int) -> UnitRead:
    """One unit, if in scope."""
    actor.require(Perm.org_read)
    return unit_reads(session, [visible_unit(session, actor, unit_id)])[0]


def create_unit(*, session: Session, actor: Actor, data: UnitCreate) -> UnitRead:
    """Create a unit."""
    actor.require(Perm.org_write)
    if session.execute(select(Unit.id).where(Unit.code == data.code)).first():
        raise Conflict(f"单位代码 {data.code} 已存在", details=[{"field": "code"}])
    jurisdiction = None
    if data.jurisdiction is not None:
        jurisdiction = to_geojson_text(parse_area(data.jurisdiction, "jurisdiction"))
    unit = Unit(
        bureau_id=bureau(session).id,
        code=data.code,
        name=data.name,
        kind=data.kind,
        population=data.population,
        jurisdiction=jurisdiction,
        traffic_integrated=data.traffic_integrated,
        service_window=data.service_window,
    )
    save_audited(session, actor, unit, None)
    return get_unit(session=session, actor=actor, unit_id=unit.id)


def update_unit(*, session: Session, actor: Actor, unit_id: int, data: UnitUpdate) -> UnitRead:
    """Change a unit's fields."""
    actor.require(Perm.org_write)
    unit = visible_unit(session, actor, unit_id)
    before = unit_snapshot(unit)
    changes = data.model_dump(exclude_unset=True)
    if "jurisdiction" in changes and changes["jurisdiction"] is not None:
        changes["jurisdiction"] = to_geojson_text(
            parse_area(changes["jurisdiction"], "jurisdiction")
        )
    for key, value in changes.items():
        setattr(unit, key, value)
    save_audited(session, actor, unit, before)
    return get_unit(session=session, actor=actor, unit_id=unit.id)


def check_bundle(central: Unit, members: Sequence[Unit], *, field: str = "members") -> None:
    """Validate a bundle: 2–3 adjacent stations, each in no other bundle."""
    if central.kind != UnitKind.central_station:
        raise ValidationFailed.field(field, f"{central.name} 不是中心派出所，不能捆绑成员所")
    if not members:
        return
    if not BUNDLE_MIN <= len(members) <= BUNDLE_MAX:
        raise ValidationFailed.field(
            field, f"中心派出所须捆绑 {BUNDLE_MIN}–{BUNDLE_MAX} 个派出所（现为 {len(members)} 个）"
        )
    if len({m.code for m in members}) != len(members):
        raise ValidationFailed.field(field, "成员所重复")
    for m in members:
        if not m.kind.is_station:
            raise ValidationFailed.field(field, f"{m.name} 不是派出所，不能作为成员所")
        if m.central_id not in (None, central.id):
            raise ValidationFailed.field(field, f"{m.name} 已属于另一个中心派出所")
    shapes = [load_geometry(m.jurisdiction) for m in members]
    if all(s is not None for s in shapes):
        merged = unary_union([s.buffer(ADJACENCY_TOLERANCE_DEG) for s in shapes if s is not None])
        if merged.geom_type != "Polygon":
            raise ValidationFailed.field(field, "成员所辖区互不相邻，不能捆绑运行")


def set_members(*, session: Session, actor: Actor, unit_id: int, data: BundleUpdate) -> UnitRead:
    """Bundle 2–3 member stations under a central station (an empty list unbundles)."""
    actor.require(Perm.org_write)
    central = visible_unit(session, actor, unit_id)
    # members come from the caller's scope: a unit-scoped account cannot pull in another station
    members = [unit_in_scope(session, actor, code, "members") for code in data.members]
    check_bundle(central, members)
    current = list(session.execute(select(Unit).where(Unit.central_id == central.id)).scalars())
    before = sorted(u.code for u in current)
    for u in current:
        u.central_id = None
    for m in members:
        m.central_id = central.id
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="unit.bundle",
        entity_kind="unit",
        entity_id=central.id,
        unit_id=central.id,
        before={"members": before},
        after={"members": sorted(m.code for m in members)},
    )
    return get_unit(session=session, actor=actor, unit_id=central.id)
