"""The four runs on a ``PlanningInputs`` snapshot: bundle, allocate, simulate, roads.

Each run calls the pure library (``qingzhi.planning``) and returns a JSON-ready result. Shared
steps: the workload (``build_workload`` with the configured category and priority weights),
demand atoms on a 500 m grid and the travel table from every seat (``prepare``). A bundle run
scores three plans side by side with the same objective — no bundling, the organisation's
current bundles, the MIP's optimum — with their displacement risk; an allocation run gives the
moves between operating units (the current bundles pooled) with their predicted gain; a
simulation replays the calls against scenarios (each station alone; the current bundles; the
current bundles after the allocation's moves; optionally a given bundling) and validates the
M/M/c model on the stations-alone scenario. With a road graph, the simulation's per-call travel
is the straight line with the detour factor calibrated on the graph (one Dijkstra per call would
cost minutes): stated in the result.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qingzhi.planning.allocation import AllocationResult, RosterRule, UnitDemand, allocate
from qingzhi.planning.allocation import roster as roster_of
from qingzhi.planning.bundling import solve_bundling
from qingzhi.planning.displacement import displacement_risk
from qingzhi.planning.model import Organisation
from qingzhi.planning.plans import (
    Bundle,
    BundlingPlan,
    BundlingProblem,
    PlanScore,
    bundling_problem,
    check_plan,
    evaluate_plan,
    organisation_of,
)
from qingzhi.planning.queueing import predict
from qingzhi.planning.simulation import SimulationResult, simulate
from qingzhi.planning.travel import StraightLine, TravelModel, matrix
from qingzhi.planning.workload import (
    Demand,
    TravelTable,
    Workload,
    WorkloadWeights,
    build_workload,
    demand_atoms,
    travel_table,
)
from qingzhi.plans.inputs import PlanningInputs

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
CRIME = ("criminal", "public_order")
HIST_MAX = 60  # response-time histograms: 1-minute bins to 60, then one overflow bin


def quiet(fraction: float, message: str) -> None:
    """No progress reporting."""


@dataclass(frozen=True)
class Prepared:
    """The shared steps of every run."""

    workload: Workload
    atoms: Demand
    table: TravelTable
    demand: Any  # (n, n): [j, i] mean travel from seat j to station i's demand
    seat_minutes: Any  # (n, n)


def prepare(inp: PlanningInputs, weights: WorkloadWeights | None = None) -> Prepared:
    """Workload, demand atoms, travel table and the seat-to-demand matrices."""
    codes = list(inp.codes)
    wl = build_workload(inp.calls, codes, weeks=inp.weeks, weights=weights)
    atoms = demand_atoms(inp.calls)
    seats = {s.code: s.seat for s in inp.stations}
    table = travel_table(seats, atoms, inp.travel)
    demand = np.array([[table.mean(j, [i]) for i in codes] for j in codes])
    seat_min = matrix(inp.travel, [seats[c] for c in codes], [seats[c] for c in codes])
    return Prepared(wl, atoms, table, demand, seat_min)


def rounded(x: float, n: int = 3) -> float | None:
    """``x`` rounded to ``n`` places; None when not finite (JSON has no inf)."""
    return round(float(x), n) if np.isfinite(x) else None


def crime_per_week(inp: PlanningInputs) -> dict[str, float]:
    """Crime and public-order calls per week by station (for displacement risk)."""
    c = Counter(x.station for x in inp.calls if x.category in CRIME)
    return {k: v / inp.weeks for k, v in c.items()}


def _score(
    problem: BundlingProblem, plan: BundlingPlan, sc: PlanScore, crime: Mapping[str, float]
) -> dict[str, Any]:
    risk = displacement_risk(problem, plan, crime)
    return {
        "objective": rounded(sc.objective, 4),
        "mean_travel_minutes": rounded(sc.mean_travel_minutes),
        "balance_officers": rounded(sc.balance_officers, 2),
        "imbalance_cv": rounded(sc.imbalance_cv, 4),
        "travel_minutes": {k: rounded(v, 2) for k, v in sc.travel_minutes.items()},
        "calls_per_officer": {k: rounded(v, 3) for k, v in sc.calls_per_officer.items()},
        "violations": list(sc.violations),
        "displacement": {
            "seats_closed": risk.seats_closed,
            "total_exposure": rounded(risk.total_exposure, 2),
            "crime_calls_without_seat": rounded(risk.crime_calls_without_seat, 2),
            "neighbours_at_risk": list(risk.neighbours_at_risk),
            "losses": [
                {
                    "station": x.station,
                    "answered_from": x.answered_from,
                    "extra_minutes": rounded(x.extra_minutes, 2),
                    "crime_calls": rounded(x.crime_calls, 2),
                    "exposure": rounded(x.exposure, 2),
                }
                for x in risk.losses
            ],
        },
    }


def _bundles_json(plan: BundlingPlan) -> list[dict[str, Any]]:
    return [{"centre": b.centre, "members": list(b.members)} for b in plan.bundles]


def bundle_problem(
    inp: PlanningInputs, prep: Prepared, options: Mapping[str, Any]
) -> BundlingProblem:
    """The bundling problem of the inputs with the run's constraints and weights."""
    return bundling_problem(
        list(inp.stations), prep.workload.weighted(), prep.demand, prep.seat_minutes, **options
    )


