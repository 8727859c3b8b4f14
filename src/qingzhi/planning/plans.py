"""Bundling plans as data, and the scoring of any plan (the MIP's optimum, the actual one).

The value types of a bundling (``BundlingProblem`` with its constraints and ``Fixed`` choices,
``Bundle``, ``BundlingPlan``, ``PlanScore``), ``check_plan`` (a malformed plan names the field),
``evaluate_plan`` (the objective terms of ``bundling``'s module docstring, the same formulas as
the MIP, so the demo's actual 17 → 8 and the optimum are scored alike) and ``organisation_of``
(the operating units a plan makes). Solving is in ``bundling``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from qingzhi.planning.geometry import adjacency as polygon_adjacency
from qingzhi.planning.geometry import connected
from qingzhi.planning.model import (
    FloatArray,
    OperatingUnit,
    Organisation,
    Station,
    bad,
    check_codes,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fixed:
    """Choices the planner must respect."""

    members: Mapping[str, str] = field(default_factory=dict)  # member → its centre
    centres: tuple[str, ...] = ()
    alone: tuple[str, ...] = ()
    must_bundle: tuple[str, ...] = ()


@dataclass(frozen=True)
class BundlingProblem:
    """Stations, their workload and officers, travel, and the constraints of a bundling."""

    stations: tuple[Station, ...]
    workload: FloatArray  # (n,) weighted calls per week
    officers: FloatArray  # (n,) officers counted for calls per officer
    demand_minutes: FloatArray  # (n, n): [j, i] mean travel from seat j to station i's demand
    seat_minutes: FloatArray  # (n, n): [j, i] travel from seat j to seat i
    adjacency: Mapping[str, set[str]]
    participants: tuple[str, ...] | None = None  # None: the rural stations
    min_members: int = 1
    max_members: int = 2
    n_bundles: tuple[int, int] | None = None
    n_bundled: tuple[int, int] | None = None
    max_seat_minutes: float | None = None
    adjacency_rule: str = "connected"  # or "centre"
    fixed: Fixed = field(default_factory=Fixed)
    travel_weight: float = 1.0
    balance_weight: float = 0.1
    time_limit_s: float = 60.0

    @property
    def codes(self) -> tuple[str, ...]:
        """Station codes in order."""
        return tuple(s.code for s in self.stations)

    def taking_part(self) -> tuple[str, ...]:
        """The participating station codes."""
        if self.participants is not None:
            return tuple(self.participants)
        return tuple(s.code for s in self.stations if s.rural)


@dataclass(frozen=True)
class Bundle:
    """A central station and its 1–2 members."""

    centre: str
    members: tuple[str, ...]

    @property
    def stations(self) -> tuple[str, ...]:
        """Centre first, then members."""
        return (self.centre, *self.members)


@dataclass(frozen=True)
class BundlingPlan:
    """A set of bundles; every station not in one runs alone."""

    bundles: tuple[Bundle, ...]

    def operating_seat(self, code: str) -> str:
        """The station whose seat answers ``code``'s calls."""
        for b in self.bundles:
            if code in b.stations:
                return b.centre
        return code


@dataclass(frozen=True)
class PlanScore:
    """A plan's objective terms and per-station consequences."""

    objective: float
    mean_travel_minutes: float  # T
    balance_officers: float  # B
    travel_minutes: Mapping[str, float]  # per station, from its operating seat
    own_seat_minutes: Mapping[str, float]  # per station, from its own seat (no bundling)
    calls_per_officer: Mapping[str, float]  # per operating unit (centre code or station)
    imbalance_cv: float  # coefficient of variation of calls per officer over operating units
    violations: tuple[str, ...]


