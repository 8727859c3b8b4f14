"""The readable offline map in Chromium: the demo county on its synthetic base map, officers as
counts per station at county zoom and dots at street zoom, remembered toggles, the legend at
1366×768, a station chief's view, hotspot tooltips, and the header at 800 px.

Screenshots go to test-artifacts/ (map-*.png); a person should look at them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo.basemap import write_demo_basemap
from qingzhi.demo.loader import DEMO_PASSWORD, load_demo, load_incidents
from qingzhi.duty.service import dispatchable
from qingzhi.geo.datum import gcj02_to_wgs84
from qingzhi.live import service as live
from qingzhi.live.schemas import PositionIn
from qingzhi.org.enums import DutyStatus
from qingzhi.org.models import Officer, Unit
from qingzhi.store.db import Database
from tests.browser import ARTIFACTS, MARKS
from tests.live.server import committed_database, serve

pytestmark = MARKS

N_ON_DUTY = 120


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database, Path]]:
    """The demo county (org, accounts, 30 days of calls, 120 street officers on duty with positions)
    served with its synthetic base map (zooms 8-12, to keep the test short)."""
    tmp = tmp_path_factory.mktemp("map")
    basemap = write_demo_basemap(tmp / "demo-basemap.mbtiles", maxzoom=12).path
    settings = Settings(database_url="sqlite://", live_poll_seconds=0.2, basemap=basemap)
    actor = system_actor("test")
    with committed_database("sqlite", tmp, None) as db:
        with db.session(write=True) as session:
            load_demo(session=session, actor=actor)
        load_incidents(db=db, actor=actor, settings=settings, days=30)
        with db.session(write=True) as session:
            rows = session.execute(
                select(Officer.id, Unit.jurisdiction)
                .join(Unit, Unit.id == Officer.unit_id)
                # on street duty (office staff carry no GPS and are not counted on the map)
                .where(Officer.active.is_(True), Unit.jurisdiction.is_not(None), dispatchable())
                .order_by(Officer.id)
            ).all()
            rng = np.random.default_rng(3)
            picked = [rows[int(i)] for i in sorted(rng.choice(len(rows), N_ON_DUTY, replace=False))]
            ids = [r[0] for r in picked]
            session.execute(update(Officer).values(duty_status=DutyStatus.off_duty))
            session.execute(
                update(Officer).where(Officer.id.in_(ids)).values(duty_status=DutyStatus.on_duty)
            )
        with db.session(write=True) as session:
            from shapely import from_geojson

            positions = []
            for oid, jurisdiction in picked:
                p = from_geojson(jurisdiction).representative_point()
                positions.append(
                    PositionIn(
                        officer_id=oid,
                        lon=p.x + float(rng.normal(0, 0.002)),
                        lat=p.y + float(rng.normal(0, 0.002)),
                    )
                )
            live.record_positions(session=session, actor=actor, positions=positions)
        with serve(db, settings) as url:
            yield url, db, basemap


def _login(browser: Any, url: str, username: str, target: str, size: tuple[int, int]) -> Any:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    page = context.new_page()
    page.errors = []
    page.requests = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto(f"{url}/login?next={target}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready]", timeout=30_000)
    return page


def _tiles_loaded(page: Any) -> None:
    page.wait_for_selector("body[data-basemap-loaded]", state="attached", timeout=20_000)
    # at a street zoom beyond the file's deepest level one over-zoomed tile may fill a small map
    assert page.locator(".qz-basemap img.leaflet-tile-loaded").count() >= 1
    page.wait_for_timeout(400)  # the tiles' fade-in


def _legend_clear_of_county(page: Any) -> dict[str, float]:
    """The legend's box and the county's box on screen (container pixels); asserts they do not
    overlap."""
    boxes: dict[str, Any] = page.evaluate(
        """() => {
          const map = window.__qz.map, base = map._qzBase;
          const b = base.layers.county.getBounds();
          const nw = map.latLngToContainerPoint(b.getNorthWest());
          const se = map.latLngToContainerPoint(b.getSouthEast());
          const m = map.getContainer().getBoundingClientRect();
          const l = document.querySelector('.legend').getBoundingClientRect();
          return {cx0: nw.x, cy0: nw.y, cx1: se.x, cy1: se.y,
                  lx0: l.left - m.left, ly0: l.top - m.top, lx1: l.right - m.left,
                  ly1: l.bottom - m.top, w: m.width, h: m.height};
        }"""
    )
    apart = (
        boxes["lx1"] <= boxes["cx0"]
        or boxes["lx0"] >= boxes["cx1"]
        or boxes["ly1"] <= boxes["cy0"]
        or boxes["ly0"] >= boxes["cy1"]
    )
    assert apart, str(boxes)
    assert boxes["cx0"] >= 0 and boxes["cy0"] >= 0
    assert boxes["cx1"] <= boxes["w"] and boxes["cy1"] <= boxes["h"]
    return boxes


def test_the_big_screen_draws_the_county_on_its_synthetic_base_map(site, browser) -> None:
    url, _, _ = site
    page = _login(browser, url, "commander", "/bigscreen", (1920, 1080))
    _tiles_loaded(page)
    assert page.get_attribute("body", "data-basemap") == "png"
    assert "模拟底图" in page.locator(".leaflet-control-attribution").inner_text()
    assert page.get_attribute("body", "data-map-fit") == "county"
    assert "folded" not in (page.locator(".legend").get_attribute("class") or "")
    # officers: one badge per station at county zoom, adding up to everyone on the map
    page.wait_for_function(f"document.body.dataset.officerBadgeTotal === '{N_ON_DUTY}'")
    assert page.get_attribute("body", "data-officer-view") == "counts"
    badges = int(page.get_attribute("body", "data-officer-badges") or 0)
    assert 10 <= badges <= 26
    assert page.locator(".qz-officer-count").count() == badges
    _legend_clear_of_county(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map-bigscreen-1920x1080.png"))
    # every request went to the server itself
    assert all(r.startswith(url) or r.startswith("data:") for r in page.requests), [
        r for r in page.requests if not r.startswith(url)
    ]
    assert page.errors == []
    page.context.close()


def test_street_zoom_shows_each_officer_and_the_villages(site, browser) -> None:
    url, _, _ = site
    page = _login(browser, url, "commander", "/bigscreen", (1920, 1080))
    page.wait_for_function(f"document.body.dataset.officerBadgeTotal === '{N_ON_DUTY}'")
    page.evaluate(
        """() => { const m = window.__qz.map; const c = m._qzBase.layers.units.getLayers()[0];
                  m.setView(c.getCenter(), 13, {animate: false}); }"""
    )
    page.wait_for_function("document.body.dataset.officerView === 'dots'")
    assert page.locator(".qz-officer-count").count() == 0
    shown = page.evaluate("() => window.__qz.officers.dots.getLayers().length")
    assert shown == N_ON_DUTY
    _tiles_loaded(page)
    page.screenshot(path=str(ARTIFACTS / "map-street-zoom.png"))
    assert page.errors == []
    page.context.close()


def test_at_1366_the_legend_is_folded_and_the_toggles_are_remembered(site, browser) -> None:
    url, _, _ = site
    page = _login(browser, url, "dispatcher", "/bigscreen", (1366, 768))
    _tiles_loaded(page)
    legend = page.locator(".legend")
    assert "folded" in (legend.get_attribute("class") or "")
    assert page.locator(".legend .legend-group").first.is_hidden()
    boxes = _legend_clear_of_county(page)
    assert boxes["cy1"] - boxes["cy0"] > 0.6 * boxes["h"]  # the county still fills the map
    page.screenshot(path=str(ARTIFACTS / "map-bigscreen-1366x768.png"))
    # unfold it; switch the officers off: both are kept after a reload
    page.click(".legend-toggle")
    assert page.locator(".legend .legend-group").first.is_visible()
    _legend_clear_of_county(page)  # the view fits again beside the unfolded legend
    page.hover(".leaflet-control-layers")
    page.locator(".leaflet-control-layers-overlays label", has_text="警力").click()
    assert page.evaluate("() => window.__qz.map.hasLayer(window.__qz.officers.group)") is False
    page.mouse.move(10, 300)
    page.reload()
    page.wait_for_selector("body[data-ready]", timeout=30_000)
    assert "folded" not in (page.locator(".legend").get_attribute("class") or "")
    _tiles_loaded(page)
    _legend_clear_of_county(page)
    assert page.evaluate("() => window.__qz.map.hasLayer(window.__qz.officers.group)") is False
    assert page.evaluate("() => window.__qz.map.hasLayer(window.__qz.incidents.group)") is True
    page.screenshot(path=str(ARTIFACTS / "map-bigscreen-1366x768-legend-open.png"))
    assert page.errors == []
    page.context.close()


def test_hotspot_cells_say_their_count_z_and_q(site, browser) -> None:
    url, _, _ = site
    page = _login(browser, url, "analyst", "/bigscreen", (1920, 1080))
    page.wait_for_selector("body[data-analysis]", timeout=60_000)
    at = page.evaluate(
        """() => { const m = window.__qz.map, h = m._qzBase.layers.hotspots;
                  if (!h) return null;
                  // the calls and officers off (they sit on the hot cells)
                  m.removeLayer(window.__qz.incidents.group);
                  m.removeLayer(window.__qz.officers.group);
                  const cell = h.getLayers()[0];
                  m.setView(cell.getBounds().getCenter(), 14, {animate: false});
                  const p = m.latLngToContainerPoint(cell.getBounds().getCenter());
                  const r = m.getContainer().getBoundingClientRect();
                  return [r.left + p.x, r.top + p.y]; }"""
    )
    assert at is not None, "no hotspot cell in 30 days of demo calls"
    page.mouse.move(at[0] + 1, at[1] + 1)
    page.mouse.move(at[0], at[1])
    tip = page.locator(".leaflet-tooltip.hot-tip")
    tip.wait_for(timeout=5_000)
    text = tip.inner_text()
    assert "警情" in text and "z = " in text and "q = " in text
    page.screenshot(path=str(ARTIFACTS / "map-hotspot-tooltip.png"))
    assert page.errors == []
    page.context.close()


def test_a_station_chief_sees_their_station(site, browser) -> None:
    url, _, _ = site
    county = _login(browser, url, "commander", "/bigscreen", (1366, 768))
    whole = county.evaluate("() => window.__qz.map.getZoom()")
    county.context.close()
    page = _login(browser, url, "chief_guiyang", "/bigscreen", (1366, 768))
    _tiles_loaded(page)
    assert page.get_attribute("body", "data-map-fit") == "units"
    inside = page.evaluate(
        """() => { const m = window.__qz.map;
                  return m.getBounds().contains(m._qzBase.layers.units.getBounds()); }"""
    )
    assert inside
    assert page.evaluate("() => window.__qz.map.getZoom()") > whole
    page.screenshot(path=str(ARTIFACTS / "map-station-chief-1366x768.png"))
    assert page.errors == []
    page.context.close()


def test_at_800_px_the_header_wraps_instead_of_breaking(site, browser) -> None:
    url, _, _ = site
    page = _login(browser, url, "commander", "/bigscreen", (800, 900))
    bar = page.evaluate(
        """() => { const t = document.querySelector('.topbar');
                  const items = [...t.querySelectorAll('a, .user, button')];
                  return {scroll: t.scrollWidth, width: t.clientWidth,
                          out: items.filter(e => { const r = e.getBoundingClientRect();
                                 return r.right > window.innerWidth + 1 || r.width === 0; })
                                .map(e => e.textContent)}; }"""
    )
    assert bar["scroll"] <= bar["width"], bar
    assert bar["out"] == [], bar
    page.screenshot(path=str(ARTIFACTS / "map-bigscreen-800.png"), full_page=False)
    assert page.errors == []
    page.context.close()


def test_gcj02_tiles_are_moved_onto_the_wgs84_data(site, browser) -> None:
    # A tile drawn on GCJ-02 is moved by the offset at its centre: compared with the server's
    # datum module (the browser's port of the formula must agree with it).
    url, _, _ = site
    page = _login(browser, url, "commander", "/bigscreen", (1366, 768))
    z, x, y = 14, 13077, 6793
    world = 256 * 2**z
    lon_c = (x + 0.5) / 2**z * 360 - 180
    lat_c = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / 2**z))))
    wlon, wlat = (float(v) for v in gcj02_to_wgs84(lon_c, lat_c))

    def px(lon: float, lat: float) -> tuple[float, float]:
        return (
            (lon + 180) / 360 * world,
            (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * world,
        )

    expected = [a - b for a, b in zip(px(wlon, wlat), px(lon_c, lat_c), strict=True)]
    got = page.evaluate(
        """([x, y, z, lat, lon]) => {
          const m = window.__qz.map, pos = {};
          for (const datum of ["gcj02", "wgs84"]) {
            const l = new QZMap.DatumTileLayer("/none/{z}/{x}/{y}.png", {datum: datum});
            l._map = m; l._level = {origin: L.point(0, 0)};
            const c = L.point(x, y); c.z = z;
            pos[datum] = l._getTilePos(c);
          }
          return {shift: [pos.gcj02.x - pos.wgs84.x, pos.gcj02.y - pos.wgs84.y],
                  wgs: QZMap.gcjToWgs(lat, lon)};
        }""",
        [x, y, z, lat_c, lon_c],
    )
    assert abs(got["wgs"][0] - wlat) < 1e-7 and abs(got["wgs"][1] - wlon) < 1e-7
    assert expected[0] < -40 and expected[1] < -25  # west and north, ~430 m and ~290 m
    assert abs(got["shift"][0] - expected[0]) <= 1 and abs(got["shift"][1] - expected[1]) <= 1
    assert page.errors == []
    page.context.close()


@pytest.mark.parametrize("target", ["/desk", "/units", "/incidents/{id}"])
def test_the_other_maps_draw_the_base_map_too(site, browser, target: str) -> None:
    url, db, _ = site
    from qingzhi.incidents.models import Incident

    with db.session() as session:
        first = session.execute(select(Incident.id).order_by(Incident.id).limit(1)).scalar_one()
    page = _login(browser, url, "commander", target.format(id=first), (1366, 768))
    _tiles_loaded(page)
    assert page.get_attribute("body", "data-basemap") == "png"
    assert "模拟底图" in page.locator(".leaflet-control-attribution").inner_text()
    name = target.strip("/").split("/")[0]
    page.screenshot(path=str(ARTIFACTS / f"map-{name}-1366x768.png"))
    assert page.errors == []
    page.context.close()


def test_a_units_page_counts_office_staff_apart_as_the_big_screen_does(site, browser) -> None:
    """An office hand on duty (a shift off the street) is not 在岗警力 on a unit's page either."""
    url, db, _ = site
    from sqlalchemy import not_

    with db.session() as session:
        unit_id, office_id = session.execute(
            select(Officer.unit_id, Officer.id)
            .where(Officer.active.is_(True), not_(dispatchable()))
            .order_by(Officer.id)
            .limit(1)
        ).one()
        street = session.execute(
            select(Officer.id).where(
                Officer.unit_id == unit_id,
                Officer.duty_status == DutyStatus.on_duty,
                dispatchable(),
            )
        ).all()
    with db.session(write=True) as session:
        session.execute(
            update(Officer).where(Officer.id == office_id).values(duty_status=DutyStatus.on_duty)
        )
    try:
        page = _login(browser, url, "commander", f"/units/{unit_id}", (1366, 768))
        assert page.inner_text("#u-on") == f"{len(street)}（内勤另计 1）"
        page.screenshot(path=str(ARTIFACTS / "map-unit-office-staff.png"))
        assert page.errors == []
        page.context.close()
    finally:
        with db.session(write=True) as session:
            session.execute(
                update(Officer)
                .where(Officer.id == office_id)
                .values(duty_status=DutyStatus.off_duty)
            )
