"""Body limits count the bytes actually received (chunked bodies too), and a bulk body is read
only after its caller is authenticated: an anonymous 60 MiB upload is refused before it is
read, whatever its transfer encoding."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qingzhi.config import Settings
from qingzhi.store.db import Database
from qingzhi.web.app import create_app
from tests.factories import Org, incident_body
from tests.helpers import bearer, counts

CHUNK = 256 * 1024
SIXTY_MIB = 60 * 1024 * 1024 // CHUNK  # chunks


def _post_chunked(
    app: FastAPI, path: str, headers: dict[str, str], chunks: int, first: bytes = b""
) -> tuple[int, dict[str, Any], int]:
    """POST ``chunks`` chunks of 256 KiB (no Content-Length) straight into the ASGI app:
    the status, the JSON error body, and how many chunks the server pulled."""
    pulled = 0
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= chunks:
            await asyncio.sleep(3600)  # the client has nothing more: wait for a disconnect
        pulled += 1
        data = first if pulled == 1 and first else b" " * CHUNK
        return {"type": "http.request", "body": data, "more_body": pulled < chunks}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
        ]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=60))
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")

    return int(start["status"]), json.loads(payload), pulled


def test_anonymous_chunked_bulk_upload_is_refused_unread(app, org):
    status, error, pulled = _post_chunked(app, "/api/incidents/bulk", {}, SIXTY_MIB)
    assert status == 401, error
    assert pulled == 0  # not one byte of the 60 MiB was read


def test_a_forged_or_unprivileged_credential_is_refused_before_the_body(app, db, org):
    forged = {"Authorization": "Bearer qz_not-a-real-token"}
    status, _, pulled = _post_chunked(app, "/api/incidents/bulk", forged, SIXTY_MIB)
    assert (status, pulled) == (401, 0)
    status, _, pulled = _post_chunked(app, "/api/incidents/bulk", bearer(db, "viewer"), SIXTY_MIB)
    assert (status, pulled) == (403, 0)
    status, _, pulled = _post_chunked(app, "/api/org/import", bearer(db, "dispatcher"), SIXTY_MIB)
    assert (status, pulled) == (403, 0)


def test_anonymous_chunked_body_stops_at_the_ordinary_limit(app, settings, org):
    """An ordinary route reads its body before its dependencies: the count stops it at 1 MiB."""
    status, error, pulled = _post_chunked(app, "/api/incidents", {}, SIXTY_MIB)
    assert status == 413, error
    assert error["error"]["code"] == "too_large"
    assert pulled * CHUNK <= settings.max_body_bytes + CHUNK


def test_chunked_body_over_the_limit_with_a_credential(app, db, org, settings):
    headers = bearer(db, "dispatcher")
    before = counts(db)
    status, error, pulled = _post_chunked(app, "/api/incidents", headers, SIXTY_MIB)
    assert status == 413, error
    assert pulled * CHUNK <= settings.max_body_bytes + CHUNK
    assert counts(db) == before


def test_bulk_body_over_the_bulk_limit(db: Database, org: Org) -> None:
    small = Settings(database_url="sqlite://", max_body_bytes=64 * 1024, max_bulk_bytes=CHUNK * 4)
    app = create_app(small, db)
    headers = bearer(db, "dispatcher")
    status, error, pulled = _post_chunked(app, "/api/incidents/bulk", headers, SIXTY_MIB)
    assert status == 413, error
    assert error["error"]["details"] == {"limit_bytes": CHUNK * 4}
    assert pulled <= 5
    # within the bulk limit (above the ordinary one) the same caller's bulk body is read
    with TestClient(app) as c:
        items = [incident_body(source_id=f"lim-{i}", description="警" * 400) for i in range(80)]
        r = c.post("/api/incidents/bulk", json={"items": items}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["created"] == 80


def test_declared_length_over_the_limit_is_refused_unread(client, db, org):
    r = client.post(
        "/api/incidents",
        content=b"{}",
        headers={**bearer(db, "dispatcher"), "content-length": str(10**9)},
    )
    assert r.status_code == 413
    r = client.post("/api/incidents", content=b"{}", headers={"content-length": "12a"})
    assert r.status_code == 413


def test_chunked_through_the_test_client(client, db, org):
    """The same over TestClient (httpx sends a generator body chunked, without a length)."""

    def chunks():
        for _ in range(8):
            yield b" " * CHUNK

    r = client.post(
        "/api/units", content=chunks(), headers={**bearer(db, "admin"), "content-type": "x/y"}
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize("path", ["/api/incidents/bulk", "/api/org/import"])
def test_bulk_routes_declare_their_bodies(client, path):
    spec = client.get("/api/openapi.json").json()
    assert "requestBody" in spec["paths"][path]["post"]
