"""The county's 26 township-level units (街道/镇/乡) as synthetic polygons with seats and people.

No public source gives township boundaries, so they are made up (and marked ``synthetic``): the
two subdistricts 桂溪/桂阳 form a compact county seat around the boundary's ``center``, split by a
roughly north-south line; the 24 rural townships partition the rest by a Voronoi diagram of
Lloyd-relaxed seeds (near-equal areas) clipped to the boundary, their names assigned by a seeded
shuffle. The seat's population is fixed (it is far denser); the rest of the county's residents are
shared lognormally, more near the seat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Point, Polygon
from shapely.ops import unary_union

from qingzhi.demo.draws import apportion
from qingzhi.demo.reference import POPULATION, URBAN_CODES, township_rows
from qingzhi.demo.shapes import (
    SEGMENT_DEG,
    SEGMENT_M,
    blob,
    half_plane,
    largest,
    lloyd,
    partition,
    to_wgs84,
)
from qingzhi.geo.projection import project_geometry, to_lonlat

log = logging.getLogger(__name__)

SEAT_POPULATION = {"500231001": 190_000, "500231002": 150_000}  # the seat is far denser
SEAT_AREA_KM2 = 125.0  # the county seat area, both subdistricts together
OPENING_M = 250.0  # no rural neck narrower than 500 m


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


def draw_townships(
    boundary: Polygon, centre_wgs: tuple[float, float], epsg: int, rng: np.random.Generator
) -> list[Township]:
    """The 26 townships partitioning ``boundary`` (WGS-84), sorted by code."""
    # Short edges everywhere, so that points inserted on an edge in metres stay on it in degrees.
    county_m = project_geometry(boundary.segmentize(SEGMENT_DEG), epsg)
    centre_m = project_geometry(Point(*centre_wgs), epsg)
    centre = (float(centre_m.x), float(centre_m.y))

    # County seat: a compact blob around the centre, split by a roughly north-south line.
    seat = blob(centre, SEAT_AREA_KM2 * 1e6, rng).intersection(county_m)
    # Open the rest of the county (erode, dilate) so that no neck or sliver narrower than
    # 2 × OPENING_M is left between the seat and the county line; the seat takes those bits.
    rest = county_m.difference(seat).buffer(-OPENING_M).buffer(OPENING_M).intersection(county_m)
    rest = largest(rest)
    seat = largest(county_m.difference(rest))
    angle = np.pi / 2 + rng.uniform(-0.5, 0.5)
    guixi = largest(seat.intersection(half_plane(centre, angle))).segmentize(SEGMENT_M)
    guiyang = largest(seat.difference(half_plane(centre, angle))).segmentize(SEGMENT_M)
    rural_region = county_m.difference(unary_union([guixi, guiyang]))

    rows = township_rows()
    rural_rows = [r for r in rows if r["code"] not in URBAN_CODES]
    seeds = lloyd(rural_region, len(rural_rows), rng)
    cells = partition(rural_region, seeds)
    # Rural township names are assigned to cells by a seeded shuffle (no public locations).
    order = rng.permutation(len(rural_rows))

    # Populations: the seat fixed, the rest shared lognormally (larger near the seat).
    rural_total = POPULATION - sum(SEAT_POPULATION.values())
    dist = np.array([float(np.hypot(*(s - np.asarray(centre)))) for s in seeds])
    weights = rng.lognormal(0.0, 0.35, size=len(seeds)) * (1.0 + 8_000.0 / (dist + 8_000.0))
    rural_pop = apportion(weights, rural_total)

    townships = [
        _township(row, True, SEAT_POPULATION[row["code"]], poly_m, None, epsg)
        for row, poly_m in ((rows[0], guixi), (rows[1], guiyang))
    ]
    for i, row in enumerate(rural_rows):
        j = int(order[i])
        townships.append(_township(row, False, int(rural_pop[j]), cells[j], Point(seeds[j]), epsg))
    return sorted(townships, key=lambda t: t.code)


def _township(
    row: dict[str, str],
    urban: bool,
    population: int,
    poly_m: Polygon,
    seat: Point | None,
    epsg: int,
) -> Township:
    """A township from its polygon in metres; its seat ``seat`` if inside, else a point inside."""
    if seat is None or not poly_m.contains(seat):
        seat = poly_m.representative_point()
    lon, lat = to_lonlat(seat.x, seat.y, epsg)
    return Township(
        code=row["code"],
        short_name=row["short"],
        full_name=row["full"],
        urban=urban,
        population=population,
        polygon=to_wgs84(poly_m, epsg),
        seat=(round(float(lon), 6), round(float(lat), 6)),
    )
