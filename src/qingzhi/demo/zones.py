"""桂阳's community policing zones (片区): 8 synthetic zones partitioning the station's area.

The seed: 桂阳's community team of 21 sworn officers and 21 auxiliaries works in 8 zones. The zones
are Lloyd-relaxed Voronoi cells of the township, numbered north to south, sharing its residents
lognormally.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Polygon

from qingzhi.demo.draws import apportion
from qingzhi.demo.shapes import SEGMENT_DEG, lloyd, partition, to_wgs84
from qingzhi.demo.townships import Township
from qingzhi.geo.projection import project_geometry

log = logging.getLogger(__name__)

N_ZONES_GUIYANG = 8  # seed
CHINESE_DIGITS = "一二三四五六七八九十"


@dataclass(frozen=True)
class Zone:
    """A community zone of a station: code, name, station code, population, polygon (WGS-84)."""

    code: str
    name: str
    station: str
    population: int
    geometry: Polygon


def draw_zones(station: Township, epsg: int, rng: np.random.Generator) -> list[Zone]:
    """``N_ZONES_GUIYANG`` zones partitioning ``station``'s polygon, numbered north to south."""
    region = project_geometry(station.polygon.segmentize(SEGMENT_DEG), epsg)
    seeds = lloyd(region, N_ZONES_GUIYANG, rng, n_sample=4_000)
    cells = partition(region, seeds)
    order = np.argsort(-seeds[:, 1], kind="stable")  # numbered north to south
    pops = apportion(rng.lognormal(0.0, 0.25, size=N_ZONES_GUIYANG), station.population)
    return [
        Zone(
            code=f"{station.code}-PQ{rank:02d}",
            name=f"{station.short_name}{CHINESE_DIGITS[rank - 1]}片区",
            station=station.code,
            population=int(pops[rank - 1]),
            geometry=to_wgs84(cells[int(j)], epsg),
        )
        for rank, j in enumerate(order, start=1)
    ]
