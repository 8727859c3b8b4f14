"""The demo county's synthetic base map: classed roads, villages and a river, as GeoJSON and as
an MBTiles file of raster tiles. Everything here is made up (and says so): ``synthetic: true``
on every feature and in the tiles' metadata, "模拟" in the names drawn on the map.

* **Roads** are the county's synthetic trunk network (``qingzhi.demo.county``: the county seat
  to both subdistricts' seats, and between every two adjacent township seats), the same
  segments the demo's traffic calls are placed on, classed by shortest paths (by length): the
  route through the county town between the two rural seats farthest apart along the county's
  long axis is the national road (国道); the routes to the three most populous
  other rural seats provincial (省道); the rest of the shortest-path tree to every seat county
  roads (县道); the other links township roads (乡道).
  ``road_lengths`` sums their lengths by class in kilometres (UTM 48N).
* **Villages** (行政村): in each rural township, one per 6,000 residents (4 to 16), drawn at
  least 1.2 km apart and from any road's seat, with made-up names.
* **River** (龙溪河, made up in course): a meandering line across the county along its long
  axis, passing 1.5 km beside the county seat, and two tributaries.

``write_demo_basemap`` renders them (``qingzhi.basemap.render``) for zooms 8–14 inside the
county's bounds into ``var/demo-basemap.mbtiles`` (and the GeoJSON beside it), and skips the work
when the file was already made from the same seed and version. The tiles are on WGS-84, like
the stored data: ``QINGZHI_BASEMAP`` needs no datum for them.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import lil_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString, Point, mapping
from shapely.geometry.base import BaseGeometry

from qingzhi.basemap.render import Layer, Style, TileRenderer
from qingzhi.basemap.styles import BACKGROUND, LAND, ROAD_STYLES, label_font
from qingzhi.basemap.tiles import open_basemap, write_mbtiles
from qingzhi.demo.county import County, generate_county
from qingzhi.errors import QingzhiError
from qingzhi.geo.projection import project_geometry, to_lonlat, to_metres, unproject_geometry

log = logging.getLogger(__name__)

VERSION = "2"
DEFAULT_PATH = Path("var/demo-basemap.mbtiles")
MINZOOM, MAXZOOM = 8, 14
ROAD_CLASSES: dict[str, str] = {
    "national": "国道",
    "provincial": "省道",
    "county": "县道",
    "township": "乡道",
    "village": "村道",
}
PROVINCIAL_ROUTES = 3
VILLAGE_PER_RESIDENTS = 6_000
VILLAGES_MIN, VILLAGES_MAX = 4, 16
VILLAGE_SPACING_M = 1_200.0
RIVER_NAME = "龙溪河（模拟）"
ATTRIBUTION = "模拟底图：道路、村庄、河流均为合成数据，非真实地理"

_SURNAMES = "张王李赵刘陈杨黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
_PLACES = ("湾", "沟", "坝", "坪", "岩", "嘴", "院", "桥", "垭", "塘", "林", "岭")


@dataclass(frozen=True)
class Road:
    """A synthetic road segment (WGS-84 end points) with its class and name."""

    a: tuple[float, float]
    b: tuple[float, float]
    road_class: str
    name: str
    length_m: float


@dataclass(frozen=True)
class Village:
    """A synthetic village (行政村): name, township code, WGS-84 point."""

    name: str
    township: str
    lon: float
    lat: float


def road_network(seed: int = 2026) -> list[Road]:
    """The county's trunk roads, classed national / provincial / county / township."""
    county = generate_county(seed)
    centre = county.seat_center
    lengths = _lengths_m(county)
    nodes = sorted({p for seg in county.roads for p in seg})
    index = {p: k for k, p in enumerate(nodes)}
    n = len(nodes)
    graph = lil_matrix((n, n))
    for (a, b), length in zip(county.roads, lengths, strict=True):
        graph[index[a], index[b]] = graph[index[b], index[a]] = length
    dist, pred = dijkstra(graph.tocsr(), directed=False, return_predecessors=True)

    def path(i: int, j: int) -> set[frozenset[int]]:
        edges: set[frozenset[int]] = set()
        while j != i and pred[i, j] >= 0:
            edges.add(frozenset((int(pred[i, j]), j)))
            j = int(pred[i, j])
        return edges

    c = index[centre]
    rural = [t for t in county.townships if not t.urban]
    # National: the through route between the two seats farthest apart along the long axis.
    xy = np.array([to_metres(*t.seat, county.epsg) for t in rural], dtype=np.float64)
    axis = _long_axis(county)
    along = (xy - xy.mean(axis=0)) @ axis
    ends = [index[rural[int(np.argmin(along))].seat], index[rural[int(np.argmax(along))].seat]]
    town = min(
        (index[t.seat] for t in county.townships if t.urban),
        key=lambda u: dist[ends[0], u] + dist[u, ends[1]],
    )
    national = path(ends[0], town) | path(town, ends[1])
    on_national = {k for e in national for k in e}
    by_pop = sorted(
        (t for t in rural if index[t.seat] not in on_national),
        key=lambda t: (-t.population, t.code),
    )
    provincial: set[frozenset[int]] = set()
    for t in by_pop[:PROVINCIAL_ROUTES]:
        provincial |= path(c, index[t.seat])
    provincial -= national
    tree: set[frozenset[int]] = set()
    for t in county.townships:
        tree |= path(c, index[t.seat])
    seat_name = {t.seat: t.short_name for t in county.townships}
    roads: list[Road] = []
    for (a, b), length in zip(county.roads, lengths, strict=True):
        e = frozenset((index[a], index[b]))
        cls = (
            "national"
            if e in national
            else "provincial"
            if e in provincial
            else "county"
            if e in tree
            else "township"
        )
        ends_name = f"{seat_name.get(a, '县城')}—{seat_name.get(b, '县城')}"
        name = f"{ends_name}{ROAD_CLASSES[cls]}（模拟）"
        roads.append(Road(a=a, b=b, road_class=cls, name=name, length_m=length))
    log.debug("demo roads: %d segments, %.0f m to the farthest seat", len(roads), dist[c].max())
    return roads


