"""Incidents API: intake (single and bulk), query, exports, detail, lifecycle and timeline.

No request holds the writer longer than one short transaction: reads with callers' phones
unmasked read in read-only sessions and are audited in a short write transaction of their own
(``disclosure``); exports stream from a read transaction per batch (``exports``); a bulk intake
commits batch by batch, so single calls are taken in between its batches.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.types import Receive, Scope, Send

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.errors import QingzhiError, RowError, ValidationFailed
from qingzhi.geo.geometry import parse_area
from qingzhi.incidents import (
    assignments,
    calltaking,
    corrections,
    disclosure,
    exports,
    intake,
    query,
    reads,
    transitions,
)
from qingzhi.incidents.assignments import DispatchPolicy
from qingzhi.incidents.calltaking import CallCheck, CallDraft
from qingzhi.incidents.enums import Category
from qingzhi.incidents.lifecycle import Status
from qingzhi.incidents.schemas import (
    AssignmentRead,
    AssignmentStep,
    BulkIntake,
    BulkResult,
    IncidentCorrection,
    IncidentCreate,
    IncidentPage,
    IncidentRead,
    IntakeResult,
    TimelineEntry,
    Transition,
)
from qingzhi.params import IdPath, IdQuery, Instant, json_request_body, parse_json_body
from qingzhi.store.db import Database
from qingzhi.store.deps import database, settings_of, transaction

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/incidents", tags=["incidents"])

# Answers that carry callers' phones unmasked, and every export, are kept by no cache.
NO_STORE = {"Cache-Control": "no-store"}

# A bulk intake is written in order in batches, each one transaction, sized so that each holds
# the writer about BULK_HOLD_S (a single call waits for at most one batch): the first of
# BULK_FIRST items, the next from the last one's pace, between BULK_MIN and BULK_MAX.
BULK_HOLD_S = 0.05
BULK_FIRST, BULK_MIN, BULK_MAX = 200, 20, 1000
# Items validated between two looks for single writes waiting (``Database.make_way``).
YIELD_EVERY = 200


class BulkIncomplete(QingzhiError):
    """A batch of a bulk intake could not be written: the batches before it were."""

    code = "bulk_incomplete"
    status = 503
    message = "批量写入中断"


class _Stream(StreamingResponse):
    """A streamed answer that closes its chunk iterator however the answer ends. Starlette
    stops reading a plain iterator when the client goes away but never closes it, so what its
    generator holds (an open file) would stay held until garbage collection."""

    def __init__(self, chunks: Iterator[Any], **kwargs: Any) -> None:
        super().__init__(chunks, **kwargs)
        self._chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                # Not while a worker thread runs the generator: Starlette's hand-off to a
                # thread waits for it, even when cancelled.
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(close)


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
    station_id: IdQuery = None,
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
    """The query's filters from the request's parameters (naive times are in the place's time
    zone: ``settings.timezone``, the bureau's from ``qingzhi place init``)."""
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
        station_id=station_id,
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
                "incident.intake", intake.intake_posted, (actor, settings, body)
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


@router.post(
    "/bulk",
    response_model=BulkResult,
    openapi_extra=json_request_body(BulkIntake),
)
async def bulk(request: Request, actor: Actor = Depends(require(Perm.incident_write))) -> Any:
    """Take in up to 10,000 incidents; bad items are reported by index and field, good ones load.

    The good items are written in order in batches, each batch in a transaction of its own
    holding the writer about ``BULK_HOLD_S`` (single calls are taken in between batches).
    Should a batch fail to be written, the request stops there: the batches before it stay
    written, and the answer is a 503 ``bulk_incomplete`` whose details give the written items'
    ids and each unwritten item's index. Sending the same request again is safe: items already
    written come back as existing (by their source id)."""
    data = await request.body()
    # Parsed and validated in a worker thread: megabytes of JSON would stall the event loop,
    # and with it every other caller, for a noticeable time.
    return await anyio.to_thread.run_sync(
        _bulk, data, database(request), settings_of(request), actor
    )


def _bulk(data: bytes, db: Database, settings: Settings, actor: Actor) -> BulkResult:
    body = parse_json_body(BulkIntake, data)
    items: list[IncidentCreate] = []
    positions: list[int] = []
    errors: list[dict[str, Any]] = []
    for i, raw in enumerate(body.items):
        if i % YIELD_EVERY == 0:
            db.make_way()  # single writes first
        try:
            items.append(IncidentCreate.model_validate(raw))
            positions.append(i)
        except ValidationError as exc:
            # the bulk API's published item error: the item's index in ``items``, not a file row
            for e in RowError.of(exc, file="items", row=i, whole="item"):
                errors.append({"index": i, "field": e.field, "message": e.reason})
    ids: list[int | None] = [None] * len(body.items)
    created = existing = 0
    start, size = 0, BULK_FIRST
    while start < len(items):
        part = items[start : start + size]
        db.make_way()
        try:
            results, held = _bulk_batch(db, actor, settings, part)
        except Exception as exc:
            log.exception("bulk intake stopped at item %d of %d", positions[start], len(body.items))
            unwritten = positions[start:]
            errors += [
                {"index": i, "field": "item", "message": "未写入：本批写入失败，可原样重发"}
                for i in unwritten
            ]
            errors.sort(key=lambda e: int(e["index"]))
            result = BulkResult(created=created, existing=existing, errors=errors, ids=ids)
            raise BulkIncomplete(
                f"批量写入中断：自索引 {positions[start]} 起的 {len(unwritten)} 项未写入，"
                "之前各项已写入；可原样重发整个请求（已写入的按警情编号返回已有记录）",
                details=result.model_dump(),
                log_message=f"bulk intake stopped: {exc!r}",
            ) from exc
        for pos, r in zip(positions[start : start + len(part)], results, strict=True):
            ids[pos] = r.incident_id
            created += r.created
            existing += not r.created
        start += len(part)
        size = max(BULK_MIN, min(BULK_MAX, round(len(part) * BULK_HOLD_S / max(held, 1e-3))))
    return BulkResult(created=created, existing=existing, errors=errors, ids=ids)


def _bulk_batch(
    db: Database, actor: Actor, settings: Settings, items: Sequence[IncidentCreate]
) -> tuple[list[intake.ItemResult], float]:
    """One batch of a bulk intake in a write transaction of its own, prepared before the
    writer is taken; its results and how long it held the writer (commit included). A
    concurrent intake of one of its source ids (IntegrityError) is met by taking the batch in
    again, which then finds that record."""
    prepared = intake.prepare_batch(db=db, items=items)
    db.make_way()
    for attempt in range(2):
        try:
            with db.session(write=True) as session:
                taken = time.perf_counter()  # the writer is held from here
                results = intake.intake_prepared(
                    session=session, actor=actor, settings=settings, prepared=prepared
                )
            return results, time.perf_counter() - taken
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


@router.get("", response_model=IncidentPage)
def list_incidents(
    request: Request,
    response: Response,
    filters: query.IncidentQuery = Depends(incident_query),
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50, ge=1, le=500),
    facets: bool = False,
    count: bool = False,
    unmask: bool = False,
    actor: Actor = Depends(require(Perm.incident_read)),
) -> IncidentPage:
    """The one-click query (一键查询): filters, free text ``q``, space, keyset pages, facets;
    ``unmask=true`` shows callers' phones (audited, never cached)."""
    if unmask:
        disclosure.require(actor)
    with transaction(request, write=False) as session:
        page = query.page(
            session=session,
            actor=actor,
            query=filters,
            cursor=cursor,
            limit=limit,
            facets=facets,
            count=count,
            unmask=unmask,
        )
    if unmask:
        disclosure.record(database(request), actor, [i.id for i in page.items], "list")
        response.headers.update(NO_STORE)
    return page


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
    header: Literal["zh", "keys"] = "zh",
    actor: Actor = Depends(require(Perm.incident_read)),
) -> Any:
    """Export the query to CSV, Excel or GeoJSON (streamed; phone masked unless unmasked, and
    then audited, at most ``QINGZHI_EXPORT_UNMASKED_MAX_ROWS`` rows). Times are in the place's
    zone with their offset; ``header=keys`` heads the columns with their keys (what the
    mapping ``qingzhi_export.toml`` imports) instead of the Chinese labels."""
    settings = settings_of(request)
    job = exports.prepare(
        database(request),
        actor,
        filters,
        fmt=fmt,
        unmask=unmask,
        max_rows=settings.export_unmasked_max_rows,
        timezone=settings.timezone,
        header=header,
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    headers = {"Content-Disposition": f'attachment; filename="incidents-{stamp}.{fmt}"', **NO_STORE}
    if fmt == "xlsx":
        file = exports.xlsx_file(job)
        headers["Content-Length"] = str(os.fstat(file.fileno()).st_size)
        return _Stream(exports.file_chunks(file), media_type=exports.FORMATS[fmt], headers=headers)
    return _Stream(exports.chunks(job, fmt), media_type=exports.FORMATS[fmt], headers=headers)


@router.get("/{incident_id:int}", response_model=IncidentRead)
def get_incident(
    incident_id: IdPath,
    request: Request,
    response: Response,
    unmask: bool = False,
    actor: Actor = Depends(require(Perm.incident_read)),
) -> IncidentRead:
    """One incident; ``unmask=true`` shows the caller's phone (audited, never cached)."""
    if unmask:
        response.headers.update(NO_STORE)
        return disclosure.detail(database(request), actor, incident_id)
    with transaction(request, write=False) as session:
        return reads.get(session=session, actor=actor, incident_id=incident_id)


@router.post("/{incident_id:int}/transitions", response_model=IncidentRead)
def transition(
    incident_id: IdPath,
    body: Transition,
    request: Request,
    actor: Actor = Depends(require(Perm.incident_write)),
) -> IncidentRead:
    """Move an incident along its lifecycle (409 names both states when not allowed)."""
    policy = DispatchPolicy.of(settings_of(request))
    with transaction(request, write=True) as session:
        return transitions.transition(
            session=session, actor=actor, incident_id=incident_id, data=body, policy=policy
        )


@router.get("/{incident_id:int}/assignments", response_model=list[AssignmentRead])
def list_assignments(
    incident_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.incident_read))
) -> list[dict[str, Any]]:
    """The officers sent to the incident, each with its own dispatched, arrived, cleared times."""
    with transaction(request, write=False) as session:
        reads.visible(session, actor, incident_id)
        return assignments.of_incident(session, incident_id)


