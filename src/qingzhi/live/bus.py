"""The event bus: events are rows of ``live_event`` written in the transaction of the change.

Writing: ``publish`` inserts the event rows in the caller's transaction, so an event exists if and
only if its change was committed. On PostgreSQL it first takes a transaction-scoped advisory lock,
so that event ids become visible in id order (a reader that has seen id N will never later find
an id below N), and calls ``pg_notify``, which PostgreSQL delivers only at commit: every server
process listening on the channel wakes up. On SQLite, writers are serialised by the write lock and
an after-commit hook wakes this process's hubs; other processes (the demo simulator) are seen by
polling every ``live_poll_seconds``.

Reading: one ``Hub`` per server process reads new rows (``id > last``) once and fans each event,
pre-formatted as a server-sent event frame, out to every subscriber whose scope sees it. A client
that reconnects with ``Last-Event-ID`` first replays ``id > last`` from the table (``read_since``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from qingzhi.auth.scope import Scope
from qingzhi.live.models import LiveEvent
from qingzhi.store.base import table_of, utcnow
from qingzhi.store.bulk import insert_rows
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

CHANNEL = "qingzhi_live"
LOCK_KEY = 7_110_110  # pg_advisory_xact_lock key of the bus
QUEUE_SIZE = 20_000
READ_BATCH = 2_000
_WAKE_FLAG = "qingzhi_live_wake"
_TABLE = table_of(LiveEvent)


@dataclass(frozen=True)
class EventIn:
    """An event to publish: its kind, payload and the units whose scopes may see it."""

    kind: str
    payload: dict[str, Any]
    unit_id: int | None = None
    station_id: int | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A stored event, with its server-sent event frame."""

    id: int
    kind: str
    unit_id: int | None
    station_id: int | None
    frame: str

    def visible_to(self, scope: Scope) -> bool:
        """Whether a subscriber with ``scope`` may receive it."""
        return scope.admits(self.unit_id, self.station_id)


def frame(event_id: int, kind: str, payload: str) -> str:
    """A server-sent event frame (the payload is one line of JSON)."""
    return f"id: {event_id}\nevent: {kind}\ndata: {payload}\n\n"


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)


# ---------------------------------------------------------------- writing


def publish(session: Session, events: Sequence[EventIn], *, at: dt.datetime | None = None) -> None:
    """Write events in the caller's transaction; listeners wake when it commits."""
    if not events:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    now = at or utcnow()
    insert_rows(
        session.connection(),
        _TABLE,
        [
            {
                "at": now,
                "kind": e.kind,
                "unit_id": e.unit_id,
                "station_id": e.station_id,
                "payload": _dumps(e.payload),
            }
            for e in events
        ],
    )
    if dialect == "postgresql":
        session.execute(text("SELECT pg_notify(:c, '')"), {"c": CHANNEL})
    else:
        session.info[_WAKE_FLAG] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # The whole transaction, not a savepoint: only then can listeners read the events.
    if session.get_nested_transaction() is None and session.info.pop(_WAKE_FLAG, None):
        wake_local()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if session.get_nested_transaction() is None:
        session.info.pop(_WAKE_FLAG, None)


def wake_local() -> None:
    """Wake every hub of this process (thread-safe)."""
    for hub in list(_HUBS):
        hub.wake_threadsafe()


# ---------------------------------------------------------------- reading


def head(session: Session) -> int:
    """The id of the newest event (0 when there is none)."""
    return int(session.execute(select(func.max(LiveEvent.id))).scalar_one_or_none() or 0)


def read_since(
    session: Session, *, last: int, scope: Scope | None = None, limit: int = READ_BATCH
) -> list[Event]:
    """Events after ``last``, oldest first, within ``scope`` (all events when None)."""
    query = select(
        _TABLE.c.id, _TABLE.c.kind, _TABLE.c.unit_id, _TABLE.c.station_id, _TABLE.c.payload
    ).where(_TABLE.c.id > last)
    if scope is not None:
        query = scope.apply(query, _TABLE.c.unit_id, _TABLE.c.station_id)
    rows = session.execute(query.order_by(_TABLE.c.id).limit(limit)).all()
    return [Event(r[0], r[1], r[2], r[3], frame(r[0], r[1], r[4])) for r in rows]