def run_bundle(
    inp: PlanningInputs, prep: Prepared, options: Mapping[str, Any], progress: Progress = quiet
) -> dict[str, Any]:
    """The optimal bundling beside no bundling and the current bundles, scored alike."""
    problem = bundle_problem(inp, prep, options)
    crime = crime_per_week(inp)
    progress(0.3, "求解混合整数规划")
    res = solve_bundling(problem)
    progress(0.8, "评价现行方案")
    plans = [("none", "不捆绑（各所独立运行）", BundlingPlan(()))]
    current = BundlingPlan(inp.bundles)
    current_note = None
    try:
        check_plan(problem, current)
        plans.append(
            (
                "actual",
                f"现行捆绑（{sum(len(b.stations) for b in current.bundles)} 所 → "
                f"{len(current.bundles)} 个中心所）",
                current,
            )
        )
    except Exception as exc:
        current_note = getattr(exc, "message", str(exc))
    plans.append(("optimal", "优化方案（混合整数规划）", res.plan))
    out = []
    for key, label, plan in plans:
        sc = res.score if key == "optimal" else evaluate_plan(problem, plan)
        out.append(
            {
                "key": key,
                "label": label,
                "bundles": _bundles_json(plan),
                **_score(problem, plan, sc, crime),
            }
        )
    return {
        "solver": {
            "name": "HiGHS (scipy.optimize.milp)",
            "status": res.status,
            "mip_gap": rounded(res.mip_gap, 6),
            "seconds": rounded(res.solve_seconds),
            "variables": res.n_variables,
            "constraints": res.n_constraints,
        },
        "objective": (
            f"{problem.travel_weight:g} × 加权平均行驶分钟 + {problem.balance_weight:g} × "
            "人均警情失衡（需调动的警力人数）"
        ),
        "weights": {"travel": problem.travel_weight, "balance": problem.balance_weight},
        "plans": out,
        "current_note": current_note,
        "workload_per_week": {k: rounded(v, 3) for k, v in prep.workload.weighted().items()},
    }


# ---------------------------------------------------------------- allocation


def unit_demands(
    inp: PlanningInputs, prep: Prepared, bundles: Sequence[Bundle]
) -> tuple[Organisation, list[UnitDemand]]:
    """The operating units of a bundling (members pooled at the centre's seat) and their demand."""
    org = organisation_of(
        list(inp.stations), BundlingPlan(tuple(bundles)), unit_codes=dict(inp.central_codes)
    )
    by = {s.code: s for s in inp.stations}
    wl = prep.workload
    centre_of = {b.centre: b for b in bundles}
    units = []
    for ou in org.units:
        seat = next((c for c in ou.stations if c in centre_of), ou.stations[0])
        tv, tw = prep.table.distribution(seat, list(ou.stations))
        idx = [wl.index(c) for c in ou.stations]
        lam = wl.calls_per_hour[idx].sum(axis=0)
        per = wl.calls_per_hour[idx].sum(axis=1)
        scene = (
            float(np.average(wl.on_scene_minutes[idx], weights=per))
            if per.sum() > 0
            else float(wl.on_scene_minutes[idx].mean())
        )
        mean_t = float(np.dot(tv, tw))
        ms = [by[c] for c in ou.stations]
        units.append(
            UnitDemand(
                ou.code,
                lam,
                scene + mean_t,
                mean_t,
                sum(m.sworn for m in ms),
                sum(m.auxiliary for m in ms),
                sum(m.min_sworn for m in ms),
                sum(m.min_auxiliary for m in ms),
            )
        )
    return org, units


