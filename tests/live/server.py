"""A committed test database and a real HTTP server in a thread, for streams and browsers.

The rolled-back ``db`` fixture shares one connection between threads, which a server with a
background event reader cannot do; these tests get a database of their own (a SQLite file, or a
fresh PostgreSQL schema) and a uvicorn server on a free loopback port.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import make_url

from qingzhi.config import Settings
from qingzhi.store.db import Database, make_engine, migrate
from qingzhi.web.app import create_app


@contextmanager
def committed_database(backend: str, tmp: Path, pg_url: str | None) -> Iterator[Database]:
    """A migrated database whose transactions really commit; removed afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'live.db'}"
        migrate(url)
        db = Database(url)
        try:
            yield db
        finally:
            db.dispose()
        return
    assert pg_url
    schema = f"qingzhi_live_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    pg = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = pg.render_as_string(hide_password=False)
    migrate(url_text)
    db = Database(url_text)
    try:
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def serve(db: Database, settings: Settings | None = None) -> Iterator[str]:
    """The app on ``db`` served by uvicorn in a thread; yields its base URL."""
    settings = settings or Settings(database_url="sqlite://", live_poll_seconds=0.2)
    app = create_app(settings, db)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Message:
    """One server-sent event."""

    id: int | None
    event: str
    data: Any
    received: float


class SSEReader:
    """Reads a server-sent event stream in a thread; messages arrive on ``messages``."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.messages: queue.Queue[Message] = queue.Queue()
        self.status: int | None = None
        self.opened = threading.Event()
        self.ended = threading.Event()  # the server ended the stream (or it failed)
        self._client = httpx.Client(timeout=httpx.Timeout(30.0, read=60.0))
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self.opened.wait(10):
            raise RuntimeError("stream did not open")

    def _run(self) -> None:
        try:
            with self._client.stream("GET", self.url, headers=self.headers) as r:
                self._response = r
                self.status = r.status_code
                self.opened.set()
                if r.status_code != 200:
                    return
                ev: dict[str, str] = {}
                for line in r.iter_lines():
                    if line == "":
                        if "data" in ev:
                            self.messages.put(
                                Message(
                                    int(ev["id"]) if "id" in ev else None,
                                    ev.get("event", "message"),
                                    json.loads(ev["data"]),
                                    time.monotonic(),
                                )
                            )
                        ev = {}
                    elif not line.startswith(":"):
                        key, _, value = line.partition(":")
                        ev[key] = value[1:] if value.startswith(" ") else value
        except Exception:
            self.opened.set()
        finally:
            self.ended.set()

    def next(self, kind: str | None = None, timeout: float = 5.0) -> Message:
        """The next message (of ``kind``), or AssertionError after ``timeout`` seconds."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind or 'message'} within {timeout} s")
            try:
                msg = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if kind is None or msg.event == kind:
                return msg

    def close(self) -> None:
        """Stop reading: the connection's socket is shut down, which wakes the reading thread
        (closing the client alone leaves it blocked until the server next writes)."""
        stream = self._response.extensions.get("network_stream") if self._response else None
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._client.close()
        self._thread.join(timeout=5)
