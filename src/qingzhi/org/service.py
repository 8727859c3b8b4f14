"""The organisation's logic: units, bundles (捆绑运行), zones, officers and staffing ratios.

Every read goes through the caller's scope; every change writes an audit record in the same
transaction.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from shapely.ops import unary_union
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import Conflict, NotFound, ValidationFailed
from qingzhi.geo.distance import ADJACENCY_TOLERANCE_DEG
from qingzhi.geo.geometry import load_geometry, parse_area, to_geojson_text
from qingzhi.org import scope as org_scope
from qingzhi.org.enums import DutyStatus, OfficerKind, UnitKind
from qingzhi.org.models import Bureau, Officer, Unit, Zone
from qingzhi.org.schemas import (
    BundleUpdate,
    OfficerCreate,
    OfficerPage,
    OfficerRead,
    OfficerUpdate,
    OrgSummary,
    Staffing,
    UnitCreate,
    UnitRead,
    UnitUpdate,
    ZoneCreate,
    ZoneRead,
    ZoneUpdate,
)

log = logging.getLogger(__name__)

BUNDLE_MIN, BUNDLE_MAX = 2, 3


def per_10k(sworn: int, population: int | None) -> float | None:
    """Officers per 10,000 residents (警力万人比), to two decimals; None without a population."""
    if not population:
        return None
    return round(sworn * 10_000 / population, 2)


# ---------------------------------------------------------------- snapshots for the audit trail


def unit_snapshot(unit: Unit) -> dict[str, Any]:
    """The audited fields of a unit."""
    return {
        "code": unit.code,
        "name": unit.name,
        "kind": str(unit.kind),
        "central_id": unit.central_id,
        "population": unit.population,
        "jurisdiction": unit.jurisdiction,
        "traffic_integrated": unit.traffic_integrated,
        "service_window": unit.service_window,
        "synthetic": unit.synthetic,
    }


def zone_snapshot(zone: Zone) -> dict[str, Any]:
    """The audited fields of a zone."""
    return {
        "code": zone.code,
        "name": zone.name,
        "station_id": zone.station_id,
        "population": zone.population,
        "geometry": zone.geometry,
        "synthetic": zone.synthetic,
    }


def officer_snapshot(officer: Officer) -> dict[str, Any]:
    """The audited fields of an officer."""
    return {
        "police_number": officer.police_number,
        "name": officer.name,
        "kind": str(officer.kind),
        "unit_id": officer.unit_id,
        "team": str(officer.team) if officer.team else None,
        "zone_id": officer.zone_id,
        "duty_status": str(officer.duty_status),
        "active": officer.active,
        "synthetic": officer.synthetic,
    }


# ---------------------------------------------------------------- scope helpers


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


# ---------------------------------------------------------------- staffing


def _counts(
    session: Session, *, unit_ids: Iterable[int] | None = None, actor: Actor | None = None
) -> dict[int, dict[str, int]]:
    """Active sworn and auxiliary officers by unit: of ``unit_ids``, or in ``actor``'s scope."""
    query = (
        select(Officer.unit_id, Officer.kind, func.count())
        .where(Officer.active.is_(True))
        .group_by(Officer.unit_id, Officer.kind)
    )
    if unit_ids is not None:
        query = query.where(Officer.unit_id.in_(list(unit_ids)))
    if actor is not None:
        query = org_scope.officers(query, actor)
    out: dict[int, dict[str, int]] = defaultdict(lambda: {"sworn": 0, "auxiliary": 0})
    for unit_id, kind, n in session.execute(query):
        out[unit_id][str(kind)] = n
    return out


def _effective(
    unit: Unit, members: Sequence[Unit], counts: dict[int, dict[str, int]]
) -> tuple[int | None, int, int]:
    """Population, sworn and auxiliary of a unit; a central station adds its members'."""
    group = [unit, *members]
    sworn = sum(counts[u.id]["sworn"] for u in group)
    aux = sum(counts[u.id]["auxiliary"] for u in group)
    population = unit.population
    if population is None and members:
        pops = [m.population for m in members if m.population is not None]
        population = sum(pops) if pops else None
    return population, sworn, aux


def _members_map(session: Session, units: Sequence[Unit]) -> dict[int, list[Unit]]:
    ids = [u.id for u in units if u.kind == UnitKind.central_station]
    out: dict[int, list[Unit]] = defaultdict(list)
    if ids:
        rows = session.execute(select(Unit).where(Unit.central_id.in_(ids)).order_by(Unit.code))
        for m in rows.scalars():
            assert m.central_id is not None
            out[m.central_id].append(m)
    return out


