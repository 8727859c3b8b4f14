"""Browser tests of 督办 and 快侦快办 (Chromium headless): issue a task from an incident in one
click, accept and report as the owner with an attachment, see it overdue in red on the
superior's board (the central station's), verify it; open a case from an incident and build its
team. Screenshots in test-artifacts/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from qingzhi.auth import service as auth
from qingzhi.auth.context import system_actor
from qingzhi.auth.permissions import Role
from qingzhi.config import Settings
from qingzhi.store.db import Database
from qingzhi.tasks import notices, service
from qingzhi.tasks.models import Task
from qingzhi.tasks.schemas import TaskCreate
from tests.browser import ARTIFACTS, MARKS, login, served_site
from tests.factories import PASSWORD, add_incident
from tests.helpers import user_actor
from tests.tasks.helpers import Units

pytestmark = MARKS


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    tmp = tmp_path_factory.mktemp("tasks-browser")
    settings = Settings(database_url="sqlite://", live_poll_seconds=0.2, data_dir=tmp / "data")
    with served_site(tmp, settings) as (url, db):
        with db.session(write=True) as session:
            auth.create_user(
                session=session,
                actor=system_actor("test"),
                username="chief_r1",
                password=PASSWORD,
                role=Role.station_chief,
                unit_code="R1",
            )
        yield url, db


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def test_issue_accept_report_overdue_on_the_superiors_board_verify(
    site: tuple[str, Database], browser: object, tmp_path: Path
) -> None:
    url, db = site
    iid = add_incident(
        db,
        source_id="BR-TASK-1",
        at=_now() - dt.timedelta(hours=1),
        category="criminal",
        subtype="burglary",
        address="甲镇老街 8 号",
        location=(107.05, 30.15),  # in R1, handled by its central station C
    )
    # The command centre issues from the incident page in one click, to the territorial station
    # (R1, whose calls its central station C handles).
    page = login(browser, url, "commander", f"/incidents/{iid}", (1600, 1000))
    page.click("#issue-task")
    page.wait_for_url("**/tasks/*")
    page.wait_for_selector("body[data-ready]")
    assert page.locator("#task-status").inner_text() == "已下发"
    task_id = int(page.url.rsplit("/", 1)[1])
    assert "警情" in page.locator(".facts").inner_text()
    assert "甲镇派出所" in page.locator(".facts").inner_text()  # the territorial station
    page.context.close()
    with db.session(write=True) as session:  # the clock moves on: due within 24 h
        task = session.get(Task, task_id)
        assert task is not None
        task.deadline = _now() + dt.timedelta(hours=10)  # due within 24 h: counted in the nav

    # The owner (R1's chief) sees it counted in the navigation, accepts and reports.
    owner = login(browser, url, "chief_r1", "/tasks", (1600, 1000))
    owner.wait_for_function(
        "() => document.getElementById('task-count').textContent === '1'", timeout=10_000
    )
    owner.click(f'#tasks a[href="/tasks/{task_id}"]')
    owner.wait_for_selector("body[data-ready]")
    owner.click('button.step[data-to="accepted"]')
    owner.wait_for_function("() => document.getElementById('task-status').textContent === '已签收'")
    owner.wait_for_selector("body[data-ready]")
    owner.click('button.step[data-to="in_progress"]')
    owner.wait_for_function("() => document.getElementById('task-status').textContent === '办理中'")
    owner.wait_for_selector("#report-form")
    evidence = tmp_path / "走访记录.txt"
    evidence.write_text("已走访老街商户 12 家，调取监控 3 处。\n", encoding="utf-8")
    owner.fill('#report-form [name="text"]', "已走访商户，调取监控")
    owner.set_input_files('#report-form [name="file"]', str(evidence))
    owner.click("#report-form button[type=submit]")
    owner.wait_for_selector("a.attachment")
    assert "走访记录.txt" in owner.locator("#reports").inner_text()
    download = owner.request.get(url + owner.locator("a.attachment").get_attribute("href"))
    assert download.status == 200 and "调取监控" in download.text()
    ARTIFACTS.mkdir(exist_ok=True)
    owner.screenshot(path=str(ARTIFACTS / "browser-task-owner.png"), full_page=True)

    # The deadline passes (moved back, as the clock would): on the central station's board.
    with db.session(write=True) as session:
        task = session.get(Task, task_id)
        assert task is not None
        task.deadline = _now() - dt.timedelta(hours=2)
    superior = login(browser, url, "chief_c", "/tasks", (1600, 1000))
    row = superior.locator(f'#escalated tr.overdue:has(a[href="/tasks/{task_id}"])')
    assert row.count() == 1 and "甲乙中心派出所" in row.inner_text()
    red = superior.locator(f'#tasks tr.overdue[data-id="{task_id}"]')
    assert red.count() == 1 and "逾期" in red.inner_text()
    colour = red.locator("td").first.evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(255, 77, 94)"  # --danger
    superior.screenshot(path=str(ARTIFACTS / "browser-task-overdue-board.png"), full_page=True)
    superior.context.close()

    # The owner submits; the issuer verifies.
    owner.reload()
    owner.wait_for_selector("body[data-ready]")
    owner.fill("#step-note", "走访完毕，已落实巡防")
    owner.click('button.step[data-to="submitted"]')
    owner.wait_for_function("() => document.getElementById('task-status').textContent === '已提交'")
    owner.context.close()
    issuer = login(browser, url, "commander", f"/tasks/{task_id}", (1600, 1000))
    issuer.click('button.step[data-to="verified"]')
    issuer.wait_for_function(
        "() => document.getElementById('task-status').textContent === '已核销'"
    )
    issuer.wait_for_selector("body[data-ready]")
    timeline = issuer.locator("#timeline").inner_text()
    for word in ("已下发", "已签收", "办理中", "反馈进展", "上传附件", "已提交", "已核销"):
        assert word in timeline
    assert issuer.errors == []
    issuer.screenshot(path=str(ARTIFACTS / "browser-task-verified.png"), full_page=True)
    issuer.context.close()


def test_open_a_case_from_an_incident_and_build_its_team(
    site: tuple[str, Database], browser: object
) -> None:
    url, db = site
    iid = add_incident(
        db,
        source_id="BR-CASE-1",
        at=_now() - dt.timedelta(hours=2),
        category="criminal",
        subtype="burglary",
        address="城一社区人民路 20 号",
        location=(107.04, 30.04),
    )
    page = login(browser, url, "chief_a", f"/incidents/{iid}", (1600, 1000))
    page.click("#open-case")
    page.wait_for_url("**/cases/*")
    page.wait_for_selector("body[data-ready]")
    assert "侦查中" in page.locator("#case-status").inner_text()
    assert "BR-CASE-1" in page.locator(".incident-grid").inner_text()
    for unit, role in (("城一派出所", "lead"), ("情指中心", "member"), ("城二派出所", "member")):
        page.select_option('#team-form [name="unit_id"]', label=unit)
        page.select_option('#team-form [name="role"]', role)
        page.click("#team-form button[type=submit]")
        page.wait_for_function(
            "(u) => document.getElementById('team').textContent.includes(u)", arg=unit
        )
        page.wait_for_selector("body[data-ready]")
    team = page.locator("#team").inner_text()
    assert "主办" in team and team.count("协办") == 2
    page.fill("#note-form textarea", "会商研判：调取周边监控")
    page.click("#note-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('notes').textContent.includes('会商')")
    page.wait_for_selector("body[data-ready]")
    page.click("#case-task")
    page.wait_for_url("**/tasks/*")
    page.wait_for_selector("body[data-ready]")
    assert "案件" in page.locator(".facts").inner_text()
    page.go_back()
    page.wait_for_selector("body[data-ready]")
    page.reload()
    page.wait_for_selector("body[data-ready]")
    assert "快侦快办" in page.locator("#case-tasks").inner_text()
    assert page.errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-case-room.png"), full_page=True)
    rates = login(browser, url, "chief_a", "/cases", (1600, 1000))
    assert "快破率（72小时）" in rates.locator("#rates").inner_text()
    rates.screenshot(path=str(ARTIFACTS / "browser-case-rates.png"), full_page=True)
    rates.context.close()
    page.context.close()


def test_a_special_operation_from_a_hotspot_and_its_page(
    site: tuple[str, Database], browser: object
) -> None:
    """The board's form opened from a hot cell (as the map's popup opens it: source and the
    hotspot's cells) issues a special operation; its page shows the area and its ring on the
    map and the counts before and during with the test."""
    url, db = site
    today = (_now() + dt.timedelta(hours=8)).date()  # Beijing
    noon = dt.datetime.combine(today, dt.time(4, 0), tzinfo=dt.UTC)  # 12:00 Beijing
    spots = [
        (107.023, 30.023),
        (107.027, 30.027),
        (107.031, 30.023),
        (107.035, 30.027),
        (107.023, 30.031),
    ]
    for i, where in enumerate(spots):  # before: 5 in the area
        add_incident(
            db, at=noon - dt.timedelta(days=9 + i), location=where, category="public_order"
        )
    add_incident(
        db, at=noon - dt.timedelta(days=2), location=(107.03, 30.03), category="public_order"
    )
    for i in range(2):  # during: 2 in the ring (about 330 m north of the area)
        add_incident(
            db,
            at=noon - dt.timedelta(days=1 + 2 * i),
            location=(107.03 + 0.004 * i, 30.043),
            category="public_order",
        )
    cells = [
        {
            "type": "Polygon",
            "coordinates": [
                [[x, 30.02], [x + 0.01, 30.02], [x + 0.01, 30.04], [x, 30.04], [x, 30.02]]
            ],
        }
        for x in (107.02, 107.03)
    ]
    page = login(browser, url, "commander", "/tasks", (1600, 1000))
    page.evaluate(
        "(a) => sessionStorage.setItem('qz.task.area', JSON.stringify(a))", {"cells": cells}
    )
    ref = f"{today.isoformat()}/300/4242"
    page.goto(
        f"{url}/tasks?source_kind=hotspot&source_ref={ref}&title=人民路治安乱点查处专项行动&operation=1"
    )
    page.wait_for_selector("body[data-ready]")
    assert page.locator('#issue-form [name="operation"]').is_checked()
    assert "治安乱点 2 个网格" in page.locator("#operation-area").inner_text()
    assert ref in page.locator("#issue-source").inner_text()
    page.fill('#issue-form [name="starts_on"]', (today - dt.timedelta(days=6)).isoformat())
    page.fill('#issue-form [name="ends_on"]', (today + dt.timedelta(days=7)).isoformat())
    page.click("#issue-form button[type=submit]")
    page.wait_for_url("**/tasks/*")
    page.wait_for_selector("body[data-ready]")
    assert (
        "治安乱点" in page.locator(".facts").inner_text()
        and ref in page.locator(".facts").inner_text()
    )
    periods = page.locator("#op-periods tbody tr")
    assert periods.count() == 3
    before = page.locator('#op-periods tr[data-period="before"] td').all_inner_texts()
    during = page.locator('#op-periods tr[data-period="during"] td').all_inner_texts()
    assert (before[3], before[5]) == ("5", "0")  # area, ring
    assert (during[3], during[5]) == ("1", "2")
    assert page.locator('#op-tests tr[data-test="area_during"]').count() == 1
    assert "转移检验" in page.locator("#op-displacement").inner_text()
    assert "划定专项行动区域与行动期" in page.locator("#timeline").inner_text()
    assert page.errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-task-operation.png"), full_page=True)
    page.context.close()


def test_a_special_operation_over_a_polygon_drawn_on_the_map(
    site: tuple[str, Database], browser: object
) -> None:
    """On the board, 专项行动 shows a small map: four clicks draw the area, one is undone and
    drawn again; the operation's page shows it."""
    url, _ = site
    page = login(browser, url, "commander", "/tasks", (1600, 1000))
    page.fill('#issue-form [name="title"]', "城一辖区夜市专项整治")
    page.check('#issue-form [name="operation"]')
    page.wait_for_selector("#draw-map.leaflet-container")
    box = page.locator("#draw-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    corners = [(-60, -40), (60, -40), (60, 40), (-60, 40)]
    for dx, dy in corners:
        page.mouse.click(cx + dx, cy + dy)
    page.click("#draw-undo")
    assert "已绘制 3 个顶点" in page.locator("#operation-area").inner_text()
    page.mouse.click(cx - 60, cy + 40)
    assert "已绘制 4 个顶点" in page.locator("#operation-area").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#issue-panel").screenshot(path=str(ARTIFACTS / "browser-task-draw-area.png"))
    page.click("#issue-form button[type=submit]")
    page.wait_for_url("**/tasks/*")
    page.wait_for_selector("body[data-ready]")
    assert page.locator("#op-periods tbody tr").count() == 3
    assert "区域面积" in page.locator("#op-summary").inner_text()
    assert page.errors == []
    page.context.close()


def test_the_owners_count_updates_without_a_reload_when_a_task_falls_due(
    site: tuple[str, Database], browser: object
) -> None:
    """The deadline comes within 24 h while the owner's board is open: the scheduler's notice
    (``tasks.notices.run``) reaches the page over the live stream and the navigation counts it
    — the page's own minute timer has not run."""
    url, db = site
    notices.run(db)  # earlier tests' tasks: announced now, not during this test
    owner = login(browser, url, "chief_r1", "/tasks", (1600, 1000))
    owner.wait_for_selector("body[data-ready]")
    before = owner.evaluate("() => document.getElementById('task-count').textContent")
    with db.session(write=True) as session:
        body = TaskCreate.model_validate(
            {
                "title": "老街夜巡",
                "owner_unit_id": Units(session).id("R1"),
                "deadline": (_now() + dt.timedelta(hours=30)).isoformat(),
            }
        )
        task = service.create(session=session, actor=user_actor(session, "commander"), body=body)
        task_id = task.id
    owner.wait_for_selector(f'#tasks tr[data-id="{task_id}"]')  # the issue event reloads the board
    with db.session(write=True) as session:  # the clock moves on (no event of its own)
        row = session.get(Task, task_id)
        assert row is not None
        row.deadline = _now() + dt.timedelta(hours=20)
    assert owner.evaluate("() => document.getElementById('task-count').textContent") == before
    assert notices.run(db) == [(task_id, "due_soon")]
    expected = str(int(before or "0") + 1)
    owner.wait_for_function(
        "(n) => document.getElementById('task-count').textContent === n",
        arg=expected,
        timeout=10_000,
    )
    assert owner.errors == []
    owner.context.close()
