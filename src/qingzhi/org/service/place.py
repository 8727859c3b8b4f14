"""The place a bureau sets up once (``qingzhi place init``): its boundary, its stations'
jurisdictions (from the GIS department's files, or derived from the calls' district column and
then marked derived), its time zone and its projected CRS for metric work — stored with the
bureau, audited, and read back as the settings every part uses (``apply_place``: the API's naive
times, the UI's clock, the analysis's metres).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.errors import ValidationFailed
from qingzhi.geo.places import check_crs_covers, timezone_at, utm_crs
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Bureau, Unit
from qingzhi.org.service.records import save_audited, unit_snapshot
from qingzhi.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class Jurisdiction:
    """A station's area: its unit code, name and geometry (WGS-84)."""

    code: str
    name: str
    geometry: BaseGeometry


@dataclass
class PlaceReport:
    """What a place setup did."""

    bureau: str
    timezone: str
    projected_crs: str
    derived: bool
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    area_km2: float = 0.0


def _geojson(geom: BaseGeometry) -> str:
    return json.dumps(json.loads(shapely.to_geojson(geom)), separators=(",", ":"))


def init_place(
    *,
    session: Session,
    actor: Actor,
    boundary: BaseGeometry,
    jurisdictions: Sequence[Jurisdiction],
    derived: bool = False,
    timezone: str | None = None,
    projected_crs: str | None = None,
    bureau_code: str | None = None,
    bureau_name: str | None = None,
) -> PlaceReport:
    """Set the bureau's place (created if there is none); a station per jurisdiction code is
    created or its area replaced. The time zone defaults to the zone at the boundary's centroid,
    the CRS to its UTM zone; a CRS whose area of use does not cover the boundary is refused."""
    actor.require(Perm.org_write)
    if boundary.is_empty or boundary.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValidationFailed.field("boundary", "边界须为面（Polygon/MultiPolygon）")
    centre = boundary.representative_point()
    tz = timezone or timezone_at(centre.x, centre.y)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed.field("timezone", f"未知时区 {tz}") from None
    crs = check_crs_covers(projected_crs or utm_crs(centre.x, centre.y), boundary.bounds)
    bureau = session.execute(select(Bureau).order_by(Bureau.id).limit(1)).scalar_one_or_none()
    if bureau is None:
        if not bureau_code or not bureau_name:
            raise ValidationFailed.field(
                "bureau", "尚无公安局：须给出 --bureau-code 与 --bureau-name"
            )
        bureau = Bureau(code=bureau_code, name=bureau_name)
        session.add(bureau)
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="bureau.create",
            entity_kind="bureau",
            entity_id=bureau.id,
            after={"code": bureau.code, "name": bureau.name},
        )
    before = {"timezone": bureau.timezone, "projected_crs": bureau.projected_crs}
    bureau.boundary = _geojson(boundary)
    bureau.timezone, bureau.projected_crs = tz, crs
    audit.record(
        session=session,
        actor=actor,
        action="bureau.place_set",
        entity_kind="bureau",
        entity_id=bureau.id,
        before=before,
        after={"timezone": tz, "projected_crs": crs, "jurisdictions": len(jurisdictions)},
    )
    report = PlaceReport(bureau.name, tz, crs, derived)
    codes = [j.code for j in jurisdictions]
    if len(set(codes)) != len(codes):
        raise ValidationFailed.field("jurisdictions", "辖区编码重复")
    existing = {
        u.code: u for u in session.execute(select(Unit).where(Unit.code.in_(codes))).scalars()
    }
    for j in jurisdictions:
        area = shapely.intersection(j.geometry, boundary) if derived else j.geometry
        unit = existing.get(j.code)
        if unit is None:
            unit = Unit(
                bureau_id=bureau.id,
                code=j.code,
                name=j.name,
                kind=UnitKind.urban_station,
                jurisdiction=_geojson(area),
                jurisdiction_derived=derived,
            )
            save_audited(session, actor, unit, None)
            report.created.append(j.code)
        else:
            old = unit_snapshot(unit)
            unit.jurisdiction = _geojson(area)
            unit.jurisdiction_derived = derived
            save_audited(session, actor, unit, old)
            report.updated.append(j.code)
    if (
        session.execute(
            select(Unit.id).where(Unit.kind == UnitKind.command_centre).limit(1)
        ).first()
        is None
    ):
        cmd = Unit(bureau_id=bureau.id, code="CMD", name="情指中心", kind=UnitKind.command_centre)
        session.add(cmd)
        session.flush()
        report.created.append("CMD")
    session.flush()
    return report


def apply_place(settings: Settings, db: Database) -> Settings:
    """``settings`` with the bureau's time zone and projected CRS where the bureau has set them
    and the environment (``QINGZHI_TIMEZONE``, ``QINGZHI_PROJECTED_CRS``) has not."""
    try:
        with db.session() as session:
            row = session.execute(
                select(Bureau.timezone, Bureau.projected_crs).order_by(Bureau.id).limit(1)
            ).first()
    except SQLAlchemyError:  # not migrated yet: the settings as they are
        return settings
    if row is None:
        return settings
    update = {}
    if row.timezone and "timezone" not in settings.model_fields_set:
        update["timezone"] = row.timezone
    if row.projected_crs and "projected_crs" not in settings.model_fields_set:
        update["projected_crs"] = row.projected_crs
    return settings.model_copy(update=update) if update else settings
