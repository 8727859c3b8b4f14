"""The demo county: Dianjiang (垫江县, Chongqing) as an org bundle, synthetic where made up.

Real: the county boundary (Alibaba DataV, GCJ-02, converted to WGS-84 here), the 26 township-level
units with their official names and statistics codes, the seed's magnitudes (935,000 residents,
504 sworn officers = 5.39 per 10,000, 26 stations of which 2 urban, 17 rural stations bundled into
8 central stations, 15 traffic-integrated stations, 桂阳's community team of 21 + 21 in 8 zones).

Synthetic (marked ``synthetic: true``): township polygons (no public source exists), township
seats, populations per township, officers and their names, zones. The two subdistricts 桂溪/桂阳
form a compact county seat around the boundary's ``center``; the 24 rural townships partition the
rest by a Voronoi diagram of Lloyd-relaxed seeds (near-equal areas) clipped to the boundary.

``build_county(seed)`` returns the files of an org bundle (see ``qingzhi.org.exchange``), the same
bytes for the same seed. ``build_county(seed, reform=False)`` gives the pre-reform organisation:
no central stations, no traffic integration, 5 rural traffic squads of 3 officers each. Both
organisations hold the same people (same police numbers); the reform only moves them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import MultiPoint, Point, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from qingzhi.config import shared_data_dir
from qingzhi.geo.datum import convert_geometry, gcj02_to_wgs84
from qingzhi.geo.distance import ADJACENCY_TOLERANCE_DEG
from qingzhi.geo.projection import DEFAULT_EPSG, project_geometry, to_lonlat, unproject_geometry
from qingzhi.org.enums import DutyStatus, OfficerKind, Team, UnitKind
from qingzhi.org.exchange import OFFICER_COLUMNS
from qingzhi.org.models import Unit
from qingzhi.org.service import check_bundle

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
BOUNDARY_FILE = "datav_500231_dianjiang.json"
TOWNSHIPS_FILE = "dianjiang_townships_statsgov_codes.csv"
# Where the reference copy lives when the repository is checked out beside shared/.
SHARED_DATA_DIR = shared_data_dir("dianjiang")

# ---------------------------------------------------------------- the seed's magnitudes
BUREAU_CODE = "500231"
BUREAU_NAME = "垫江县公安局"
POPULATION = 935_000  # registered residents (seed)
SWORN_TOTAL = 504  # sworn officers (seed): 504 / 935,000 × 10,000 = 5.39
URBAN_CODES = ("500231001", "500231002")  # 桂溪街道, 桂阳街道: the county seat
GUIYANG_CODE = "500231002"
SEAT_POPULATION = {"500231001": 190_000, "500231002": 150_000}  # the seat is far denser
SEAT_AREA_KM2 = 125.0  # the county seat area, both subdistricts together
OPENING_M = 250.0  # no rural neck narrower than 500 m
N_CENTRAL = 8  # central stations (seed)
BUNDLE_SIZES = (2, 2, 2, 2, 2, 2, 2, 3)  # 7 pairs + 1 triple = 17 member stations (seed)
N_TRAFFIC_SQUADS, SQUAD_SWORN, SQUAD_AUX = 5, 3, 2  # pre-reform rural traffic squads (seed)
N_ZONES_GUIYANG, GUIYANG_COMMUNITY = 8, 21  # 桂阳: 21 sworn + 21 auxiliaries in 8 zones (seed)
MOVED_TO_URBAN, MOVED_TO_BUSIEST = 15, 17  # officers freed by bundling (seed)

# Non-station units: (code suffix, name, kind, sworn, auxiliaries).
HQ_UNITS = (
    ("QZ", "情报指挥中心", UnitKind.command_centre, 36, 12),
    ("XZ", "刑事侦查大队", UnitKind.criminal_investigation, 52, 26),
    ("JX", "交巡警大队", UnitKind.traffic_squad, 46, 80),
)
# Station sworn officers before the reform (urban fixed; rural share the rest by workload).
URBAN_SWORN_PRE = {"500231001": 52, "500231002": 40}
RURAL_MIN_SWORN = 6
AUX_RATIO = {"urban": 1.0, "rural": 0.7}
TEAM_SHARE = {Team.case: 0.42, Team.community: 0.40, Team.command: 0.18}
DUTY_SHARE = {
    DutyStatus.on_duty: 0.46,
    DutyStatus.off_duty: 0.44,
    DutyStatus.leave: 0.06,
    DutyStatus.training: 0.04,
}
COORD_DECIMALS = 7  # about 1 cm
SEGMENT_M, SEGMENT_DEG = 200.0, 0.002  # longest edge while building (metres / degrees)

# Synthetic Chinese names: common surnames (Chongqing-weighted) and given-name characters.
SURNAMES = (
    "陈李王张刘杨黄周吴谭何罗冉向邓唐蒋曾彭秦余胡徐廖游熊谢袁龙文程傅汪钟任"
    "付马郑田孙杜夏魏蔡朱肖梁冯宋韩颜雷"
)
GIVEN = (
    "伟强军勇明华建国平志刚峰磊涛斌超浩杰鹏飞宇洋辉亮林波春兰芳丽娟敏静燕"
    "霞玲婷雪梅红英秀萍丹琳佳欣怡思雨晨阳俊凯旭东海江川渝"
)
CHINESE_DIGITS = "一二三四五六七八九十"


# ---------------------------------------------------------------- value types


@dataclass(frozen=True)
class Township:
    """A township-level unit (街道/镇/乡) with its synthetic polygon, seat and population."""

    code: str
    short_name: str  # 桂溪
    full_name: str  # 桂溪街道
    urban: bool
    population: int
    polygon: Polygon  # WGS-84
    seat: tuple[float, float]  # WGS-84 lon, lat: township seat = police station


@dataclass(frozen=True)
class County:
    """The generated county: boundary, townships, bundles, squads, roads (all WGS-84)."""

    seed: int
    boundary: Polygon
    townships: tuple[Township, ...]
    bundles: tuple[tuple[str, ...], ...]  # member station codes per central station
    traffic_groups: tuple[tuple[str, ...], ...]  # rural station codes per pre-reform squad
    roads: tuple[tuple[tuple[float, float], tuple[float, float]], ...]  # segments, WGS-84
    epsg: int = DEFAULT_EPSG

    def township(self, code: str) -> Township:
        """The township with ``code``."""
        for t in self.townships:
            if t.code == code:
                return t
        raise KeyError(code)

    @property
    def seat_center(self) -> tuple[float, float]:
        """The county seat's centre (WGS-84)."""
        return _seat_center_wgs84()


