"""Officer allocation by workload (警力跟着警情走): marginal analysis on M/M/c queues.

Each operating unit u has calls λᵤₕ per hour h of the week, a mean busy time and a mean travel
time. Its officers give it a weekly budget of response unit-hours,
Bᵤ = (sworn·hₛ + auxiliary·hₐ) / crew (``RosterRule``: response duty hours per officer per week
and officers per response unit). The unit-hours are spread over the 168 hours to minimise the
unit's call-weighted waiting, Fᵤ(B) = minₙ Σₕ λᵤₕ·W(cₕ), Σₕ cₕ = B, where W(c) is the M/M/c mean
wait (``queueing``), starting from the fewest units that keep every hour stable (and at least
``min_units``).

**Why greedy is optimal.** W(c) is decreasing and convex in c (Dyer & Proll 1977, "On the
validity of marginal analysis for allocating servers in M/M/c queues", *Management Science*
23(9):1019–1022; Lee & Cohen 1983). A sum of separable convex functions under one budget is
minimised by taking the largest marginal gains first (Fox 1966, "Discrete optimization via
marginal analysis", *Management Science* 13(3):210–216), so Fᵤ(B) is the start value less the
B largest hour-gains, and Fᵤ is itself convex in B (its decrements are those gains, sorted).
Fᵤ is extended between integers linearly (a fractional unit-hour is one rotated across weeks)
and below its stable minimum by a steep line, so it stays convex; then the bureau problem
minₙ Σᵤ Fᵤ(B(nᵤ)), Σᵤ nᵤ = N, nᵤ ≥ minimum, is again separable convex: greedy from the
minimums is optimal, and so is steepest pairwise exchange from today's allocation, whose steps
are the moves ("从 A 调 1 人到 B"), each with its marginal gain — the approach of the Patrol Car
Allocation Model (Chaiken & Dormont 1978, *Management Science* 24(12):1280–1290).

One kind of officer is moved at a time (``kind`` sworn or auxiliary: they are not exchangeable),
the other held fixed; each unit keeps its minimum of that kind. The objective is the bureau's
mean response time (wait + travel, over all calls), or with ``target_minutes`` first every
unit's mean response within the target using the fewest officers, then the rest by the mean.
A unit whose officers cannot keep its fewest stable units on duty every hour has no finite
response time: it is reported understaffed (its mean, and the bureau's, inf), and the moves fill
it first (their gain is inf: no figure can be predicted for them).
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from qingzhi.planning.model import (
    HOURS_PER_WEEK,
    FloatArray,
    IntArray,
    PlanInfeasible,
    Staffing,
    bad,
)
from qingzhi.planning.queueing import mean_wait_table

log = logging.getLogger(__name__)

KINDS = ("sworn", "auxiliary")
STEEP = 1e6  # call-minutes per missing unit-hour below the stable minimum


@dataclass(frozen=True)
class RosterRule:
    """Response duty hours per officer and week, by kind, and officers per response unit."""

    hours: Mapping[str, float] = field(default_factory=lambda: {"sworn": 40.0, "auxiliary": 40.0})
    crew: float = 2.0
    min_units: int = 1
    c_max: int = 80

    def __post_init__(self) -> None:
        for k in KINDS:
            if self.hours.get(k, 0.0) < 0:
                raise bad(f"hours.{k}", "值班时长不能为负")
        if self.crew <= 0:
            raise bad("crew", "每组警力须为正数")
        if self.min_units < 0:
            raise bad("min_units", "最少在岗组数不能为负")

    def budget(self, sworn: float, auxiliary: float) -> float:
        """Unit-hours per week from a headcount."""
        return (
            sworn * self.hours.get("sworn", 0.0) + auxiliary * self.hours.get("auxiliary", 0.0)
        ) / self.crew


@dataclass(frozen=True)
class UnitDemand:
    """An operating unit's calls, service, travel and headcount, as the allocator needs them."""

    code: str
    calls_per_hour: FloatArray  # (168,)
    busy_minutes: float
    travel_minutes: float
    sworn: int
    auxiliary: int
    min_sworn: int = 0
    min_auxiliary: int = 0


