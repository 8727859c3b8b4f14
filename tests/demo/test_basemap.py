"""The demo's synthetic base map: classed roads, villages, the river, and its MBTiles file."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import shapely
from PIL import Image
from shapely.geometry import LineString, Point, shape

from qingzhi.basemap.render import tile_range
from qingzhi.basemap.tiles import open_basemap
from qingzhi.demo import basemap
from qingzhi.demo.county import generate_county
from qingzhi.geo.projection import project_geometry


def test_the_base_layer_is_deterministic_and_every_feature_is_synthetic() -> None:
    doc = basemap.demo_geojson(2026)
    again = json.loads(basemap._geojson_text.__wrapped__(2026))  # computed anew
    assert doc == again
    assert doc["properties"]["synthetic"] is True
    assert all(f["properties"]["synthetic"] is True for f in doc["features"])
    layers = {f["properties"]["layer"] for f in doc["features"]}
    assert layers == {"road", "river", "seat", "village"}
    assert all(
        "模拟" in f["properties"]["name"]
        for f in doc["features"]
        if f["properties"]["layer"] in ("road", "river")
    )
    assert basemap.demo_geojson(7) != doc


def test_roads_are_the_trunk_network_the_calls_use_with_every_class() -> None:
    county = generate_county(2026)
    roads = basemap.road_network(2026)
    assert [(r.a, r.b) for r in roads] == list(county.roads)
    classes = {r.road_class for r in roads}
    assert classes == {"national", "provincial", "county", "township"}
    # the national road is one route across the county, through the county seat
    national = [r for r in roads if r.road_class == "national"]
    ends = [p for r in national for p in (r.a, r.b)]
    degree = {p: ends.count(p) for p in ends}
    assert sorted(degree.values()) == [1, 1] + [2] * (len(degree) - 2)  # a path
    assert any(degree.get(t.seat) == 2 for t in county.townships if t.urban)
    lats = [p[1] for p, d in degree.items() if d == 1]
    assert abs(lats[0] - lats[1]) > 0.3  # from the north of the county to its south
    # every township seat is reached from the county seat by county roads or better
    reached = {county.seat_center}
    main = [r for r in roads if r.road_class != "township"]
    for _ in range(len(main)):
        for r in main:
            if r.a in reached or r.b in reached:
                reached |= {r.a, r.b}
    assert {t.seat for t in county.townships} <= reached


def test_road_lengths_by_class_add_up_the_features() -> None:
    doc = {
        "features": [
            {"properties": {"layer": "road", "road_class": "national", "length_m": 1500.0}},
            {"properties": {"layer": "road", "road_class": "national", "length_m": 500.0}},
            {"properties": {"layer": "road", "road_class": "village", "length_m": 250.0}},
            {"properties": {"layer": "river", "length_m": 9e9}},
        ]
    }
    km = basemap.road_lengths(doc)
    assert km == {
        "national": 2.0,
        "provincial": 0.0,
        "county": 0.0,
        "township": 0.0,
        "village": 0.25,
    }
    real = basemap.road_lengths(basemap.demo_geojson(2026))
    measured = sum(
        project_geometry(LineString([r.a, r.b]), 32648).length for r in basemap.road_network(2026)
    )
    assert abs(sum(v for k, v in real.items() if k != "village") - measured / 1000) < 0.05


def test_villages_lie_in_their_townships_apart_from_each_other() -> None:
    county = generate_county(2026)
    vs = basemap.villages(2026)
    assert len(vs) >= 4 * 24
    polys = {t.code: t.polygon for t in county.townships}
    assert all(polys[v.township].contains(Point(v.lon, v.lat)) for v in vs)
    xy = np.array([[p.x, p.y] for p in (project_geometry(Point(v.lon, v.lat), 32648) for v in vs)])
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    same = np.array([[a.township == b.township for b in vs] for a in vs])
    assert d[same].min() >= basemap.VILLAGE_SPACING_M
    assert len({v.name for v in vs}) == len(vs)


def test_the_river_crosses_the_county_beside_the_seat() -> None:
    county = generate_county(2026)
    (name, river), *tributaries = basemap.rivers(2026)
    assert name == basemap.RIVER_NAME
    inside = river.intersection(county.boundary)
    assert inside.length > 0.6 * river.length
    seat = project_geometry(Point(county.seat_center), 32648)
    assert 500 < project_geometry(river, 32648).distance(seat) < 4000
    assert len(tributaries) == 2
    assert all(t.intersects(county.boundary) for _, t in tributaries)


def _tile_image(path: Path, z: int, x: int, y: int) -> Image.Image:
    tile = open_basemap(path).tile(z, x, y)
    assert tile is not None
    return Image.open(io.BytesIO(tile.data)).convert("RGB")


def test_the_mbtiles_file_covers_the_county_and_says_it_is_synthetic(tmp_path: Path) -> None:
    path = tmp_path / "demo.mbtiles"
    report = basemap.write_demo_basemap(path, maxzoom=10)
    assert report.made and path.exists() and report.geojson.exists()
    src = open_basemap(path)
    info = src.info
    assert info.synthetic is True and info.datum == "wgs84" and info.format == "png"
    assert "合成" in info.name and "合成" in info.attribution
    assert (info.minzoom, info.maxzoom) == (basemap.MINZOOM, 10)
    w, s, e, n = info.bounds
    county = generate_county(2026)
    assert shapely.box(w, s, e, n).contains(county.boundary)
    expected = 0
    for z in range(basemap.MINZOOM, 11):
        cols, rows = tile_range(info.bounds, z)
        expected += len(cols) * len(rows)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM tiles").fetchone()[0] == expected == report.tiles
    # the tile under the county seat has roads drawn on it (bright pixels), one far out none
    cols, rows = tile_range(county.boundary.bounds, 10)
    seat_lon, seat_lat = county.seat_center
    (sx,), (sy,) = tile_range((seat_lon, seat_lat, seat_lon, seat_lat), 10)
    seat_tile = np.asarray(_tile_image(path, 10, sx, sy)).astype(int)
    assert (seat_tile.sum(axis=2) > 450).sum() > 200
    corner = np.asarray(_tile_image(path, 8, *[r[0] for r in tile_range(info.bounds, 8)]))
    assert len(np.unique(corner.reshape(-1, 3), axis=0)) < 40
    assert json.loads(report.geojson.read_text(encoding="utf-8")) == basemap.demo_geojson(2026)
    # made once per seed and version
    assert basemap.write_demo_basemap(path, maxzoom=10).made is False
    assert shape(basemap.demo_geojson(2026)["features"][0]["geometry"]).is_valid
