"""The event stream over real HTTP: delivery, scope, resume from Last-Event-ID, refusals."""

from __future__ import annotations

import time

import httpx

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.incidents import intake as incidents
from qingzhi.incidents.schemas import IncidentCreate
from qingzhi.store.db import Database
from tests.helpers import bearer
from tests.live.server import SSEReader

SETTINGS = Settings(database_url="sqlite://")


def _intake(db: Database, source_id: str, lon: float, lat: float) -> int:
    with db.session(write=True) as session:
        inc, _ = incidents.intake(
            session=session,
            actor=system_actor(),
            settings=SETTINGS,
            item=IncidentCreate(
                source_id=source_id,
                received_at="2026-11-01T10:00:00+08:00",
                category="criminal",
                subtype="theft",
                location={"lon": lon, "lat": lat},
            ),
        )
    return inc.id


def test_new_incident_arrives_within_a_second(live_db: Database, live_server: str) -> None:
    reader = SSEReader(f"{live_server}/api/live/stream", bearer(live_db, "dispatcher"))
    try:
        assert reader.status == 200
        time.sleep(0.3)
        t0 = time.monotonic()
        iid = _intake(live_db, "S-1", 107.05, 30.05)
        msg = reader.next("incident", timeout=5)
        assert msg.data["id"] == iid and msg.data["new"] is True
        assert msg.data["cat_label"] == "刑事"
        assert msg.received - t0 < 1.0
    finally:
        reader.close()


def test_station_chief_only_gets_own_area(live_db: Database, live_server: str) -> None:
    chief = SSEReader(f"{live_server}/api/live/stream", bearer(live_db, "chief_a"))
    try:
        time.sleep(0.3)
        _intake(live_db, "S-B", 107.15, 30.05)  # station B
        mine = _intake(live_db, "S-A", 107.05, 30.05)  # station A
        msg = chief.next("incident", timeout=5)
        assert msg.data["id"] == mine
    finally:
        chief.close()


def test_resume_from_last_event_id_loses_nothing(live_db: Database, live_server: str) -> None:
    headers = bearer(live_db, "commander")
    reader = SSEReader(f"{live_server}/api/live/stream", headers)
    time.sleep(0.3)
    first = _intake(live_db, "R-1", 107.05, 30.05)
    msg = reader.next("incident")
    assert msg.data["id"] == first
    reader.close()  # the connection drops …
    missed = [_intake(live_db, f"R-{k}", 107.05 + k / 1000, 30.05) for k in range(2, 6)]
    resumed = SSEReader(f"{live_server}/api/live/stream", {**headers, "Last-Event-ID": str(msg.id)})
    try:
        got = [resumed.next("incident").data["id"] for _ in missed]
        assert got == missed
        later = _intake(live_db, "R-9", 107.06, 30.06)
        assert resumed.next("incident").data["id"] == later
    finally:
        resumed.close()


def test_unauthenticated_and_cross_site_requests_are_refused(
    live_db: Database, live_server: str
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
