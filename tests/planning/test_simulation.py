"""The simulation against M/M/c, dispatch order, shifts and neighbours."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qingzhi.planning.model import Call, OperatingUnit, Organisation, Staffing
from qingzhi.planning.queueing import erlang_c
from qingzhi.planning.simulation import replication_ci, simulate
from qingzhi.planning.travel import StraightLine


class NoTravel:
    """Units are on the spot: response = wait, busy time = on-scene time."""

    def minutes_to(self, lon: float, lat: float, src_lon: Any, src_lat: Any) -> Any:
        return np.zeros(len(np.atleast_1d(src_lon)))

    def describe(self) -> str:
        return "无行驶时间"


def _poisson_calls(
    rate_h: float, busy_min: float, n: int, seed: int, station: str = "A"
) -> list[Call]:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(60.0 / rate_h, n))
    s = rng.exponential(busy_min, n)
    return [Call(float(a), 107.3, 30.3, station, float(b)) for a, b in zip(t, s, strict=True)]


ONE = Organisation((OperatingUnit("A", (107.3, 30.3), ("A",)),))


def test_agrees_with_mmc_within_the_confidence_interval() -> None:
    lam, busy, c = 2.0, 60.0, 3  # a = 2 Erlangs on 3 units: C = 0.444, E[W] = 26.7 min
    staffing = Staffing.constant({"A": c})
    waits, shares = [], []
    for seed in range(8):
        res = simulate(_poisson_calls(lam, busy, 6000, seed), ONE, staffing, NoTravel())
        waits.append(res.county.mean)
        shares.append(res.county.share_waited)
    cw = erlang_c(c, lam * busy / 60.0)
    mean_wait = cw / (c / busy - lam / 60.0)
    m, half = replication_ci(waits)
    assert abs(m - mean_wait) <= half
    ms, hs = replication_ci(shares)
    assert abs(ms - cw) <= hs


def test_nearest_free_unit_of_the_handling_unit_first_then_neighbours() -> None:
    org = Organisation(
        (
            OperatingUnit("A", (107.30, 30.30), ("A",), neighbours=("B",)),
            OperatingUnit("B", (107.40, 30.30), ("B",), neighbours=("A",)),
        )
    )
    staffing = Staffing.constant({"A": 1, "B": 1})
    calls = [
        Call(0.0, 107.39, 30.30, "A", 120.0),  # A's unit, though B's is nearer
        Call(1.0, 107.31, 30.30, "A", 120.0),  # A busy: B's unit helps
        Call(2.0, 107.31, 30.30, "A", 10.0),  # both busy: waits for A's unit
    ]
    travel = StraightLine(detour=1.0, speed_kmh=60.0)
    res = simulate(calls, org, staffing, travel)
    a = res.stations["A"]
    assert a.calls == 3
    assert a.share_by_neighbour == pytest.approx(1 / 3)
    assert a.share_waited == pytest.approx(1 / 3)
    alone = simulate(calls, org, staffing, travel, neighbours=False)
    assert alone.stations["A"].share_by_neighbour == 0.0
    assert alone.stations["A"].mean > a.mean


def test_more_units_on_duty_cut_the_wait() -> None:
    calls = _poisson_calls(2.0, 60.0, 3000, seed=1)
    few = simulate(calls, ONE, Staffing.constant({"A": 3}), NoTravel())
    many = simulate(calls, ONE, Staffing.constant({"A": 5}), NoTravel())
    assert many.county.mean < few.county.mean
    assert many.county.p90 <= few.county.p90


def test_off_duty_hours_hold_calls_until_the_shift_starts() -> None:
    on = np.zeros(168, dtype=np.int64)
    on[8:] = 1  # nobody on Monday 00:00–08:00
    calls = [Call(60.0, 107.3, 30.3, "A", 5.0)]
    res = simulate(calls, ONE, Staffing({"A": on}), NoTravel())
    assert res.county.mean == pytest.approx(8 * 60.0 - 60.0)
