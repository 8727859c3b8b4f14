"""Browser test: a brief made through the archive page renders with its ECharts charts and its
map in Chromium (no script errors under the CSP); a screenshot goes to test-artifacts/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from qingzhi.config import Settings
from qingzhi.store.db import Database
from tests.browser import ARTIFACTS, MARKS, dispute_call, login, served_site

pytestmark = MARKS


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    """The app with a week of disputes in station A, served on loopback."""
    tmp = tmp_path_factory.mktemp("brief-browser")
    settings = Settings(database_url="sqlite://", briefs_dir=Path(tmp) / "archive")
    day0 = dt.date.today() - dt.timedelta(days=9)
    calls = [
        dispute_call(
            f"BB-{i}",
            f"{(day0 + dt.timedelta(days=i % 8)).isoformat()}T{8 + i % 12:02d}:00:00+08:00",
            107.02 + 0.004 * (i % 9),
            30.02 + 0.004 * (i // 9 % 9),
            i,
        )
        for i in range(120)
    ]
    with served_site(tmp, settings, calls) as served:
        yield served


def test_the_brief_page_renders_with_charts_and_map(
    site: tuple[str, Database], browser: object
) -> None:
    url, _ = site
    page = login(browser, url, "analyst", "/briefs")
    assert "研判简报" in page.title()
    yesterday = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    page.fill("#brief-make input[name=date]", yesterday)
    page.select_option("#brief-make select[name=kind]", "daily")
    page.click("#brief-make button[type=submit]")
    page.wait_for_url("**/briefs/*", timeout=120_000)
    page.wait_for_selector("figure.qz-live svg", timeout=20_000)
    assert page.locator("figure.qz-live svg").count() >= 2  # the ECharts charts (SVG renderer)
    assert "日研判" in page.content()
    maps = page.locator("img[alt='热点地图']")
    assert maps.count() == 1 and maps.evaluate("i => i.naturalWidth") > 100
    assert page.errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-brief.png"), full_page=True)
    page.context.close()


def test_a_draft_action_is_issued_as_a_task_in_one_click(
    site: tuple[str, Database], browser: object
) -> None:
    """The commander opens a brief, picks the owner unit of its first draft action and issues it:
    the task exists, its source is the brief's action, and it links back to the brief."""
    url, _ = site
    page = login(browser, url, "commander", "/briefs")
    yesterday = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    page.fill("#brief-make input[name=date]", yesterday)
    page.select_option("#brief-make select[name=kind]", "daily")
    page.click("#brief-make button[type=submit]")
    page.wait_for_url("**/briefs/*", timeout=120_000)
    brief_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    first = page.locator("#brief-actions li").first
    assert first.count() == 1, "the brief has draft actions"
    first.locator("select").select_option(label="城一派出所")
    first.locator("button").click()
    first.locator(".msg a").wait_for(timeout=20_000)
    href = first.locator(".msg a").get_attribute("href") or ""
    page.goto(f"{url}{href}")
    page.wait_for_selector("body")
    assert f"/briefs/{brief_id}" in page.content()
    assert page.errors == []
    page.screenshot(path=str(ARTIFACTS / "browser-brief-task.png"), full_page=True)
    page.context.close()