def bundling_problem(
    stations: Sequence[Station],
    workload: Mapping[str, float],
    demand_minutes: FloatArray,
    seat_minutes: FloatArray,
    **options: object,
) -> BundlingProblem:
    """A problem over ``stations`` (officers = sworn + auxiliary; adjacency from polygons)."""
    for i, s in enumerate(stations):
        if s.sworn < 0 or s.auxiliary < 0:
            raise bad(f"stations[{i}].sworn", "警力不能为负")
        if s.code not in workload:
            raise bad(f"workload.{s.code}", "缺少该所的工作量")
    n = len(stations)
    if np.shape(demand_minutes) != (n, n) or np.shape(seat_minutes) != (n, n):
        raise bad("travel", "行驶时间矩阵须为 n×n")
    return BundlingProblem(
        stations=tuple(stations),
        workload=np.array([float(workload[s.code]) for s in stations]),
        officers=np.array([float(s.sworn + s.auxiliary) for s in stations]),
        demand_minutes=np.asarray(demand_minutes, dtype=np.float64),
        seat_minutes=np.asarray(seat_minutes, dtype=np.float64),
        adjacency=polygon_adjacency(stations),
        **options,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------- scoring any plan


def check_plan(problem: BundlingProblem, plan: BundlingPlan) -> tuple[str, ...]:
    """ValidationFailed for a malformed plan; the soft violations (travel, participants)."""
    idx = {c: i for i, c in enumerate(problem.codes)}
    seen: set[str] = set()
    soft: list[str] = []
    part = set(problem.taking_part())
    for b, bundle in enumerate(plan.bundles):
        name = f"bundles[{b}].members"
        check_codes(idx, list(bundle.stations), name)
        if not problem.min_members <= len(bundle.members) <= problem.max_members:
            raise bad(name, f"中心所须捆绑 {problem.min_members}–{problem.max_members} 个成员所")
        for c in bundle.stations:
            if c in seen:
                raise bad(name, f"派出所 {c} 出现在多个捆绑中")
            seen.add(c)
            if c not in part:
                soft.append(f"{c} 不在参与捆绑的派出所之列")
        adj = {k: set(v) for k, v in problem.adjacency.items()}
        if problem.adjacency_rule == "centre":
            far = [m for m in bundle.members if m not in adj.get(bundle.centre, set())]
            if far:
                raise bad(name, f"成员所 {'、'.join(far)} 与中心所 {bundle.centre} 辖区不相邻")
        elif not connected(list(bundle.stations), adj):
            raise bad(name, "成员所辖区互不相邻，不能捆绑运行")
        if problem.max_seat_minutes is not None:
            for m in bundle.members:
                t = problem.seat_minutes[idx[bundle.centre], idx[m]]
                if t > problem.max_seat_minutes + 1e-9:
                    soft.append(f"{bundle.centre}→{m} 驻地行驶 {t:.1f} 分钟，超过上限")
    return tuple(soft)


def evaluate_plan(problem: BundlingProblem, plan: BundlingPlan) -> PlanScore:
    """The plan's objective terms (same formulas as the MIP), for side-by-side comparison."""
    violations = check_plan(problem, plan)
    codes = problem.codes
    idx = {c: i for i, c in enumerate(codes)}
    w, o = problem.workload, problem.officers
    rho = float(w.sum() / o.sum()) if o.sum() > 0 else 0.0
    seat = np.array([idx[plan.operating_seat(c)] for c in codes])
    tau = problem.demand_minutes[seat, np.arange(len(codes))]
    own = np.diag(problem.demand_minutes)
    mean_t = float(np.dot(w, tau) / w.sum()) if w.sum() > 0 else 0.0
    units: dict[str, list[int]] = {}
    for i in range(len(codes)):
        units.setdefault(codes[seat[i]], []).append(i)
    dev = sum(abs(float(w[m].sum()) - rho * float(o[m].sum())) for m in units.values())
    b = dev / (2 * rho) if rho > 0 else 0.0
    per = {u: float(w[m].sum() / max(o[m].sum(), 1e-9)) for u, m in units.items()}
    vals = np.array(list(per.values()))
    cv = float(vals.std() / vals.mean()) if vals.mean() > 0 else 0.0
    return PlanScore(
        objective=problem.travel_weight * mean_t + problem.balance_weight * b,
        mean_travel_minutes=mean_t,
        balance_officers=b,
        travel_minutes=dict(zip(codes, tau.tolist(), strict=True)),
        own_seat_minutes=dict(zip(codes, own.tolist(), strict=True)),
        calls_per_officer=per,
        imbalance_cv=cv,
        violations=violations,
    )


def organisation_of(
    stations: Sequence[Station],
    plan: BundlingPlan,
    *,
    unit_codes: Mapping[str, str] | None = None,
    neighbours: bool = False,
) -> Organisation:
    """The organisation a plan makes: bundles answer from the centre's seat, others alone.

    ``unit_codes`` names the operating unit of a bundle (centre station → central unit code);
    with ``neighbours`` each operating unit lists the adjacent ones for cross-boundary help.
    """
    by = {s.code: s for s in stations}
    units: list[tuple[str, tuple[float, float], tuple[str, ...]]] = []
    inside: set[str] = set()
    for b in plan.bundles:
        code = (unit_codes or {}).get(b.centre, b.centre)
        units.append((code, by[b.centre].seat, b.stations))
        inside.update(b.stations)
    units += [(s.code, s.seat, (s.code,)) for s in stations if s.code not in inside]
    adj = polygon_adjacency(stations) if neighbours else {}
    of = {st: u[0] for u in units for st in u[2]}
    out = []
    for code, seat, members in units:
        near = sorted({of[n] for m in members for n in adj.get(m, set())} - {code})
        out.append(OperatingUnit(code, seat, members, tuple(near)))
    return Organisation(tuple(out))