@dataclass(frozen=True)
class Move:
    """Officers moved from one unit to another, with the predicted gain."""

    source: str
    target: str
    officers: int
    kind: str
    gain_minutes: float  # drop in the bureau's mean response (minutes); inf: fills a shortage

    @property
    def text(self) -> str:
        """The move in words."""
        who = "民警" if self.kind == "sworn" else "辅警"
        return f"从 {self.source} 调 {self.officers} 名{who}到 {self.target}"


@dataclass(frozen=True)
class AllocationResult:
    """Headcounts before and after, the moves, and the predicted effect."""

    kind: str
    before: Mapping[str, int]
    after: Mapping[str, int]
    moves: tuple[Move, ...]
    steps: tuple[tuple[str, str, float], ...]  # single transfers in order, with their gains
    mean_response_before: float  # inf while a unit cannot keep a unit on duty every hour
    mean_response_after: float
    understaffed_before: tuple[str, ...]  # units whose officers cannot cover every hour
    understaffed_after: tuple[str, ...]
    unit_response_before: Mapping[str, float]
    unit_response_after: Mapping[str, float]
    roster_after: Staffing


class _Curve:
    """Fᵤ(B): the unit's least call-weighted wait per week for a budget of B unit-hours."""

    def __init__(self, d: UnitDemand, rule: RosterRule) -> None:
        lam = np.asarray(d.calls_per_hour, dtype=np.float64)
        if lam.shape != (HOURS_PER_WEEK,):
            raise bad(f"{d.code}.calls_per_hour", "须为一周 168 个小时的到达率")
        mu_h = 60.0 / d.busy_minutes
        c0 = np.maximum(np.floor(lam / mu_h).astype(np.int64) + 1, rule.min_units)
        c0 = np.where(lam == 0, rule.min_units, c0)
        top = max(int(c0.max()) + 1, rule.c_max)
        w = mean_wait_table(lam, d.busy_minutes, top)
        rows = np.arange(HOURS_PER_WEEK)
        extra = np.arange(top - int(c0.min()))
        cols = c0[:, None] + extra[None, :]
        ok = cols + 1 <= top
        colc = np.minimum(cols, top)
        gains = lam[:, None] * (
            w[rows[:, None], colc] - w[rows[:, None], np.minimum(colc + 1, top)]
        )
        gains = np.where(ok & np.isfinite(gains), gains, 0.0)
        order = np.argsort(-gains, axis=None, kind="stable")
        self.gain_sorted = gains.reshape(-1)[order]
        self.gain_hour = np.repeat(rows, gains.shape[1])[order]
        self.c0 = c0
        self.b0 = float(c0.sum())
        self.f0 = float(np.dot(lam, w[rows, c0]))
        self.cum = np.concatenate([[0.0], np.cumsum(self.gain_sorted)])
        self.calls = float(lam.sum())

    def value(self, budget: float) -> float:
        """Fᵤ at a real budget (linear between integers, steep below the stable minimum)."""
        if budget < self.b0:
            return self.f0 + (self.b0 - budget) * STEEP
        k = budget - self.b0
        i = min(math.floor(k), len(self.cum) - 1)
        frac = k - i if i < len(self.cum) - 1 else 0.0
        nxt = self.cum[min(i + 1, len(self.cum) - 1)]
        return float(self.f0 - (self.cum[i] + frac * (nxt - self.cum[i])))

    def roster(self, budget: float) -> IntArray:
        """Units on duty per hour for a budget (whole unit-hours)."""
        k = max(math.floor(budget - self.b0 + 1e-9), 0)
        k = min(k, len(self.gain_hour))
        add = np.bincount(self.gain_hour[:k], minlength=HOURS_PER_WEEK)
        return np.asarray(self.c0 + add, dtype=np.int64)