@router.post("/{incident_id:int}/assignments/{assignment_id:int}", response_model=IncidentRead)
def assignment_step(
    incident_id: IdPath,
    assignment_id: IdPath,
    body: AssignmentStep,
    request: Request,
    actor: Actor = Depends(require(Perm.incident_write)),
) -> IncidentRead:
    """One unit arrives or clears (撤离); the incident arrives with its first unit and is
    resolved when its last clears (409 names the states when not allowed)."""
    with transaction(request, write=True) as session:
        return transitions.assignment_step(
            session=session,
            actor=actor,
            incident_id=incident_id,
            assignment_id=assignment_id,
            data=body,
        )


@router.post("/check", response_model=CallCheck)
def check_call(
    body: CallDraft, request: Request, actor: Actor = Depends(require(Perm.incident_write))
) -> CallCheck:
    """While a call is typed in (接警录入): the station it would be routed to, and the earlier
    calls of the caller (24 h) and of the place (200 m, 2 h) in the caller's scope. Nothing is
    written but, when the caller's number finds calls, the audit record of that look-up."""
    settings = settings_of(request)
    with transaction(request, write=False) as session:
        result, looked_up = calltaking.check(
            session=session, actor=actor, settings=settings, draft=body
        )
    if looked_up:
        disclosure.record(database(request), actor, looked_up, "repeat_check")
    return result


@router.patch("/{incident_id:int}", response_model=IncidentRead)
def correct_incident(
    incident_id: IdPath,
    body: IncidentCorrection,
    request: Request,
    actor: Actor = Depends(require(Perm.incident_write)),
) -> IncidentRead:
    """Correct an incident's recorded facts (its handling unit only; audited before/after; the
    body names the version read, 409 if another correction came first)."""
    with transaction(request, write=True) as session:
        corrections.correct(session=session, actor=actor, incident_id=incident_id, data=body)
        return reads.get(session=session, actor=actor, incident_id=incident_id)


@router.get("/{incident_id:int}/timeline", response_model=list[TimelineEntry])
def timeline(
    incident_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.incident_read))
) -> list[TimelineEntry]:
    """Lifecycle, audit records, officers and linked calls, in time order (全溯源)."""
    with transaction(request, write=False) as session:
        return reads.timeline(session=session, actor=actor, incident_id=incident_id)
