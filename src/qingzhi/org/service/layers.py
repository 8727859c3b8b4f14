"""The organisation's map layers as GeoJSON in WGS-84, in the caller's scope."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import NotFound
from qingzhi.org import scope as org_scope
from qingzhi.org.models import Unit, Zone
from qingzhi.org.service.records import bureau

log = logging.getLogger(__name__)


LAYERS = ("county", "units", "zones")


def feature(geometry: str | None, properties: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature of a stored geometry (GeoJSON text, or None) and its properties."""
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
            features.append(feature(b.boundary, {"code": b.code, "name": b.name}))
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
                "derived": u.jurisdiction_derived,  # from the calls' districts (推算辖区)
            }
            features.append(feature(u.jurisdiction, props))
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
            features.append(feature(z.geometry, props))
    else:
        raise NotFound(f"未知图层 {layer}（可选：{'、'.join(LAYERS)}）")
    return {"type": "FeatureCollection", "features": features}
