"""Incidents API: intake (single and bulk), query, exports, detail, lifecycle and timeline."""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterator
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.background import BackgroundTask

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.errors import RowError, ValidationFailed
from qingzhi.geo.geometry import parse_area
from qingzhi.incidents import exports, query, service
from qingzhi.incidents.enums import Category
from qingzhi.incidents.lifecycle import Status
from qingzhi.incidents.schemas import (
    BulkIntake,
    BulkResult,
    IncidentCreate,
    IncidentPage,
    IncidentRead,
    IntakeResult,
    TimelineEntry,
    Transition,
)
from qingzhi.params import IdPath, IdQuery, Instant, json_body, json_request_body
from qingzhi.store.deps import database, settings_of, transaction

router = APIRouter(prefix="/api/incidents", tags=["incidents"])


def _floats(value: str, n: int, field: str) -> list[float]:
    try:
        parts = [float(p) for p in value.split(",")]
    except ValueError:
        raise ValidationFailed.field(field, f"须为 {n} 个以逗号分隔的数") from None
    if len(parts) != n or not all(math.isfinite(p) for p in parts):
        raise ValidationFailed.field(field, f"须为 {n} 个以逗号分隔的数")
    return parts


def _local(value: dt.datetime | None, tz: str) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(tz))


def incident_query(
    request: Request,
    start: Instant | None = None,
    end: Instant | None = None,
    category: list[Category] = Query(default=[]),
    subtype: list[str] = Query(default=[]),
    status: list[Status] = Query(default=[]),
    unit_id: IdQuery = None,
    zone_id: IdQuery = None,
    valid: bool | None = None,
    q: str | None = Query(default=None, max_length=100),
    near: str | None = Query(default=None, description="lon,lat (WGS-84)"),
    radius: float | None = Query(default=None, description="metres around `near`"),
    polygon: str | None = Query(default=None, max_length=100_000, description="GeoJSON"),
    bbox: str | None = Query(default=None, description="minlon,minlat,maxlon,maxlat"),
    repeat_only: bool = False,
    needs_review: bool | None = None,
    sort: str = "-received_at",
) -> query.IncidentQuery:
    """The query's filters from the request's parameters (naive times are Beijing time)."""
    tz = settings_of(request).timezone
    near_pt = None
    if near:
        lon, lat = _floats(near, 2, "near")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValidationFailed.field("near", "经纬度超出范围")
        near_pt = (lon, lat)
    box = None
    if bbox:
        b = _floats(bbox, 4, "bbox")
        if not (-180 <= b[0] <= b[2] <= 180 and -90 <= b[1] <= b[3] <= 90):
            raise ValidationFailed.field(
                "bbox", "须为 minlon,minlat,maxlon,maxlat（WGS-84 范围内）"
            )
        box = (b[0], b[1], b[2], b[3])
    return query.IncidentQuery(
        start=_local(start, tz),
        end=_local(end, tz),
        categories=category,
        subtypes=subtype,
        statuses=status,
        unit_id=unit_id,
        zone_id=zone_id,
        valid=valid,
        q=q or None,
        near=near_pt,
        radius_m=radius,
        polygon=parse_area(polygon, "polygon") if polygon else None,
        bbox=box,
        repeat_only=repeat_only,
        needs_review=needs_review,
        sort=sort,
    )


@router.post(
    "",
    response_model=IntakeResult,
    status_code=201,
    responses={200: {"model": IntakeResult, "description": "already taken in (same source_id)"}},
)
async def create(
    body: IncidentCreate, request: Request, actor: Actor = Depends(require(Perm.incident_write))
) -> Any:
    """Take in one incident; the same source id again returns the existing record (200)."""
    settings = settings_of(request)
    for attempt in range(2):
        try:
            # Taken in and committed together with concurrent calls: one pass, one disk flush
            # (by the writer thread, while the event loop goes on).
            incident, created = await database(request).combine_async(
                "incident.intake", service.intake_posted, (actor, settings, body)
            )
            break
        except IntegrityError:
            # A concurrent intake of the same source id won the race: answer with its record.
            if attempt:
                raise
    result = IntakeResult(created=created, incident=incident)
    return Response(
        result.model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )


