"""Browser tests: Debian's Chromium, headless, driven by Playwright, no network beyond loopback.

Skipped with a reason when /usr/bin/chromium is missing. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from qingzhi.config import Settings
from qingzhi.live.models import OfficerLive
from qingzhi.store.db import Database
from tests.browser import ARTIFACTS, MARKS, dispute_call, login, served_site, take_in
from tests.factories import PASSWORD, add_incident

SETTINGS = Settings(database_url="sqlite://", live_poll_seconds=0.2)

pytestmark = MARKS


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    """The app on a committed SQLite database with the test org, served on loopback."""
    with served_site(tmp_path_factory.mktemp("browser"), SETTINGS) as served:
        yield served


# a fight reported just now (the big screen shows today's calls)
FIGHT = {
    "category": "public_order",
    "subtype": "fight",
    "description": "两名男子在烧烤店门口打架",
    "address": "城一社区人民路12号",
    "caller_phone": "13812345678",
    "priority": 2,
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def test_login_and_the_map_shows_the_jurisdictions(site, browser) -> None:
    url, _ = site
    page = login(browser, url, "commander", "/bigscreen")
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


def test_a_new_incident_appears_on_the_big_screen(site, browser) -> None:
    # How soon is measured by bench/ui_load.py; the deadline tells "never" from "slow".
    url, db = site
    page = login(browser, url, "dispatcher", "/bigscreen")
    page.wait_for_selector("#live-state.on", timeout=5_000)
    iid = add_incident(db, source_id="BR-NEW-1", at=_now(), location=(107.05, 30.05), **FIGHT)
    page.wait_for_function("(id) => window.__qz && window.__qz.seen[id]", arg=iid, timeout=20_000)
    assert page.locator(f'#feed li[data-id="{iid}"]').count() == 1
    page.context.close()


def test_dispatch_from_the_incident_page(site, browser) -> None:
    url, db = site
    iid = add_incident(db, source_id="BR-DISPATCH-1", at=_now(), location=(107.06, 30.06), **FIGHT)
    page = login(browser, url, "dispatcher", f"/incidents/{iid}", (1600, 1000))
    assert page.locator("h1").inner_text().startswith("治安")
    page.wait_for_selector("#candidates input.pick", timeout=5_000)
    officer_id = int(page.locator("#candidates input.pick").first.get_attribute("value"))
    page.locator("#candidates input.pick").first.check()
    page.click("#send")
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
    theirs = add_incident(db, source_id="BR-CHIEF-A", at=_now(), location=(107.04, 30.04), **FIGHT)
    other = add_incident(db, source_id="BR-CHIEF-B", at=_now(), location=(107.15, 30.05), **FIGHT)
    page = login(browser, url, "chief_a", "/bigscreen")
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
    page = login(browser, url, "dispatcher", "/bigscreen")
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
        items.append(dispute_call(f"BR-HIST-{i}", f"{day.isoformat()}T10:00:00+08:00", lon, lat, i))
    for i in range(8):
        day = today - dt.timedelta(days=2 - i % 2)
        at = f"{day.isoformat()}T{2 + 3 * (i // 2):02d}:00:00+08:00"
        items.append(dispute_call(f"BR-BURST-{i}", at, 107.09 + 0.0002 * (i % 2), 30.09, 500 + i))
    take_in(db, SETTINGS, items)
    page = login(browser, url, "commander", "/bigscreen")
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
    page = login(browser, url, "aux_a", "/bigscreen")
    page.wait_for_selector("body[data-analysis]", timeout=30_000)
    assert page.locator("#legend-warn").is_hidden()
    assert page.locator(".leaflet-control-layers-overlays label", has_text="预警").count() == 0
    assert page.locator(".leaflet-control-layers-overlays label", has_text="明日预测").count() == 0
    assert page.errors == []
    page.context.close()


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


def test_a_link_opens_the_desk_with_its_filters(site, browser) -> None:
    """A brief's table rows link to the desk with their filters: the form is filled from the
    query string and the first query uses it."""
    url, _ = site
    target = quote("/desk?category=public_order&valid=false", safe="/")
    page = login(browser, url, "commander", target)
    assert page.is_checked("input[name=category][value=public_order]")
    assert not page.is_checked("input[name=category][value=criminal]")
    assert page.input_value("select[name=valid]") == "false"
    assert page.errors == []
    page.context.close()
