"""The demo county: Dianjiang (垫江县, Chongqing), real where public, synthetic where made up.

Real (``qingzhi.demo.reference``): the county boundary, the 26 township-level units with their
official names and statistics codes, and the seed's magnitudes (935,000 residents, 504 sworn
officers = 5.39 per 10,000, 26 stations of which 2 urban, 17 rural stations bundled into 8 central
stations, 15 traffic-integrated stations, 桂阳's community team of 21 + 21 in 8 zones).

Synthetic (marked ``synthetic: true``): township polygons, seats and populations
(``qingzhi.demo.townships``), which stations are bundled (``qingzhi.demo.bundling``), a trunk road
network (here), and the organisation built on it: officers and their names, zones, the reform
(``qingzhi.demo.organisation``, ``qingzhi.demo.reform``; as an org bundle:
``qingzhi.demo.orgbundle.build_county``).

``generate_county(seed)`` is the geography, the same for the same seed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from shapely.geometry import Polygon

from qingzhi.demo.bundling import choose_bundles, traffic_groups
from qingzhi.demo.reference import county_boundary, seat_center
from qingzhi.demo.shapes import adjacent
from qingzhi.demo.townships import Township, draw_townships
from qingzhi.geo.projection import DEFAULT_EPSG

log = logging.getLogger(__name__)

Segment = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class County:
    """The generated county: boundary, townships, bundles, squads, roads (all WGS-84)."""

    seed: int
    boundary: Polygon
    townships: tuple[Township, ...]
    bundles: tuple[tuple[str, ...], ...]  # member station codes per central station
    traffic_groups: tuple[tuple[str, ...], ...]  # rural station codes per pre-reform squad
    roads: tuple[Segment, ...]  # segments, WGS-84
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
        return seat_center()


@lru_cache(maxsize=8)
def generate_county(seed: int = 2026) -> County:
    """The county's synthetic geography for ``seed`` (townships, bundles, squads, roads)."""
    rng = np.random.default_rng(seed)
    boundary = county_boundary()
    townships = draw_townships(boundary, seat_center(), DEFAULT_EPSG, rng)
    rural = [t for t in townships if not t.urban]
    bundles = choose_bundles(rural, rng)
    groups = traffic_groups(rural, rng)
    return County(
        seed=seed,
        boundary=boundary,
        townships=tuple(townships),
        bundles=bundles,
        traffic_groups=groups,
        roads=_roads(townships, seat_center()),
        epsg=DEFAULT_EPSG,
    )


def _roads(townships: Sequence[Township], centre: tuple[float, float]) -> tuple[Segment, ...]:
    """A synthetic trunk network shaped like a county's: the seat's centre to both subdistricts'
    seats, and every pair of adjacent township seats (a mesh; ``qingzhi.demo.basemap`` classes
    it and draws it)."""
    segs: list[Segment] = [(centre, t.seat) for t in townships if t.urban]
    for i, a in enumerate(townships):
        for b in townships[i + 1 :]:
            if not (a.urban and b.urban) and adjacent(a.polygon, b.polygon):
                segs.append((a.seat, b.seat))
    return tuple(segs)
