"""Browser tests of the community pages (Debian's Chromium): on a phone-sized viewport a zone
officer logs a visit in two taps and text, opens a dispute from its finding, records a
mediation session with a package, settles it and sees the follow-up due on the zone board;
the zone board for a station chief. Screenshots in test-artifacts/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from qingzhi.config import Settings
from qingzhi.store.db import Database
from tests.browser import ARTIFACTS, MARKS, login, served_site
from tests.community.conftest import set_up_community

pytestmark = MARKS
SETTINGS = Settings(database_url="sqlite://")
PHONE = (390, 844)
BEIJING = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    """The app with the test org and A's two zones and zone officers."""
    with served_site(tmp_path_factory.mktemp("community"), SETTINGS) as (url, db):
        with db.session(write=True) as session:
            set_up_community(session)
        yield url, db


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_a_visit_finding_opens_a_task_on_a_phone(site, browser) -> None:
    url, _ = site
    page = login(browser, url, "chief_a", "/community/visit", size=PHONE)
    page.click(".cm-choices[data-name=zone_id] .cm-choice:has-text('城一二片区')")
    page.click(".cm-choices[data-name=purpose] .cm-choice:has-text('宣传防范')")
    page.fill("textarea[name=findings]", "小区东门监控损坏，夜间无照明")
    page.click("button.cm-submit")
    page.wait_for_selector("#visit-done:not([hidden])")
    page.click("#open-task")
    page.wait_for_selector("#v-task:not([hidden])")
    assert "3 天内" in page.inner_text("#v-task")
    _shot(page, "community-visit-task-phone.png")
    page.click("#v-task-link")
    page.wait_for_url("**/tasks/*")
    page.wait_for_selector("text=走访发现：小区东门监控损坏")
    _shot(page, "community-visit-task-page.png")
    assert page.errors == []


def test_visit_dispute_mediation_settlement_follow_up_on_a_phone(site, browser) -> None:
    url, _ = site
    page = login(browser, url, "cop_a1", "/community/visit", size=PHONE)
    # Two taps (the officer's own zone is preselected; tap it anyway) and text.
    page.click(".cm-choices[data-name=zone_id] .cm-choice:has-text('城一一片区')")
    page.click(".cm-choices[data-name=purpose] .cm-choice:has-text('矛盾摸排')")
    page.fill("textarea[name=notes]", "走访人民路12号住户，了解邻里情况")
    page.fill("textarea[name=findings]", "楼上楼下因漏水争执，情绪激动")
    assert page.locator(".cm-outside").is_hidden()
    _shot(page, "community-visit-form-phone.png")
    page.click("button.cm-submit")
    page.wait_for_selector("#visit-done:not([hidden])")
    assert "城一一片区" in page.inner_text("#v-summary")
    _shot(page, "community-visit-done-phone.png")
    page.click("#open-dispute")
    page.wait_for_url("**/community/disputes/*")
    page.wait_for_selector("body[data-ready]")
    assert "已登记" in page.inner_text("#d-status")
    # A mediation session with a package, started a few minutes ago.
    now = dt.datetime.now(BEIJING)
    start, end = now - dt.timedelta(minutes=4), now - dt.timedelta(minutes=1)
    page.select_option("select[name=package]", "police_grid")
    page.fill("input[name=participants]", "社区民警、网格员刘芳")
    page.fill("input[name=started_at]", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=ended_at]", end.strftime("%Y-%m-%dT%H:%M"))
    page.fill("textarea[name=agreement]", "楼上住户负责维修，双方和解")
    page.click("#session-form button[type=submit]")
    page.wait_for_selector("#sessions td:has-text('民警+网格员')")
    page.wait_for_selector("body[data-ready]")
    assert "调解中" in page.inner_text("#d-status")
    # Settle it with the follow-up today: it is due.
    page.select_option("select[name=to]", "settled")
    page.fill("input[name=follow_up_due]", now.strftime("%Y-%m-%d"))
    page.click("#transition-form button[type=submit]")
    page.wait_for_selector("#d-status:has-text('调解成功')")
    assert now.strftime("%Y-%m-%d") in page.inner_text("#d-follow")
    _shot(page, "community-dispute-settled-phone.png")
    page.goto(f"{url}/community")
    page.wait_for_selector("body[data-ready]")
    due = page.inner_text("#due")
    assert "邻里" in due or "其他" in due
    assert page.errors == []
    _shot(page, "community-board-phone.png")


def test_zone_board_for_a_station_chief(site, browser) -> None:
    url, _ = site
    page = login(browser, url, "chief_a", "/community")
    rows = page.locator("#zones tbody tr")
    assert rows.count() == 2
    assert "城一二片区" in page.inner_text("#zones")
    page.wait_for_selector("#map path.leaflet-interactive")
    assert page.locator("#map path.leaflet-interactive").count() >= 2
    assert page.errors == []
    _shot(page, "community-board.png")
    page.goto(f"{url}/community/disputes")
    page.wait_for_selector("body[data-ready]")
    _shot(page, "community-desk.png")
