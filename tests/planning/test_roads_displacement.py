"""Road length by class per jurisdiction and per officer; displacement exposure of a plan."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import LineString, box

from qingzhi.config import shared_data_dir
from qingzhi.errors import ValidationFailed
from qingzhi.geo.projection import distance_m
from qingzhi.planning.bundling import Bundle, BundlingPlan
from qingzhi.planning.displacement import displacement_risk
from qingzhi.planning.roads import Road, classify, coverage, lengths_by_class, read_osm_roads
from tests.planning.test_bundling import _grid

OSM = shared_data_dir("osm", "west_oakland.osm.bz2")


def test_classes_from_chinese_refs_and_highway_tags() -> None:
    assert classify("primary", "G318") == "national"
    assert classify("secondary", "S102;X001") == "provincial"
    assert classify("tertiary", "X154") == "county"
    assert classify("unclassified", "Y021") == "township"
    assert classify("trunk", None) == "national"
    assert classify("secondary_link", None) == "county"
    assert classify("service", None) == "other"


def test_length_inside_each_area_in_metres() -> None:
    area = box(107.0, 30.0, 107.1, 30.1)
    road = Road(LineString([(107.05, 30.05), (107.15, 30.05)]), "county")  # half inside
    got = lengths_by_class([road], {"A": area})["A"]
    half = float(distance_m(107.05, 30.05, 107.1, 30.05))
    assert got["county"] == pytest.approx(half, rel=1e-3)
    assert got["national"] == 0.0
    cov = coverage([road], {"A": area}, {"A": 2})[0]
    assert cov.trunk_km_per_officer == pytest.approx(half / 2000, rel=1e-3)
    with pytest.raises(ValidationFailed):
        coverage([road], {"A": area}, {"A": -1})


def test_osm_extract_is_read_and_classified() -> None:
    if not OSM.exists():
        pytest.skip("shared OSM extract missing")
    roads = read_osm_roads(OSM)
    assert roads
    assert {r.road_class for r in roads} <= {
        "national",
        "provincial",
        "county",
        "township",
        "village",
        "other",
    }
    xs = np.concatenate([np.asarray(r.geometry.coords)[:, 0] for r in roads])
    assert -122.4 < xs.mean() < -122.2  # Oakland


def test_displacement_exposure_of_a_plan() -> None:
    problem = _grid(2, 3, seed=11)
    plan = BundlingPlan((Bundle("S00", ("S01",)),))
    risk = displacement_risk(problem, plan, {"S01": 4.0, "S00": 9.0})
    assert risk.seats_closed == 1
    loss = risk.losses[0]
    idx = problem.codes.index
    extra = (
        problem.demand_minutes[idx("S00"), idx("S01")]
        - problem.demand_minutes[idx("S01"), idx("S01")]
    )
    assert loss.extra_minutes == pytest.approx(extra)
    assert risk.total_exposure == pytest.approx(4.0 * extra)
    assert "S01" not in risk.neighbours_at_risk and "S02" in risk.neighbours_at_risk
    assert displacement_risk(problem, BundlingPlan(()), {}).total_exposure == 0.0
