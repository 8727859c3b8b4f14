"""The big screen's forecast layer while its model is fitted in a background job: the legend
says "预测计算中 N%" and the layer is drawn once the job is done (Debian's Chromium)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.incidents import intake as incidents
from qingzhi.store.db import Database
from tests.factories import build_org
from tests.live.server import committed_database, serve
from tests.web.test_browser import CHROMIUM, _call, _login, browser

__all__ = ["browser"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is missing"
    ),
]
# every forecast fit goes to a job, as a long one does on a large store
SETTINGS = Settings(database_url="sqlite://", live_poll_seconds=0.2, forecast_inline_seconds=0.0)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    with committed_database("sqlite", tmp_path_factory.mktemp("forecast"), None) as db:
        with db.session(write=True) as session:
            build_org(session)
        today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
        items = []
        for i in range(150):
            day = today - dt.timedelta(days=60 - i % 60)
            lon, lat = 107.01 + 0.006 * (i % 5), 30.01 + 0.006 * (i // 5 % 5)
            items.append(_call(f"FC-{i}", f"{day.isoformat()}T10:00:00+08:00", lon, lat, i))
        with db.session(write=True) as session:
            incidents.intake_many(
                session=session, actor=system_actor("110"), settings=SETTINGS, items=items
            )
        with serve(db, SETTINGS) as url:
            yield url, db


def test_the_forecast_layer_shows_the_job_progress_then_the_cells(site: Any, browser: Any) -> None:
    url, _ = site
    page = _login(browser, url, "commander", "/bigscreen")
    page.wait_for_selector("body[data-analysis]", timeout=30_000)
    notes: list[str] = []
    page.on(
        "response",
        lambda r: notes.append(str(r.status)) if "/api/intel/forecast" in r.url else None,
    )
    page.hover(".leaflet-control-layers")
    page.locator(".leaflet-control-layers-overlays label", has_text="明日预测").click()
    page.wait_for_selector("#legend-forecast:not([hidden])", timeout=30_000)
    page.wait_for_selector("body[data-forecast]", timeout=60_000)
    assert notes[0] == "202" and notes[-1] == "200"  # a job first, then the layer from it
    assert int(page.get_attribute("body", "data-forecast") or 0) >= 1
    assert page.locator("#legend-forecast-note").inner_text() == ""
    assert page.errors == []
    page.context.close()


def test_the_legend_says_how_far_the_fit_is(site: Any, browser: Any) -> None:
    # The note as the page writes it while the job runs (from the job's progress).
    url, _ = site
    page = _login(browser, url, "analyst", "/bigscreen")
    page.wait_for_selector("body[data-analysis]", timeout=30_000)
    page.route(
        "**/api/intel/forecast*",
        lambda route: route.fulfill(
            status=202,
            content_type="application/json",
            body='{"status": "pending", "job": {"id": 99, "progress": 0.37, "status": "running",'
            ' "url": "/api/jobs/99"}}',
        ),
    )
    page.route(
        "**/api/jobs/99",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            body='{"id": 99, "status": "running", "progress": 0.62}',
        ),
    )
    page.hover(".leaflet-control-layers")
    page.locator(".leaflet-control-layers-overlays label", has_text="明日预测").click()
    note = page.locator("#legend-forecast-note")
    page.wait_for_selector("#legend-forecast-note:has-text('预测计算中')", timeout=10_000)
    assert note.inner_text() in ("预测计算中 37%", "预测计算中 62%")
    page.wait_for_selector("#legend-forecast-note:has-text('预测计算中 62%')", timeout=10_000)
    assert page.errors == []
    page.context.close()
