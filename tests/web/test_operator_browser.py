"""The operator's loop in Chromium: a call taken by keyboard only (repeat check, routed station),
two officers sent then a reinforcement, arrival, resolution and 结警 with a result, a transfer
and a cancel with reasons from the desk's row menu, the desk and the big screen updating without
reload, a waiting call turning overdue on a moved clock, the viewer's big screen, the body
camera's dead stream; 1366×768 screenshots of the desk and the big screen in test-artifacts/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.incidents.models import Incident, IncidentAssignment
from qingzhi.live import service as live
from qingzhi.live.schemas import OfficerLiveUpdate, PositionIn
from qingzhi.org.models import Officer
from qingzhi.store.db import Database
from tests.browser import ARTIFACTS, MARKS, login, served_site
from tests.factories import add_incident

SETTINGS = Settings(database_url="sqlite://", live_poll_seconds=0.2)
SMALL = (1366, 768)

pytestmark = MARKS


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    """The app on a committed SQLite database with the test org, served on loopback."""
    with served_site(tmp_path_factory.mktemp("operator"), SETTINGS) as served:
        yield served


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _call(db: Database, source_id: str, **fields: Any) -> int:
    base: dict[str, Any] = {
        "category": "public_order",
        "subtype": "fight",
        "description": "KTV 有多人打架",
        "address": "城一社区人民路8号",
        "location": (107.04, 30.04),
        "priority": 2,
    }
    base.update(fields)
    return add_incident(db, source_id=source_id, at=base.pop("at", _now()), **base)


def _focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.name || ''"))


def _shows(page: Any, cell: str, text: str) -> None:
    """Wait until the element ``cell`` (a CSS selector) reads ``text``."""
    page.wait_for_function(
        "([s, t]) => { const e = document.querySelector(s); return e && e.textContent === t; }",
        arg=[cell, text],
        timeout=10_000,
    )


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def test_a_call_taken_by_keyboard_only_with_repeat_check_and_route(site, browser) -> None:
    url, db = site
    earlier = _call(
        db, "OP-EARLIER", caller_phone="13811112222", at=_now() - dt.timedelta(minutes=40)
    )
    page = login(browser, url, "dispatcher", "/desk", SMALL)
    page.keyboard.press("F2")
    assert _focused(page) == "caller_phone"
    page.keyboard.type("13811112222")
    page.keyboard.press("Tab")
    assert _focused(page) == "address"
    page.keyboard.type("城一社区人民路8号 KTV")
    page.keyboard.press("Tab")
    assert _focused(page) == "lon"
    page.keyboard.type("107.0401")
    page.keyboard.press("Tab")
    assert _focused(page) == "lat"
    page.keyboard.type("30.0401")
    page.keyboard.press("Tab")
    assert _focused(page) == "datum"  # stated: WGS-84 unless chosen otherwise
    page.keyboard.press("Tab")  # the map-pick button
    page.keyboard.press("Tab")
    assert _focused(page) == "category"
    page.keyboard.press("ArrowDown")  # 刑事 → 治安
    page.keyboard.press("Tab")
    assert _focused(page) == "subtype"
    page.keyboard.press("ArrowDown")  # 打架斗殴
    page.keyboard.press("Tab")
    assert _focused(page) == "priority"
    page.keyboard.press("ArrowUp")  # 3 一般 → 2 紧急
    page.keyboard.press("Tab")
    assert _focused(page) == "description"
    page.keyboard.type("KTV 包间多人打架，有人受伤")
    # The routed station and the repeat check show before the call is saved.
    page.wait_for_function(
        "() => document.querySelector('#calltake [data-route]').textContent.includes('城一派出所')",
        timeout=10_000,
    )
    page.wait_for_selector(f'#calltake [data-earlier] li[data-id="{earlier}"].repeat')
    assert "该号码近 24 小时报警" in page.locator("#calltake [data-earlier]").inner_text()
    assert "附近 2 小时内警情" in page.locator("#calltake [data-earlier]").inner_text()
    _shot(page, "operator-desk-calltaking-1366.png")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#calltake .ct-saved .flash.ok", timeout=10_000)
    assert _focused(page) == "caller_phone"  # ready for the next call
    with db.session() as s:
        inc = (
            s.execute(
                select(Incident)
                .where(Incident.caller_phone == "13811112222")
                .order_by(Incident.id.desc())
            )
            .scalars()
            .first()
        )
        assert inc is not None and inc.id != earlier
        assert (inc.category, inc.subtype, inc.priority) == ("public_order", "fight", 2)
        assert inc.repeat_of_id == earlier
        assert abs((inc.lon or 0) - 107.0401) < 1e-6 and inc.source_datum == "wgs84"
        new_id = inc.id
    # The new call reaches the desk's rows from the stream, without a reload.
    page.wait_for_selector(f'#results tr[data-id="{new_id}"]', timeout=10_000)
    assert page.errors == []
    page.context.close()


def test_two_officers_reinforcement_arrival_resolution_and_close(site, browser) -> None:
    url, db = site
    iid = _call(db, "OP-LOOP", caller_phone="13822223333", location=(107.06, 30.07))
    desk = login(browser, url, "commander", "/desk", SMALL)
    screen = login(browser, url, "commander", "/bigscreen", SMALL)
    screen.wait_for_selector("#live-state.on", timeout=5_000)
    page = login(browser, url, "dispatcher", f"/incidents/{iid}", (1600, 1000))
    page.wait_for_selector("#candidates input.pick", timeout=10_000)
    # A fight with priority 2: the first proposal is a sworn officer (民警), labelled.
    assert page.locator("#candidates tbody tr").first.get_attribute("data-kind") == "sworn"
    assert page.locator("#policy-note").is_visible()
    picks = page.locator("#candidates input.pick")
    picks.nth(0).check()
    picks.nth(1).check()
    assert page.locator("#send").inner_text() == "派出 2 名警力"
    page.click("#send")
    page.wait_for_selector("#assigned tbody tr[data-assignment] >> nth=1", timeout=10_000)
    page.wait_for_function("() => document.getElementById('status-badge').textContent === '已派警'")
    # Reinforcement: the panel stays, now 增援派警.
    page.wait_for_function(
        "() => document.getElementById('dispatch-title').textContent === '增援派警'"
    )
    page.wait_for_selector("#candidates input.pick")
    page.locator("#candidates input.pick").first.check()
    page.click("#send")
    page.wait_for_selector("#assigned tbody tr[data-assignment] >> nth=2", timeout=10_000)
    # The first unit arrives: the incident arrives.
    page.locator("#assigned button.unit-step[data-to=arrived]").first.click()
    page.wait_for_function("() => document.getElementById('status-badge').textContent === '已到场'")
    page.wait_for_selector("#steps button[data-step=resolved]")
    page.click("#steps button[data-step=resolved]")
    page.wait_for_function(
        "() => document.getElementById('status-badge').textContent === '处置完毕'"
    )
    page.wait_for_selector("#steps button[data-step=closed]")
    page.click("#steps button[data-step=closed]")
    dialog = page.locator("#step-dialog")
    assert dialog.locator("[data-need=result]").is_visible()
    assert not dialog.locator("[data-need=reason]").is_visible()  # 结警 asks only its own
    assert not dialog.locator("[data-need=unit]").is_visible()
    dialog.locator("input[name=result]").fill("双方已调解，伤者送医")
    dialog.locator("button[type=submit]").click()
    page.wait_for_function("() => document.getElementById('status-badge').textContent === '已结警'")
    page.wait_for_function(
        "() => document.getElementById('f-result').textContent === '双方已调解，伤者送医'"
    )
    # A closed incident proposes nobody and shows its three units, all cleared.
    page.wait_for_selector("#no-dispatch:not([hidden])")
    assert page.locator("#dispatch-box").is_hidden()
    statuses = page.locator("#assigned tbody tr td:nth-child(3)").all_inner_texts()
    assert statuses == ["已撤离"] * 3
    _shot(page, "operator-incident-closed.png")
    with db.session() as s:
        rows = (
            s.execute(select(IncidentAssignment).where(IncidentAssignment.incident_id == iid))
            .scalars()
            .all()
        )
        assert len(rows) == 3 and all(r.cleared_at for r in rows)
        inc = s.get(Incident, iid)
        assert inc is not None and inc.result == "双方已调解，伤者送医"
    # The desk and the big screen followed without a reload.
    _shows(desk, f'#results tr[data-id="{iid}"] td.st', "已结警")
    _shows(screen, f'#feed li[data-id="{iid}"] .st', "已结警")
    for p in (page, desk, screen):
        assert p.errors == []
        p.context.close()


def test_transfer_and_cancel_from_the_row_menu_and_a_refused_step(site, browser) -> None:
    url, db = site
    one = _call(db, "OP-TRANSFER", caller_phone="13833334444", location=(107.02, 30.08))
    two = _call(db, "OP-CANCEL", caller_phone="13844445555", location=(107.08, 30.02))
    three = _call(db, "OP-RACE", caller_phone="13855556666", location=(107.03, 30.06))
    page = login(browser, url, "dispatcher", "/desk", SMALL)
    page.wait_for_selector(f'#results tr[data-id="{one}"]')
    # 移交: asks the target unit and the reason, nothing else.
    page.click(f'#results tr[data-id="{one}"] button.row-menu')
    page.click(".row-menu-pop button[data-step=transferred]")
    dialog = page.locator("#step-dialog")
    assert (
        dialog.locator("[data-need=unit]").is_visible()
        and dialog.locator("[data-need=reason]").is_visible()
    )
    assert not dialog.locator("[data-need=result]").is_visible()
    dialog.locator("select[name=unit]").select_option("B")
    dialog.locator("input[name=reason]").fill("发生地在城二辖区")
    dialog.locator("button[type=submit]").click()
    _shows(page, f'#results tr[data-id="{one}"] td.st', "已移交")
    # 撤销 asks only the reason.
    page.click(f'#results tr[data-id="{two}"] button.row-menu')
    page.click(".row-menu-pop button[data-step=cancelled]")
    assert not dialog.locator("[data-need=unit]").is_visible()
    dialog.locator("input[name=reason]").fill("报警人称误报")
    dialog.locator("button[type=submit]").click()
    _shows(page, f'#results tr[data-id="{two}"] td.st', "已撤销")
    # A step refused by the server shows its 409's message: cancelled meanwhile elsewhere.
    page.click(f'#results tr[data-id="{three}"] button.row-menu')
    page.click(".row-menu-pop button[data-step=cancelled]")
    dialog.locator("input[name=reason]").fill("重复报警")
    r = page.context.request.post(
        f"{url}/api/incidents/{three}/transitions",
        data={"to": "resolved", "reason": "电话处置"},
        headers={"X-CSRF-Token": page.evaluate("QZ.csrf()")},
    )
    assert r.status == 200
    dialog.locator("button[type=submit]").click()
    page.wait_for_function(
        "() => document.querySelector('#step-dialog .dlg-error').textContent.includes('处置完毕')"
    )
    assert "不能从" in dialog.locator(".dlg-error").inner_text()
    with db.session() as s:
        a, b = s.get(Incident, one), s.get(Incident, two)
        assert a is not None and a.status == "transferred"
        assert b is not None and b.status == "cancelled"
    assert page.errors == []
    page.context.close()


def test_a_waiting_call_turns_overdue_and_a_new_urgent_call_alerts(site, browser) -> None:
    url, db = site
    page = login(browser, url, "dispatcher", "/desk", SMALL)
    page.wait_for_function("() => window.__qzDesk")
    page.wait_for_timeout(500)  # the stream is open
    iid = _call(db, "OP-WAIT", caller_phone="13866667777", location=(107.05, 30.03), priority=1)
    cell = f'#results tr[data-id="{iid}"] .wait'
    page.wait_for_selector(cell, timeout=10_000)
    assert "wait-ok" in (page.get_attribute(cell, "class") or "")
    # New and urgent: counted in the tab title, announced, and the alarm sounds (not muted).
    assert page.title().startswith("(1) ")
    page.wait_for_function(
        "() => document.getElementById('announcer-urgent').textContent.includes('特急')"
    )
    assert page.evaluate("window.__qzAlarms") == 1
    page.evaluate("window.__qzClockOffset = 130000")  # 2 min 10 s later: past 2/3 of 3 min
    page.wait_for_function(
        f"() => document.querySelector('{cell}').classList.contains('wait-warn')"
    )
    page.evaluate("window.__qzClockOffset = 200000")  # 3 min 20 s: overdue
    page.wait_for_function(
        f"() => document.querySelector('{cell}').classList.contains('wait-over')"
    )
    assert page.inner_text(cell).endswith("秒")  # 3分20秒
    page.evaluate("window.__qzClockOffset = 3 * 86400000 + 5 * 3600000")  # left for 3 days
    page.wait_for_function(f"() => document.querySelector('{cell}').textContent === '3天5小时'")
    _shot(page, "operator-desk-1366.png")
    page.evaluate("window.__qzClockOffset = 200000")
    # Muted, the next urgent call makes no sound; dispatched, a call leaves the unread count.
    page.click("#mute")
    _call(db, "OP-WAIT-2", caller_phone="13866667778", location=(107.05, 30.09), priority=2)
    page.wait_for_function("() => document.title.startsWith('(2) ')", timeout=10_000)
    assert page.evaluate("window.__qzAlarms") == 1
    page.click("#mute")
    page.context.close()


def test_the_viewer_big_screen_and_error_pages(site, browser) -> None:
    url, db = site
    _call(db, "OP-VIEW", caller_phone="13877778888", location=(107.05, 30.05), priority=3)
    page = login(browser, url, "viewer", "/", SMALL)
    assert page.url.endswith("/bigscreen")  # the viewer lands on the big screen
    page.wait_for_selector("#live-state.on", timeout=10_000)
    assert page.locator("#feed li").count() >= 1
    assert page.evaluate("Object.keys(window.__qz.officers.data).length") == 0
    assert page.locator("nav.main-nav a[href='/units']").count() == 0
    assert page.locator("#t-duty").inner_text().isdigit()
    # Feed items are reachable with Tab; Enter locates the call.
    page.locator("#feed li").first.focus()
    assert page.evaluate("document.activeElement.closest('#feed') !== null")
    page.keyboard.press("Enter")
    _shot(page, "operator-bigscreen-viewer-1366.png")
    assert page.errors == []
    # Pages answer errors as pages in Chinese; the API keeps JSON.
    page.goto(f"{url}/units")
    assert "无权访问" in page.content()
    page.goto(f"{url}/no-such-page")
    assert "页面不存在" in page.content()
    status = page.evaluate("fetch('/api/live/officers').then(r => r.status)")
    assert status == 403
    page.context.close()


def test_the_skip_link_and_the_body_camera_dead_stream(site, browser) -> None:
    url, db = site
    iid = _call(db, "OP-CAMERA", caller_phone="13899990000", location=(107.05, 30.06), priority=3)
    page = login(browser, url, "dispatcher", f"/incidents/{iid}", (1600, 1000))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.wait_for_selector("#candidates input.pick")
    officer = int(page.locator("#candidates input.pick").first.get_attribute("value") or 0)
    with db.session(write=True) as s:
        live.update_officer(
            session=s,
            actor=system_actor("test"),
            officer_id=officer,
            data=OfficerLiveUpdate(camera_url=f"{url}/static/no-such-stream.m3u8"),
        )
    page.locator("#candidates input.pick").first.check()
    page.click("#send")
    page.wait_for_selector("#camera-box[data-camera=dead]", timeout=20_000)
    assert "视频流无法连接" in page.locator("#camera-box .cam-dead").inner_text()
    page.context.close()


def test_the_big_screen_at_1366_by_768(site, browser) -> None:
    url, db = site
    with db.session(write=True) as s:
        officer = s.execute(select(Officer.id).where(Officer.police_number == "B001")).scalar_one()
        actor = system_actor("test")
        live.record_positions(
            session=s,
            actor=actor,
            positions=[PositionIn(officer_id=officer, lon=107.15, lat=30.05)],
        )
        live.update_officer(
            session=s,
            actor=actor,
            officer_id=officer,
            data=OfficerLiveUpdate(camera_url=f"{url}/static/gone.m3u8"),
        )
    page = login(browser, url, "commander", "/bigscreen", SMALL)
    page.wait_for_selector("#live-state.on", timeout=10_000)
    page.keyboard.press("F2")
    assert _focused(page) == "caller_phone"
    _shot(page, "operator-bigscreen-calltaking-1366.png")
    page.keyboard.press("Escape")
    assert page.locator("#calltake-panel").is_hidden()
    _shot(page, "operator-bigscreen-1366.png")
    # An officer's marker opens their body camera; a dead stream says so.
    page.evaluate("(id) => { window.__qz.officers.markers[id].fire('click'); }", officer)
    page.wait_for_selector("#camera-box[data-camera=dead]", timeout=20_000)
    assert "视频流无法连接" in page.locator("#camera-box .cam-dead").inner_text()
    assert page.errors == []
    page.context.close()
