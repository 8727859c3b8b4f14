"""A standard GIS feed: OGC API – Features, Part 1 (Core, GeoJSON) for incidents.

QGIS and GDAL (``ogrinfo OAPIF:http://host/ogc``) load incidents as a layer; requests carry the
same bearer token as the API and see only the caller's scope. Coordinates are WGS-84 lon/lat
(CRS84), as Part 1 requires.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.errors import NotFound, ValidationFailed
from qingzhi.incidents import query as iq
from qingzhi.incidents.models import Incident
from qingzhi.incidents.reads import to_read, unit_names, visible
from qingzhi.incidents.repeats import primaries_in_scope
from qingzhi.incidents.scope import scope_filter
from qingzhi.params import INT4_MAX, OffsetQuery, check_instant
from qingzhi.store.deps import settings_of, transaction

router = APIRouter(prefix="/ogc", tags=["ogc"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
MAX_LIMIT = 10_000
GEOJSON = "application/geo+json"
_FEATURE_ID = re.compile(r"[0-9]{1,10}")


class GeoJSONResponse(JSONResponse):
    """A JSON answer declared (and sent) as GeoJSON."""

    media_type = GEOJSON


def _base(request: Request) -> str:
    """The links' base: the configured public URL (``QINGZHI_BASE_URL``), else the address
    this server listens on (GDAL needs absolute links); never the request's Host header,
    which any client can set."""
    configured = settings_of(request).base_url
    if configured:
        return configured.rstrip("/")
    root = str(request.scope.get("root_path", "")).rstrip("/")
    server = request.scope.get("server")
    if not server or server[1] is None:
        return root
    host, port = str(server[0]), int(server[1])
    scheme = str(request.scope.get("scheme", "http"))
    if ":" in host:  # IPv6
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}{'' if port == default else f':{port}'}{root}"


def _collection(request: Request, extent: dict[str, Any]) -> dict[str, Any]:
    base = _base(request)
    return {
        "id": "incidents",
        "title": "警情",
        "description": "110 警情（WGS-84），按当前用户权限范围过滤",
        "itemType": "feature",
        "crs": [CRS84],
        "extent": extent,
        "links": [
            {
                "href": f"{base}/ogc/collections/incidents",
                "rel": "self",
                "type": "application/json",
            },
            {"href": f"{base}/ogc/collections/incidents/items", "rel": "items", "type": GEOJSON},
        ],
    }


def _extent(request: Request, actor: Actor) -> dict[str, Any]:
    with transaction(request, write=False) as session:
        row = session.execute(
            scope_filter(
                select(
                    func.min(Incident.lon),
                    func.min(Incident.lat),
                    func.max(Incident.lon),
                    func.max(Incident.lat),
                    func.min(Incident.received_at),
                    func.max(Incident.received_at),
                ),
                actor,
            )
        ).one()
    minx, miny, maxx, maxy, first, last = row
    bbox = [[minx, miny, maxx, maxy]] if minx is not None else [[-180, -90, 180, 90]]
    interval = [[first.isoformat() if first else None, last.isoformat() if last else None]]
    return {"spatial": {"bbox": bbox, "crs": CRS84}, "temporal": {"interval": interval}}


@router.get("")
def landing(request: Request, actor: Actor = Depends(require(Perm.incident_read))) -> Any:
    """The landing page."""
    base = _base(request)
    return {
        "title": "qingzhi 情指 · OGC API – Features",
        "description": "警情图层服务",
        "links": [
            {"href": f"{base}/ogc", "rel": "self", "type": "application/json"},
            {
                "href": f"{base}/api/openapi.json",
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.0",
            },
            {"href": f"{base}/ogc/conformance", "rel": "conformance", "type": "application/json"},
            {"href": f"{base}/ogc/collections", "rel": "data", "type": "application/json"},
        ],
    }


@router.get("/conformance")
def conformance(actor: Actor = Depends(require(Perm.incident_read))) -> Any:
    """The conformance classes implemented."""
    return {"conformsTo": CONFORMANCE}


@router.get("/collections")
def collections(request: Request, actor: Actor = Depends(require(Perm.incident_read))) -> Any:
    """The feature collections (one: incidents)."""
    base = _base(request)
    return {
        "links": [{"href": f"{base}/ogc/collections", "rel": "self", "type": "application/json"}],
        "collections": [_collection(request, _extent(request, actor))],
    }


@router.get("/collections/incidents")
def collection(request: Request, actor: Actor = Depends(require(Perm.incident_read))) -> Any:
    """The incidents collection."""
    return _collection(request, _extent(request, actor))


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ][0-9:.,]+([Zz]|[+-]\d{2}:?\d{2})?)?")


def _parse_datetime(value: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    def one(text: str) -> dt.datetime | None:
        if text in ("", ".."):
            return None
        try:
            if not _RFC3339.fullmatch(text):
                raise ValueError(text)
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            parsed = check_instant(parsed)
        except ValueError:
            raise ValidationFailed.field(
                "datetime", f"无法解析时间 {text!r}（RFC 3339，2000–2100 年，时区 ±14:00 内）"
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

    if "/" in value:
        a, b = value.split("/", 1)
        return one(a), one(b)
    instant = one(value)
    return instant, instant + dt.timedelta(microseconds=1) if instant else None


def _feature(read: Any) -> dict[str, Any]:
    props = read.model_dump(mode="json", exclude={"location"})
    geometry = None
    if read.location:
        geometry = {"type": "Point", "coordinates": [read.location["lon"], read.location["lat"]]}
    return {"type": "Feature", "id": read.id, "geometry": geometry, "properties": props}


@router.get("/collections/incidents/items", response_class=GeoJSONResponse)
def items(
    request: Request,
    bbox: str | None = Query(default=None, max_length=200),
    datetime: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
    offset: OffsetQuery = 0,
    actor: Actor = Depends(require(Perm.incident_read)),
) -> Any:
    """Incidents as GeoJSON features, filtered by bbox and datetime, paged by limit/offset."""
    filters = iq.IncidentQuery()
    if bbox:
        try:
            parts = [float(p) for p in bbox.split(",")]
        except ValueError:
            raise ValidationFailed.field("bbox", "须为 minx,miny,maxx,maxy") from None
        if len(parts) == 6:
            parts = [parts[0], parts[1], parts[3], parts[4]]
        if len(parts) != 4:
            raise ValidationFailed.field("bbox", "须为 4 个（或 6 个）数")
        if not all(math.isfinite(p) for p in parts):
            raise ValidationFailed.field("bbox", "须为有限的数")
        filters.bbox = (parts[0], parts[1], parts[2], parts[3])
    if datetime:
        filters.start, filters.end = _parse_datetime(datetime)
    with transaction(request, write=False) as session:
        stmt = iq.filtered(session, actor, filters)
        matched = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        rows = (
            session.execute(
                stmt.order_by(Incident.received_at.desc(), Incident.id.desc())
                .offset(offset)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        names = unit_names(session)
        primaries = primaries_in_scope(session, actor, rows)
        features = [_feature(to_read(r, names, primaries=primaries)) for r in rows]
    base = f"{_base(request)}/ogc/collections/incidents/items"
    params = {k: v for k, v in request.query_params.items() if k not in ("offset",)}
    links = [
        {
            "href": f"{base}?{urlencode({**params, 'offset': offset})}",
            "rel": "self",
            "type": GEOJSON,
        }
    ]
    if offset + len(features) < matched:
        links.append(
            {
                "href": f"{base}?{urlencode({**params, 'offset': offset + limit})}",
                "rel": "next",
                "type": GEOJSON,
            }
        )
    body = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "links": links,
    }
    return GeoJSONResponse(body)


@router.get("/collections/incidents/items/{feature_id}", response_class=GeoJSONResponse)
def item(
    feature_id: str, request: Request, actor: Actor = Depends(require(Perm.incident_read))
) -> Any:
    """One incident as a GeoJSON feature (any id that is not one is simply not found)."""
    # ASCII digits only: str.isdigit() accepts "²", which int() refuses.
    if not _FEATURE_ID.fullmatch(feature_id) or not 1 <= int(feature_id) <= INT4_MAX:
        raise NotFound()
    with transaction(request, write=False) as session:
        inc = visible(session, actor, int(feature_id))
        primaries = primaries_in_scope(session, actor, [inc])
        feature = _feature(to_read(inc, unit_names(session), primaries=primaries))
    return GeoJSONResponse(feature)
