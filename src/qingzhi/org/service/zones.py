"""Zones (片区): the beats of a station's community team."""

from __future__ import annotations

import logging

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import Conflict, NotFound, ValidationFailed
from qingzhi.geo.geometry import parse_area, to_geojson_text
from qingzhi.org import scope as org_scope
from qingzhi.org.models import Zone
from qingzhi.org.schemas import ZoneCreate, ZoneRead, ZoneUpdate
from qingzhi.org.service.records import save_audited, unit_in_scope, zone_snapshot
from qingzhi.store.rows import read_of

log = logging.getLogger(__name__)


def _zone_read(z: Zone) -> ZoneRead:
    return read_of(ZoneRead, z)


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


def create_zone(*, session: Session, actor: Actor, data: ZoneCreate) -> ZoneRead:
    """Create a zone inside a station."""
    actor.require(Perm.org_write)
    station = unit_in_scope(session, actor, data.station, "station")
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
    save_audited(session, actor, zone, None)
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
    save_audited(session, actor, zone, before)
    return _zone_read(zone)