def name_of(inp: PlanningInputs, code: str) -> str:
    """The Chinese name of a station or central station."""
    return inp.names.get(code, code)


def allocation_json(inp: PlanningInputs, res: AllocationResult) -> dict[str, Any]:
    """The moves, before/after and the predicted effect."""
    who = "民警" if res.kind == "sworn" else "辅警"
    return {
        "kind": res.kind,
        "moves": [
            {
                "source": m.source,
                "source_name": name_of(inp, m.source),
                "target": m.target,
                "target_name": name_of(inp, m.target),
                "officers": m.officers,
                "gain_minutes": rounded(m.gain_minutes, 4),
                "text": (
                    f"从 {name_of(inp, m.source)} 调 {m.officers} 名{who}"
                    f"到 {name_of(inp, m.target)}"
                ),
            }
            for m in res.moves
        ],
        "moved": sum(m.officers for m in res.moves),
        "understaffed_before": [name_of(inp, c) for c in res.understaffed_before],
        "understaffed_after": [name_of(inp, c) for c in res.understaffed_after],
        "mean_response_before": rounded(res.mean_response_before),
        "mean_response_after": rounded(res.mean_response_after),
        "units": [
            {
                "code": c,
                "name": name_of(inp, c),
                "before": res.before[c],
                "after": res.after[c],
                "response_before": rounded(res.unit_response_before[c]),
                "response_after": rounded(res.unit_response_after[c]),
            }
            for c in res.before
        ],
    }


def run_allocate(
    inp: PlanningInputs,
    prep: Prepared,
    *,
    kind: str,
    target_minutes: float | None,
    bundled: bool,
    rule: RosterRule,
    min_gain_minutes: float = 0.0,
    progress: Progress = quiet,
) -> dict[str, Any]:
    """Moves of officers of ``kind`` between operating units that cut the mean response."""
    _, units = unit_demands(inp, prep, inp.bundles if bundled else ())
    progress(0.4, "边际分析配置警力")
    res = allocate(
        units, rule, kind=kind, target_minutes=target_minutes, min_gain_minutes=min_gain_minutes
    )
    out = allocation_json(inp, res)
    out["organisation"] = "现行捆绑" if bundled else "各所独立"
    out["min_gain_minutes"] = min_gain_minutes
    out["roster"] = (
        f"每名警力每周 {rule.hours.get('sworn', 0):g} 小时出警值班，每组 {rule.crew:g} 人"
    )
    return out


# ---------------------------------------------------------------- simulation


def _histogram(minutes: Any) -> list[int]:
    m = np.asarray(minutes)
    m = m[np.isfinite(m)]
    counts, _ = np.histogram(np.minimum(m, HIST_MAX + 0.5), bins=np.arange(HIST_MAX + 2))
    return [int(x) for x in counts]


def _sim_json(label: str, key: str, sim: SimulationResult, inp: PlanningInputs) -> dict[str, Any]:
    c = sim.county
    return {
        "key": key,
        "label": label,
        "county": {
            "calls": c.calls,
            "mean": rounded(c.mean),
            "ci95": rounded(c.ci95),
            "p50": rounded(c.p50),
            "p90": rounded(c.p90),
            "share_waited": rounded(c.share_waited, 4),
            "share_by_neighbour": rounded(c.share_by_neighbour, 4),
        },
        "histogram": _histogram(sim.minutes),
        "stations": {
            code: {
                "name": name_of(inp, code),
                "mean": rounded(s.mean),
                "ci95": rounded(s.ci95),
                "p90": rounded(s.p90),
                "share_waited": rounded(s.share_waited, 4),
            }
            for code, s in sim.stations.items()
        },
        "seconds": rounded(sim.seconds, 2),
    }


