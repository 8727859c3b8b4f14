"""Station bundling (捆绑运行) as a mixed-integer programme (plans and their scoring: ``plans``).

A **bundle** is a central station — one of the participating stations, whose seat becomes the
bundle's seat — that absorbs 1 or 2 member stations (2合1 / 3合1): their calls are answered
from the central seat and their officers are pooled with its own. Every other station runs
alone. Variables (all binary): ``x[i, j]`` = station i is a member of centre j; ``y[j]`` = j is a
centre. Constraints:

* each station is a member of at most one centre, or a centre, or alone: Σⱼ x[i,j] + y[i] ≤ 1;
  x[i, j] ≤ y[j]; ``min_members``·y[j] ≤ Σᵢ x[i,j] ≤ ``max_members``·y[j] (1 and 2);
* only ``participants`` take part (the rural stations unless told);
* adjacency from the polygons (``geometry.adjacency``): with ``adjacency="connected"`` (the
  org service's rule: the bundle is one connected piece) a member not adjacent to its centre
  needs the bundle's other member adjacent to both — x[i,j] ≤ Σ_{k ∈ N(i)∩N(j)} x[k,j];
  with ``"centre"`` every member must touch its centre;
* the travel time from a central seat to each member's seat at most ``max_seat_minutes``;
* optional counts of bundles and of bundled stations (the seed: 8 centres, 17 stations), and
  fixed choices (``Fixed``: given members of given centres, centres, stations left alone,
  stations that must be bundled).

**Objective** (weights stated, both terms in the same plan score used to compare plans):
``travel_weight`` × T + ``balance_weight`` × B, where

* T = Σᵢ Wᵢ·τ(seat of i's operating unit → i's demand) / Σᵢ Wᵢ, the workload-weighted mean
  travel minutes (Wᵢ the station's weighted calls per week, τ the call-weighted mean travel to
  its demand atoms); it is linear in x;
* B = Σᵤ |Wᵤ − ρ̄·Oᵤ| / (2ρ̄) over the operating units u (bundles and stations alone), with Oᵤ
  the officers and ρ̄ = ΣW/ΣO the bureau's calls per officer: the number of officers who would
  have to move for every unit to carry the bureau's mean calls per officer (an officer-weighted
  absolute deviation of calls per officer). Each |·| is split into two non-negative variables.

Defaults: ``travel_weight`` = 1 per minute, ``balance_weight`` = 0.1 per officer (ten officers
out of place weigh as much as one minute of mean travel). Solved by HiGHS through
``scipy.optimize.milp`` to proven optimality (``mip_rel_gap`` 0) unless a time limit stops it,
when the remaining gap is reported. An infeasible problem is diagnosed by relaxing one family of
constraints at a time (then pairs) and naming those whose relaxation makes it feasible.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from qingzhi.planning.model import FloatArray, PlanInfeasible, bad, check_codes
from qingzhi.planning.plans import (
    Bundle,
    BundlingPlan,
    BundlingProblem,
    Fixed,
    PlanScore,
    bundling_problem,
    check_plan,
    evaluate_plan,
    organisation_of,
)

log = logging.getLogger(__name__)

__all__ = [
    "Bundle",
    "BundlingPlan",
    "BundlingProblem",
    "BundlingResult",
    "Fixed",
    "PlanScore",
    "bundling_problem",
    "check_plan",
    "diagnose",
    "evaluate_plan",
    "organisation_of",
    "solve_bundling",
]

FAMILIES = {
    "n_bundles": "中心派出所数量",
    "n_bundled": "参与捆绑的派出所数量",
    "max_seat_minutes": "中心所驻地到成员所驻地的最长行驶时间",
    "adjacency": "成员所须与中心所辖区相邻",
    "fixed": "指定的捆绑选择",
}


@dataclass(frozen=True)
class BundlingResult:
    """The optimal plan, its score, and how the solver got there."""

    plan: BundlingPlan
    score: PlanScore
    status: str  # "optimal" or "time_limit"
    mip_gap: float
    solve_seconds: float
    n_variables: int
    n_constraints: int


# ---------------------------------------------------------------- the MIP


def _eligible(problem: BundlingProblem, relax: frozenset[str]) -> list[tuple[int, int, bool]]:
    """Candidate (member i, centre j, adjacent) pairs."""
    codes = problem.codes
    idx = {c: i for i, c in enumerate(codes)}
    part = [idx[c] for c in problem.taking_part()]
    pset = set(part)
    adj = {
        idx[k]: {idx[x] for x in v if x in idx} for k, v in problem.adjacency.items() if k in idx
    }
    pairs = []
    for i in part:
        for j in part:
            if i == j:
                continue
            near = i in adj.get(j, set())
            if "adjacency" not in relax and not near:
                if problem.adjacency_rule == "centre":
                    continue
                if not (adj.get(i, set()) & adj.get(j, set()) & pset):
                    continue
            t = problem.seat_minutes[j, i]
            if (
                "max_seat_minutes" not in relax
                and problem.max_seat_minutes is not None
                and t > problem.max_seat_minutes
            ):
                continue
            pairs.append((i, j, near or "adjacency" in relax))
    return pairs


@dataclass(frozen=True)
class _Model:
    pairs: list[tuple[int, int, bool]]
    cost: FloatArray
    constraints: LinearConstraint
    bounds: Bounds
    integrality: FloatArray
    n_rows: int


def _build(problem: BundlingProblem, relax: frozenset[str]) -> _Model:
    codes = problem.codes
    idx = {c: i for i, c in enumerate(codes)}
    part = [idx[c] for c in problem.taking_part()]
    pos = {i: k for k, i in enumerate(part)}
    pairs = _eligible(problem, relax)
    nx, npart = len(pairs), len(part)
    nv = nx + 3 * npart  # x, y, p, m
    yo, po, mo = nx, nx + npart, nx + 2 * npart
    w, o = problem.workload, problem.officers
    wt = float(w.sum()) or 1.0
    rho = float(w.sum() / o.sum()) if o.sum() > 0 and w.sum() > 0 else 1.0  # no calls: no balance
    d = w - rho * o
    own = np.diag(problem.demand_minutes)
    cost = np.zeros(nv)
    for k, (i, j, _) in enumerate(pairs):
        cost[k] = problem.travel_weight * w[i] * (problem.demand_minutes[j, i] - own[i]) / wt
    cost[po:] = problem.balance_weight / (2 * rho)
    rows: list[tuple[dict[int, float], float, float]] = []
    by_member: dict[int, list[int]] = {}
    by_centre: dict[int, list[int]] = {}
    for k, (i, j, _) in enumerate(pairs):
        by_member.setdefault(i, []).append(k)
        by_centre.setdefault(j, []).append(k)
    must = {idx[c] for c in problem.fixed.must_bundle} if "fixed" not in relax else set()
    for i in part:
        row = {k: 1.0 for k in by_member.get(i, [])}
        row[yo + pos[i]] = 1.0
        rows.append((row, 1.0 if i in must else 0.0, 1.0))
    for j in part:
        ks = by_centre.get(j, [])
        for k in ks:
            rows.append(({k: 1.0, yo + pos[j]: -1.0}, -np.inf, 0.0))
        row = {k: 1.0 for k in ks}
        rows.append(({**row, yo + pos[j]: -float(problem.min_members)}, 0.0, np.inf))
        rows.append(({**row, yo + pos[j]: -float(problem.max_members)}, -np.inf, 0.0))
        # balance: e_j = d_j (1 − Σ_k x[j,k]) + Σ_i x[i,j] d_i = p_j − m_j
        bal: dict[int, float] = {k: float(d[pairs[k][0]]) for k in ks}
        for k in by_member.get(j, []):
            bal[k] = bal.get(k, 0.0) - float(d[j])
        bal[po + pos[j]] = -1.0
        bal[mo + pos[j]] = 1.0
        rows.append((bal, -float(d[j]), -float(d[j])))
    if "adjacency" not in relax and problem.adjacency_rule == "connected":
        key = {(i, j): k for k, (i, j, _) in enumerate(pairs)}
        adj = {idx[a]: {idx[x] for x in v if x in idx} for a, v in problem.adjacency.items()}
        for k, (i, j, near) in enumerate(pairs):
            if near:
                continue
            row = {k: 1.0}
            for m in adj.get(i, set()) & adj.get(j, set()):
                km = key.get((m, j))
                if km is not None and pairs[km][2]:
                    row[km] = -1.0
            rows.append((row, -np.inf, 0.0))
    if problem.n_bundles is not None and "n_bundles" not in relax:
        lo, hi = problem.n_bundles
        rows.append(({yo + pos[j]: 1.0 for j in part}, float(lo), float(hi)))
    if problem.n_bundled is not None and "n_bundled" not in relax:
        lo, hi = problem.n_bundled
        row = {k: 1.0 for k in range(nx)}
        row.update({yo + pos[j]: 1.0 for j in part})
        rows.append((row, float(lo), float(hi)))
    lb, ub = np.zeros(nv), np.ones(nv)
    ub[po:] = np.inf
    if "fixed" not in relax:
        pair_of = {(i, j): k for k, (i, j, _) in enumerate(pairs)}
        for member, centre in problem.fixed.members.items():
            kk = pair_of.get((idx[member], idx[centre]))
            if kk is None:
                raise PlanInfeasible(
                    [(f"fixed.members.{member}", f"{member} 不能作为 {centre} 的成员所")]
                )
            lb[kk] = 1.0
        for centre in problem.fixed.centres:
            lb[yo + pos[idx[centre]]] = 1.0
        for lone in problem.fixed.alone:
            ub[yo + pos[idx[lone]]] = 0.0
            for kk in by_member.get(idx[lone], []):
                ub[kk] = 0.0
    a = sparse.lil_matrix((len(rows), nv))
    rlb, rub = np.empty(len(rows)), np.empty(len(rows))
    for r, (row, lo_, hi_) in enumerate(rows):
        for k, v in row.items():
            a[r, k] = v
        rlb[r], rub[r] = lo_, hi_
    integrality = np.concatenate([np.ones(nx + npart), np.zeros(2 * npart)])
    return _Model(
        pairs, cost, LinearConstraint(a.tocsr(), rlb, rub), Bounds(lb, ub), integrality, len(rows)
    )


def _run(problem: BundlingProblem, relax: frozenset[str]) -> tuple[Any, _Model]:
    model = _build(problem, relax)
    res = milp(
        model.cost,
        constraints=model.constraints,
        bounds=model.bounds,
        integrality=model.integrality,
        options={"time_limit": problem.time_limit_s, "mip_rel_gap": 0.0, "disp": False},
    )
    return res, model


def _validate(problem: BundlingProblem) -> None:
    codes = set(problem.codes)
    check_codes(codes, list(problem.taking_part()), "participants")
    f = problem.fixed
    check_codes(codes, list(f.members), "fixed.members")
    check_codes(codes, list(f.members.values()), "fixed.members")
    check_codes(codes, list(f.centres), "fixed.centres")
    check_codes(codes, list(f.alone), "fixed.alone")
    check_codes(codes, list(f.must_bundle), "fixed.must_bundle")
    part = set(problem.taking_part())
    for m, c in f.members.items():
        if m not in part or c not in part:
            raise bad(f"fixed.members.{m}", "指定的成员所或中心所不在参与捆绑的派出所之列")
        near = m in problem.adjacency.get(c, set())
        if problem.adjacency_rule == "centre" and not near:
            raise bad(f"fixed.members.{m}", f"{m} 与中心所 {c} 辖区不相邻")
    if not 1 <= problem.min_members <= problem.max_members:
        raise bad("min_members", "成员所数量范围无效")
    for name in ("n_bundles", "n_bundled"):
        rng = getattr(problem, name)
        if rng is not None and (rng[0] > rng[1] or rng[0] < 0):
            raise bad(name, "数量范围无效")
    if problem.balance_weight < 0 or problem.travel_weight < 0:
        raise bad("balance_weight", "权重不能为负")


def solve_bundling(problem: BundlingProblem) -> BundlingResult:
    """The optimal bundling (HiGHS MIP), or PlanInfeasible naming the constraints at fault."""
    _validate(problem)
    t0 = time.perf_counter()
    res, model = _run(problem, frozenset())
    seconds = time.perf_counter() - t0
    status = int(res.status)
    if status == 2 or res.x is None:
        raise PlanInfeasible(diagnose(problem))
    x = np.asarray(res.x)
    pairs = model.pairs
    codes = problem.codes
    members: dict[int, list[int]] = {}
    for k, (i, j, _) in enumerate(pairs):
        if x[k] > 0.5:
            members.setdefault(j, []).append(i)
    plan = BundlingPlan(
        tuple(
            Bundle(codes[j], tuple(sorted(codes[i] for i in ms)))
            for j, ms in sorted(members.items(), key=lambda kv: codes[kv[0]])
        )
    )
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    return BundlingResult(
        plan=plan,
        score=evaluate_plan(problem, plan),
        status="optimal" if status == 0 else "time_limit",
        mip_gap=gap,
        solve_seconds=seconds,
        n_variables=len(x),
        n_constraints=model.n_rows,
    )


def diagnose(problem: BundlingProblem) -> list[tuple[str, str]]:
    """The constraint families whose relaxation (alone, else in pairs) makes it feasible."""
    present = [
        f
        for f in FAMILIES
        if (f == "adjacency")
        or (f == "fixed" and problem.fixed != Fixed())
        or (f not in ("adjacency", "fixed") and getattr(problem, f) is not None)
    ]
    quick = replace(problem, time_limit_s=min(problem.time_limit_s, 10.0))

    def feasible(relax: frozenset[str]) -> bool:
        try:
            res, _ = _run(quick, relax)
        except PlanInfeasible:
            return False
        return res.x is not None

    for size in (1, 2):
        found = [
            combo for combo in itertools.combinations(present, size) if feasible(frozenset(combo))
        ]
        if found:
            names = sorted({f for combo in found for f in combo})
            return [(f, f"{FAMILIES[f]}无法满足（放宽此项即有可行方案）") for f in names]
    return [(f, f"{FAMILIES[f]}与其他约束冲突") for f in present] or [
        ("participants", "参与捆绑的派出所无法组成任何捆绑")
    ]
