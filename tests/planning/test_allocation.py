"""The allocator: greedy equals brute force; moves respect minimums; targets; bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from qingzhi.errors import ValidationFailed
from qingzhi.planning.allocation import (
    RosterRule,
    UnitDemand,
    _Bureau,
    _Curve,
    allocate,
    optimal_allocation,
)
from qingzhi.planning.model import PlanInfeasible
from qingzhi.planning.queueing import mean_wait_table

RULE = RosterRule(hours={"sworn": 10.0, "auxiliary": 0.0}, crew=1.0, min_units=0, c_max=30)


def _unit(code: str, peak: float, sworn: int, travel: float = 8.0, floor: int = 0) -> UnitDemand:
    lam = np.zeros(168)
    lam[[9, 10, 20]] = [peak, peak * 0.5, peak * 1.5]  # three busy hours of the week
    return UnitDemand(code, lam, 60.0, travel, sworn, 0, min_sworn=floor)


def test_roster_greedy_equals_brute_force_within_a_unit() -> None:
    d = _unit("A", 2.0, 0)
    curve = _Curve(d, RULE)
    lam = d.calls_per_hour
    w = mean_wait_table(lam, 60.0, 20)
    busy = [9, 10, 20]
    base = {h: int(curve.c0[h]) for h in busy}
    for extra in range(0, 7):
        best = min(
            sum(lam[h] * w[h, base[h] + k] for h, k in zip(busy, ks, strict=True))
            for ks in itertools.product(range(extra + 1), repeat=3)
            if sum(ks) == extra
        )
        assert curve.value(curve.b0 + extra) == pytest.approx(best)


def test_allocation_equals_brute_force() -> None:
    units = [_unit("A", 2.0, 1), _unit("B", 0.6, 6), _unit("C", 1.2, 2, floor=1)]
    bureau = _Bureau(units, RULE, "sworn")
    total = 9
    best = min(
        (bureau.mean(alloc), alloc)
        for alloc in itertools.product(range(total + 1), repeat=3)
        if sum(alloc) == total and alloc[2] >= 1
    )
    greedy = optimal_allocation(units, RULE)
    assert bureau.mean([greedy[u.code] for u in units]) == pytest.approx(best[0])
    result = allocate(units, RULE)
    assert result.mean_response_after == pytest.approx(best[0])
    assert result.mean_response_after < result.mean_response_before
    assert sum(result.after.values()) == total  # officers are moved, not created


def test_moves_are_reported_with_their_gains() -> None:
    units = [_unit("A", 2.0, 1), _unit("B", 0.6, 6), _unit("C", 1.2, 2)]
    result = allocate(units, RULE)
    assert result.moves
    gains = [g for _, _, g in result.steps]
    assert all(g > 0 for g in gains)
    assert gains == sorted(gains, reverse=True)  # steepest first: marginal gains shrink
    total_gain = result.mean_response_before - result.mean_response_after
    assert sum(m.gain_minutes for m in result.moves) == pytest.approx(total_gain)
    move = result.moves[0]
    assert move.source == "B" and move.text.startswith("从 B 调")
    for m in result.moves:
        assert result.after[m.target] > result.before[m.target]


def test_minimum_staffing_is_respected() -> None:
    units = [_unit("A", 3.0, 2), _unit("B", 0.1, 8, floor=6), _unit("C", 0.1, 2, floor=2)]
    result = allocate(units, RULE)
    assert result.after["B"] >= 6 and result.after["C"] >= 2
    with pytest.raises(PlanInfeasible) as err:
        allocate([_unit("A", 1.0, 2, floor=5), _unit("B", 1.0, 2, floor=1)], RULE)
    assert err.value.details[0]["field"] == "min_staffing"


def test_a_station_below_its_minimum_is_filled_first() -> None:
    units = [_unit("A", 0.2, 1, floor=3), _unit("B", 0.2, 9)]
    result = allocate(units, RULE)
    assert result.after["A"] >= 3
    assert result.moves[0].source == "B" and result.moves[0].target == "A"


def test_target_mode_meets_the_target_or_names_the_unit() -> None:
    units = [_unit("A", 2.0, 1, travel=5.0), _unit("B", 0.6, 8, travel=5.0)]
    result = allocate(units, RULE, target_minutes=12.0)
    assert all(v <= 12.0 + 1e-9 for v in result.unit_response_after.values())
    with pytest.raises(PlanInfeasible) as err:
        allocate([_unit("A", 1.0, 4, travel=20.0), _unit("B", 1.0, 4)], RULE, target_minutes=15.0)
    assert err.value.details[0]["field"] == "units.A"


def test_negative_staffing_names_the_field() -> None:
    with pytest.raises(ValidationFailed) as err:
        allocate([_unit("A", 1.0, -2)], RULE)
    assert err.value.details[0]["field"] == "units[0].sworn"
    with pytest.raises(ValidationFailed):
        allocate([_unit("A", 1.0, 2)], RULE, kind="cadet")


def test_roster_follows_the_calls() -> None:
    units = [_unit("A", 2.0, 4)]
    res = allocate(units, RULE)
    roster = res.roster_after.at("A")
    assert roster[20] >= roster[10]  # the busiest hour gets at least as many units
    assert roster.sum() == RULE.budget(4, 0)  # every unit-hour of the 4 officers is rostered
    assert roster[0] == 0  # none where no call comes (min_units 0)


def test_a_unit_that_cannot_cover_every_hour_is_reported_and_filled_first() -> None:
    # 3 officers × 40 h / crews of 2 = 60 unit-hours: not one unit on duty in every hour (168)
    lam = np.full(168, 0.5)
    short = UnitDemand("X", lam, 40.0, 8.0, sworn=3, auxiliary=0)
    rich = UnitDemand("Y", lam, 40.0, 8.0, sworn=30, auxiliary=0)
    res = allocate([short, rich], RosterRule(), kind="sworn")
    assert res.understaffed_before == ("X",) and res.understaffed_after == ()
    assert math.isinf(res.mean_response_before) and math.isinf(res.unit_response_before["X"])
    assert math.isfinite(res.mean_response_after)
    first = res.moves[0]
    assert (first.source, first.target) == ("Y", "X") and math.isinf(first.gain_minutes)
    assert res.after["X"] >= 9  # 9 × 40 / 2 = 180 unit-hours ≥ 168


def test_a_minimum_gain_stops_the_small_moves() -> None:
    lam_busy, lam_quiet = np.full(168, 2.0), np.full(168, 0.2)
    busy = UnitDemand("busy", lam_busy, 40.0, 8.0, sworn=12, auxiliary=0)
    quiet = UnitDemand("quiet", lam_quiet, 40.0, 8.0, sworn=30, auxiliary=0)
    every = allocate([busy, quiet], RosterRule(), kind="sworn")
    assert every.steps and all(g > 0 for _, _, g in every.steps)
    smallest = min(g for _, _, g in every.steps)
    fewer = allocate([busy, quiet], RosterRule(), kind="sworn", min_gain_minutes=smallest * 1.01)
    assert 0 < len(fewer.steps) < len(every.steps)
    assert all(g >= smallest * 1.01 for _, _, g in fewer.steps)
    with pytest.raises(ValidationFailed, match="min_gain_minutes"):
        allocate([busy, quiet], RosterRule(), min_gain_minutes=-1)
