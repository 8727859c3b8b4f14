# ruff: noqa: E501  (long report lines)
"""Planning benchmark on the demo county (synthetic, labelled so): bundling, allocation,
hypercube, simulation, traffic integration — the figures the planning issue asks for.

Inputs come from the pure demo builders, no database: ``generate_county`` (26 real townships,
synthetic polygons and seats), ``build_county(reform=False)`` (the pre-reform organisation: each
station's sworn officers and auxiliaries) and ``generate_incidents`` (a year of synthetic calls;
the valid ones become ``Call`` values). Travel: straight line × 1.4 at 30 km/h (no road graph).

    PYTHONPATH=src .venv/bin/python bench/planning.py [--seed 2026] [--skip-exact16]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import time
import tracemalloc
from collections import Counter

import numpy as np

from qingzhi.demo.county import County, generate_county
from qingzhi.demo.incidents import generate_incidents
from qingzhi.demo.organisation import RURAL_MIN_SWORN
from qingzhi.demo.orgbundle import build_county
from qingzhi.planning.allocation import RosterRule, UnitDemand, allocate
from qingzhi.planning.bundling import (
    Bundle,
    BundlingPlan,
    bundling_problem,
    evaluate_plan,
    organisation_of,
    solve_bundling,
)
from qingzhi.planning.displacement import displacement_risk
from qingzhi.planning.hypercube import (
    HypercubeSystem,
    preference_from_travel,
    solve_approx,
    solve_exact,
)
from qingzhi.planning.model import Call, Organisation, Staffing, Station
from qingzhi.planning.queueing import predict
from qingzhi.planning.roads import Road, coverage
from qingzhi.planning.simulation import simulate
from qingzhi.planning.travel import StraightLine, matrix
from qingzhi.planning.workload import build_workload, demand_atoms, travel_table

LOCAL = dt.timezone(dt.timedelta(hours=8))


def load(seed: int) -> tuple[County, list[Station], list[Call], dict[str, float]]:
    county = generate_county(seed)
    files = build_county(seed, reform=False)
    staff: Counter[tuple[str, str]] = Counter()
    for row in csv.DictReader(io.StringIO(files["officers.csv"].decode("utf-8"))):
        staff[(row["unit_code"] if "unit_code" in row else row["unit"], row["kind"])] += 1
    stations = [
        Station(
            t.code,
            t.short_name + "派出所",
            t.seat,
            t.polygon,
            rural=not t.urban,
            sworn=staff[(t.code, "sworn")],
            auxiliary=staff[(t.code, "auxiliary")],
            min_sworn=0 if t.urban else RURAL_MIN_SWORN,
        )
        for t in county.townships
    ]
    specs = [s for s in generate_incidents(county) if s.valid]
    first = specs[0].received_at.astimezone(LOCAL)
    monday = dt.datetime.combine(
        first.date() - dt.timedelta(days=first.weekday()), dt.time(), LOCAL
    )
    calls = []
    crime: Counter[str] = Counter()
    for s in specs:
        assert s.arrived_at and s.resolved_at
        calls.append(
            Call(
                (s.received_at - monday).total_seconds() / 60.0,
                s.lon,
                s.lat,
                s.station_code,
                (s.resolved_at - s.arrived_at).total_seconds() / 60.0,
                s.category,
                s.priority,
            )
        )
        if s.category in ("criminal", "public_order"):
            crime[s.station_code] += 1
    return county, stations, calls, dict(crime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--skip-exact16", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    county, stations, calls, crime = load(args.seed)
    codes = [s.code for s in stations]
    print(
        f"demo county (synthetic): {len(stations)} stations, {len(calls)} valid calls, "
        f"{sum(s.sworn for s in stations)} sworn + {sum(s.auxiliary for s in stations)} auxiliary "
        f"at the stations; inputs built in {time.perf_counter() - t0:.1f} s"
    )
    model = StraightLine()
    print("travel:", model.describe())
    wl = build_workload(calls, codes)
    weeks = wl.weeks
    crime_pw = {k: v / weeks for k, v in crime.items()}
    t = time.perf_counter()
    atoms = demand_atoms(calls)  # 500 m cells
    seats = {s.code: s.seat for s in stations}
    table = travel_table(seats, atoms, model)
    print(
        f"workload: {len(atoms.lon)} demand atoms, travel table in {time.perf_counter() - t:.2f} s"
    )

    # ---------------------------------------------------------------- bundling
    n = len(codes)
    demand = np.array([[table.mean(j, [i]) for i in codes] for j in codes])
    seat_min = matrix(model, [seats[c] for c in codes], [seats[c] for c in codes])
    problem = bundling_problem(
        stations,
        wl.weighted(),
        demand,
        seat_min,
        n_bundles=(8, 8),
        n_bundled=(17, 17),
        max_seat_minutes=45.0,
    )
    res = solve_bundling(problem)
    demo_plan = BundlingPlan(
        tuple(
            Bundle(lead, tuple(m for m in b if m != lead))
            for b in county.bundles
            for lead in [max(b, key=lambda c: (county.township(c).population, c))]
        )
    )
    demo = evaluate_plan(problem, demo_plan)
    none = evaluate_plan(problem, BundlingPlan(()))
    print(
        f"\nBUNDLING of {n} stations (24 rural take part; 8 centres, 17 stations, seat ≤ 45 min; "
        f"objective = mean travel + 0.1 × officers out of place)"
    )
    print(
        f"  MIP: {res.status}, gap {res.mip_gap:.2g}, {res.solve_seconds:.2f} s, "
        f"{res.n_variables} variables, {res.n_constraints} constraints"
    )
    print(
        f"  {'plan':<22}{'objective':>10}{'travel min':>11}{'officers off':>13}{'CV calls/off':>13}"
        f"{'exposure':>10}{'closed':>7}"
    )
    for name, plan, sc in (
        ("no bundling", BundlingPlan(()), none),
        ("demo's actual 17→8", demo_plan, demo),
        ("MIP optimum", res.plan, res.score),
    ):
        risk = displacement_risk(problem, plan, crime_pw)
        print(
            f"  {name:<22}{sc.objective:>10.3f}{sc.mean_travel_minutes:>11.2f}"
            f"{sc.balance_officers:>13.1f}{sc.imbalance_cv:>13.3f}{risk.total_exposure:>10.1f}"
            f"{risk.seats_closed:>7}"
        )
    if demo.violations:
        print("  demo plan notes:", "; ".join(demo.violations))
    print(
        "  optimum bundles:",
        ", ".join(f"{b.centre}+{'/'.join(b.members)}" for b in res.plan.bundles),
    )

    # ---------------------------------------------------------------- allocation
    rule = RosterRule()
    units = []
    for s in stations:
        tv, tw = table.distribution(s.code, [s.code])
        mean_t = float(np.dot(tv, tw))
        i = wl.index(s.code)
        units.append(
            UnitDemand(
                s.code,
                wl.calls_per_hour[i],
                float(wl.on_scene_minutes[i]) + mean_t,
                mean_t,
                s.sworn,
                s.auxiliary,
                s.min_sworn,
                0,
            )
        )
    t = time.perf_counter()
    alloc = allocate(units, rule, kind="sworn")
    dt_alloc = time.perf_counter() - t
    moved = sum(m.officers for m in alloc.moves)
    print(
        f"\nALLOCATION of {sum(alloc.before.values())} sworn officers over {n} stations × 168 hours "
        f"(40 duty hours per officer-week answer calls, crews of 2): {dt_alloc:.2f} s"
    )
    print(
        f"  bureau mean response {alloc.mean_response_before:.2f} → {alloc.mean_response_after:.2f} min; "
        f"{moved} officers moved in {len(alloc.moves)} moves"
    )
    for m in alloc.moves[:8]:
        print(f"    {m.text}: −{m.gain_minutes:.3f} min")
    t = time.perf_counter()
    aux = allocate(units, rule, kind="auxiliary")
    dt_aux = time.perf_counter() - t
    print(
        f"  instead moving the {sum(aux.before.values())} auxiliaries (sworn held): {dt_aux:.2f} s, "
        f"{sum(m.officers for m in aux.moves)} moved, mean {aux.mean_response_before:.2f} → "
        f"{aux.mean_response_after:.2f} min (an officer of either kind is the same duty hours); "
        f"the two runs over {sum(alloc.before.values()) + sum(aux.before.values())} officers "
        f"{dt_alloc + dt_aux:.2f} s"
    )
    t = time.perf_counter()
    worth = allocate(units, rule, kind="sworn", min_gain_minutes=0.002)
    print(
        f"  with a minimum gain of 0.002 min per transfer: {sum(m.officers for m in worth.moves)} "
        f"moved, mean → {worth.mean_response_after:.2f} min ({time.perf_counter() - t:.2f} s)"
    )

    # ---------------------------------------------------------------- hypercube
    print(
        "\nHYPERCUBE exact vs Larson (1975) approximation (units at the seats nearest a rural seat, "
        "one unit each; rates = the year's mean ×3 for a busy hour)"
    )
    centre = np.array(stations[10].seat)
    order = np.argsort([np.hypot(*(np.array(s.seat) - centre)) for s in stations])
    sizes = [8, 12] if args.skip_exact16 else [8, 12, 16]
    for size in sizes:
        pick = [stations[k].code for k in order[:size]]
        cols = atoms.of(pick)
        lam = atoms.calls[cols] / (weeks * 168 * 60) * 3.0
        trav = np.array([table.minutes[table.row(c), cols] for c in pick])
        busy = float(np.mean(wl.on_scene_minutes)) + 10.0
        sysm = HypercubeSystem(lam, trav, busy, preference_from_travel(trav))
        tracemalloc.start()
        t, cpu = time.perf_counter(), time.process_time()
        ex = solve_exact(sysm)
        te, tc = time.perf_counter() - t, time.process_time() - cpu
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        t = time.perf_counter()
        ap_ = solve_approx(sysm)
        ta = time.perf_counter() - t
        err = (ap_.mean_response / ex.mean_response - 1) * 100
        print(
            f"  N={size:>2} ({len(cols)} atoms, load {sysm.load:.2f} E): exact {te:.2f} s ({tc:.2f} s CPU), "
            f"peak {peak:.0f} MiB; approx {ta * 1000:.1f} ms, mean response {ex.mean_response:.2f} vs "
            f"{ap_.mean_response:.2f} min ({err:+.2f} %), max workload error "
            f"{np.abs(ap_.workload - ex.workload).max():.4f}"
        )

    # ---------------------------------------------------------------- simulation
    org = Organisation(tuple(organisation_of(stations, BundlingPlan(())).units))
    before_roster = Staffing(
        {u.code: r for u, r in zip(units, [alloc_roster(u, rule) for u in units], strict=True)}
    )
    t, cpu = time.perf_counter(), time.process_time()
    sim = simulate(calls, org, before_roster, model, neighbours=False)
    print(
        f"\nSIMULATION of {sim.county.calls} calls (a year), no cross-boundary help: "
        f"{time.perf_counter() - t:.2f} s ({time.process_time() - cpu:.2f} s CPU: the machine is "
        f"shared), {sim.events} events"
    )
    diffs = []
    rel = []
    within = 0
    for u in units:
        tv, tw = table.distribution(u.code, [u.code])
        pr = predict(u.calls_per_hour, u.busy_minutes, before_roster.at(u.code), tv, tw)
        got = sim.stations[u.code]
        d = got.mean - pr.mean_response_minutes
        diffs.append(d)
        rel.append(d / pr.mean_response_minutes)
        tol = max(got.ci95, 0.05 * pr.mean_response_minutes)
        within += abs(d) <= tol
    print(
        f"  M/M/c vs simulation, mean response per station: {within}/{len(units)} within "
        f"max(CI95, 5 %); mean difference {np.mean(diffs):+.2f} min, max |diff| {np.max(np.abs(diffs)):.2f} min "
        f"(relative: mean {np.mean(rel):+.1%}, max |.| {np.max(np.abs(rel)):.1%}; "
        f"{sum(abs(r) <= 0.10 for r in rel)}/{len(rel)} within 10 %)"
    )
    print(
        f"  county: mean {sim.county.mean:.2f} ± {sim.county.ci95:.2f} min, p90 {sim.county.p90:.2f} min, "
        f"waited {sim.county.share_waited:.1%}"
    )
    helped = simulate(
        calls,
        Organisation(tuple(organisation_of(stations, BundlingPlan(()), neighbours=True).units)),
        before_roster,
        model,
        neighbours=True,
    )
    print(
        f"  with adjacent stations helping: mean {helped.county.mean:.2f} min, p90 {helped.county.p90:.2f}, "
        f"answered by a neighbour {helped.county.share_by_neighbour:.1%}"
    )
    after_alloc = simulate(calls, org, alloc.roster_after, model, neighbours=False)
    print(
        f"  after the allocation's moves: mean {after_alloc.county.mean:.2f} min, p90 {after_alloc.county.p90:.2f}"
    )
    borg = organisation_of(stations, res.plan)
    bunits = []
    for ou in borg.units:
        members = [s for s in stations if s.code in ou.stations]
        seat_code = [b.centre for b in res.plan.bundles if b.centre in ou.stations] or [ou.code]
        tv, tw = table.distribution(seat_code[0], list(ou.stations))
        idx = [wl.index(c) for c in ou.stations]
        lam = wl.calls_per_hour[idx].sum(axis=0)
        mean_t = float(np.dot(tv, tw))
        scene = float(
            np.average(
                wl.on_scene_minutes[idx], weights=lam.sum() and wl.calls_per_hour[idx].sum(axis=1)
            )
        )
        bunits.append(
            UnitDemand(
                ou.code,
                lam,
                scene + mean_t,
                mean_t,
                sum(m.sworn for m in members),
                sum(m.auxiliary for m in members),
            )
        )
    broster = Staffing({u.code: alloc_roster(u, rule) for u in bunits})
    bsim = simulate(calls, borg, broster, model, neighbours=False)
    print(
        f"  after the optimal bundling (officers pooled at the centres): mean {bsim.county.mean:.2f} min, "
        f"p90 {bsim.county.p90:.2f}, waited {bsim.county.share_waited:.1%}"
    )

    # ---------------------------------------------------------------- traffic integration
    roads = []
    cx, cy = county.seat_center
    from shapely.geometry import LineString

    for a, b in county.roads:
        radial = abs(a[0] - cx) < 1e-9 and abs(a[1] - cy) < 1e-9
        roads.append(Road(LineString([a, b]), "county" if radial else "township", synthetic=True))
    from shapely.ops import unary_union

    squads = {
        f"JX{i + 1}": unary_union([county.township(c).polygon for c in g])
        for i, g in enumerate(county.traffic_groups)
    }
    before = coverage(roads, squads, dict.fromkeys(squads, 3))
    integrated = [c for g in county.traffic_groups for c in g]
    after = coverage(
        roads,
        {c: county.township(c).polygon for c in integrated},
        {s.code: s.sworn + 1 for s in stations if s.code in integrated},
    )
    traffic = Counter(c.station for c in calls if c.category == "traffic")
    print(
        "\nTRAFFIC INTEGRATION (roads: the demo's synthetic trunk segments, radial = county road, "
        "seat-to-seat = township road; synthetic)"
    )
    print(
        f"  before: 5 squads × 3 officers, county+ road km per traffic officer "
        f"{np.mean([c.trunk_km_per_officer for c in before]):.1f} (mean), "
        f"all roads {np.mean([sum(c.km.values()) / 3 for c in before]):.1f} km per officer"
    )
    print(
        f"  after: 15 stations, county+ road km per station officer "
        f"{np.mean([c.trunk_km_per_officer for c in after]):.2f}; traffic calls per integrated station "
        f"{np.mean([traffic[c] for c in integrated]):.0f}/year"
    )
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


def alloc_roster(u: UnitDemand, rule: RosterRule) -> np.ndarray:
    """Today's headcount rostered over the week by the allocator's optimal roster."""
    from qingzhi.planning.allocation import roster

    return roster([u], rule).at(u.code)


if __name__ == "__main__":
    main()