def prune(session: Session, *, older_than: dt.datetime) -> int:
    """Delete events written before ``older_than``; the number deleted."""
    result = session.execute(delete(LiveEvent).where(LiveEvent.at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------- the hub


@dataclass(eq=False)
class Subscriber:
    """One stream's queue; ``overflowed`` when it fell too far behind (it must resume)."""

    scope: Scope
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False


_HUBS: weakref.WeakSet[Hub] = weakref.WeakSet()


class Hub:
    """Reads new events once per process and fans them out to this process's subscribers."""

    def __init__(self, db: Database, *, poll_seconds: float = 0.5) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.subscribers: set[Subscriber] = set()
        self.last_id = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._start_lock: asyncio.Lock | None = None
        self.listening = False  # PostgreSQL LISTEN connection is up
        _HUBS.add(self)

    @property
    def running(self) -> bool:
        """True while the hub's reader runs on the current event loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return self.loop is loop and bool(self._tasks) and not self._tasks[0].done()

    async def start(self) -> None:
        """Start reading on the running loop (idempotent); the head is known on return."""
        loop = asyncio.get_running_loop()
        if self._start_lock is None or self.loop is not loop:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self.running:
                return
            self.loop = loop
            self._wake = asyncio.Event()
            self.last_id = await asyncio.to_thread(self._head)
            self._tasks = [loop.create_task(self._read_loop(), name="qingzhi-live-hub")]
            if self.db.dialect == "postgresql":
                self._tasks.append(loop.create_task(self._listen(), name="qingzhi-live-listen"))

    async def stop(self) -> None:
        """Stop the reader and the listener."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def subscribe(self, scope: Scope) -> Subscriber:
        """A new subscriber; it receives events after the hub's current head."""
        await self.start()
        sub = Subscriber(scope)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a subscriber."""
        self.subscribers.discard(sub)

    def wake_threadsafe(self) -> None:
        """Ask the reader to look for new events now (from any thread)."""
        loop, wake = self.loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(wake.set)

    def _head(self) -> int:
        with self.db.session() as session:
            return head(session)

    def _read(self, last: int) -> list[Event]:
        with self.db.session() as session:
            return read_since(session, last=last)

    async def _read_loop(self) -> None:
        assert self._wake is not None
        wake = self._wake
        while True:
            # Polling is the safety net; NOTIFY (PostgreSQL) or the after-commit hook wakes us.
            timeout = self.poll_seconds * (10 if self.listening else 1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=timeout)
            wake.clear()
            try:
                while True:
                    events = await asyncio.to_thread(self._read, self.last_id)
                    if events:
                        self._fan_out(events)
                        self.last_id = events[-1].id
                    if len(events) < READ_BATCH:
                        break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live hub: reading events failed; retrying")
                await asyncio.sleep(1.0)

    def _fan_out(self, events: list[Event]) -> None:
        for sub in list(self.subscribers):
            if sub.overflowed:
                continue
            for ev in events:
                if ev.visible_to(sub.scope):
                    try:
                        sub.queue.put_nowait(ev)
                    except asyncio.QueueFull:
                        sub.overflowed = True  # the stream closes; the client resumes by id
                        break

    async def _listen(self) -> None:
        import psycopg

        url = make_url(self.db.url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening = True
                    if self._wake is not None:
                        self._wake.set()  # catch up on anything missed while reconnecting
                    async for _ in conn.notifies():
                        if self._wake is not None:
                            self._wake.set()
            except asyncio.CancelledError:
                self.listening = False
                raise
            except Exception:
                log.warning("live hub: LISTEN connection lost; reconnecting", exc_info=True)
            self.listening = False
            await asyncio.sleep(1.0)