@dataclass
class _Person:
    number: str
    name: str
    kind: OfficerKind
    unit: str
    team: Team | None
    zone: str | None = None
    duty: DutyStatus = DutyStatus.off_duty


@dataclass
class _UnitRow:
    code: str
    name: str
    kind: UnitKind
    geometry: BaseGeometry | None = None
    central: str | None = None
    population: int | None = None
    traffic_integrated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- reference data


def data_path(name: str) -> Path:
    """The packaged copy of a reference file (falls back to shared/ beside the repository)."""
    packaged = DATA_DIR / name
    return packaged if packaged.exists() else SHARED_DATA_DIR / name


def boundary_feature() -> dict[str, Any]:
    """The DataV boundary Feature of the county (GCJ-02 coordinates)."""
    doc = json.loads(data_path(BOUNDARY_FILE).read_text(encoding="utf-8"))
    feature = doc[0] if isinstance(doc, list) else doc
    if not isinstance(feature, dict):
        raise ValueError("boundary file holds no GeoJSON Feature")
    return feature


@lru_cache(maxsize=1)
def county_boundary() -> Polygon:
    """The county boundary in WGS-84 (the largest polygon of the DataV MultiPolygon)."""
    geom = shape(boundary_feature()["geometry"])
    wgs = convert_geometry(geom, source="gcj02", target="wgs84")
    if wgs.geom_type == "MultiPolygon":
        wgs = max(wgs.geoms, key=lambda p: p.area)
    return _snap(wgs)


@lru_cache(maxsize=1)
def _seat_center_wgs84() -> tuple[float, float]:
    lon, lat = boundary_feature()["properties"]["center"]
    x, y = gcj02_to_wgs84(lon, lat)
    return float(x), float(y)


def township_rows() -> list[dict[str, str]]:
    """The 26 township-level units: code (9 digits), short name, full name."""
    with data_path(TOWNSHIPS_FILE).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [{"code": r["id"], "short": r["name"], "full": r["ext_name"]} for r in rows]


# ---------------------------------------------------------------- geometry helpers


