"""The organisation in the caller's scope as the org bundle's files (the import's format)."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.org import scope as org_scope
from qingzhi.org.exchange.files import BUREAU, OFFICER_COLUMNS, OFFICERS, UNITS, ZONES
from qingzhi.org.models import Bureau, Officer, Unit, Zone
from qingzhi.org.service.layers import feature

log = logging.getLogger(__name__)


def export_bundle(*, session: Session, actor: Actor) -> dict[str, bytes]:
    """The organisation in the caller's scope as the bundle's files."""
    actor.require(Perm.org_read)
    actor.require(Perm.officer_read)
    bureau = session.execute(select(Bureau).order_by(Bureau.id).limit(1)).scalar_one_or_none()
    codes = {u.id: u.code for u in session.execute(select(Unit)).scalars()}
    units = session.scalars(org_scope.units(select(Unit), actor).order_by(Unit.code)).all()
    zones = session.scalars(org_scope.zones(select(Zone), actor).order_by(Zone.code)).all()
    officers = session.scalars(
        org_scope.officers(select(Officer), actor).order_by(Officer.police_number)
    ).all()
    out: dict[str, bytes] = {}
    if bureau is not None:
        out[BUREAU] = _json(_bureau(bureau, whole=actor.scope.whole_bureau))
    out[UNITS] = _json(_collection(_unit(u, codes) for u in units))
    out[ZONES] = _json(_collection(_zone(z, codes) for z in zones))
    zone_codes = {z.id: z.code for z in zones}
    out[OFFICERS] = _officers_csv(officers, codes, zone_codes)
    return out


def _geometry(text: str | None) -> Any:
    return json.loads(text) if text else None


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")


def _collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def _bureau(bureau: Bureau, *, whole: bool) -> dict[str, Any]:
    """bureau.json; its population only for a caller who sees the whole bureau."""
    return {
        "code": bureau.code,
        "name": bureau.name,
        "population": bureau.population if whole else None,
        "boundary": _geometry(bureau.boundary),
        "synthetic": bureau.synthetic,
    }


def _unit(u: Unit, codes: dict[int, str]) -> dict[str, Any]:
    properties = {
        "code": u.code,
        "name": u.name,
        "kind": str(u.kind),
        "central": codes.get(u.central_id) if u.central_id else None,
        "population": u.population,
        "traffic_integrated": u.traffic_integrated,
        "service_window": u.service_window,
        "synthetic": u.synthetic,
    }
    return feature(u.jurisdiction, properties)


def _zone(z: Zone, codes: dict[int, str]) -> dict[str, Any]:
    properties = {
        "code": z.code,
        "name": z.name,
        "station": codes[z.station_id],
        "population": z.population,
        "synthetic": z.synthetic,
    }
    return feature(z.geometry, properties)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _officers_csv(
    officers: Iterable[Officer], codes: dict[int, str], zone_codes: dict[int, str]
) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(OFFICER_COLUMNS)
    for o in officers:
        writer.writerow(
            [
                o.police_number,
                o.name,
                str(o.kind),
                codes[o.unit_id],
                str(o.team) if o.team else "",
                zone_codes.get(o.zone_id, "") if o.zone_id else "",
                str(o.duty_status),
                _flag(o.active),
                _flag(o.synthetic),
            ]
        )
    return buf.getvalue().encode("utf-8")