def _unit_reads(session: Session, units: Sequence[Unit]) -> list[UnitRead]:
    members = _members_map(session, units)
    ids = {u.id for u in units} | {m.id for ms in members.values() for m in ms}
    counts = _counts(session, unit_ids=ids)
    out = []
    for u in units:
        population, sworn, aux = _effective(u, members[u.id], counts)
        out.append(
            UnitRead(
                id=u.id,
                code=u.code,
                name=u.name,
                kind=u.kind,
                kind_label=u.kind.label,
                central_id=u.central_id,
                member_ids=[m.id for m in members[u.id]],
                population=population,
                traffic_integrated=u.traffic_integrated,
                service_window=u.service_window,
                synthetic=u.synthetic,
                sworn=sworn,
                auxiliary=aux,
                officers_per_10k=per_10k(sworn, population),
            )
        )
    return out


def summary(*, session: Session, actor: Actor) -> OrgSummary:
    """Officers per 10,000 residents for the bureau (or the caller's area) and each unit."""
    actor.require(Perm.org_read)
    b = bureau(session)
    units = list_units(session=session, actor=actor)
    counts = _counts(session, actor=actor)
    sworn = sum(c["sworn"] for c in counts.values())
    aux = sum(c["auxiliary"] for c in counts.values())
    if actor.scope.whole_bureau:
        population = b.population
        if population is None:
            population = sum(u.population or 0 for u in units if u.kind.is_station) or None
        top = Staffing(
            code=b.code,
            name=b.name,
            population=population,
            sworn=sworn,
            auxiliary=aux,
            officers_per_10k=per_10k(sworn, population),
        )
    else:
        own = next(u for u in units if u.id == actor.unit_id)
        top = Staffing(**own.model_dump(include=set(Staffing.model_fields)))
    return OrgSummary(
        bureau=top,
        units=[Staffing(**u.model_dump(include=set(Staffing.model_fields))) for u in units],
    )


def scope_label(*, session: Session, actor: Actor) -> str:
    """What the caller sees, in words: 全局, or their unit's name (else the units' names)."""
    if actor.scope.whole_bureau:
        return "全局"
    top = session.get(Unit, actor.unit_id) if actor.unit_id else None
    if top is not None:
        return top.name
    names = session.scalars(org_scope.units(select(Unit.name), actor).order_by(Unit.code))
    return "、".join(names)


# ---------------------------------------------------------------- units


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
    return _unit_reads(session, list(session.execute(query).scalars()))


def _visible_unit(session: Session, actor: Actor, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None or not org_scope.admits_unit(actor, unit.id):
        raise NotFound()
    return unit


def get_unit(*, session: Session, actor: Actor, unit_id: int) -> UnitRead:
    """One unit, if in scope."""
    actor.require(Perm.org_read)
    return _unit_reads(session, [_visible_unit(session, actor, unit_id)])[0]


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
    session.add(unit)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="unit.create",
        entity_kind="unit",
        entity_id=unit.id,
        unit_id=unit.id,
        after=unit_snapshot(unit),
    )
    return get_unit(session=session, actor=actor, unit_id=unit.id)


def update_unit(*, session: Session, actor: Actor, unit_id: int, data: UnitUpdate) -> UnitRead:
    """Change a unit's fields."""
    actor.require(Perm.org_write)
    unit = _visible_unit(session, actor, unit_id)
    before = unit_snapshot(unit)
    changes = data.model_dump(exclude_unset=True)
    if "jurisdiction" in changes and changes["jurisdiction"] is not None:
        changes["jurisdiction"] = to_geojson_text(
            parse_area(changes["jurisdiction"], "jurisdiction")
        )
    for key, value in changes.items():
        setattr(unit, key, value)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="unit.update",
        entity_kind="unit",
        entity_id=unit.id,
        unit_id=unit.id,
        before=before,
        after=unit_snapshot(unit),
    )
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
    central = _visible_unit(session, actor, unit_id)
    # members come from the caller's scope: a unit-scoped account cannot pull in another station
    members = [_unit_in_scope(session, actor, code, "members") for code in data.members]
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


# ---------------------------------------------------------------- zones


def _zone_read(z: Zone) -> ZoneRead:
    return ZoneRead(
        id=z.id,
        code=z.code,
        name=z.name,
        station_id=z.station_id,
        population=z.population,
        synthetic=z.synthetic,
    )


def list_zones(
    *, session: Session, actor: Actor, station_id: int | None = None, q: str | None = None
) -> list[ZoneRead]:
    """Zones in scope."""
    actor.require(Perm.org_read)
    query = org_scope.zones(select(Zone), actor).order_by(Zone.code)
    if station_id is not None:
        query = query.where(Zone.station_id == station_id)
    if q:
        query = query.where(
            or_(Zone.name.contains(q, autoescape=True), Zone.code.contains(q, autoescape=True))
        )
    return [_zone_read(z) for z in session.execute(query).scalars()]


def _visible_zone(session: Session, actor: Actor, zone_id: int) -> Zone:
    zone = session.get(Zone, zone_id)
    if zone is None or not org_scope.admits_zone(actor, zone):
        raise NotFound()
    return zone


def get_zone(*, session: Session, actor: Actor, zone_id: int) -> ZoneRead:
    """One zone, if in scope."""
    actor.require(Perm.org_read)
    return _zone_read(_visible_zone(session, actor, zone_id))


