"""The runs on hand-made inputs (no database): the simulation's travel calibrated on a road
model, the bundle run's three plans on one objective, the synthetic road skeleton."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from shapely.geometry import box

from qingzhi.planning.model import Call, Station
from qingzhi.planning.plans import Bundle
from qingzhi.planning.travel import RoadNetwork, StraightLine
from qingzhi.plans import compute
from qingzhi.plans import roads as plan_roads
from qingzhi.plans.inputs import PlanningInputs

T0 = dt.datetime(2026, 9, 7, tzinfo=dt.UTC)


class TwiceTheLine:
    """A road model whose travel is exactly twice the straight line at 30 km/h (no detour)."""

    def seconds_to(self, lon: float, lat: float, src_lon: Any, src_lat: Any) -> Any:
        line = StraightLine(detour=1.0)
        return 2.0 * 60.0 * line.minutes_to(lon, lat, src_lon, src_lat)


def _inputs(travel: Any) -> PlanningInputs:
    rng = np.random.default_rng(3)
    stations = []
    calls = []
    for k, (code, x0) in enumerate((("P", 107.0), ("Q", 107.1), ("R", 107.2))):
        shape = box(x0, 30.0, x0 + 0.1, 30.1)
        stations.append(Station(code, f"{code}所", (x0 + 0.05, 30.05), shape, True, 8 + k, 2, 2))
        for i in range(150):
            calls.append(
                Call(
                    float(i * 60 * 4 + k * 7),
                    x0 + 0.1 * rng.random(),
                    30.0 + 0.1 * rng.random(),
                    code,
                    30.0,
                    ("criminal", "traffic", "dispute")[i % 3],
                )
            )
    calls.sort(key=lambda c: c.minute)
    return PlanningInputs(
        stations=tuple(stations),
        unit_ids={"P": 1, "Q": 2, "R": 3},
        names={"P": "P所", "Q": "Q所", "R": "R所", "C1": "中心所"},
        bundles=(Bundle("P", ("Q",)),),
        central_codes={"P": "C1"},
        calls=tuple(calls),
        start=T0,
        end=T0 + dt.timedelta(weeks=4),
        weeks=4.0,
        travel=travel,
        traffic_integrated=frozenset({"R"}),
    )


def test_the_simulation_calibrates_the_detour_on_the_road_model() -> None:
    inp = _inputs(RoadNetwork(TwiceTheLine(), name="测试路网"))
    prep = compute.prepare(inp)
    model, how = compute.sim_travel(inp, prep)
    assert isinstance(model, StraightLine)
    # road minutes are 2 × the line at 30 km/h, the default line has 1.4: calibrated 1.4 × 2/1.4
    assert model.detour == pytest.approx(2.0, rel=1e-9)
    assert "校准" in how and "测试路网" in how


def test_a_bundle_run_scores_three_plans_on_one_objective() -> None:
    inp = _inputs(StraightLine())
    prep = compute.prepare(inp)
    out = compute.run_bundle(inp, prep, {"n_bundles": (1, 1)})
    assert [p["key"] for p in out["plans"]] == ["none", "actual", "optimal"]
    none, actual, best = out["plans"]
    assert none["displacement"]["seats_closed"] == 0 and actual["displacement"]["seats_closed"] == 1
    assert best["objective"] <= actual["objective"] + 1e-9
    # Q answered from P's seat: its travel is P's seat to Q's calls, longer than from its own
    assert actual["travel_minutes"]["Q"] > none["travel_minutes"]["Q"]


def test_the_synthetic_road_skeleton_is_labelled_and_measured() -> None:
    inp = _inputs(StraightLine())
    out = plan_roads.run_roads(inp, osm_path=None, squads=[])
    assert out["synthetic"] is True and "合成" in out["source"]
    km = {s["code"]: s["km"] for s in out["stations"]}
    # P–Q and Q–R touch: two township links; every seat but the hub's joins the hub (county)
    total_township = sum(v["township"] for v in km.values())
    assert total_township == pytest.approx(2 * 9.66, rel=0.02)  # 0.1° of longitude at 30°N
    flags = {s["code"]: s["traffic_integrated"] for s in out["stations"]}
    assert flags == {"P": False, "Q": False, "R": True}
