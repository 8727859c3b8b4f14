"""The scorecard and the impact page in Debian's Chromium: an analyst sees every station with
intervals and a station's breakdown with its trend over quarters, evaluates the reform and reads
its caveats; a station chief sees the station's own breakdown and trend only (no ranks), and no
impact section."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.kpi import service
from qingzhi.kpi.schemas import ReformCreate
from qingzhi.store.db import Database
from tests.browser import ARTIFACTS, MARKS, login, served_site
from tests.factories import incident_item

pytestmark = MARKS
SETTINGS = Settings(database_url="sqlite://")
LOCAL = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    """A year of calls (2025) over the five stations, the bundled two halved from July."""
    rng = np.random.default_rng(3)
    calls = []
    for month in range(1, 13):
        for code in ("A", "B", "R1", "R2", "S"):
            n = int(rng.poisson(10 if code in ("R1", "R2") and month >= 7 else 20))
            for k in range(n):
                day = 1 + round(k * 27 / max(n - 1, 1))
                at = dt.datetime(2025, month, day, 9, tzinfo=LOCAL)
                calls.append(incident_item(at=at, category="public_order", unit=code))
    with served_site(tmp_path_factory.mktemp("kpi"), SETTINGS, calls) as (url, db):
        with db.session(write=True) as session:
            service.create_reform(
                session=session,
                actor=system_actor(),
                data=ReformCreate(
                    name="捆绑运行", kind="bundling", effective="2025-07-01", units=["R1", "R2"]
                ),
            )
        yield url, db


def test_the_analyst_scores_and_evaluates(site: Any, browser: Any) -> None:
    url, _ = site
    page = login(browser, url, "analyst", "/kpi")
    page.fill("#period", "2025-Q4")
    page.click("#score-form button")
    page.wait_for_selector("#scores tbody tr:nth-child(5)")
    assert "城一派出所" in page.inner_text("#scores")
    page.click("#scores tbody tr:first-child")
    page.wait_for_selector("#breakdown:not([hidden])")
    assert "刑事治安警情万人比" in page.inner_text("#breakdown")
    ARTIFACTS.mkdir(exist_ok=True)
    # The station's trend: the four quarters of 2025 with data, the four before it empty.
    page.wait_for_selector("#trend tbody tr:nth-child(8)")
    page.wait_for_selector("#trend-chart canvas")
    trend = page.locator("#trend tbody tr")
    assert trend.nth(7).inner_text().startswith("2025-Q4")
    assert "没有警情数据" in trend.nth(0).inner_text() and "–" in trend.nth(7).inner_text()
    page.locator("#breakdown").screenshot(path=str(ARTIFACTS / "kpi-trend.png"))
    page.select_option("#outcome", "public_order")
    page.click("#impact-form button")
    page.wait_for_selector("#impact:not([hidden])", timeout=60_000)
    text = page.inner_text("#impact-rows")
    assert "双重差分率比" in text and "95% 区间" in text
    assert page.locator("#caveats li").count() >= 1
    page.wait_for_selector("#event-study canvas")
    page.screenshot(path=str(ARTIFACTS / "kpi-analyst.png"), full_page=True)
    assert page.errors == []
    page.context.close()


def test_a_station_chief_sees_the_station_alone(site: Any, browser: Any) -> None:
    url, _ = site
    page = login(browser, url, "chief_a", "/kpi", size=(1366, 768))
    page.fill("#period", "2025-Q4")
    page.click("#score-form button")
    page.wait_for_selector("#breakdown:not([hidden])")
    rows = page.locator("#scores tbody tr")
    assert rows.count() == 1 and "城一派出所" in rows.inner_text()
    page.wait_for_selector("#trend tbody tr:nth-child(8)")  # the own station's trend, no ranks
    assert page.locator("#trend tbody tr").nth(7).locator("td").nth(3).inner_text() == "—"
    assert page.locator("#impact-form").count() == 0
    page.screenshot(path=str(ARTIFACTS / "kpi-chief.png"), full_page=True)
    assert page.errors == []
    page.context.close()


def test_a_figure_opens_the_calls_behind_it(site: Any, browser: Any) -> None:
    """Station A's chief clicks the prevention rate of 2025-Q4: the desk opens on A's
    jurisdiction, the quarter, valid criminal and public-order calls, and lists as many as the
    figure's numerator (the fixture has no repeats)."""
    url, _ = site
    page = login(browser, url, "chief_a", "/kpi", size=(1366, 1200))
    page.fill("#period", "2025-Q4")
    page.click("#score-form button")
    link = page.locator('#breakdown-table tr[data-indicator="prevention_rate"] a.records')
    link.wait_for()
    assert "重复报警" in (link.get_attribute("title") or "")
    cells = page.locator('#breakdown-table tr[data-indicator="prevention_rate"] td')
    numerator = int(cells.nth(3).inner_text().split("/")[0])
    page.locator("#breakdown-table").screenshot(path=str(ARTIFACTS / "kpi-records-links.png"))
    link.click()
    page.wait_for_url("**/desk?**")
    page.wait_for_selector("body[data-ready='1']")
    form = page.locator("#filters")
    a_id = page.evaluate(
        "() => [...document.querySelectorAll('#filters [name=station_id] option')]"
        ".find(o => o.textContent.includes('城一派出所')).value"
    )
    assert form.locator("[name=station_id]").input_value() == a_id
    assert form.locator("[name=start]").input_value() == "2025-10-01T00:00"
    assert form.locator("[name=end]").input_value() == "2026-01-01T00:00"
    assert form.locator("[name=valid]").input_value() == "true"
    assert form.locator("[name=category][value=criminal]").is_checked()
    assert form.locator("[name=category][value=public_order]").is_checked()
    assert not form.locator("[name=category][value=traffic]").is_checked()
    assert page.inner_text("#count").startswith(f"共 {numerator} 起")
    page.screenshot(path=str(ARTIFACTS / "kpi-records-desk.png"))
    assert page.errors == []
    page.context.close()