def _long_axis(county: County) -> NDArray[np.float64]:
    """The unit vector (metres) of the county's long axis (its minimum rotated rectangle)."""
    area = project_geometry(county.boundary, county.epsg)
    rect = np.asarray(area.minimum_rotated_rectangle.exterior.coords)[:4]
    edges = [rect[(k + 1) % 4] - rect[k] for k in range(4)]
    k = int(np.argmax([np.hypot(*e) for e in edges]))
    out: NDArray[np.float64] = edges[k] / np.hypot(*edges[k])
    return out


def _lengths_m(county: County) -> list[float]:
    segs = np.array([[a[0], a[1], b[0], b[1]] for a, b in county.roads])
    ax, ay = to_metres(segs[:, 0], segs[:, 1], county.epsg)
    bx, by = to_metres(segs[:, 2], segs[:, 3], county.epsg)
    return [round(float(v), 1) for v in np.hypot(bx - ax, by - ay)]


def road_lengths(geojson: dict[str, Any]) -> dict[str, float]:
    """Kilometres of road by class in the base layer's GeoJSON (``road_class``, ``length_m``)."""
    out = dict.fromkeys(ROAD_CLASSES, 0.0)
    for f in geojson["features"]:
        props = f["properties"]
        if props.get("layer") == "road":
            out[props["road_class"]] += props["length_m"] / 1000.0
    return {k: round(v, 2) for k, v in out.items()}


