"""Browser tests: Debian's Chromium, headless, driven by Playwright, no network beyond loopback.

Skipped with a reason when /usr/bin/chromium is missing. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.incidents import intake as incidents
from qingzhi.incidents.schemas import IncidentCreate
from qingzhi.live.models import OfficerLive
from qingzhi.store.db import Database
from tests.factories import PASSWORD, build_org
from tests.live.server import committed_database, serve

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SETTINGS = Settings(database_url="sqlite://", live_poll_seconds=0.2)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is missing"
    ),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    """The app on a committed SQLite database with the test org, served on loopback."""
    with committed_database("sqlite", tmp_path_factory.mktemp("browser"), None) as db:
        with db.session(write=True) as session:
            build_org(session)
        with serve(db, SETTINGS) as url:
            yield url, db


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _login(
    browser: Any, url: str, username: str, target: str, size: tuple[int, int] = (1920, 1080)
) -> Any:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/login?next={target}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready]", timeout=15_000)
    page.errors = errors
    return page


def _intake(db: Database, source_id: str, lon: float, lat: float) -> int:
    with db.session(write=True) as session:
        inc, _ = incidents.intake(
            session=session,
            actor=system_actor("110"),
            settings=SETTINGS,
            item=IncidentCreate(
                source_id=source_id,
                received_at=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                category="public_order",
                subtype="fight",
                description="两名男子在烧烤店门口打架",
                address="城一社区人民路12号",
                caller_phone="13812345678",
                location={"lon": lon, "lat": lat},
                priority=2,
            ),
        )
    return inc.id


def test_login_and_the_map_shows_the_jurisdictions(site, browser) -> None:
    url, _ = site
    page = _login(browser, url, "commander", "/bigscreen")
    assert "指挥大屏" in page.title()
    labels = page.locator(".leaflet-tooltip.unit-label").all_inner_texts()
    assert sorted(labels) == sorted(["城一", "城二", "甲镇", "乙镇", "丙镇"])
    assert page.locator(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas").count() > 0
    assert page.locator("#t-duty").inner_text().isdigit()
    assert page.locator("#chart-cat canvas").count() == 1
    assert page.errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-bigscreen.png"))
    page.context.close()


def test_a_new_incident_appears_within_two_seconds(site, browser) -> None:
    url, db = site
    page = _login(browser, url, "dispatcher", "/bigscreen")
    page.wait_for_selector("#live-state.on", timeout=5_000)
    t0 = time.monotonic()
    iid = _intake(db, "BR-NEW-1", 107.05, 30.05)
    page.wait_for_function("(id) => window.__qz && window.__qz.seen[id]", arg=iid, timeout=2_000)
    assert time.monotonic() - t0 < 2.0
    assert page.locator(f'#feed li[data-id="{iid}"]').count() == 1
    page.context.close()


def test_dispatch_from_the_incident_page(site, browser) -> None:
    url, db = site
    iid = _intake(db, "BR-DISPATCH-1", 107.06, 30.06)
    page = _login(browser, url, "dispatcher", f"/incidents/{iid}", (1600, 1000))
    assert page.locator("h1").inner_text().startswith("治安")
    page.wait_for_selector("button.dispatch", timeout=5_000)
    officer_id = int(page.locator("button.dispatch").first.get_attribute("data-officer"))
    page.locator("button.dispatch").first.click()
    page.wait_for_function(
        "() => document.getElementById('status-badge').textContent.trim() === '已派警'",
        timeout=5_000,
    )
    page.wait_for_selector(".flash.ok", timeout=5_000)
    with db.session() as session:
        live = session.get(OfficerLive, officer_id)
        assert live is not None and (live.status, live.incident_id) == ("dispatched", iid)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-incident.png"), full_page=True)
    page.context.close()


def test_a_station_chief_sees_only_their_own_area(site, browser) -> None:
    url, db = site
    theirs = _intake(db, "BR-CHIEF-A", 107.04, 30.04)
    other = _intake(db, "BR-CHIEF-B", 107.15, 30.05)
    page = _login(browser, url, "chief_a", "/bigscreen")
    labels = page.locator(".leaflet-tooltip.unit-label").all_inner_texts()
    assert labels == ["城一"]
    shown = page.evaluate("Object.keys(window.__qz.incidents.markers()).map(Number)")
    assert theirs in shown and other not in shown
    units = page.evaluate(
        "Array.from(new Set(Object.values(window.__qz.officers.data).map(o => o.unit)))"
    )
    assert units == ["城一派出所"]
    page.goto(f"{url}/incidents/{other}")
    assert "不存在" in page.content() or "not_found" in page.content()
    page.context.close()


def test_unauthenticated_and_cross_site_requests_are_refused(site, browser) -> None:
    url, _ = site
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/bigscreen")
    assert page.url.startswith(f"{url}/login")
    status = page.evaluate("fetch('/api/live/incidents').then(r => r.status)")
    assert status == 401
    context.close()
    page = _login(browser, url, "dispatcher", "/bigscreen")
    token = page.evaluate("document.querySelector('meta[name=csrf-token]').content")
    r = page.context.request.post(
        f"{url}/api/dispatch/incidents/1",
        data={"officer_ids": [1]},
        headers={"Origin": "http://evil.example", "X-CSRF-Token": token},
    )
    assert r.status == 403
    assert r.json()["error"]["code"] == "csrf_failed"
    page.context.close()


def test_the_map_shows_a_warning_where_calls_cluster(site, browser) -> None:
    # A hundred days of scattered calls over station A (each at a new place), then eight calls
    # in the last two days at one spot: the scan's cluster and its legend show on the big screen.
    url, db = site
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    items = []
    for i in range(120):
        day = today - dt.timedelta(days=100 - i % 100)
        lon, lat = 107.01 + 0.006 * (i % 12), 30.01 + 0.006 * (i // 12 % 12)
        items.append(_call(f"BR-HIST-{i}", f"{day.isoformat()}T10:00:00+08:00", lon, lat, i))
    for i in range(8):
        day = today - dt.timedelta(days=2 - i % 2)
        at = f"{day.isoformat()}T{2 + 3 * (i // 2):02d}:00:00+08:00"
        items.append(_call(f"BR-BURST-{i}", at, 107.09 + 0.0002 * (i % 2), 30.09, 500 + i))
    with db.session(write=True) as session:
        incidents.intake_many(
            session=session, actor=system_actor("110"), settings=SETTINGS, items=items
        )
    page = _login(browser, url, "commander", "/bigscreen")
    page.wait_for_selector("body[data-analysis]", timeout=30_000)
    assert page.locator("#legend-warn").is_visible()
    assert page.locator("#legend-warn-note").inner_text().startswith("时空聚集 1 处")
    page.hover(".leaflet-control-layers")
    assert "预警" in page.locator(".leaflet-control-layers-overlays").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-warning.png"))
    # the forecast is fetched when its overlay is switched on
    page.locator(".leaflet-control-layers-overlays label", has_text="明日预测").click()
    page.wait_for_selector("#legend-forecast:not([hidden])", timeout=30_000)
    assert page.errors == []
    page.context.close()
    # an auxiliary may not read analysis: the same map without its layers
    page = _login(browser, url, "aux_a", "/bigscreen")
    page.wait_for_selector("body[data-analysis]", timeout=30_000)
    assert page.locator("#legend-warn").is_hidden()
    assert page.locator(".leaflet-control-layers-overlays label", has_text="预警").count() == 0
    assert page.locator(".leaflet-control-layers-overlays label", has_text="明日预测").count() == 0
    assert page.errors == []
    page.context.close()


def _call(source_id: str, at: str, lon: float, lat: float, n: int) -> IncidentCreate:
    return IncidentCreate(
        source_id=source_id,
        received_at=at,
        category="dispute",
        subtype="neighbour_dispute",
        description="邻里纠纷",
        address="城一社区",
        caller_phone=f"139{n:08d}",
        location={"lon": lon, "lat": lat},
        priority=3,
    )


def test_api_docs_render_under_the_csp(site, browser) -> None:
    """Vendored Swagger UI lists the operations with no CSP violation and no request leaving
    the server (it would fail: no network beyond loopback)."""
    url, _ = site
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" else None,
    )
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(url) else outside.append(r.url))
    page.goto(f"{url}/api/docs")
    assert "/login" in page.url  # behind login
    page.fill("input[name=username]", "analyst")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".opblock-summary", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/incidents" in p for p in paths)
    assert any("/ogc/collections/incidents/items" in p for p in paths)
    assert problems == [] and outside == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-apidocs.png"))
    context.close()
