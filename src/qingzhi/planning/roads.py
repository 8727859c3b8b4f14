"""Traffic integration (交所合一): road length by class per station and per traffic officer.

Roads are LineStrings (WGS-84) with a Chinese administrative class: national (国道), provincial
(省道), county (县道), township (乡道), village (村道), or other. Each jurisdiction's length by
class is the length of the roads' intersection with it, measured in metres in the projected CRS
(``qingzhi.geo.projection``). ``coverage`` compares a before (traffic squads, each covering the
union of its stations) and an after (each station its own roads) per officer.

An OpenStreetMap extract is read offline with pyosmium, the same reader pattern as the dispatch
road graph (``qingzhi.geo.roads``, whose drivable ``highway`` classes are reused); the class
comes from the ``ref`` prefix of Chinese roads (G/S/X/Y/C + number), else from ``highway``
(motorway/trunk → national, primary → provincial, secondary → county, tertiary → township,
unclassified/residential/track → village).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from qingzhi.geo.projection import DEFAULT_EPSG, project_geometry
from qingzhi.planning.model import bad

log = logging.getLogger(__name__)

CLASSES = ("national", "provincial", "county", "township", "village", "other")
REF_PREFIX = {"G": "national", "S": "provincial", "X": "county", "Y": "township", "C": "village"}
HIGHWAY_CLASS = {
    "motorway": "national",
    "trunk": "national",
    "primary": "provincial",
    "secondary": "county",
    "tertiary": "township",
    "unclassified": "village",
    "residential": "village",
    "track": "village",
}
_REF = re.compile(r"^\s*([GSXYC])\d+", re.IGNORECASE)


@dataclass(frozen=True)
class Road:
    """A road piece with its class; ``synthetic`` marks generated (demo) roads."""

    geometry: LineString  # WGS-84
    road_class: str
    synthetic: bool = False


def classify(highway: str | None, ref: str | None) -> str:
    """The administrative class of an OSM way from its ``ref`` (G/S/X/Y/C…) or ``highway``."""
    if ref:
        m = _REF.match(ref.split(";")[0])
        if m:
            return REF_PREFIX[m.group(1).upper()]
    base = (highway or "").removesuffix("_link")
    return HIGHWAY_CLASS.get(base, "other")


def read_osm_roads(path: Path) -> list[Road]:
    """The drivable roads of an OSM extract (.osm, .osm.bz2, .osm.pbf), classified."""
    from qingzhi.geo.roads import SPEEDS_KMH, osm_ways

    out: list[Road] = []
    for way in osm_ways(path):
        highway = way.tags.get("highway")
        if highway not in SPEEDS_KMH and highway != "track":
            continue
        pts = [(n.location.lon, n.location.lat) for n in way.nodes if n.location.valid()]
        if len(pts) < 2:
            continue
        out.append(Road(LineString(pts), classify(highway, way.tags.get("ref"))))
    log.info("roads %s: %d ways", path.name, len(out))
    return out


def lengths_by_class(
    roads: Sequence[Road], areas: Mapping[str, BaseGeometry], epsg: int = DEFAULT_EPSG
) -> dict[str, dict[str, float]]:
    """Metres of road of each class inside each area (WGS-84 polygons)."""
    for r in roads:
        if r.road_class not in CLASSES:
            raise bad("roads.road_class", f"未知的道路等级 {r.road_class}")
    lines = [project_geometry(r.geometry, epsg) for r in roads]
    tree = shapely.STRtree(lines)
    out: dict[str, dict[str, float]] = {}
    for code, area in areas.items():
        poly = project_geometry(area, epsg)
        got = dict.fromkeys(CLASSES, 0.0)
        for k in tree.query(poly, predicate="intersects").tolist():
            got[roads[k].road_class] += float(lines[k].intersection(poly).length)
        out[code] = got
    return out


@dataclass(frozen=True)
class Coverage:
    """Road kilometres by class for one unit, in total and per traffic officer."""

    unit: str
    km: Mapping[str, float]
    officers: int
    trunk_km: float  # national + provincial + county
    trunk_km_per_officer: float


def coverage(
    roads: Sequence[Road],
    areas: Mapping[str, BaseGeometry],
    officers: Mapping[str, int],
    epsg: int = DEFAULT_EPSG,
) -> list[Coverage]:
    """Per unit: km by class, and national + provincial + county km per traffic officer."""
    for code, n in officers.items():
        if n < 0:
            raise bad(f"officers.{code}", "警力不能为负")
    m = lengths_by_class(roads, areas, epsg)
    out = []
    for code, by in m.items():
        km = {k: v / 1000.0 for k, v in by.items()}
        trunk = km["national"] + km["provincial"] + km["county"]
        n = int(officers.get(code, 0))
        out.append(Coverage(code, km, n, trunk, trunk / n if n else float("inf")))
    return out