def _snap(geom: BaseGeometry, grid: float = 10.0**-COORD_DECIMALS) -> Any:
    """``geom`` on a precision grid, repaired first when a reprojection left it invalid."""
    if not geom.is_valid:
        geom = unary_union(_polygons(shapely.make_valid(geom)))
    out = shapely.set_precision(geom, grid)
    if out.geom_type == "MultiPolygon":
        out = max(out.geoms, key=lambda p: p.area)
    return out


def _sample_in(region: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random points (x, y) inside ``region``, by rejection."""
    minx, miny, maxx, maxy = region.bounds
    out: list[np.ndarray] = []
    got = 0
    shapely.prepare(region)
    while got < n:
        pts = rng.uniform((minx, miny), (maxx, maxy), size=(2 * n, 2))
        keep = pts[shapely.contains_xy(region, pts[:, 0], pts[:, 1])]
        out.append(keep)
        got += len(keep)
    return np.concatenate(out)[:n]


def _lloyd(region: BaseGeometry, k: int, rng: np.random.Generator, n_sample: int = 12_000) -> Any:
    """``k`` well-spread seeds in ``region``: k-means (Lloyd) on a uniform sample."""
    pts = _sample_in(region, n_sample, rng)
    centres = pts[rng.choice(len(pts), size=k, replace=False)]
    for _ in range(40):
        _, label = cKDTree(centres).query(pts)
        new = np.array([pts[label == j].mean(axis=0) for j in range(k)])
        if np.allclose(new, centres, atol=1.0):
            centres = new
            break
        centres = new
    return centres


def _partition(region: BaseGeometry, seeds: np.ndarray) -> list[Polygon]:
    """Voronoi cells of ``seeds`` clipped to ``region``; stray pieces join their neighbour."""
    cells = shapely.voronoi_polygons(
        MultiPoint([tuple(p) for p in seeds]), extend_to=region.buffer(1000.0), ordered=True
    )
    parts = [c.intersection(region) for c in cells.geoms]
    main: list[BaseGeometry] = []
    strays: list[BaseGeometry] = []
    for p in parts:
        polys = sorted(_polygons(p), key=lambda q: -q.area)
        main.append(polys[0])
        strays.extend(polys[1:])
    for piece in strays:
        shared = [float(piece.boundary.intersection(m.boundary).length) for m in main]
        j = int(np.argmax(shared))
        main[j] = unary_union([main[j], piece])
    out = []
    for m in main:
        polys = sorted(_polygons(m), key=lambda q: -q.area)
        out.append(polys[0] if len(polys) == 1 else Polygon(polys[0].exterior))
    return out


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if geom.geom_type == "Polygon":
        return [geom]
    if hasattr(geom, "geoms"):
        return [g for sub in geom.geoms for g in _polygons(sub)]
    return []


def _blob(center: tuple[float, float], area_m2: float, rng: np.random.Generator) -> Polygon:
    """A compact irregular polygon of about ``area_m2`` around ``center`` (metres)."""
    theta = np.linspace(0.0, 2.0 * np.pi, 73)[:-1]
    ph = rng.uniform(0.0, 2.0 * np.pi, size=3)
    r = 1.0 + 0.12 * np.sin(2 * theta + ph[0]) + 0.07 * np.sin(3 * theta + ph[1])
    r += 0.04 * np.sin(5 * theta + ph[2])
    poly = Polygon(np.column_stack([np.cos(theta) * r, np.sin(theta) * r]))
    scale = float(np.sqrt(area_m2 / poly.area))
    return Polygon(
        np.column_stack(
            [center[0] + np.cos(theta) * r * scale, center[1] + np.sin(theta) * r * scale]
        )
    )


def _half_plane(center: tuple[float, float], angle: float, size: float = 1e6) -> Polygon:
    """The half plane to the left of the line through ``center`` at ``angle`` (radians)."""
    d = np.array([np.cos(angle), np.sin(angle)])
    n = np.array([-d[1], d[0]])
    c = np.asarray(center)
    pts = [c - d * size, c + d * size, c + d * size + n * size, c - d * size + n * size]
    return Polygon(pts)


def adjacent(a: BaseGeometry, b: BaseGeometry) -> bool:
    """Whether two WGS-84 jurisdictions touch by check_bundle's rule (buffered union is one)."""
    merged = unary_union([a.buffer(ADJACENCY_TOLERANCE_DEG), b.buffer(ADJACENCY_TOLERANCE_DEG)])
    return bool(merged.geom_type == "Polygon")


def _largest_remainder(weights: np.ndarray, total: int, minimum: int = 0) -> np.ndarray:
    """Integers summing to ``total``, proportional to ``weights``, each at least ``minimum``."""
    n = len(weights)
    base = np.full(n, minimum, dtype=np.int64)
    rest = total - minimum * n
    if rest < 0:
        raise ValueError("total below the minimum")
    share = weights / weights.sum() * rest
    floor = np.floor(share).astype(np.int64)
    left = rest - int(floor.sum())
    order = np.argsort(-(share - floor), kind="stable")
    floor[order[:left]] += 1
    return np.asarray(base + floor, dtype=np.int64)


# ---------------------------------------------------------------- the county's geography


@lru_cache(maxsize=8)
def generate_county(seed: int = 2026) -> County:
    """The county's synthetic geography for ``seed`` (townships, bundles, squads, roads)."""
    rng = np.random.default_rng(seed)
    boundary = county_boundary()
    epsg = DEFAULT_EPSG
    # Short edges everywhere, so that points inserted on an edge in metres stay on it in degrees.
    county_m = project_geometry(boundary.segmentize(SEGMENT_DEG), epsg)
    cx, cy = _seat_center_wgs84()
    centre_m = project_geometry(Point(cx, cy), epsg)
    centre = (float(centre_m.x), float(centre_m.y))

    # County seat: a compact blob around the centre, split by a roughly north-south line.
    seat = _blob(centre, SEAT_AREA_KM2 * 1e6, rng).intersection(county_m)
    # Open the rest of the county (erode, dilate) so that no neck or sliver narrower than
    # 2 × OPENING_M is left between the seat and the county line; the seat takes those bits.
    rest = county_m.difference(seat).buffer(-OPENING_M).buffer(OPENING_M).intersection(county_m)
    rest = max(_polygons(rest), key=lambda p: p.area)
    seat = max(_polygons(county_m.difference(rest)), key=lambda p: p.area)
    angle = np.pi / 2 + rng.uniform(-0.5, 0.5)
    west = seat.intersection(_half_plane(centre, angle))
    east = seat.difference(_half_plane(centre, angle))
    guixi, guiyang = (
        max(_polygons(west), key=lambda p: p.area),
        max(_polygons(east), key=lambda p: p.area),
    )
    guixi, guiyang = guixi.segmentize(SEGMENT_M), guiyang.segmentize(SEGMENT_M)
    seat = unary_union([guixi, guiyang])
    rural_region = county_m.difference(seat)

    rows = township_rows()
    rural_rows = [r for r in rows if r["code"] not in URBAN_CODES]
    seeds = _lloyd(rural_region, len(rural_rows), rng)
    cells = _partition(rural_region, seeds)
    # Rural township names are assigned to cells by a seeded shuffle (no public locations).
    order = rng.permutation(len(rural_rows))

    # Populations: the seat fixed, the rest shared lognormally (larger near the seat).
    rural_total = POPULATION - sum(SEAT_POPULATION.values())
    dist = np.array([float(np.hypot(*(s - np.asarray(centre)))) for s in seeds])
    weights = rng.lognormal(0.0, 0.35, size=len(seeds)) * (1.0 + 8_000.0 / (dist + 8_000.0))
    rural_pop = _largest_remainder(weights, rural_total)

    townships: list[Township] = []
    for row, poly_m, seat_pt in (
        (rows[0], guixi, None),
        (rows[1], guiyang, None),
    ):
        pt = poly_m.representative_point() if seat_pt is None else seat_pt
        townships.append(_township(row, True, SEAT_POPULATION[row["code"]], poly_m, pt, epsg))
    for i, row in enumerate(rural_rows):
        j = int(order[i])
        poly_m = cells[j]
        pt = Point(seeds[j])
        if not poly_m.contains(pt):
            pt = poly_m.representative_point()
        townships.append(_township(row, False, int(rural_pop[j]), poly_m, pt, epsg))
    townships.sort(key=lambda t: t.code)
    # The urban seats sit around the centre itself.
    townships = [
        Township(t.code, t.short_name, t.full_name, t.urban, t.population, t.polygon, t.seat)
        for t in townships
    ]

    rural = [t for t in townships if not t.urban]
    bundles = _choose_bundles(rural, rng)
    groups = _traffic_groups(rural, rng)
    roads = _roads(townships, (cx, cy))
    return County(
        seed=seed,
        boundary=boundary,
        townships=tuple(townships),
        bundles=bundles,
        traffic_groups=groups,
        roads=roads,
        epsg=epsg,
    )


def _township(
    row: dict[str, str], urban: bool, population: int, poly_m: Polygon, pt: Point, epsg: int
) -> Township:
    poly = _snap(unproject_geometry(_snap(poly_m, 0.01), epsg))
    lon, lat = to_lonlat(pt.x, pt.y, epsg)
    return Township(
        code=row["code"],
        short_name=row["short"],
        full_name=row["full"],
        urban=urban,
        population=population,
        polygon=poly,
        seat=(round(float(lon), 6), round(float(lat), 6)),
    )


def _choose_bundles(
    rural: Sequence[Township], rng: np.random.Generator
) -> tuple[tuple[str, ...], ...]:
    """8 bundles (7 pairs + 1 triple) of adjacent rural stations; the 7 busiest stay alone."""
    n = len(rural)
    adj = [
        [j for j in range(n) if j != i and adjacent(rural[i].polygon, rural[j].polygon)]
        for i in range(n)
    ]
    pops = np.array([t.population for t in rural], dtype=np.float64)
    n_members = sum(BUNDLE_SIZES)
    for _attempt in range(500):
        # Leave out 7 stations, favouring the most populous (they keep running alone).
        p = pops**2 / (pops**2).sum()
        alone = set(rng.choice(n, size=n - n_members, replace=False, p=p).tolist())
        members = [i for i in range(n) if i not in alone]
        found = _exact_bundles(members, adj, rng)
        if found is not None:
            bundles = sorted(
                (tuple(sorted(rural[i].code for i in b)) for b in found), key=lambda b: b[0]
            )
            return tuple(bundles)
    raise RuntimeError("no bundling of adjacent stations found")  # pragma: no cover


def _exact_bundles(
    members: list[int], adj: list[list[int]], rng: np.random.Generator
) -> list[tuple[int, ...]] | None:
    """Partition ``members`` into 7 adjacent pairs and one connected triple, or None."""
    member_set = set(members)
    steps = [0]

    def solve(left: frozenset[int], triple_used: bool) -> list[tuple[int, ...]] | None:
        steps[0] += 1
        if steps[0] > 20_000:
            return None
        if not left:
            return [] if triple_used else None
        a = min(left)
        nbrs = [b for b in adj[a] if b in left]
        rng_order = [nbrs[k] for k in rng.permutation(len(nbrs))]
        options: list[tuple[int, ...]] = []
        if not triple_used:
            for b in rng_order:
                for c in adj[a] + adj[b]:
                    if c in left and c not in (a, b) and c > b:
                        options.append((a, b, c))
        options.extend((a, b) for b in rng_order)
        for opt in options:
            if len(opt) == 3 and triple_used:
                continue
            rest = solve(left - set(opt), triple_used or len(opt) == 3)
            if rest is not None:
                return [opt, *rest]
        return None

    result = solve(frozenset(member_set), False)
    return result


def _traffic_groups(
    rural: Sequence[Township], rng: np.random.Generator
) -> tuple[tuple[str, ...], ...]:
    """5 groups of 3 nearby rural stations: each pre-reform traffic squad's area."""
    xy = np.array([t.seat for t in rural]) * np.array([96.2, 111.0])  # km, roughly
    n = len(rural)
    hosts = [int(rng.integers(n))]
    while len(hosts) < N_TRAFFIC_SQUADS:  # farthest-point sampling
        d = np.min(np.linalg.norm(xy[:, None, :] - xy[hosts][None, :, :], axis=2), axis=1)
        hosts.append(int(np.argmax(d)))
    taken = set(hosts)
    groups: list[list[int]] = [[h] for h in hosts]
    for _ in range(2):
        for g in groups:
            d = np.linalg.norm(xy - xy[g[0]], axis=1)
            for j in np.argsort(d, kind="stable"):
                if int(j) not in taken:
                    g.append(int(j))
                    taken.add(int(j))
                    break
    return tuple(tuple(rural[i].code for i in g) for g in groups)


def _roads(
    townships: Sequence[Township], centre: tuple[float, float]
) -> tuple[tuple[tuple[float, float], tuple[float, float]], ...]:
    """A synthetic trunk network: seat to every township seat, and between adjacent seats."""
    segs: list[tuple[tuple[float, float], tuple[float, float]]] = []
    for t in townships:
        segs.append((centre, t.seat))
    for i, a in enumerate(townships):
        for b in townships[i + 1 :]:
            if not (a.urban or b.urban) and adjacent(a.polygon, b.polygon):
                segs.append((a.seat, b.seat))
    return tuple(segs)


# ---------------------------------------------------------------- the organisation


def _name(rng: np.random.Generator) -> str:
    surname = SURNAMES[int(rng.integers(len(SURNAMES)))]
    n_given = 1 if rng.random() < 0.3 else 2
    return surname + "".join(GIVEN[int(rng.integers(len(GIVEN)))] for _ in range(n_given))


def _duty(rng: np.random.Generator) -> DutyStatus:
    keys = list(DUTY_SHARE)
    p = np.array([DUTY_SHARE[k] for k in keys])
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _teams(n: int) -> list[Team]:
    counts = _largest_remainder(np.array(list(TEAM_SHARE.values())), n)
    return [t for t, c in zip(TEAM_SHARE, counts, strict=True) for _ in range(int(c))]


def _zones(county: County, rng: np.random.Generator) -> list[dict[str, Any]]:
    """8 synthetic zones (片区) partitioning 桂阳's polygon."""
    gy = county.township(GUIYANG_CODE)
    region = project_geometry(gy.polygon.segmentize(SEGMENT_DEG), county.epsg)
    seeds = _lloyd(region, N_ZONES_GUIYANG, rng, n_sample=4_000)
    cells = _partition(region, seeds)
    order = np.argsort(-seeds[:, 1], kind="stable")  # numbered north to south
    pops = _largest_remainder(rng.lognormal(0.0, 0.25, size=N_ZONES_GUIYANG), gy.population)
    zones = []
    for rank, j in enumerate(order, start=1):
        poly = _snap(unproject_geometry(_snap(cells[int(j)], 0.01), county.epsg))
        zones.append(
            {
                "code": f"{GUIYANG_CODE}-PQ{rank:02d}",
                "name": f"{gy.short_name}{CHINESE_DIGITS[rank - 1]}片区",
                "station": GUIYANG_CODE,
                "population": int(pops[rank - 1]),
                "geometry": poly,
            }
        )
    return zones


def build_county(seed: int = 2026, *, reform: bool = True) -> dict[str, bytes]:
    """The demo county's org bundle (bureau.json, units/zones GeoJSON, officers.csv)."""
    county = generate_county(seed)
    rng = np.random.default_rng([seed, 1])
    towns = county.townships
    rural = [t for t in towns if not t.urban]

    # ---- sworn officers per station before the reform (workload ~ population^0.8)
    station_sworn_total = SWORN_TOTAL - sum(u[3] for u in HQ_UNITS) - N_TRAFFIC_SQUADS * SQUAD_SWORN
    rural_total = station_sworn_total - sum(URBAN_SWORN_PRE.values())
    rural_sworn = _largest_remainder(
        np.array([t.population for t in rural], dtype=np.float64) ** 0.8,
        rural_total,
        RURAL_MIN_SWORN,
    )
    sworn_pre = dict(URBAN_SWORN_PRE)
    sworn_pre.update({t.code: int(n) for t, n in zip(rural, rural_sworn, strict=True)})

    # ---- the roster (same people in both organisations)
    people: list[_Person] = []
    counter = {"sworn": 0, "aux": 0}

    def add(unit: str, kind: OfficerKind, team: Team | None, zone: str | None = None) -> _Person:
        key = "sworn" if kind == OfficerKind.sworn else "aux"
        counter[key] += 1
        number = f"{31000 + counter['sworn']:06d}" if key == "sworn" else f"F{counter['aux']:05d}"
        p = _Person(number, _name(rng), kind, unit, team, zone, _duty(rng))
        people.append(p)
        return p

    for suffix, _, _, sworn, aux in HQ_UNITS:
        for _ in range(sworn):
            add(BUREAU_CODE + suffix, OfficerKind.sworn, None)
        for _ in range(aux):
            add(BUREAU_CODE + suffix, OfficerKind.auxiliary, None)
    zones = _zones(county, rng)
    zone_codes = [z["code"] for z in zones]
    zone_slots = [zone_codes[i % len(zone_codes)] for i in range(GUIYANG_COMMUNITY)]
    for t in towns:
        n = sworn_pre[t.code]
        if t.code == GUIYANG_CODE:
            others = _teams(n - GUIYANG_COMMUNITY)
            teams = [Team.community] * GUIYANG_COMMUNITY + [
                x for x in others if x != Team.community
            ]
            teams += [Team.case] * (n - len(teams))
            for i, team in enumerate(teams):
                add(
                    t.code,
                    OfficerKind.sworn,
                    team,
                    zone_slots[i] if i < GUIYANG_COMMUNITY else None,
                )
            for i in range(GUIYANG_COMMUNITY):
                add(t.code, OfficerKind.auxiliary, Team.community, zone_slots[i])
            n_aux_other = round(n * AUX_RATIO["urban"]) - GUIYANG_COMMUNITY
            for team in _teams(max(n_aux_other, 0)):
                add(t.code, OfficerKind.auxiliary, Team.case if team == Team.community else team)
            continue
        for team in _teams(n):
            add(t.code, OfficerKind.sworn, team)
        for team in _teams(round(n * AUX_RATIO["urban" if t.urban else "rural"])):
            add(t.code, OfficerKind.auxiliary, team)
    squad_codes = [f"{BUREAU_CODE}JX{i:02d}" for i in range(1, N_TRAFFIC_SQUADS + 1)]
    squad_people: dict[str, list[_Person]] = {}
    for code in squad_codes:
        squad_people[code] = [add(code, OfficerKind.sworn, None) for _ in range(SQUAD_SWORN)]
        for _ in range(SQUAD_AUX):
            add(code, OfficerKind.auxiliary, None)

    # ---- units
    units: list[_UnitRow] = [
        _UnitRow(
            code=t.code,
            name=f"{t.short_name}派出所",
            kind=UnitKind.urban_station if t.urban else UnitKind.rural_station,
            geometry=t.polygon,
            population=t.population,
            extra={"township": t.full_name, "seat": list(t.seat)},
        )
        for t in towns
    ]
    for suffix, name, kind, _, _ in HQ_UNITS:
        units.append(_UnitRow(code=BUREAU_CODE + suffix, name=name, kind=kind))
    by_code = {u.code: u for u in units}
    central_codes = [f"{BUREAU_CODE}ZX{i:02d}" for i in range(1, N_CENTRAL + 1)]
    if reform:
        _apply_reform(county, units, by_code, people, squad_people, squad_codes, central_codes)
    else:
        for code, group in zip(squad_codes, county.traffic_groups, strict=True):
            host = county.township(group[0])
            geom = unary_union([county.township(c).polygon for c in group])
            units.append(
                _UnitRow(
                    code=code,
                    name=f"{host.short_name}交巡警中队",
                    kind=UnitKind.traffic_squad,
                    geometry=geom,
                    extra={"covers": list(group)},
                )
            )
    units.sort(key=lambda u: u.code)
    return _serialise(county, units, zones, people)


def _apply_reform(
    county: County,
    units: list[_UnitRow],
    by_code: dict[str, _UnitRow],
    people: list[_Person],
    squad_people: Mapping[str, list[_Person]],
    squad_codes: Sequence[str],
    central_codes: Sequence[str],
) -> None:
    """Bundle 17 stations into 8 central stations, integrate traffic, move freed officers."""
    # Central stations, named after their most populous member.
    for code, members in zip(central_codes, county.bundles, strict=True):
        lead = max((county.township(m) for m in members), key=lambda t: (t.population, t.code))
        units.append(
            _UnitRow(
                code=code,
                name=f"{lead.short_name}中心派出所",
                kind=UnitKind.central_station,
                extra={"members": list(members), "bundle": f"{len(members)}合1"},
            )
        )
        for m in members:
            by_code[m].central = code
    _verify_bundles(county, central_codes)

    # Bundling frees officers: 32 sworn from the 17 member stations' case teams (seed: 15 went
    # to the urban stations, 17 to the busiest units — here the central stations' command rooms).
    bundled = [m for b in county.bundles for m in b]
    freed_per = _largest_remainder(np.ones(len(bundled)), MOVED_TO_URBAN + MOVED_TO_BUSIEST)
    freed: list[_Person] = []
    for code, k in zip(bundled, freed_per, strict=True):
        case = [p for p in people if p.unit == code and p.kind == OfficerKind.sworn]
        case = [p for p in case if p.team == Team.case] or case
        freed.extend(case[-int(k) :] if k else [])
    urban_share = _largest_remainder(
        np.array([county.township(c).population for c in URBAN_CODES], dtype=np.float64),
        MOVED_TO_URBAN,
    )
    targets: list[tuple[str, Team]] = [
        (c, Team.case) for c, k in zip(URBAN_CODES, urban_share, strict=True) for _ in range(int(k))
    ]
    bundle_pop = np.array(
        [sum(county.township(m).population for m in b) for b in county.bundles], dtype=np.float64
    )
    busiest = _largest_remainder(bundle_pop, MOVED_TO_BUSIEST)
    targets += [
        (c, Team.command)
        for c, k in zip(central_codes, busiest, strict=True)
        for _ in range(int(k))
    ]
    for p, (unit, team) in zip(freed, targets, strict=True):
        p.unit, p.team, p.zone = unit, team, None

    # Traffic integration (交所合一): each squad's 3 officers join the 3 stations it served.
    for code, group in zip(squad_codes, county.traffic_groups, strict=True):
        for p_sq, station in zip(squad_people[code], group, strict=True):
            p_sq.unit, p_sq.team = station, Team.case
            by_code[station].traffic_integrated = True
    for p in people:
        if p.unit in squad_codes:  # the squads' auxiliaries go to the county traffic squad
            p.unit = BUREAU_CODE + "JX"


def _verify_bundles(county: County, central_codes: Sequence[str]) -> None:
    """Check every bundle with the org service's own rule (check_bundle), on transient units."""
    for i, (code, members) in enumerate(zip(central_codes, county.bundles, strict=True)):
        central = Unit(id=10_000 + i, code=code, name=code, kind=UnitKind.central_station)
        units = [
            Unit(
                id=j,
                code=m,
                name=m,
                kind=UnitKind.rural_station,
                central_id=None,
                jurisdiction=json.dumps(mapping(county.township(m).polygon)),
            )
            for j, m in enumerate(members)
        ]
        check_bundle(central, units)


def _geojson(geom: BaseGeometry | None) -> Any:
    if geom is None:
        return None
    return _round(mapping(geom))


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, COORD_DECIMALS)
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")