def villages(seed: int = 2026) -> list[Village]:
    """The villages of the rural townships (seeded; at least ``VILLAGE_SPACING_M`` apart)."""
    county = generate_county(seed)
    rng = np.random.default_rng([seed, 15, 1])
    names: set[str] = set()
    out: list[Village] = []
    for t in county.townships:
        if t.urban:
            continue
        poly = project_geometry(t.polygon, county.epsg).buffer(-300.0)
        shapely.prepare(poly)
        want = int(np.clip(t.population // VILLAGE_PER_RESIDENTS, VILLAGES_MIN, VILLAGES_MAX))
        placed = [np.array(to_metres(*t.seat, county.epsg), dtype=np.float64)]
        x0, y0, x1, y1 = poly.bounds
        tries = 0
        while len(placed) <= want and tries < 4000:
            tries += 1
            p = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
            if not shapely.contains_xy(poly, p[0], p[1]):
                continue
            if min(float(np.hypot(*(p - q))) for q in placed) < VILLAGE_SPACING_M:
                continue
            placed.append(p)
            name = _village_name(rng, names)
            lon, lat = to_lonlat(p[0], p[1], county.epsg)
            out.append(Village(name, t.code, round(float(lon), 6), round(float(lat), 6)))
    return out


def village_roads(seed: int = 2026) -> list[Road]:
    """A village road (村道) from each village straight to the nearest point of a trunk road."""
    county = generate_county(seed)
    trunk = shapely.MultiLineString(
        [project_geometry(LineString([r.a, r.b]), county.epsg) for r in road_network(seed)]
    )
    out: list[Road] = []
    for v in villages(seed):
        x, y = to_metres(v.lon, v.lat, county.epsg)
        here = Point(float(x), float(y))
        there = trunk.interpolate(trunk.project(here))
        lon, lat = to_lonlat(there.x, there.y, county.epsg)
        b = (round(float(lon), 6), round(float(lat), 6))
        name = f"{v.name}村道（模拟）"
        out.append(Road((v.lon, v.lat), b, "village", name, round(here.distance(there), 1)))
    return out


def _village_name(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        name = (
            _SURNAMES[int(rng.integers(len(_SURNAMES)))]
            + "家"
            + _PLACES[int(rng.integers(len(_PLACES)))]
            + "村"
        )
        if name not in taken:
            taken.add(name)
            return name


def rivers(seed: int = 2026) -> list[tuple[str, LineString]]:
    """The river across the county's long axis and two tributaries (WGS-84 lines)."""
    county = generate_county(seed)
    rng = np.random.default_rng([seed, 15, 2])
    area = project_geometry(county.boundary, county.epsg)
    rect = np.asarray(area.minimum_rotated_rectangle.exterior.coords)[:4]
    edges = [rect[(k + 1) % 4] - rect[k] for k in range(4)]
    k = int(np.argmax([np.hypot(*e) for e in edges]))
    axis = edges[k] / np.hypot(*edges[k])
    normal = np.array([-axis[1], axis[0]])
    seat = np.array(to_metres(*county.seat_center, county.epsg), dtype=np.float64)
    half = float(np.hypot(*edges[k])) / 2.0 + 4_000.0
    t = np.linspace(-1.0, 1.0, 400)
    wiggle = sum(
        rng.uniform(700.0, 1_800.0)
        / (n + 1)
        * np.sin((n + 1.5) * math.pi * t + rng.uniform(0, 6.3))
        for n in range(4)
    )
    # 1.5 km beside the seat where t = 0 (the wiggle there is subtracted)
    offset = 1_500.0 + wiggle - float(np.interp(0.0, t, wiggle))
    main = seat + np.outer(t * half, axis) + np.outer(offset, normal)
    main_m = LineString(main).intersection(area.buffer(3_000.0))
    main_m = max(getattr(main_m, "geoms", [main_m]), key=lambda g: g.length)
    out: list[tuple[str, LineString]] = [(RIVER_NAME, unproject_geometry(main_m, county.epsg))]
    for n, side in enumerate((1.0, -1.0)):
        start = main_m.interpolate(rng.uniform(0.25, 0.75), normalized=True)
        tip = np.array([start.x, start.y]) + side * normal * rng.uniform(9_000.0, 14_000.0)
        tip = tip + axis * rng.uniform(-4_000.0, 4_000.0)
        s = np.linspace(0.0, 1.0, 120)
        bend = rng.uniform(400.0, 900.0) * np.sin(math.pi * s * rng.uniform(1.5, 2.5))
        line = np.outer(1 - s, [start.x, start.y]) + np.outer(s, tip) + np.outer(bend, axis)
        trib = LineString(line).intersection(area)
        trib = max(getattr(trib, "geoms", [trib]), key=lambda g: g.length)
        name = f"龙溪河{'东西'[n]}支流（模拟）"
        out.append((name, unproject_geometry(trib, county.epsg)))
    return out


@lru_cache(maxsize=4)
def _geojson_text(seed: int) -> str:
    county = generate_county(seed)
    features: list[dict[str, Any]] = []

    def add(geom: BaseGeometry, **props: Any) -> None:
        props["synthetic"] = True
        features.append({"type": "Feature", "geometry": mapping(geom), "properties": props})

    for name, line in rivers(seed):
        add(shapely.set_precision(line, 1e-6), layer="river", name=name)
    for r in road_network(seed) + village_roads(seed):
        add(
            LineString([r.a, r.b]),
            layer="road",
            road_class=r.road_class,
            class_label=ROAD_CLASSES[r.road_class],
            name=r.name,
            length_m=r.length_m,
        )
    for t in county.townships:
        add(Point(t.seat), layer="seat", name=t.full_name, code=t.code, urban=t.urban)
    for v in villages(seed):
        add(Point(v.lon, v.lat), layer="village", name=v.name, township=v.township)
    doc = {
        "type": "FeatureCollection",
        "name": "垫江县模拟底图（合成数据）",
        "properties": {"synthetic": True, "seed": seed, "datum": "wgs84", "version": VERSION},
        "features": features,
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True)


def demo_geojson(seed: int = 2026) -> dict[str, Any]:
    """The synthetic base layer as one GeoJSON FeatureCollection (``layer``: road, river, seat,
    village; every feature ``synthetic``)."""
    doc: dict[str, Any] = json.loads(_geojson_text(seed))
    return doc


# ---------------------------------------------------------------- tiles

_RIVER = Style(
    line="#3d8fd6",
    width=(2.2, 6.5),
    label_minzoom=10,
    label_color="#9cccf5",
    label_at=(0.22, 0.78),
    label_size=(12.0, 14.0),
)
_STREAM = Style(line="#3d8fd6", width=(1.2, 3.5), label_minzoom=13, label_color="#9cccf5")
_VILLAGE = Style(
    fill="#a9b8c9",
    radius=(1.4, 3.5),
    mark_outline=BACKGROUND,
    minzoom=11,
    label_minzoom=13,
    label_size=(11.0, 12.0),
    label_color="#c3d0de",
)
_SEAT = Style(
    fill="#ffffff",
    radius=(2.6, 5.5),
    mark_outline=BACKGROUND,
    label_minzoom=12,
    label_size=(13.0, 14.0),
    label_color="#ffffff",
)


def layers(seed: int = 2026) -> list[Layer]:
    """The base map's layers, bottom first."""
    doc = demo_geojson(seed)
    feats = doc["features"]
    county = generate_county(seed)

    def pick(layer: str, **match: Any) -> list[dict[str, Any]]:
        return [
            f
            for f in feats
            if f["properties"]["layer"] == layer
            and all(f["properties"].get(k) == v for k, v in match.items())
        ]

    def geoms(fs: list[dict[str, Any]]) -> list[BaseGeometry]:
        return [shapely.geometry.shape(f["geometry"]) for f in fs]

    river = pick("river")
    out = [
        Layer("land", Style(fill=LAND), [county.boundary]),
        Layer("streams", _STREAM, geoms(river[1:]), [f["properties"]["name"] for f in river[1:]]),
        Layer("river", _RIVER, geoms(river[:1]), [RIVER_NAME]),
    ]
    for cls in ("village", "township", "county", "provincial", "national"):
        fs = pick("road", road_class=cls)
        out.append(
            Layer(
                f"road-{cls}",
                ROAD_STYLES[cls],
                geoms(fs),
                [f"{ROAD_CLASSES[cls]}（模拟）"] * len(fs),
            )
        )
    vs = pick("village")
    out.append(Layer("villages", _VILLAGE, geoms(vs), [f["properties"]["name"] for f in vs]))
    seats = pick("seat")
    out.append(Layer("seats", _SEAT, geoms(seats), [f["properties"]["name"] for f in seats]))
    return out


@dataclass(frozen=True)
class BasemapReport:
    """What ``write_demo_basemap`` did."""

    path: Path
    geojson: Path
    tiles: int
    made: bool  # False: the file was already there for this seed and version

    def summary(self) -> str:
        """One line for the CLI (Chinese)."""
        what = f"已生成 {self.tiles} 张瓦片" if self.made else "已存在，未重新生成"
        return (
            f"模拟底图（合成数据）：{self.path}，{what}；道路数据 {self.geojson}"
            f"（启动时设置 QINGZHI_BASEMAP={self.path}）"
        )


def _generator(seed: int, maxzoom: int) -> str:
    return f"qingzhi.demo.basemap v{VERSION} seed={seed} zooms={MINZOOM}-{maxzoom}"


def write_demo_basemap(
    path: Path = DEFAULT_PATH, *, seed: int = 2026, maxzoom: int = MAXZOOM, force: bool = False
) -> BasemapReport:
    """Render the synthetic base map into an MBTiles file (and its GeoJSON beside it, same name
    with ``.geojson``); nothing is done when the file is there for the same seed and version."""
    geojson = path.with_suffix(".geojson")
    generator = _generator(seed, maxzoom)
    if not force and path.exists() and geojson.exists():
        try:
            src = open_basemap(path)
            if src.info.extra.get("generator") == generator:
                return BasemapReport(path, geojson, 0, made=False)
        except QingzhiError:  # a broken or foreign file is made again
            log.info("demo base map %s is not ours or broken: made again", path)
    county = generate_county(seed)
    w, s, e, n = county.boundary.buffer(0.03).bounds
    bounds = (round(w, 4), round(s, 4), round(e, 4), round(n, 4))
    cx, cy = county.seat_center
    meta = {
        "name": "垫江县模拟底图（合成数据）",
        "description": "由模拟县数据生成的合成底图（道路、村庄、河流），非真实地理，仅供演示",
        "attribution": ATTRIBUTION,
        "format": "png",
        "type": "baselayer",
        "version": VERSION,
        "bounds": ",".join(str(v) for v in bounds),
        "center": f"{cx:.5f},{cy:.5f},10",
        "minzoom": str(MINZOOM),
        "maxzoom": str(maxzoom),
        "synthetic": "true",
        "datum": "wgs84",
        "json": json.dumps({"generator": generator, "seed": seed}, ensure_ascii=False),
    }
    renderer = TileRenderer(layers(seed), background=BACKGROUND, font=label_font())
    count = write_mbtiles(path, meta, renderer.tiles(bounds, MINZOOM, maxzoom))
    geojson.write_text(_geojson_text(seed), encoding="utf-8")
    log.info("demo base map: %d tiles, zooms %d-%d, into %s", count, MINZOOM, maxzoom, path)
    return BasemapReport(path, geojson, count, made=True)