@router.post("/bulk", response_model=BulkResult, openapi_extra=json_request_body(BulkIntake))
def bulk(
    request: Request,
    actor: Actor = Depends(require(Perm.incident_write)),
    body: BulkIntake = Depends(json_body(BulkIntake)),  # read after the caller is known
) -> BulkResult:
    """Take in up to 10,000 incidents; bad items are reported by index and field, good ones load."""
    items: list[IncidentCreate] = []
    positions: list[int] = []
    errors: list[dict[str, Any]] = []
    for i, raw in enumerate(body.items):
        try:
            items.append(IncidentCreate.model_validate(raw))
            positions.append(i)
        except ValidationError as exc:
            # the bulk API's published item error: the item's index in ``items``, not a file row
            for e in RowError.of(exc, file="items", row=i, whole="item"):
                errors.append({"index": i, "field": e.field, "message": e.reason})
    ids: list[int | None] = [None] * len(body.items)
    created = existing = 0
    with transaction(request, write=True) as session:
        results = service.intake_many(
            session=session, actor=actor, settings=settings_of(request), items=items
        )
    for pos, r in zip(positions, results, strict=True):
        ids[pos] = r.incident_id
        created += r.created
        existing += not r.created
    return BulkResult(created=created, existing=existing, errors=errors, ids=ids)


@router.get("", response_model=IncidentPage)
def list_incidents(
    request: Request,
    filters: query.IncidentQuery = Depends(incident_query),
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50, ge=1, le=500),
    facets: bool = False,
    count: bool = False,
    unmask: bool = False,
    actor: Actor = Depends(require(Perm.incident_read)),
) -> IncidentPage:
    """The one-click query (一键查询): filters, free text ``q``, space, keyset pages, facets."""
    with transaction(request, write=unmask) as session:
        return query.page(
            session=session,
            actor=actor,
            query=filters,
            cursor=cursor,
            limit=limit,
            facets=facets,
            count=count,
            unmask=unmask,
        )


EXPORT_CONTENT: dict[str, Any] = {media.split(";")[0]: {} for media in exports.FORMATS.values()}


@router.get(
    "/export.{fmt}",
    response_class=Response,
    responses={200: {"content": EXPORT_CONTENT, "description": "the file (streamed)"}},
)
def export(
    fmt: Literal["csv", "xlsx", "geojson"],
    request: Request,
    filters: query.IncidentQuery = Depends(incident_query),
    unmask: bool = False,
    actor: Actor = Depends(require(Perm.incident_read)),
) -> Any:
    """Export the query to CSV, Excel or GeoJSON (streamed; phone masked unless unmasked)."""
    if fmt not in exports.FORMATS:
        raise ValidationFailed.field("format", f"可选：{', '.join(exports.FORMATS)}")
    if unmask:
        actor.require(Perm.personal_read)
    with transaction(request, write=False) as session:
        query.filtered(session, actor, filters)  # validate before the response starts
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    filename = f"incidents-{stamp}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "xlsx":
        with transaction(request, write=unmask) as session:
            path = exports.xlsx_file(session, actor, filters, unmask)
        return FileResponse(
            path,
            media_type=exports.FORMATS[fmt],
            filename=filename,
            background=BackgroundTask(os.unlink, path),
        )
    producer = exports.csv_chunks if fmt == "csv" else exports.geojson_chunks

    def stream() -> Iterator[str]:
        with transaction(request, write=unmask) as session:
            yield from producer(session, actor, filters, unmask)

    return StreamingResponse(stream(), media_type=exports.FORMATS[fmt], headers=headers)


@router.get("/{incident_id:int}", response_model=IncidentRead)
def get_incident(
    incident_id: IdPath,
    request: Request,
    unmask: bool = False,
    actor: Actor = Depends(require(Perm.incident_read)),
) -> IncidentRead:
    """One incident; ``unmask=true`` shows the caller's phone (audited)."""
    with transaction(request, write=unmask) as session:
        return service.get(session=session, actor=actor, incident_id=incident_id, unmask=unmask)


@router.post("/{incident_id:int}/transitions", response_model=IncidentRead)
def transition(
    incident_id: IdPath,
    body: Transition,
    request: Request,
    actor: Actor = Depends(require(Perm.incident_write)),
) -> IncidentRead:
    """Move an incident along its lifecycle (409 names both states when not allowed)."""
    with transaction(request, write=True) as session:
        return service.transition(session=session, actor=actor, incident_id=incident_id, data=body)


@router.get("/{incident_id:int}/timeline", response_model=list[TimelineEntry])
def timeline(
    incident_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.incident_read))
) -> list[TimelineEntry]:
    """Lifecycle, audit records, officers and linked calls, in time order (全溯源)."""
    with transaction(request, write=False) as session:
        return service.timeline(session=session, actor=actor, incident_id=incident_id)