def _unit_in_scope(session: Session, actor: Actor, code: str, field: str) -> Unit:
    station = unit_by_code(session, code, field=field)
    if not org_scope.admits_unit(actor, station.id):
        raise ValidationFailed.field(field, f"单位 {code} 不在您的权限范围内")
    return station


def create_zone(*, session: Session, actor: Actor, data: ZoneCreate) -> ZoneRead:
    """Create a zone inside a station."""
    actor.require(Perm.org_write)
    station = _unit_in_scope(session, actor, data.station, "station")
    if not station.kind.is_station:
        raise ValidationFailed.field("station", f"{station.name} 不是派出所")
    if session.execute(select(Zone.id).where(Zone.code == data.code)).first():
        raise Conflict(f"片区代码 {data.code} 已存在", details=[{"field": "code"}])
    geometry = None
    if data.geometry is not None:
        geometry = to_geojson_text(parse_area(data.geometry, "geometry"))
    zone = Zone(
        code=data.code,
        name=data.name,
        station_id=station.id,
        population=data.population,
        geometry=geometry,
    )
    session.add(zone)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="zone.create",
        entity_kind="zone",
        entity_id=zone.id,
        unit_id=station.id,
        after=zone_snapshot(zone),
    )
    return _zone_read(zone)


def update_zone(*, session: Session, actor: Actor, zone_id: int, data: ZoneUpdate) -> ZoneRead:
    """Change a zone's fields."""
    actor.require(Perm.org_write)
    zone = _visible_zone(session, actor, zone_id)
    before = zone_snapshot(zone)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("geometry") is not None:
        changes["geometry"] = to_geojson_text(parse_area(changes["geometry"], "geometry"))
    for key, value in changes.items():
        setattr(zone, key, value)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="zone.update",
        entity_kind="zone",
        entity_id=zone.id,
        unit_id=zone.station_id,
        before=before,
        after=zone_snapshot(zone),
    )
    return _zone_read(zone)


# ---------------------------------------------------------------- officers


def _officer_read(o: Officer) -> OfficerRead:
    return OfficerRead(
        id=o.id,
        police_number=o.police_number,
        name=o.name,
        kind=o.kind,
        unit_id=o.unit_id,
        unit_name=o.unit.name,
        team=o.team,
        zone_id=o.zone_id,
        duty_status=o.duty_status,
        active=o.active,
        synthetic=o.synthetic,
    )


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
    unit = _unit_in_scope(session, actor, data.unit, "unit")
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
    session.add(officer)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="officer.create",
        entity_kind="officer",
        entity_id=officer.id,
        unit_id=unit.id,
        after=officer_snapshot(officer),
    )
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
        unit = _unit_in_scope(session, actor, changes.pop("unit"), "unit")
        officer.unit_id = unit.id
        officer.unit = unit
    if "zone" in changes or unit.id != before["unit_id"]:
        officer.zone_id = _check_zone(session, changes.pop("zone", None), unit)
    for key, value in changes.items():
        setattr(officer, key, value)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="officer.update",
        entity_kind="officer",
        entity_id=officer.id,
        unit_id=officer.unit_id,
        before=before,
        after=officer_snapshot(officer),
    )
    return _officer_read(officer)


# ---------------------------------------------------------------- map layers

LAYERS = ("county", "units", "zones")


def _feature(geometry: str | None, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": json.loads(geometry or "null"), "properties": properties}


def map_layer(*, session: Session, actor: Actor, layer: str) -> dict[str, Any]:
    """A map layer as a GeoJSON FeatureCollection in WGS-84, in the caller's scope: ``county``
    (the bureau's boundary), ``units`` (jurisdictions, a central station's members with it) or
    ``zones``."""
    actor.require(Perm.org_read)
    features: list[dict[str, Any]] = []
    if layer == "county":
        b = bureau(session)
        if b.boundary:
            features.append(_feature(b.boundary, {"code": b.code, "name": b.name}))
    elif layer == "units":
        query = select(Unit).where(Unit.jurisdiction.is_not(None), org_scope.unit_layer(actor))
        for u in session.execute(query.order_by(Unit.code)).scalars():
            props = {
                "id": u.id,
                "code": u.code,
                "name": u.name,
                "kind": str(u.kind),
                "central_id": u.central_id,
                "population": u.population,
                "synthetic": u.synthetic,
            }
            features.append(_feature(u.jurisdiction, props))
    elif layer == "zones":
        zq = org_scope.zones(select(Zone).where(Zone.geometry.is_not(None)), actor)
        for z in session.execute(zq.order_by(Zone.code)).scalars():
            props = {
                "id": z.id,
                "code": z.code,
                "name": z.name,
                "station_id": z.station_id,
                "synthetic": z.synthetic,
            }
            features.append(_feature(z.geometry, props))
    else:
        raise NotFound(f"未知图层 {layer}（可选：{'、'.join(LAYERS)}）")
    return {"type": "FeatureCollection", "features": features}
