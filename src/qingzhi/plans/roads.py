"""The roads run (交所合一): road km by class per station and per officer, from an OSM extract or
a labelled synthetic skeleton (no road layer of the demo is in the store)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from shapely.geometry import LineString
from shapely.ops import unary_union

from qingzhi.planning.geometry import adjacency
from qingzhi.planning.model import bad
from qingzhi.planning.roads import CLASSES, Road, coverage, read_osm_roads
from qingzhi.plans.compute import Progress, name_of, quiet, rounded
from qingzhi.plans.inputs import PlanningInputs

log = logging.getLogger(__name__)


def synthetic_roads(inp: PlanningInputs) -> list[Road]:
    """A labelled synthetic skeleton: seat to seat between adjacent stations (township roads) and
    each seat to the busiest urban station's seat (county roads)."""
    adj = adjacency(list(inp.stations))
    per = Counter(c.station for c in inp.calls)
    urban = [s for s in inp.stations if not s.rural] or list(inp.stations)
    hub = max(urban, key=lambda s: (per.get(s.code, 0), s.code))
    by = {s.code: s for s in inp.stations}
    roads = []
    for a, ns in sorted(adj.items()):
        for b in sorted(ns):
            if a < b:
                roads.append(Road(LineString([by[a].seat, by[b].seat]), "township", synthetic=True))
    for s in inp.stations:
        if s.code != hub.code:
            roads.append(Road(LineString([hub.seat, s.seat]), "county", synthetic=True))
    return roads


def run_roads(
    inp: PlanningInputs,
    *,
    osm_path: Any,
    squads: Sequence[Mapping[str, Any]],
    progress: Progress = quiet,
) -> dict[str, Any]:
    """Road km by class per station and per officer; per squad before integration if given."""
    if osm_path is not None:
        progress(0.1, "读取 OpenStreetMap 路网")
        roads = read_osm_roads(osm_path)
        source = f"OpenStreetMap 路网 {osm_path.name}（按 ref 前缀 G/S/X/Y/C 与 highway 分级）"
    else:
        roads = synthetic_roads(inp)
        source = (
            "合成道路骨架（演示用，非真实路网）：相邻所驻地间为乡道，各所驻地至城区中心所为县道"
        )
    if not roads:
        raise bad("roads", "路网中没有可用的道路")
    areas = {s.code: s.jurisdiction for s in inp.stations if s.jurisdiction is not None}
    officers = {s.code: s.sworn + s.auxiliary for s in inp.stations}
    progress(0.5, "按辖区统计道路里程")
    after = coverage(roads, areas, officers)
    traffic = Counter(c.station for c in inp.calls if c.category == "traffic")
    years = inp.weeks / 52.1775
    stations = [
        {
            "code": c.unit,
            "name": name_of(inp, c.unit),
            "km": {k: round(v, 2) for k, v in c.km.items()},
            "officers": c.officers,
            "trunk_km": round(c.trunk_km, 2),
            "trunk_km_per_officer": rounded(c.trunk_km_per_officer, 3),
            "km_per_officer": rounded(sum(c.km.values()) / c.officers, 3) if c.officers else None,
            "traffic_calls_per_year": round(traffic.get(c.unit, 0) / years, 1),
            "traffic_integrated": c.unit in inp.traffic_integrated,
        }
        for c in after
    ]
    before = []
    if squads:
        union = {str(q["name"]): unary_union([areas[s] for s in q["stations"]]) for q in squads}
        for c in coverage(roads, union, {str(q["name"]): int(q["officers"]) for q in squads}):
            before.append(
                {
                    "name": c.unit,
                    "km": {k: round(v, 2) for k, v in c.km.items()},
                    "officers": c.officers,
                    "trunk_km_per_officer": rounded(c.trunk_km_per_officer, 3),
                }
            )
    return {
        "source": source,
        "synthetic": osm_path is None,
        "classes": list(CLASSES),
        "stations": stations,
        "squads": before,
    }
