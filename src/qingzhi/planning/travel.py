"""Travel times between places: on the road graph when one is configured, else straight line.

``StraightLine`` is the stated fallback: planar distance in the projected CRS (UTM 48N by
default) × a detour factor, at a constant speed, plus an optional turn-out time; the defaults are
the dispatch service's (``QINGZHI_DISPATCH_DETOUR_FACTOR`` 1.4, ``_SPEED_KMH`` 30).
``RoadNetwork`` wraps any object with the ``seconds_to(lon, lat, src_lon, src_lat)`` method of
``qingzhi.geo.roads.RoadGraph`` (one Dijkstra per destination), so the library needs no
import from the dispatch package. Both give minutes, and ``describe()`` says which was used.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from qingzhi.geo.projection import DEFAULT_EPSG, to_metres
from qingzhi.planning.model import FloatArray, bad

log = logging.getLogger(__name__)

Point = tuple[float, float]


class TravelModel(Protocol):
    """Travel minutes from many origins to one destination."""

    def minutes_to(self, lon: float, lat: float, src_lon: Any, src_lat: Any) -> FloatArray:
        """Minutes from each (src_lon, src_lat) to (lon, lat)."""
        ...

    def describe(self) -> str:
        """How travel times are estimated, in one Chinese sentence."""
        ...


class RoadTimes(Protocol):
    """The part of ``qingzhi.geo.roads.RoadGraph`` the planner uses."""

    def seconds_to(self, lon: float, lat: float, src_lon: Any, src_lat: Any) -> FloatArray: ...


@dataclass(frozen=True)
class StraightLine:
    """Straight-line distance × ``detour`` at ``speed_kmh``, plus ``turnout_minutes``."""

    detour: float = 1.4
    speed_kmh: float = 30.0
    turnout_minutes: float = 0.0
    epsg: int = DEFAULT_EPSG

    def __post_init__(self) -> None:
        if self.detour < 1.0:
            raise bad("detour", "绕行系数不能小于 1")
        if self.speed_kmh <= 0:
            raise bad("speed_kmh", "车速须为正数")
        if self.turnout_minutes < 0:
            raise bad("turnout_minutes", "出警准备时间不能为负")

    def minutes_to(self, lon: float, lat: float, src_lon: Any, src_lat: Any) -> FloatArray:
        """Minutes from each source to (lon, lat)."""
        x0, y0 = to_metres(np.atleast_1d(src_lon), np.atleast_1d(src_lat), self.epsg)
        x1, y1 = to_metres(np.array([lon]), np.array([lat]), self.epsg)
        return self.minutes_xy(x0, y0, float(x1[0]), float(y1[0]))

    def minutes_xy(self, x0: FloatArray, y0: FloatArray, x1: float, y1: float) -> FloatArray:
        """The same from projected metres (the simulation's fast path)."""
        d = np.hypot(x0 - x1, y0 - y1) * self.detour
        return np.asarray(d / (self.speed_kmh / 0.06) + self.turnout_minutes, dtype=np.float64)

    def describe(self) -> str:
        """The stated assumption."""
        return (
            f"直线距离 × 绕行系数 {self.detour:g}，车速 {self.speed_kmh:g} km/h"
            f"{f'，另加出警准备 {self.turnout_minutes:g} 分钟' if self.turnout_minutes else ''}"
            "（未配置路网）"
        )


@dataclass(frozen=True)
class RoadNetwork:
    """Travel minutes on a road graph (``QINGZHI_ROAD_GRAPH``), plus ``turnout_minutes``."""

    graph: RoadTimes
    turnout_minutes: float = 0.0
    name: str = ""

    def minutes_to(self, lon: float, lat: float, src_lon: Any, src_lat: Any) -> FloatArray:
        """Minutes from each source to (lon, lat) along the roads."""
        secs = np.asarray(self.graph.seconds_to(lon, lat, src_lon, src_lat), dtype=np.float64)
        return np.asarray(secs / 60.0 + self.turnout_minutes, dtype=np.float64)

    def describe(self) -> str:
        """The stated source."""
        return f"路网行驶时间（{self.name or 'OpenStreetMap 路网'}）"


def matrix(model: TravelModel, origins: Sequence[Point], destinations: Sequence[Point]) -> Any:
    """Minutes from every origin (rows) to every destination (columns)."""
    o = np.asarray(origins, dtype=np.float64).reshape(-1, 2)
    out = np.empty((len(o), len(destinations)), dtype=np.float64)
    for j, (lon, lat) in enumerate(destinations):
        out[:, j] = model.minutes_to(float(lon), float(lat), o[:, 0], o[:, 1])
    return out
