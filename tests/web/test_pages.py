"""Pages render in Chinese for each role, inside the caller's scope; scripts are static files."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from qingzhi.auth.context import system_actor
from qingzhi.incidents import intake as incidents
from qingzhi.incidents.schemas import IncidentCreate
from qingzhi.live.bigscreen import figures
from qingzhi.store.db import Database
from tests.factories import Org, add_incident
from tests.helpers import cookie_login

HTML = {"accept": "text/html"}


# a traffic accident in the last minutes (today's figures count it)
ACCIDENT = {"category": "traffic", "subtype": "accident_property", "address": "城一社区人民路1号"}


def _recently() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


def test_pages_render_for_a_dispatcher(
    client: TestClient, db: Database, org: Org, settings
) -> None:
    cookie_login(client, "dispatcher")
    iid = add_incident(db, source_id="P-1", at=_recently(), location=(107.05, 30.05), **ACCIDENT)
    for path, text in (
        ("/bigscreen", "情指中心实战指挥大屏"),
        ("/desk", "一键查询"),
        (f"/incidents/{iid}", "派警推荐"),
        ("/units", "警力部署"),
        (f"/units/{org.id('C')}", "成员所"),
    ):
        r = client.get(path, headers=HTML)
        assert r.status_code == 200, (path, r.text[:200])
        assert text in r.text
        assert "<script>" not in r.text  # the CSP allows only script files
        assert "script-src 'self'" in r.headers["content-security-policy"]
    page = client.get(f"/incidents/{iid}", headers=HTML).text
    assert "交通事故（财损）" in page and "审计：登记警情" in page


def test_pages_need_a_login(client: TestClient, org: Org) -> None:
    for path in ("/bigscreen", "/desk", "/units", "/incidents/1"):
        r = client.get(path, headers=HTML, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == f"/login?next={path}"


def test_a_chief_cannot_open_another_stations_incident(
    client: TestClient, db: Database, org: Org, settings
) -> None:
    theirs = add_incident(db, source_id="P-A", at=_recently(), location=(107.05, 30.05), **ACCIDENT)
    other = add_incident(db, source_id="P-B", at=_recently(), location=(107.15, 30.05), **ACCIDENT)
    cookie_login(client, "chief_a")
    assert client.get(f"/incidents/{theirs}", headers=HTML).status_code == 200
    assert client.get(f"/incidents/{other}", headers=HTML).status_code == 404
    assert client.get(f"/units/{org.id('B')}", headers=HTML).status_code == 404
    page = client.get("/bigscreen", headers=HTML).text
    assert "城一派出所" in page  # the scope label


def test_viewer_sees_no_dispatch_buttons(
    client: TestClient, db: Database, org: Org, settings
) -> None:
    iid = add_incident(db, source_id="P-V", at=_recently(), location=(107.05, 30.05), **ACCIDENT)
    cookie_login(client, "viewer")
    page = client.get(f"/incidents/{iid}", headers=HTML).text
    assert "您的角色不能派警" in page
    assert client.get("/units", headers=HTML).status_code == 403


def test_vendored_libraries_are_served_locally(client: TestClient) -> None:
    for path in (
        "/static/vendor/leaflet-1.9.4/leaflet.js",
        "/static/vendor/leaflet.markercluster-1.5.3/leaflet.markercluster.js",
        "/static/vendor/echarts-5.6.0/echarts.min.js",
        "/static/vendor/hls.js-1.6.2/hls.light.min.js",
        "/static/vendor/leaflet-1.9.4/LICENSE",
        "/static/js/bigscreen.js",
    ):
        assert client.get(path).status_code == 200, path


def test_bigscreen_compares_today_with_last_week_and_year(db: Database, org: Org, settings) -> None:
    now = dt.datetime(2026, 11, 18, 4, 0, tzinfo=dt.UTC)  # 12:00 in Beijing
    actor = system_actor()
    items = []
    for k, (days, minutes) in enumerate(((0, 60), (0, 30), (7, 60), (7, 300), (365, 90))):
        items.append(
            IncidentCreate(
                source_id=f"DASH-{k}",
                received_at=now - dt.timedelta(days=days, minutes=minutes),
                category="dispute",
                location={"lon": 107.05 + 0.01 * k, "lat": 30.05},
            )
        )
    # A repeat call (the same caller again): one matter, counted once, as the analysis does.
    items += [
        IncidentCreate(
            source_id=f"DASH-caller-{k}",
            received_at=now - dt.timedelta(minutes=50 - k),
            category="assistance",
            caller_phone="13800000000",
        )
        for k in range(2)
    ]
    # Last week, but after the hour of day it is now: not in the comparison.
    items.append(
        IncidentCreate(
            source_id="DASH-late",
            received_at=now - dt.timedelta(days=7) + dt.timedelta(hours=3),
            category="dispute",
            location={"lon": 107.05, "lat": 30.05},
        )
    )
    with db.session(write=True) as session:
        incidents.intake_many(session=session, actor=actor, settings=settings, items=items)
        d = figures(session=session, actor=actor, settings=settings, now=now)
    assert d["totals"] == {"today": 3, "last_week": 2, "last_year": 1}
    assert d["by_category"]["today"]["dispute"] == 2
    assert d["by_category"]["today"]["assistance"] == 1
    assert d["change"]["week"] == 50.0 and d["change"]["year"] == 200.0
    assert sum(d["hourly"]["last_week"]) == 3  # the whole day for the curve
    assert d["hourly"]["today"][11] == 3
    assert d["officers"]["on_duty"] > 0
    assert d["open_incidents"] >= 2
