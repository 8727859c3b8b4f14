"""The demo county as an org bundle: the files ``qingzhi.org.exchange`` imports.

``build_county(seed)`` returns bureau.json, units.geojson, zones.geojson and officers.csv of the
reformed organisation, the same bytes for the same seed (and time: each officer's duty status
is the roster's, ``qingzhi.demo.shifts``, at the time given); ``build_county(seed,
reform=False)`` those of the pre-reform one (no central stations, no traffic integration, 5
rural traffic squads). Both hold the same people (same police numbers). Every record is
marked ``synthetic``; coordinates are WGS-84, rounded to ``COORD_DECIMALS`` decimals.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from typing import Any

from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from qingzhi.demo.county import County, generate_county
from qingzhi.demo.organisation import Organisation, build_organisation
from qingzhi.demo.reference import BUREAU_CODE, BUREAU_NAME, POPULATION
from qingzhi.demo.reform import reformed
from qingzhi.demo.shapes import COORD_DECIMALS
from qingzhi.demo.shifts import Roster, roster
from qingzhi.org.enums import DutyStatus
from qingzhi.org.exchange import OFFICER_COLUMNS

log = logging.getLogger(__name__)

ABSENT = (DutyStatus.leave, DutyStatus.training)
SYNTHETIC_NOTE = "模拟数据：县界与乡镇名称、代码为真实公开数据；辖区、人口、人员均为模拟生成"


def organisations(seed: int = 2026) -> tuple[County, Organisation, Organisation]:
    """The county, its pre-reform organisation and its reformed one (the same people)."""
    county = generate_county(seed)
    before = build_organisation(county, seed)
    return county, before, reformed(county, before)


def demo_roster(seed: int = 2026, *, reform: bool = True) -> Roster:
    """The duty roster of the demo's reformed (or pre-reform) organisation."""
    _, before, after = organisations(seed)
    return roster(before, after if reform else before)


def build_county(
    seed: int = 2026, *, reform: bool = True, at: dt.datetime | None = None
) -> dict[str, bytes]:
    """The demo county's org bundle (bureau.json, units/zones GeoJSON, officers.csv), with each
    officer's duty status as the roster has it at ``at`` (None: all off duty but leave and
    training)."""
    county, before, after = organisations(seed)
    org = after if reform else before
    return bundle_files(county, org, duty=roster(before, org).duty_at(org.people, at))


def bundle_files(
    county: County, org: Organisation, *, duty: dict[str, DutyStatus] | None = None
) -> dict[str, bytes]:
    """The org bundle's files of ``org`` in ``county`` (``duty``: status by police number)."""
    bureau = {
        "code": BUREAU_CODE,
        "name": BUREAU_NAME,
        "population": POPULATION,
        "boundary": _geojson(county.boundary),
        "synthetic": True,
        "seed": county.seed,
        "note": SYNTHETIC_NOTE,
    }
    unit_features = [
        _feature(
            u.geometry,
            code=u.code,
            name=u.name,
            kind=str(u.kind),
            central=u.central,
            population=u.population,
            traffic_integrated=u.traffic_integrated,
            service_window=True,
            synthetic=True,
            **u.extra,
        )
        for u in org.units
    ]
    zone_features = [
        _feature(
            z.geometry,
            code=z.code,
            name=z.name,
            station=z.station,
            population=z.population,
            synthetic=True,
        )
        for z in org.zones
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(OFFICER_COLUMNS)
    for p in sorted(org.people, key=lambda p: p.number):
        team = str(p.team) if p.team else ""
        status = duty.get(p.number) if duty is not None else None
        if status is None:
            status = p.duty if p.duty in ABSENT else DutyStatus.off_duty
        row = [p.number, p.name, str(p.kind), p.unit, team, p.zone or "", str(status)]
        writer.writerow([*row, "true", "true"])
    return {
        "bureau.json": _dump(bureau),
        "units.geojson": _dump({"type": "FeatureCollection", "features": unit_features}),
        "zones.geojson": _dump({"type": "FeatureCollection", "features": zone_features}),
        "officers.csv": buf.getvalue().encode("utf-8"),
    }


def _feature(geom: BaseGeometry | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": _geojson(geom), "properties": properties}


def _geojson(geom: BaseGeometry | None) -> Any:
    if geom is None:
        return None
    return _round(mapping(geom))


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, COORD_DECIMALS)
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")
