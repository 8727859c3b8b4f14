"""Browser test (Chromium headless): a special operation issued from a hot cell of the big
screen's analysis map in one popup click — the board's form opens with the hotspot as its
source and the hot cells as its area. Screenshots in test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest

from qingzhi.config import Settings
from qingzhi.store.db import Database
from qingzhi.tasks.models import Task, TaskOperation
from tests.browser import ARTIFACTS, MARKS, login, served_site
from tests.factories import incident_item

pytestmark = MARKS


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    """The test org with 30 public-order calls at one corner of station A in the last 30 days
    (3 h apart: no repeats), a hot cell on any map."""
    tmp = tmp_path_factory.mktemp("tasks-map")
    settings = Settings(database_url="sqlite://", live_poll_seconds=0.2, data_dir=tmp / "data")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    calls = [
        incident_item(
            at=now - dt.timedelta(hours=6 + 3 * i),
            category="public_order",
            location=(107.031 + 0.0004 * (i % 3), 30.031 + 0.0004 * (i % 2)),
        )
        for i in range(30)
    ]
    with served_site(tmp, settings, calls) as (url, db):
        yield url, db


def test_a_special_operation_from_a_hot_cell_in_one_popup_click(
    site: tuple[str, Database], browser: object
) -> None:
    url, db = site
    page = login(browser, url, "commander", "/bigscreen", (1600, 1000))
    page.wait_for_selector("body[data-analysis]", timeout=60_000)
    at = page.evaluate(
        """() => { const m = window.__qz.map, h = m._qzBase.layers.hotspots;
                  if (!h) return null;
                  m.removeLayer(window.__qz.incidents.group);
                  m.removeLayer(window.__qz.officers.group);
                  const cell = h.getLayers()[0];
                  m.setView(cell.getBounds().getCenter(), 15, {animate: false});
                  const p = m.latLngToContainerPoint(cell.getBounds().getCenter());
                  const r = m.getContainer().getBoundingClientRect();
                  return [r.left + p.x, r.top + p.y]; }"""
    )
    assert at is not None, "no hot cell"
    page.mouse.click(at[0], at[1])
    popup = page.locator(".leaflet-popup .issue-links")
    popup.wait_for(timeout=5_000)
    page.wait_for_timeout(400)  # the popup's fade-in, for the screenshot
    assert "下发督办" in popup.inner_text() and "发起专项行动" in popup.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-task-hotspot-popup.png"))
    page.click(".leaflet-popup a.issue-operation")
    page.wait_for_url("**/tasks?*")
    page.wait_for_selector("body[data-ready]")
    assert page.locator('#issue-form [name="operation"]').is_checked()
    assert "治安乱点" in page.locator("#issue-source").inner_text()
    assert "个网格" in page.locator("#operation-area").inner_text()
    page.click("#issue-form button[type=submit]")
    page.wait_for_url("**/tasks/*")
    page.wait_for_selector("body[data-ready]")
    task_id = int(page.url.rsplit("/", 1)[1])
    with db.session() as session:
        task = session.get(Task, task_id)
        assert task is not None and task.source_kind == "hotspot"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}/300/\d+", task.source_ref or "")  # day/m/cell
        assert session.query(TaskOperation).filter_by(task_id=task_id).count() == 1
    # the calls of the last days are in the area, during the operation's first day or before it
    before = page.locator('#op-periods tr[data-period="before"] td').all_inner_texts()
    assert int(before[3]) > 0
    assert page.errors == []
    page.screenshot(path=str(ARTIFACTS / "browser-task-operation-from-hotspot.png"), full_page=True)
    page.context.close()