def sim_travel(inp: PlanningInputs, prep: Prepared) -> tuple[TravelModel, str]:
    """The per-call travel model of the simulation, and how it was chosen."""
    if isinstance(inp.travel, StraightLine):
        return inp.travel, inp.travel.describe()
    line = StraightLine()
    seats = {s.code: s.seat for s in inp.stations}
    straight = travel_table(seats, prep.atoms, line).minutes
    road = prep.table.minutes
    ok = np.isfinite(road) & (straight > 0)
    ratio = float(road[ok].sum() / straight[ok].sum()) if ok.any() else 1.0
    model = StraightLine(detour=max(line.detour * ratio, 1.0), speed_kmh=line.speed_kmh)
    return model, f"{model.describe()}；绕行系数按路网行驶时间校准（{inp.travel.describe()}）"


def run_simulate(
    inp: PlanningInputs,
    prep: Prepared,
    *,
    bundles: Sequence[Bundle] | None,
    neighbours: bool,
    rule: RosterRule,
    progress: Progress = quiet,
) -> dict[str, Any]:
    """Replays of the calls before and after bundling and allocation, and the model check."""
    travel, how = sim_travel(inp, prep)
    calls = list(inp.calls)
    scenarios: list[dict[str, Any]] = []
    alone_org, alone_units = unit_demands(inp, prep, ())
    steps = 4 if bundles is None else 5
    progress(0.05, "仿真：各所独立运行")
    alone_roster = roster_of(alone_units, rule)
    alone = simulate(calls, alone_org, alone_roster, travel, neighbours=neighbours)
    scenarios.append(_sim_json("不捆绑（各所独立，现有警力）", "alone", alone, inp))
    validation = []
    for u in alone_units:
        tv, tw = prep.table.distribution(u.code, [u.code])
        pr = predict(u.calls_per_hour, u.busy_minutes, alone_roster.at(u.code), tv, tw)
        got = alone.stations.get(u.code)
        if got is None:
            continue
        tol = max(got.ci95, 0.05 * pr.mean_response_minutes)
        validation.append(
            {
                "code": u.code,
                "name": name_of(inp, u.code),
                "model_mean": rounded(pr.mean_response_minutes),
                "model_p90": rounded(pr.p90_response_minutes),
                "sim_mean": rounded(got.mean),
                "sim_ci95": rounded(got.ci95),
                "within": bool(abs(got.mean - pr.mean_response_minutes) <= tol),
            }
        )
    if inp.bundles:
        progress(1 / steps, "仿真：现行捆绑")
        org, units = unit_demands(inp, prep, inp.bundles)
        sim = simulate(calls, org, roster_of(units, rule), travel, neighbours=neighbours)
        scenarios.append(_sim_json("现行捆绑（成员所警力并入中心所）", "actual", sim, inp))
        progress(2 / steps, "仿真：现行捆绑 + 警力调整")
        moved = allocate(units, rule, kind="sworn")
        sim = simulate(calls, org, moved.roster_after, travel, neighbours=neighbours)
        scenarios.append(
            {
                **_sim_json("现行捆绑 + 按警情调整民警", "actual_allocated", sim, inp),
                "moves": allocation_json(inp, moved)["moves"],
            }
        )
    if bundles is not None:
        progress(3 / steps, "仿真：给定捆绑方案")
        org, units = unit_demands(inp, prep, bundles)
        sim = simulate(calls, org, roster_of(units, rule), travel, neighbours=neighbours)
        scenarios.append(
            {
                **_sim_json("给定捆绑方案", "given", sim, inp),
                "bundles": _bundles_json(BundlingPlan(tuple(bundles))),
            }
        )
    return {
        "travel": how,
        "neighbours": neighbours,
        "scenarios": scenarios,
        "histogram_bins": f"1 分钟一档，0–{HIST_MAX} 分钟，末档为 {HIST_MAX} 分钟以上",
        "validation": {
            "tolerance": "max(仿真均值 95% 置信区间半宽, 模型均值的 5%)",
            "within": sum(v["within"] for v in validation),
            "stations": validation,
        },
    }


def demand_hours(prep: Prepared) -> dict[str, list[float]]:
    """Calls per hour of the week per station (the workload the plan was computed on)."""
    wl = prep.workload
    return {
        c: [round(float(x), 4) for x in wl.calls_per_hour[i]] for i, c in enumerate(wl.stations)
    }
