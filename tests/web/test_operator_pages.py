"""The operator's loop without a browser: where each role lands, errors as pages for browsers
(JSON for the API), the call check (route, caller's and place's earlier calls, scope, audit,
bad input), the viewer's stream without officers, the alert sound, the big screen's counts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.live import bigscreen
from qingzhi.web import sounds
from tests.factories import Org, add_incident
from tests.helpers import cookie_login, form_login, user_actor

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.mark.parametrize(
    "username, target",
    [
        ("dispatcher", "/desk"),
        ("commander", "/bigscreen"),
        ("analyst", "/bigscreen"),
        ("viewer", "/bigscreen"),
        ("officer_a", "/desk"),
        ("admin", "/"),
    ],
)
def test_every_role_lands_on_its_working_screen(
    client: TestClient, org: Org, username: str, target: str
) -> None:
    r = form_login(client, username)
    assert r.status_code == 303 and r.headers["location"] == "/start"
    r = client.get("/start", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == target
    page = client.get(target, headers=HTML)
    assert page.status_code == 200


def test_a_station_chief_lands_on_their_station(client: TestClient, org: Org) -> None:
    form_login(client, "chief_a")
    r = client.get("/start", follow_redirects=False)
    assert r.headers["location"] == f"/units/{org.id('A')}"
    # An explicit next page is kept.
    client.cookies.clear()
    r = form_login(client, "chief_a", next_page="/desk")
    assert r.headers["location"] == "/desk"


def test_errors_are_chinese_pages_for_browsers_and_json_for_the_api(
    client: TestClient, org: Org
) -> None:
    cookie_login(client, "viewer")
    r = client.get("/units", headers=HTML)
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "无权访问" in r.text and "返回工作台" in r.text
    r = client.get("/no-such-page", headers=HTML)
    assert r.status_code == 404 and "页面不存在" in r.text
    r = client.get("/incidents/999999", headers=HTML)
    assert r.status_code == 404 and "页面不存在" in r.text
    r = client.get("/api/live/officers", headers=HTML)
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    # The viewer's nav offers no 警力, which they may not open.
    page = client.get("/bigscreen", headers=HTML)
    assert 'href="/units"' not in page.text
    assert 'data-can-officers=""' in page.text


def _check(c: TestClient, **body: object) -> dict[str, Any]:
    r = c.post("/api/incidents/check", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_call_check_routes_and_finds_earlier_calls_in_scope(as_user, db, org: Org) -> None:
    now = dt.datetime.now(dt.UTC)
    mine = add_incident(
        db,
        at=now - dt.timedelta(minutes=30),
        caller_phone="13700001111",
        location=(107.05, 30.05),
        category="dispute",
        source_id="CHK-1",
    )
    near = add_incident(
        db,
        at=now - dt.timedelta(minutes=20),
        location=(107.0505, 30.0502),
        category="public_order",
        source_id="CHK-2",
    )
    old = add_incident(
        db,
        at=now - dt.timedelta(hours=30),
        caller_phone="13700001111",
        location=(107.02, 30.02),
        source_id="CHK-OLD",
    )
    elsewhere = add_incident(
        db,
        at=now - dt.timedelta(minutes=10),
        caller_phone="13700001111",
        location=(107.15, 30.05),
        source_id="CHK-B",
    )
    c = as_user("dispatcher")
    out = _check(
        c,
        caller_phone="13700001111",
        location={"lon": 107.05, "lat": 30.05, "datum": "wgs84"},
        category="dispute",
    )
    assert out["route"]["unit_name"] == "城一派出所"
    assert out["route"]["routed_by"] == "jurisdiction"
    caller = [e["id"] for e in out["by_caller"]]
    assert mine in caller and elsewhere in caller and old not in caller  # 24 h window
    assert all("****" in (e["caller_phone"] or "") for e in out["by_caller"])
    place = {e["id"]: e for e in out["by_place"]}
    assert set(place) == {mine, near}
    assert place[mine]["repeat"] is True and place[near]["repeat"] is False  # same category
    # A GCJ-02 point is converted before routing; the point shown is the WGS-84 one.
    gcj = _check(c, location={"lon": 107.1549, "lat": 30.0475, "datum": "gcj02"})
    assert gcj["route"]["unit_name"] == "城二派出所" and gcj["route"]["lon"] < 107.1549
    # Without a point, the address text routes it.
    assert _check(c, address="城二一片区某小区")["route"]["unit_name"] == "城二派出所"
    # The look-up by number is audited as a read of personal data, listing what it found.
    with db.session() as s:
        rec = (
            s.execute(
                select(AuditRecord)
                .where(AuditRecord.action == "incident.read_personal")
                .order_by(AuditRecord.seq.desc())
            )
            .scalars()
            .first()
        )
        assert rec is not None
        diff = json.loads(rec.diff) if isinstance(rec.diff, str) else rec.diff
        assert diff["purpose"] == "repeat_check"
        assert set(diff["incident_ids"]) == set(caller)
    # A station chief sees only their own station's calls.
    chief = _check(as_user("chief_a"), caller_phone="13700001111")
    assert {e["id"] for e in chief["by_caller"]} == {mine}


def test_the_call_check_refuses_bad_input_naming_the_field(as_user, org: Org) -> None:
    c = as_user("dispatcher")
    for body, field in (
        ({"location": {"lon": 200, "lat": 30}}, "location.lon"),
        ({"location": {"lon": 107, "lat": 30, "datum": "mars"}}, "location.datum"),
        ({"caller_phone": "abc"}, "caller_phone"),
        ({"category": "weather"}, "category"),
        ({"colour": "red"}, "colour"),
    ):
        r = c.post("/api/incidents/check", json=body)
        assert r.status_code == 422, body
        assert r.json()["error"]["details"][0]["field"] == field
    assert as_user("viewer").post("/api/incidents/check", json={}).status_code == 403


def test_the_alert_sound_is_the_synthesised_one() -> None:
    data = sounds.ALERT_FILE.read_bytes()
    assert data == sounds.alert_wav()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert 0.5 < (len(data) - 44) / 2 / sounds.RATE < 1.5  # under a second and a half


def test_the_big_screen_gives_counts_and_the_exact_test(db, org: Org, settings) -> None:
    now = dt.datetime.now(dt.UTC)
    for k in range(3):
        add_incident(
            db,
            at=now - dt.timedelta(minutes=5 + k),
            source_id=f"BS-{k}",
            caller_phone=f"1360000000{k}",
            location=(107.01 + 0.02 * k, 30.01),
        )
    with db.session() as s:
        d = bigscreen.figures(session=s, actor=user_actor(s, "commander"), settings=settings)
    week = d["compare"]["week"]
    assert (week["current"], week["previous"]) == (d["totals"]["today"], d["totals"]["last_week"])
    # 3 against 0 is no evidence of a rise (binomial test, p = 0.25).
    assert week["verdict"] == "无显著变化" and week["p_value"] == 0.25
