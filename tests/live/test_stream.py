"""The event stream over real HTTP: delivery, scope, resume from Last-Event-ID, refusals."""

from __future__ import annotations

import time

import httpx

from qingzhi.store.db import Database
from tests.factories import add_incident
from tests.helpers import bearer
from tests.live.server import SSEReader


def test_a_new_incident_arrives_on_the_stream(committed: Database, live_server: str) -> None:
    # How soon it arrives is measured by bench/ui_load.py; the deadline here only tells an
    # event that never comes from a slow one on a loaded machine.
    reader = SSEReader(f"{live_server}/api/live/stream", bearer(committed, "dispatcher"))
    try:
        assert reader.status == 200
        time.sleep(0.3)
        iid = add_incident(committed, source_id="S-1", category="criminal", subtype="theft")
        msg = reader.next("incident", timeout=20)
        assert msg.data["id"] == iid and msg.data["new"] is True
        assert msg.data["cat_label"] == "刑事"
    finally:
        reader.close()


def test_station_chief_only_gets_own_area(committed: Database, live_server: str) -> None:
    chief = SSEReader(f"{live_server}/api/live/stream", bearer(committed, "chief_a"))
    try:
        time.sleep(0.3)
        add_incident(committed, source_id="S-B", location=(107.15, 30.05))  # station B
        mine = add_incident(committed, source_id="S-A", location=(107.05, 30.05))  # station A
        msg = chief.next("incident", timeout=5)
        assert msg.data["id"] == mine
    finally:
        chief.close()


def test_resume_from_last_event_id_loses_nothing(committed: Database, live_server: str) -> None:
    headers = bearer(committed, "commander")
    reader = SSEReader(f"{live_server}/api/live/stream", headers)
    time.sleep(0.3)
    first = add_incident(committed, source_id="R-1", location=(107.05, 30.05))
    msg = reader.next("incident")
    assert msg.data["id"] == first
    reader.close()  # the connection drops …
    missed = [
        add_incident(committed, source_id=f"R-{k}", location=(107.05 + k / 1000, 30.05))
        for k in range(2, 6)
    ]
    resumed = SSEReader(f"{live_server}/api/live/stream", {**headers, "Last-Event-ID": str(msg.id)})
    try:
        got = [resumed.next("incident").data["id"] for _ in missed]
        assert got == missed
        later = add_incident(committed, source_id="R-9", location=(107.06, 30.06))
        assert resumed.next("incident").data["id"] == later
    finally:
        resumed.close()


def test_unauthenticated_and_cross_site_requests_are_refused(
    committed: Database, live_server: str
) -> None:
    r = httpx.get(f"{live_server}/api/live/stream", timeout=5)
    assert r.status_code == 401
    r = httpx.get(f"{live_server}/bigscreen", headers={"accept": "text/html"}, timeout=5)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    with httpx.Client(base_url=live_server, timeout=5) as c:
        login = c.post(
            "/api/auth/login", json={"username": "dispatcher", "password": "correct-horse-9"}
        )
        csrf = login.json()["csrf_token"]
        body = {"positions": [{"officer_id": 1, "lon": 107.05, "lat": 30.05}]}
        evil = c.post(
            "/api/live/positions",
            json=body,
            headers={"Origin": "http://evil.example", "X-CSRF-Token": csrf},
        )
        assert evil.status_code == 403
        assert evil.json()["error"]["code"] == "csrf_failed"
        no_token = c.post("/api/dispatch/incidents/1", json={"officer_ids": [1]})
        assert no_token.status_code == 403
