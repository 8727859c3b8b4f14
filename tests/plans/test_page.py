"""The planning page in Chromium: plans side by side on maps, the moves, response-time
distributions and road km (ECharts), a run started from the page, an admin's decision.
Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qingzhi.config import Settings
from qingzhi.store.db import Database
from tests.browser import MARKS, login, served_site
from tests.plans.data import computed_plan, load_calls

pytestmark = MARKS
SETTINGS = Settings(database_url="sqlite://")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Database, dict[str, int]]]:
    """The test org with four weeks of calls and one plan of each kind, served on loopback."""
    with served_site(tmp_path_factory.mktemp("planning"), SETTINGS) as (url, db):
        load_calls(db)
        ids = {
            kind: computed_plan(db, SETTINGS, {"kind": kind, "title": f"测试{kind}"})
            for kind in ("roads", "simulate", "allocate", "bundle")
        }
        yield url, db, ids


def _open(page: Any, plan_id: int) -> None:
    page.click(f"#plan-list tr[data-id='{plan_id}']")
    page.wait_for_selector("#plan-title:has-text('测试')", timeout=10_000)


def test_plans_side_by_side(site: Any, browser: Any) -> None:
    url, _, ids = site
    ARTIFACTS.mkdir(exist_ok=True)
    page = login(browser, url, "analyst", "/planning")
    page.wait_for_selector("#plan-list tbody tr", timeout=15_000)
    assert page.locator("#plan-list tbody tr").count() == 4
    assert page.locator("nav.main-nav a[href='/planning']").count() == 1
    # the newest (the bundling) is shown first: three maps with the jurisdictions drawn
    page.wait_for_selector(".plan-maps .leaflet-container path.leaflet-interactive", timeout=15_000)
    assert page.locator(".plan-maps .small-map").count() == 3
    assert page.locator(".plan-maps .leaflet-container path.leaflet-interactive").count() == 15
    assert "优化方案" in page.locator("#plan-body").inner_text()
    page.screenshot(path=str(ARTIFACTS / "planning-bundle.png"), full_page=True)
    _open(page, ids["allocate"])
    page.wait_for_selector("#alloc-chart canvas", timeout=10_000)
    assert "平均出警时间" in page.locator("#plan-body").inner_text()
    page.screenshot(path=str(ARTIFACTS / "planning-allocate.png"), full_page=True)
    _open(page, ids["simulate"])
    page.wait_for_selector("#sim-chart canvas", timeout=10_000)
    text = page.locator("#plan-body").inner_text()
    assert "现行捆绑" in text and "模型校验" in text
    page.screenshot(path=str(ARTIFACTS / "planning-simulate.png"), full_page=True)
    _open(page, ids["roads"])
    page.wait_for_selector("#roads-chart canvas", timeout=10_000)
    assert "合成道路骨架" in page.locator("#plan-body").inner_text()
    page.screenshot(path=str(ARTIFACTS / "planning-roads.png"), full_page=True)
    assert page.errors == []
    page.context.close()


def test_a_run_from_the_page_and_an_admins_decision(site: Any, browser: Any) -> None:
    url, _, _ = site
    page = login(browser, url, "admin", "/planning")
    page.wait_for_selector("#plan-list tbody tr", timeout=15_000)
    page.select_option("select[name=kind]", "bundle")
    page.fill("input[name=title]", "页面测算")
    page.click("#run-form button[type=submit]")
    page.wait_for_selector("#run-state:has-text('完成')", timeout=60_000)
    page.wait_for_selector("#plan-title:has-text('页面测算')", timeout=10_000)
    page.fill("#decision-note", "周会商同意")
    page.click("#plan-decide button[data-decision=applied]")
    page.wait_for_selector("#plan-title:has-text('已采纳')", timeout=10_000)
    assert "周会商同意" in page.locator("#plan-meta").inner_text()
    assert page.locator("#plan-decide").is_hidden()
    page.screenshot(path=str(ARTIFACTS / "planning-decided.png"), full_page=True)
    assert page.errors == []
    page.context.close()


def test_a_station_chief_sees_no_bureau_plans(site: Any, browser: Any) -> None:
    url, _, _ = site
    page = login(browser, url, "chief_a", "/planning")
    page.wait_for_selector("#plan-empty:not([hidden])", timeout=15_000)
    assert page.locator("#plan-list tbody tr").count() == 0
    assert page.locator("#run-form").count() == 0
    page.context.close()