class _Bureau:
    def __init__(self, units: Sequence[UnitDemand], rule: RosterRule, kind: str) -> None:
        if kind not in KINDS:
            raise bad("kind", "须为 sworn（民警）或 auxiliary（辅警）")
        self.units, self.rule, self.kind = list(units), rule, kind
        self.curves = [_Curve(u, rule) for u in units]
        self.calls = sum(c.calls for c in self.curves)
        if self.calls <= 0:
            raise bad("units", "没有警情，无法按警情配置警力")
        self.travel = sum(
            c.calls * u.travel_minutes for c, u in zip(self.curves, units, strict=True)
        )

    def f(self, i: int, n: float) -> float:
        u = self.units[i]
        s, a = (n, u.auxiliary) if self.kind == "sworn" else (u.sworn, n)
        return self.curves[i].value(self.rule.budget(s, a))

    def gain(self, i: int, n: int) -> float:
        return self.f(i, n) - self.f(i, n + 1)

    def minimum(self, i: int) -> int:
        u = self.units[i]
        return u.min_sworn if self.kind == "sworn" else u.min_auxiliary

    def count(self, i: int) -> int:
        u = self.units[i]
        return u.sworn if self.kind == "sworn" else u.auxiliary

    def mean(self, alloc: Sequence[int]) -> float:
        wait = sum(self.f(i, n) for i, n in enumerate(alloc))
        return (wait + self.travel) / self.calls

    def short(self, i: int, n: float) -> bool:
        """Whether ``n`` officers cannot keep the unit's fewest stable units on duty every hour
        (its waiting is then unbounded: no response time can be predicted)."""
        u = self.units[i]
        s, a = (n, u.auxiliary) if self.kind == "sworn" else (u.sworn, n)
        return self.rule.budget(s, a) < self.curves[i].b0 - 1e-9

    def unit_mean(self, i: int, n: int) -> float:
        if self.short(i, n):
            return math.inf
        c = self.curves[i]
        return (self.f(i, n) / c.calls if c.calls > 0 else 0.0) + self.units[i].travel_minutes

    def reported_mean(self, alloc: Sequence[int]) -> float:
        """The bureau's mean response, or inf while a unit cannot cover every hour."""
        if any(self.short(i, n) for i, n in enumerate(alloc)):
            return math.inf
        return self.mean(alloc)

    def roster(self, i: int, n: int) -> IntArray:
        u = self.units[i]
        s, a = (n, u.auxiliary) if self.kind == "sworn" else (u.sworn, n)
        return self.curves[i].roster(self.rule.budget(s, a))


