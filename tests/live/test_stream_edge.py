"""The event stream at the edges: a ``since`` beyond 64 bits is a 422 before the stream starts
(it was a 200 and then a dead stream); a Last-Event-ID that is no event id ("²", beyond 64
bits, text) is ignored, and the stream delivers."""

from __future__ import annotations

import time
from typing import Any

import httpx

from qingzhi.store.db import Database
from tests.factories import add_incident
from tests.helpers import bearer
from tests.live.server import SSEReader

BAD_SINCE = [str(2**64), str(2**63), "-1", "²", "1e3", "9" * 40]
# Header bytes are latin-1: b"\xb2" is "²", which str.isdigit takes and int() does not.
FOREIGN_IDS: list[str | bytes] = [b"\xb2", str(2**64), "abc"]


def test_since_beyond_the_event_ids_is_refused(committed: Database, live_server: str) -> None:
    headers = bearer(committed, "dispatcher")
    for since in BAD_SINCE:
        r = httpx.get(
            f"{live_server}/api/live/stream", params={"since": since}, headers=headers, timeout=5
        )
        assert r.status_code == 422, (since, r.text)
        assert r.json()["error"]["details"][0]["field"] == "since"


def test_a_foreign_last_event_id_is_ignored(committed: Database, live_server: str) -> None:
    token = bearer(committed, "dispatcher")
    for n, last_event_id in enumerate(FOREIGN_IDS):
        headers: dict[str, Any] = {**token, "Last-Event-ID": last_event_id}
        reader = SSEReader(f"{live_server}/api/live/stream", headers)
        try:
            assert reader.status == 200, last_event_id
            time.sleep(0.3)
            iid = add_incident(committed, source_id=f"E-{n}", location=(107.05, 30.05))
            assert reader.next("incident", timeout=5).data["id"] == iid
        finally:
            reader.close()


def test_the_largest_since_is_a_stream(committed: Database, live_server: str) -> None:
    """``since`` at 2**63 - 1 is a valid id: the stream opens (and replays nothing)."""
    with (
        httpx.Client(timeout=httpx.Timeout(10.0, read=5.0)) as c,
        c.stream(
            "GET",
            f"{live_server}/api/live/stream",
            params={"since": str(2**63 - 1)},
            headers=bearer(committed, "dispatcher"),
        ) as r,
    ):
        assert r.status_code == 200
        assert next(r.iter_lines()).startswith("retry:")
