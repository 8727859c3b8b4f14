"""Bundling: the MIP equals enumeration on tiny counties; plan scoring; bad input; infeasibility."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest
from shapely.geometry import box

from qingzhi.errors import ValidationFailed
from qingzhi.planning.bundling import (
    Bundle,
    BundlingPlan,
    BundlingProblem,
    Fixed,
    bundling_problem,
    evaluate_plan,
    organisation_of,
    solve_bundling,
)
from qingzhi.planning.geometry import connected
from qingzhi.planning.model import PlanInfeasible, Station


def _grid(rows: int, cols: int, seed: int, **options: object) -> BundlingProblem:
    """Square jurisdictions of 0.1° in a grid; seats at the centres; random calls and staff."""
    rng = np.random.default_rng(seed)
    stations = []
    for r in range(rows):
        for c in range(cols):
            x0, y0 = 107.0 + 0.1 * c, 30.0 + 0.1 * r
            stations.append(
                Station(
                    code=f"S{r}{c}",
                    name=f"站{r}{c}",
                    seat=(x0 + 0.05, y0 + 0.05),
                    jurisdiction=box(x0, y0, x0 + 0.1, y0 + 0.1),
                    sworn=int(rng.integers(4, 12)),
                    auxiliary=int(rng.integers(0, 6)),
                )
            )
    xy = np.array([s.seat for s in stations]) * np.array([96.0, 111.0])  # km
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    seat_min = dist * 1.4 / 0.5  # 30 km/h
    demand = seat_min + 6.0 + rng.uniform(0, 2, seat_min.shape)  # to the demand, not the seat
    workload = {s.code: float(rng.uniform(10, 60)) for s in stations}
    return bundling_problem(stations, workload, demand, seat_min, **options)


def _plans(problem: BundlingProblem) -> Iterator[BundlingPlan]:
    """Every plan: partitions of the participants into singles and bundles of 2–3, any centre."""
    codes = list(problem.taking_part())

    def rec(left: list[str]) -> Iterator[list[Bundle]]:
        if not left:
            yield []
            return
        a, rest = left[0], left[1:]
        yield from rec(rest)  # a alone
        for size in range(problem.min_members, problem.max_members + 1):
            for others in itertools.combinations(rest, size):
                group = (a, *others)
                if not connected(list(group), {k: set(v) for k, v in problem.adjacency.items()}):
                    continue
                remaining = [c for c in rest if c not in others]
                for centre in group:
                    b = Bundle(centre, tuple(sorted(c for c in group if c != centre)))
                    for tail in rec(remaining):
                        yield [b, *tail]

    for bundles in rec(codes):
        yield BundlingPlan(tuple(bundles))


def _feasible(problem: BundlingProblem, plan: BundlingPlan) -> bool:
    try:
        score = evaluate_plan(problem, plan)
    except ValidationFailed:  # e.g. a member not touching its centre under the "centre" rule
        return False
    if score.violations:
        return False
    k = len(plan.bundles)
    m = sum(len(b.stations) for b in plan.bundles)
    if problem.n_bundles and not problem.n_bundles[0] <= k <= problem.n_bundles[1]:
        return False
    return not (problem.n_bundled and not problem.n_bundled[0] <= m <= problem.n_bundled[1])


def _brute(problem: BundlingProblem) -> float:
    return min(
        evaluate_plan(problem, p).objective for p in _plans(problem) if _feasible(problem, p)
    )


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"balance_weight": 2.0},
        {"n_bundles": (2, 2), "balance_weight": 0.5},
        {"n_bundled": (5, 6), "max_seat_minutes": 30.0, "balance_weight": 0.3},
    ],
)
def test_mip_equals_enumeration(options: dict[str, object]) -> None:
    problem = _grid(2, 3, seed=11, **options)
    result = solve_bundling(problem)
    assert result.status == "optimal"
    assert result.score.objective == pytest.approx(_brute(problem), abs=1e-7)
    assert not result.score.violations


def test_centre_rule_requires_members_touching_the_centre() -> None:
    problem = _grid(1, 3, seed=2, n_bundles=(1, 1), n_bundled=(3, 3), adjacency_rule="centre")
    result = solve_bundling(problem)
    assert result.plan.bundles[0].centre == "S01"  # the middle one touches both ends
    assert result.score.objective == pytest.approx(_brute(problem))


def test_balance_pulls_toward_bundling_and_travel_against_it() -> None:
    travel_only = solve_bundling(_grid(2, 3, seed=5, balance_weight=0.0))
    assert travel_only.plan.bundles == ()  # bundling only lengthens the drive
    pooled = solve_bundling(_grid(2, 3, seed=5, balance_weight=50.0))
    assert pooled.score.balance_officers < travel_only.score.balance_officers


def test_evaluate_a_given_plan_side_by_side() -> None:
    problem = _grid(2, 3, seed=11, balance_weight=0.5)
    plan = BundlingPlan((Bundle("S00", ("S01",)), Bundle("S12", ("S02", "S11"))))
    score = evaluate_plan(problem, plan)
    # S01's calls are now answered from S00's seat
    idx = problem.codes.index
    assert score.travel_minutes["S01"] == pytest.approx(
        problem.demand_minutes[idx("S00"), idx("S01")]
    )
    assert score.travel_minutes["S10"] == pytest.approx(score.own_seat_minutes["S10"])
    assert set(score.calls_per_officer) == {"S00", "S12", "S10"}
    assert solve_bundling(problem).score.objective <= score.objective + 1e-9


def test_malformed_plans_name_the_field() -> None:
    problem = _grid(2, 3, seed=1)
    with pytest.raises(ValidationFailed) as err:
        evaluate_plan(problem, BundlingPlan((Bundle("S00", ("S12",)),)))  # not adjacent
    assert err.value.details[0]["field"] == "bundles[0].members"
    with pytest.raises(ValidationFailed) as err:
        evaluate_plan(problem, BundlingPlan((Bundle("S00", ("X99",)),)))
    assert "bundles[0].members" in err.value.details[0]["field"]
    with pytest.raises(ValidationFailed):
        evaluate_plan(problem, BundlingPlan((Bundle("S00", ("S01", "S10", "S11")),)))  # 4合1


def test_bad_problem_input_names_the_field() -> None:
    with pytest.raises(ValidationFailed) as err:
        solve_bundling(_grid(2, 3, seed=1, fixed=Fixed(centres=("NOPE",))))
    assert err.value.details[0]["field"] == "fixed.centres[0]"
    st = Station("A", "甲", (107.0, 30.0), box(107, 30, 107.1, 30.1), sworn=-1)
    with pytest.raises(ValidationFailed) as err:
        bundling_problem([st], {"A": 1.0}, np.zeros((1, 1)), np.zeros((1, 1)))
    assert err.value.details[0]["field"] == "stations[0].sworn"


def test_infeasible_problem_names_the_constraint() -> None:
    # 6 stations cannot form 4 bundles of 2–3
    with pytest.raises(PlanInfeasible) as err:
        solve_bundling(_grid(2, 3, seed=1, n_bundles=(4, 4)))
    assert [d["field"] for d in err.value.details] == ["n_bundles"]
    # every station must be bundled, but no seat is within 5 minutes of another
    with pytest.raises(PlanInfeasible) as err:
        solve_bundling(_grid(2, 3, seed=1, max_seat_minutes=5.0, fixed=Fixed(must_bundle=("S00",))))
    fields = {d["field"] for d in err.value.details}
    assert fields == {"max_seat_minutes", "fixed"}


def test_fixed_choices_are_kept() -> None:
    problem = _grid(2, 3, seed=3, balance_weight=1.0, fixed=Fixed(members={"S02": "S12"}))
    result = solve_bundling(problem)
    assert any(b.centre == "S12" and "S02" in b.members for b in result.plan.bundles)
    alone = solve_bundling(_grid(2, 3, seed=3, balance_weight=5.0, fixed=Fixed(alone=("S11",))))
    assert all("S11" not in b.stations for b in alone.plan.bundles)


def test_only_rural_stations_take_part_unless_told() -> None:
    problem = _grid(2, 3, seed=4, balance_weight=5.0)
    urban = tuple(
        Station(s.code, s.name, s.seat, s.jurisdiction, rural=s.code != "S00", sworn=s.sworn)
        for s in problem.stations
    )
    res = solve_bundling(BundlingProblem(**{**problem.__dict__, "stations": urban}))
    assert all("S00" not in b.stations for b in res.plan.bundles)


def test_organisation_of_a_plan() -> None:
    problem = _grid(2, 3, seed=11)
    plan = BundlingPlan((Bundle("S00", ("S01",)),))
    org = organisation_of(problem.stations, plan, unit_codes={"S00": "ZX01"}, neighbours=True)
    assert org.unit_of("S01") == "ZX01"
    assert org.unit("ZX01").seat == problem.stations[0].seat
    assert "ZX01" in org.unit("S11").neighbours