def _serialise(
    county: County,
    units: Sequence[_UnitRow],
    zones: Sequence[dict[str, Any]],
    people: list[_Person],
) -> dict[str, bytes]:
    bureau = {
        "code": BUREAU_CODE,
        "name": BUREAU_NAME,
        "population": POPULATION,
        "boundary": _geojson(county.boundary),
        "synthetic": True,
        "seed": county.seed,
        "note": "模拟数据：县界与乡镇名称、代码为真实公开数据；辖区、人口、人员均为模拟生成",
    }
    unit_features = [
        {
            "type": "Feature",
            "geometry": _geojson(u.geometry),
            "properties": {
                "code": u.code,
                "name": u.name,
                "kind": str(u.kind),
                "central": u.central,
                "population": u.population,
                "traffic_integrated": u.traffic_integrated,
                "service_window": True,
                "synthetic": True,
                **u.extra,
            },
        }
        for u in units
    ]
    zone_features = [
        {
            "type": "Feature",
            "geometry": _geojson(z["geometry"]),
            "properties": {
                "code": z["code"],
                "name": z["name"],
                "station": z["station"],
                "population": z["population"],
                "synthetic": True,
            },
        }
        for z in zones
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(OFFICER_COLUMNS)
    for p in sorted(people, key=lambda p: p.number):
        writer.writerow(
            [
                p.number,
                p.name,
                str(p.kind),
                p.unit,
                str(p.team) if p.team else "",
                p.zone or "",
                str(p.duty),
                "true",
                "true",
            ]
        )
    return {
        "bureau.json": _dump(bureau),
        "units.geojson": _dump({"type": "FeatureCollection", "features": unit_features}),
        "zones.geojson": _dump({"type": "FeatureCollection", "features": zone_features}),
        "officers.csv": buf.getvalue().encode("utf-8"),
    }
