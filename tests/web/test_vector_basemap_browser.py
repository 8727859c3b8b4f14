"""A vector base map (Mapbox Vector Tiles in MBTiles, made here with GDAL's ``ogr2ogr``) drawn in
Chromium by the vendored MapLibre GL under the app's CSP: the road is drawn where it is, its name
too (from the browser's own fonts), on WGS-84 and GCJ-02 tiles, and no request leaves the server.

The screenshots go to test-artifacts/map-vector-basemap-{wgs84,gcj02}.png; look at them.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from qingzhi.basemap.styles import BACKGROUND, ROAD_STYLES
from qingzhi.config import Settings
from qingzhi.geo.datum import wgs84_to_gcj02
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, MARKS, login, served_site

pytestmark = [
    *MARKS,
    pytest.mark.skipif(
        shutil.which("ogr2ogr") is None, reason="GDAL's ogr2ogr (gdal-bin) is missing"
    ),
]

# In station A's jurisdiction (107.0-107.1 E, 30.0-30.1 N): an east-west trunk road (国道 by its
# OSM highway class) at 30.05 N, a lake north of it and a village point south of it.
ROAD_LAT = 30.05
FEATURES = [
    {"highway": "trunk", "name": "测试国道"},
    [[107.01, ROAD_LAT], [107.09, ROAD_LAT]],
    {"natural": "water", "name": "测试湖"},
    [[[107.03, 30.065], [107.06, 30.065], [107.06, 30.085], [107.03, 30.085], [107.03, 30.065]]],
    {"place": "village", "name": "张家湾"},
    [107.05, 30.035],
]


def _shift(coords: Any) -> Any:
    """Coordinates moved onto GCJ-02, as a Chinese commercial map draws them."""
    if isinstance(coords[0], (int, float)):
        lon, lat = wgs84_to_gcj02(coords[0], coords[1])
        return [float(lon), float(lat)]
    return [_shift(c) for c in coords]


def _geojson(path: Path, datum: str) -> None:
    kinds = ["LineString", "Polygon", "Point"]
    feats = [
        {
            "type": "Feature",
            "properties": FEATURES[2 * i],
            "geometry": {
                "type": k,
                "coordinates": FEATURES[2 * i + 1]
                if datum == "wgs84"
                else _shift(FEATURES[2 * i + 1]),
            },
        }
        for i, k in enumerate(kinds)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")


@pytest.fixture(scope="module", params=["wgs84", "gcj02"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """The test org served with a vector MBTiles made by ogr2ogr: on WGS-84, or on GCJ-02 (the
    features moved ~300-500 m as Amap's would be, and QINGZHI_BASEMAP_DATUM=gcj02)."""
    datum = request.param
    tmp = tmp_path_factory.mktemp("vector")
    _geojson(tmp / "osm.geojson", datum)
    mbtiles = tmp / "vector.mbtiles"
    subprocess.run(
        ["ogr2ogr", "-f", "MBTILES", str(mbtiles), str(tmp / "osm.geojson"), "-nln", "osm",
         "-dsco", "MINZOOM=8", "-dsco", "MAXZOOM=14", "-dsco", "NAME=测试矢量底图"],
        check=True, capture_output=True,
    )  # fmt: skip
    settings = Settings(
        database_url="sqlite://", live_poll_seconds=0.2, basemap=mbtiles, basemap_datum=datum
    )
    with served_site(tmp, settings) as (url, _db):
        yield url, datum


@pytest.fixture(scope="module")
def webgl_browser() -> Iterator[Any]:
    """Chromium with WebGL in software (SwiftShader): a headless machine has no GPU."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        args = [a for a in CHROMIUM_ARGS if a != "--disable-gpu"]
        args += ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield browser
        browser.close()


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _pixel(img: Image.Image, x: int, y: int) -> tuple[int, ...]:
    p = img.getpixel((x, y))
    assert isinstance(p, tuple)
    return p


def _near(a: tuple[int, ...], b: tuple[int, int, int], tol: int) -> bool:
    return all(abs(int(x) - y) <= tol for x, y in zip(a[:3], b, strict=True))


def test_the_vector_base_map_draws_the_road_under_the_csp(
    site: tuple[str, str], webgl_browser: Any
) -> None:
    """The trunk road is drawn where it is (on GCJ-02 tiles too: moved onto the WGS-84 data),
    the lake in blue, under the app's CSP, with no request beyond the server."""
    url, datum = site
    page = login(webgl_browser, url, "commander", "/bigscreen", (1366, 768))
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.wait_for_selector("body[data-basemap=vector]", state="attached", timeout=10_000)
    # a view at street zoom centred on the road (Leaflet zoom 14: GL zoom 13)
    page.evaluate(f"() => window.__qz.map.setView([{ROAD_LAT}, 107.05], 14, {{animate: false}})")
    page.wait_for_timeout(300)
    page.wait_for_selector("body[data-basemap-loaded]", state="attached", timeout=30_000)
    page.wait_for_timeout(800)  # the labels fade in
    assert page.get_attribute("body", "data-basemap-error") is None
    road = page.evaluate(
        f"""() => {{
          const m = window.__qz.map, r = m.getContainer().getBoundingClientRect();
          const on = m.latLngToContainerPoint([{ROAD_LAT}, 107.07]);
          const lake = m.latLngToContainerPoint([30.075, 107.045]);
          return {{x: r.left + on.x, y: r.top + on.y, lx: r.left + lake.x, ly: r.top + lake.y}};
        }}"""
    )
    shot = page.screenshot(path=str(ARTIFACTS / f"map-vector-basemap-{datum}.png"))
    img = Image.open(io.BytesIO(shot)).convert("RGB")
    # the trunk road (国道) in its class colour, where it is
    national = _rgb(ROAD_STYLES["national"].line or "")
    on_road = [
        _pixel(img, int(road["x"]) + dx, int(road["y"]) + dy)
        for dx in (-2, 0, 2)
        for dy in (-1, 0, 1)
    ]
    assert any(_near(p, national, 40) for p in on_road), on_road
    # 30 px north of it: not road (the base map's own background or the lake's fill)
    off = _pixel(img, int(road["x"]), int(road["y"]) - 30)
    assert not _near(off, national, 60), off
    # the lake is filled blue (water), unlike the land
    lake = _pixel(img, int(road["lx"]), int(road["ly"]))
    assert lake[2] > lake[0] + 20 and not _near(lake, _rgb(BACKGROUND), 8), lake
    # MapLibre's canvas is there, and its worker came from the app's own origin
    assert page.locator(".leaflet-gl-layer canvas").count() == 1
    assert any("maplibre-gl-worker.mjs" in u for u in requests) or page.evaluate(
        "() => performance.getEntriesByType('resource')"
        ".some(e => e.name.includes('maplibre-gl-worker.mjs'))"
    )
    others = [u for u in requests if not u.startswith(url) and not u.startswith(("data:", "blob:"))]
    assert others == []
    assert not [p for p in problems if "Content Security Policy" in p or "glyph" in p.lower()], (
        problems
    )
    assert page.errors == []
    # the style it drew: made from the layer ogr2ogr wrote (lines, polygons and points in one)
    style = page.evaluate("() => fetch('/api/basemap/style').then(r => r.json())")
    ids = [layer["id"] for layer in style["layers"]]
    assert ids[0] == "background"
    assert {"osm-fill", "osm-line", "osm-point", "osm-label-line", "osm-label-point"} <= set(ids)
    assert ids.index("osm-fill") < ids.index("osm-line") < ids.index("osm-label-line")
    assert "glyphs" not in style and "sprite" not in style  # no request beyond the server
    assert style["sources"]["basemap"]["tiles"] == ["/tiles/{z}/{x}/{y}.pbf"]
