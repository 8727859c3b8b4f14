"""Live API: device positions, officers' live state, map snapshots and the event stream (SSE)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import current_actor, principal, require
from qingzhi.auth.permissions import Perm
from qingzhi.errors import Unauthenticated
from qingzhi.live import bigscreen, bus, service
from qingzhi.live.enums import EventKind
from qingzhi.live.schemas import (
    OfficerLiveUpdate,
    PositionBatch,
    PositionResult,
    Snapshot,
)
from qingzhi.params import INT8_MAX, EventIdQuery, IdPath, IdQuery
from qingzhi.store.deps import database, settings_of, transaction

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/live", tags=["live"])
HEARTBEAT_SECONDS = 15.0
REPLAY_LIMIT = 50_000  # events replayed on one resume; beyond that the client reloads
# The last frame of a stream whose token or session is gone: the page goes to the login form.
SIGNED_OUT_FRAME = "event: signed_out\ndata: {}\n\n"
OFFICER_KINDS = frozenset({str(EventKind.positions), str(EventKind.officer)})


def hub_of(app: FastAPI) -> bus.Hub:
    """The process's hub for this app (created on first use)."""
    hub: bus.Hub | None = getattr(app.state, "live_hub", None)
    if hub is None:
        db = app.state.db
        hub = bus.Hub(db, poll_seconds=app.state.settings.live_poll_seconds)
        app.state.live_hub = hub
    return hub


@router.post("/positions", response_model=PositionResult)
def positions(
    body: PositionBatch, request: Request, actor: Actor = Depends(require(Perm.officer_write))
) -> PositionResult:
    """GPS fixes from devices or a gateway (WGS-84 unless a datum is declared)."""
    with transaction(request, write=True) as session:
        n = service.record_positions(session=session, actor=actor, positions=body.positions)
        head = bus.head(session)
    return PositionResult(accepted=n, event_id=head)


@router.get("/officers", response_model=Snapshot)
def officers(
    request: Request,
    unit_id: IdQuery = None,
    on_duty: bool = Query(default=False, description="only officers on duty now"),
    actor: Actor = Depends(require(Perm.officer_read)),
) -> Snapshot:
    """Every active officer in scope with live status and last position."""
    with transaction(request, write=False) as session:
        head = bus.head(session)
        items = service.officers(session=session, actor=actor, unit_id=unit_id, on_duty=on_duty)
    return Snapshot(event_id=head, items=items)


@router.patch("/officers/{officer_id}")
def update_officer(
    officer_id: IdPath,
    body: OfficerLiveUpdate,
    request: Request,
    actor: Actor = Depends(require(Perm.officer_write)),
) -> dict[str, Any]:
    """Set an officer's live status or body-camera stream URL."""
    with transaction(request, write=True) as session:
        return service.update_officer(
            session=session, actor=actor, officer_id=officer_id, data=body
        )


@router.get("/incidents", response_model=Snapshot)
def incidents(request: Request, actor: Actor = Depends(require(Perm.incident_read))) -> Snapshot:
    """Incidents for the live map: open ones and those closed in the last 24 hours."""
    with transaction(request, write=False) as session:
        head = bus.head(session)
        items = service.map_incidents(session=session, actor=actor)
    return Snapshot(event_id=head, items=items)


@router.get("/bigscreen")
def bigscreen_figures(
    request: Request, actor: Actor = Depends(require(Perm.incident_read))
) -> dict[str, Any]:
    """The big screen's tiles and charts, in the caller's scope."""
    with transaction(request, write=False) as session:
        return bigscreen.figures(session=session, actor=actor, settings=settings_of(request))


def _event_id(value: str | None) -> int | None:
    """The event id of a Last-Event-ID header; anything else (text, "²", beyond 64 bits) is
    ignored, as a browser's stale or foreign id must not stop the stream."""
    text = (value or "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 19) or int(text) > INT8_MAX:
        return None
    return int(text)


@router.get("/stream")
async def stream(
    request: Request,
    since: EventIdQuery = None,
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
) -> StreamingResponse:
    """Server-sent events in the caller's scope; resumes after ``Last-Event-ID`` (or ``since``).

    The token or session is checked again every ``QINGZHI_LIVE_RECHECK_SECONDS`` (one statement
    outside any transaction): once it is revoked or expired, or its user disabled, the stream
    sends ``signed_out`` and ends; if the user's role or scope changed, it ends without it (the
    client reconnects and resumes under its new scope)."""
    who = await principal(request)
    actor = who.actor
    actor.require(Perm.incident_read)
    hub = hub_of(request.app)
    sub = await hub.subscribe(actor.scope)
    resume = _event_id(last_event_id)
    if resume is None:
        resume = since
    db = database(request)
    recheck = settings_of(request).live_recheck_seconds

    # Officers' positions and states go only to those who may see officers (not the viewer).
    hidden = set() if actor.can(Perm.officer_read) else OFFICER_KINDS

    def replay(after: int) -> list[bus.Event]:
        with db.session() as session:
            return bus.read_since(session, last=after, scope=actor.scope)

    def still_valid() -> str | None:
        """None while the credential holds as at connect; else the stream's last frame."""
        try:
            now = current_actor(request, who)
        except Unauthenticated:
            return SIGNED_OUT_FRAME
        if now.can(Perm.incident_read) and (now.role, now.scope) == (actor.role, actor.scope):
            return None
        return ""

    async def events() -> AsyncIterator[str]:
        sent = resume
        try:
            yield "retry: 1000\n\n"
            if sent is not None:
                replayed = 0
                while replayed < REPLAY_LIMIT:
                    batch = await asyncio.to_thread(replay, sent)
                    for ev in batch:
                        if ev.kind not in hidden:
                            yield ev.frame
                        sent = ev.id
                    replayed += len(batch)
                    if len(batch) < bus.READ_BATCH:
                        break
                else:
                    yield "event: reload\ndata: {}\n\n"
            yield f": live from {sent if sent is not None else hub.last_id}\n\n"
            clock = time.monotonic()
            check_at, ping_at = clock + recheck, clock + HEARTBEAT_SECONDS
            while True:
                clock = time.monotonic()
                if clock >= check_at:
                    last = await asyncio.to_thread(still_valid)
                    if last is not None:
                        if last:
                            yield last
                        return
                    check_at = time.monotonic() + recheck
                if clock >= ping_at:
                    yield ": ping\n\n"
                    ping_at = clock + HEARTBEAT_SECONDS
                wait = max(0.0, min(check_at, ping_at) - time.monotonic())
                try:
                    ev = await asyncio.wait_for(sub.queue.get(), timeout=wait)
                except TimeoutError:
                    continue
                if sent is not None and ev.id <= sent:
                    continue
                if ev.kind not in hidden:
                    yield ev.frame
                sent = ev.id
                if sub.overflowed and sub.queue.empty():
                    return  # fell behind: the client reconnects and replays from the table
        finally:
            hub.unsubscribe(sub)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def stop_hub(app: FastAPI) -> None:
    """Stop the app's hub (on shutdown)."""
    hub: bus.Hub | None = getattr(app.state, "live_hub", None)
    if hub is not None:
        with contextlib.suppress(Exception):
            await hub.stop()
