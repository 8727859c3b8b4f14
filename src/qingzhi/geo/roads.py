"""A road graph for travel-time estimates, built from an OpenStreetMap extract.

The extract (``.osm``, ``.osm.bz2`` or ``.osm.pbf``) is read with pyosmium. Every drivable
``highway`` way becomes directed edges between consecutive nodes, weighted by travel time at the
way's ``maxspeed`` or a default speed for its class; ``oneway`` (and roundabouts) are respected.
Travel times to a point are one Dijkstra run (``scipy.sparse.csgraph``) on the reversed graph,
from the road node nearest the point; each source snaps to its nearest node, and the snapping
legs are covered at ``ACCESS_SPEED_KMH`` along the straight line.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from qingzhi.errors import ConfigurationError
from qingzhi.geo.distance import METRES_PER_DEGREE, haversine_m_array

log = logging.getLogger(__name__)

ACCESS_SPEED_KMH = 15.0
# Default speeds (km/h) by highway class, for ways without a usable maxspeed.
SPEEDS_KMH: dict[str, float] = {
    "motorway": 90.0,
    "motorway_link": 50.0,
    "trunk": 70.0,
    "trunk_link": 45.0,
    "primary": 55.0,
    "primary_link": 40.0,
    "secondary": 45.0,
    "secondary_link": 35.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 25.0,
}
_NO_ACCESS = {"no", "private"}
_MPH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*mph\s*$")
_KMH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:km/h|kmh|kph)?\s*$")

FloatArray = NDArray[np.float64]


def parse_maxspeed(value: str | None) -> float | None:
    """km/h from an OSM ``maxspeed`` tag (``50``, ``30 mph``); None when unusable."""
    if not value:
        return None
    m = _MPH.match(value)
    if m:
        return float(m.group(1)) * 1.609344
    m = _KMH.match(value)
    if m:
        return float(m.group(1))
    return None


@dataclass
class RoadGraph:
    """Road nodes (WGS-84) and a sparse matrix of travel seconds between adjacent nodes."""

    lon: FloatArray
    lat: FloatArray
    seconds: csr_matrix
    length_m: float

    def __post_init__(self) -> None:
        self._lat0 = float(np.mean(self.lat)) if len(self.lat) else 0.0
        self._tree = cKDTree(self._xy(self.lon, self.lat)) if len(self.lon) else None
        self._reverse = self.seconds.transpose().tocsr()

    @property
    def n_nodes(self) -> int:
        """Number of road nodes."""
        return len(self.lon)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return int(self.seconds.nnz)

    def _xy(self, lon: Any, lat: Any) -> FloatArray:
        k = METRES_PER_DEGREE
        x = np.asarray(lon, dtype=np.float64) * k * math.cos(math.radians(self._lat0))
        y = np.asarray(lat, dtype=np.float64) * k
        return np.column_stack([x, y])

    def nearest(self, lon: Any, lat: Any) -> tuple[NDArray[np.int64], FloatArray]:
        """Index of the nearest road node of each point and the distance to it (metres)."""
        assert self._tree is not None, "empty road graph"
        dist, idx = self._tree.query(self._xy(np.atleast_1d(lon), np.atleast_1d(lat)))
        return np.asarray(idx, dtype=np.int64), np.asarray(dist, dtype=np.float64)

    def seconds_to(self, lon: float, lat: float, src_lon: Any, src_lat: Any) -> FloatArray:
        """Travel seconds from each source point to (lon, lat); inf where no road connects."""
        src_lon, src_lat = np.atleast_1d(src_lon), np.atleast_1d(src_lat)
        if self.n_nodes == 0:
            return np.full(len(src_lon), np.inf)
        target, t_off = self.nearest(lon, lat)
        times = dijkstra(self._reverse, directed=True, indices=int(target[0]))
        nodes, s_off = self.nearest(src_lon, src_lat)
        access = (s_off + t_off[0]) / (ACCESS_SPEED_KMH / 3.6)
        return np.asarray(times[nodes] + access, dtype=np.float64)


def osm_ways(path: Path) -> Iterator[Any]:
    """Every way of an OSM extract (.osm, .osm.bz2, .osm.pbf) with its nodes' locations, each
    valid only until the next is read (pyosmium, imported when called)."""
    import osmium

    for way in (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
    ):
        if isinstance(way, osmium.osm.Way):
            yield way


def build_graph(path: Path) -> RoadGraph:
    """The drivable road graph of an OSM extract."""
    froms: list[int] = []
    tos: list[int] = []
    secs: list[float] = []
    index: dict[int, int] = {}
    lons: list[float] = []
    lats: list[float] = []
    total = 0.0

    def node_index(ref: int, lon: float, lat: float) -> int:
        i = index.get(ref)
        if i is None:
            i = index[ref] = len(lons)
            lons.append(lon)
            lats.append(lat)
        return i

    for way in osm_ways(path):
        tags = way.tags
        highway = tags.get("highway")
        if highway not in SPEEDS_KMH or tags.get("area") == "yes":
            continue
        if tags.get("access") in _NO_ACCESS or tags.get("motor_vehicle") in _NO_ACCESS:
            continue
        speed = parse_maxspeed(tags.get("maxspeed")) or SPEEDS_KMH[highway]
        oneway = tags.get("oneway")
        forward = True
        backward = not (
            oneway in ("yes", "true", "1")
            or tags.get("junction") == "roundabout"
            or (highway.startswith("motorway") and oneway != "no")
        )
        if oneway == "-1":
            forward, backward = False, True
        pts = []
        for n in way.nodes:
            if not n.location.valid():
                continue
            pts.append(node_index(n.ref, n.location.lon, n.location.lat))
        for a, b in itertools.pairwise(pts):
            if a == b:
                continue
            d = float(haversine_m_array(lons[a], lats[a], lons[b], lats[b]))
            t = d / (speed / 3.6)
            total += d
            if forward:
                froms.append(a)
                tos.append(b)
                secs.append(t)
            if backward:
                froms.append(b)
                tos.append(a)
                secs.append(t)
    size = len(lons)
    matrix = csr_matrix((np.array(secs), (np.array(froms), np.array(tos))), shape=(size, size))
    log.info(
        "road graph %s: %d nodes, %d edges, %.1f km", path.name, size, matrix.nnz, total / 1000
    )
    return RoadGraph(np.array(lons), np.array(lats), matrix, total)


@lru_cache(maxsize=2)
def _cached(path: str, mtime: float) -> RoadGraph:
    return build_graph(Path(path))


def load_graph(path: Path | None) -> RoadGraph | None:
    """The road graph of ``path`` (built once per process and file version); None when unset."""
    if path is None:
        return None
    if not path.exists():
        raise ConfigurationError(f"路网文件不存在：{path}")
    return _cached(str(path.resolve()), path.stat().st_mtime)