def optimal_allocation(
    units: Sequence[UnitDemand],
    rule: RosterRule,
    *,
    kind: str = "sworn",
    total: int | None = None,
    floors: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Greedy marginal allocation of ``total`` officers of ``kind`` from the minimums (optimal)."""
    b = _Bureau(units, rule, kind)
    n_total = sum(b.count(i) for i in range(len(units))) if total is None else total
    alloc = [max(b.minimum(i), (floors or {}).get(u.code, 0)) for i, u in enumerate(units)]
    short = n_total - sum(alloc)
    if short < 0:
        raise PlanInfeasible(
            [("min_staffing", f"最低配置合计 {sum(alloc)} 人，超过现有 {n_total} 人")]
        )
    heap = [(-b.gain(i, alloc[i]), i) for i in range(len(units))]
    heapq.heapify(heap)
    for _ in range(short):
        _, i = heapq.heappop(heap)
        alloc[i] += 1
        heapq.heappush(heap, (-b.gain(i, alloc[i]), i))
    return {u.code: alloc[i] for i, u in enumerate(units)}


def _target_floors(b: _Bureau, target: float) -> dict[str, int]:
    """The fewest officers with which each unit's mean response is within ``target``."""
    floors: dict[str, int] = {}
    bad_units: list[tuple[str, str]] = []
    for i, u in enumerate(b.units):
        if u.travel_minutes >= target:
            bad_units.append((f"units.{u.code}", f"平均行驶 {u.travel_minutes:.1f} 分钟已超过目标"))
            continue
        n = b.minimum(i)
        while b.unit_mean(i, n) > target and n < 10_000:
            n += 1
        floors[u.code] = n
    if bad_units:
        raise PlanInfeasible(bad_units)
    return floors


def allocate(
    units: Sequence[UnitDemand],
    rule: RosterRule | None = None,
    *,
    kind: str = "sworn",
    target_minutes: float | None = None,
    min_gain_minutes: float = 0.0,
) -> AllocationResult:
    """The moves of ``kind`` officers between units that minimise the bureau's mean response;
    with ``min_gain_minutes`` only transfers that cut the bureau's mean by at least that much
    (a unit below its floor or unable to cover every hour is filled whatever the gain)."""
    if min_gain_minutes < 0:
        raise bad("min_gain_minutes", "不能为负")
    rule = rule or RosterRule()
    for i, u in enumerate(units):
        for name in ("sworn", "auxiliary", "min_sworn", "min_auxiliary"):
            if getattr(u, name) < 0:
                raise bad(f"units[{i}].{name}", "警力不能为负")
        if u.busy_minutes <= 0:
            raise bad(f"units[{i}].busy_minutes", "单次出警占用时间须为正数")
    b = _Bureau(units, rule, kind)
    now = [b.count(i) for i in range(len(units))]
    floors = [b.minimum(i) for i in range(len(units))]
    total = sum(now)
    if sum(floors) > total:
        raise PlanInfeasible(
            [("min_staffing", f"最低配置合计 {sum(floors)} 人，超过现有 {total} 人")]
        )
    if target_minutes is not None:
        tf = _target_floors(b, target_minutes)
        floors = [max(f, tf[u.code]) for f, u in zip(floors, units, strict=True)]
        if sum(floors) > total:
            raise PlanInfeasible(
                [
                    (
                        "target_minutes",
                        f"达到 {target_minutes:g} 分钟目标需 {sum(floors)} 人，现有 {total} 人",
                    )
                ]
            )
    alloc = list(now)
    steps: list[tuple[str, str, float]] = []
    while True:
        # a unit below its floor must receive first (its gain is treated as unbounded)
        need = [i for i in range(len(units)) if alloc[i] < floors[i]]
        recv_gain = [math.inf if i in need else b.gain(i, alloc[i]) for i in range(len(units))]
        donors = [i for i in range(len(units)) if alloc[i] > floors[i]]
        if not donors:
            break
        loss = {i: b.gain(i, alloc[i] - 1) for i in donors}
        r = int(np.argmax(recv_gain))
        d = min((i for i in donors if i != r), key=lambda i: loss[i], default=None)
        if d is None or recv_gain[r] - loss[d] <= max(1e-9, min_gain_minutes * b.calls):
            break
        before = b.reported_mean(alloc)
        alloc[d] -= 1
        alloc[r] += 1
        # a step that fills a unit unable to cover every hour has no finite gain (inf)
        after = b.reported_mean(alloc)
        steps.append(
            (units[d].code, units[r].code, math.inf if math.isinf(before) else before - after)
        )
    moves: dict[tuple[str, str], list[float]] = {}
    for s, t, g in steps:
        moves.setdefault((s, t), []).append(g)
    return AllocationResult(
        kind=kind,
        before={u.code: now[i] for i, u in enumerate(units)},
        after={u.code: alloc[i] for i, u in enumerate(units)},
        moves=tuple(
            Move(s, t, len(g), kind, float(sum(g)))
            for (s, t), g in sorted(moves.items(), key=lambda kv: -sum(kv[1]))
        ),
        steps=tuple(steps),
        mean_response_before=b.reported_mean(now),
        mean_response_after=b.reported_mean(alloc),
        understaffed_before=tuple(u.code for i, u in enumerate(units) if b.short(i, now[i])),
        understaffed_after=tuple(u.code for i, u in enumerate(units) if b.short(i, alloc[i])),
        unit_response_before={u.code: b.unit_mean(i, now[i]) for i, u in enumerate(units)},
        unit_response_after={u.code: b.unit_mean(i, alloc[i]) for i, u in enumerate(units)},
        roster_after=Staffing({u.code: b.roster(i, alloc[i]) for i, u in enumerate(units)}),
    )


def roster(units: Sequence[UnitDemand], rule: RosterRule | None = None) -> Staffing:
    """Units on duty per hour for today's headcounts (the allocator's optimal roster)."""
    b = _Bureau(units, rule or RosterRule(), "sworn")
    return Staffing({u.code: b.roster(i, u.sworn) for i, u in enumerate(units)})
