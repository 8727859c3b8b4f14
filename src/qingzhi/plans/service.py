"""Plans: validate and save a run, compute it (a background job or the CLI), read, decide.

``create`` checks the run against the stations in the caller's scope before anything is saved
(unknown stations, non-adjacent members of a given bundling, a headcount below a station's
minimum, and for a bundling whether any plan meets its constraints at all — the constraints
do not depend on the workload, so a solve on zero workload says it in a fraction of a second:
``PlanInfeasible`` names them), saves the plan (computing) and its audit record ``plan.create``
in one transaction. ``compute`` reads the inputs (read transactions only), runs the library
and stores inputs and results on the locked row, moving it to ready (or failed with the error)
through the plan lifecycle, audited. A job of kind ``planning.run`` computes a plan submitted
over the API; the CLI computes in its own process with a progress bar.

Nothing here changes the organisation: ``decide`` records an admin's explicit decision
(applied or rejected, with a note; audited ``plan.applied`` / ``plan.rejected``). Carrying an
applied plan out (bundling units, moving officers) stays with the org service's own audited
operations, done by people: planning never writes to the organisation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi import lifecycle
from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.errors import NotFound, QingzhiError, ValidationFailed
from qingzhi.jobs import service as jobs
from qingzhi.jobs.enums import JobStatus
from qingzhi.jobs.models import Job
from qingzhi.jobs.runner import JobContext, register
from qingzhi.planning.allocation import RosterRule
from qingzhi.planning.bundling import solve_bundling
from qingzhi.planning.model import check_codes
from qingzhi.planning.plans import Bundle, BundlingPlan, Fixed, bundling_problem, check_plan
from qingzhi.planning.travel import matrix
from qingzhi.planning.workload import WorkloadWeights
from qingzhi.plans import compute
from qingzhi.plans import roads as plan_roads
from qingzhi.plans import scope as plan_scope
from qingzhi.plans.enums import KIND_LABELS, PLAN, PlanKind, PlanStatus
from qingzhi.plans.inputs import StationSet, load_inputs, load_stations, travel_model
from qingzhi.plans.models import Plan
from qingzhi.plans.schemas import AllocateRun, BundleRun, PlanRun, RoadsRun, SimulateRun
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

JOB_KIND = "planning.run"
RUN = TypeAdapter(PlanRun)
Progress = Callable[[float, str], None]


def _stations(session: Session, actor: Actor, run: Any) -> StationSet:
    staffing = {
        code: {k: v for k, v in h.model_dump().items() if v is not None}
        for code, h in run.staffing.items()
    }
    return load_stations(
        session=session,
        actor=actor,
        min_sworn=run.min_sworn,
        min_sworn_rural=run.min_sworn_rural,
        min_sworn_urban=run.min_sworn_urban,
        staffing=staffing,
    )


def bundle_options(run: BundleRun) -> dict[str, Any]:
    """The library's problem options from a bundle run."""
    f = run.fixed
    return {
        "participants": None if run.participants is None else tuple(run.participants),
        "n_bundles": run.n_bundles,
        "n_bundled": run.n_bundled,
        "max_seat_minutes": run.max_seat_minutes,
        "adjacency_rule": run.adjacency_rule,
        "fixed": Fixed(dict(f.members), tuple(f.centres), tuple(f.alone), tuple(f.must_bundle)),
        "min_members": run.min_members,
        "max_members": run.max_members,
        "travel_weight": run.travel_weight,
        "balance_weight": run.balance_weight,
        "time_limit_s": run.time_limit_s,
    }


def given_bundles(run: SimulateRun) -> tuple[Bundle, ...] | None:
    """The bundling a simulation is given, as the library's bundles."""
    if run.bundles is None:
        return None
    return tuple(Bundle(b.centre, tuple(b.members)) for b in run.bundles)


def check_run(*, session: Session, actor: Actor, settings: Settings, run: Any) -> StationSet:
    """Refuse a run no computation could honour (422 naming the field or the constraint)."""
    actor.require(Perm.plan_run)
    st = _stations(session, actor, run)
    codes = [s.code for s in st.stations]
    if isinstance(run, BundleRun | SimulateRun):
        model = travel_model(settings)
        seats = [s.seat for s in st.stations]
        n = len(codes)
        seat_min = matrix(model, seats, seats)
        zero = dict.fromkeys(codes, 0.0)
        if isinstance(run, BundleRun):
            if run.min_members > run.max_members:
                raise ValidationFailed.field("min_members", "不能大于 max_members")
            problem = bundling_problem(
                list(st.stations), zero, np.zeros((n, n)), seat_min, **bundle_options(run)
            )
            solve_bundling(problem)  # PlanInfeasible names the constraints
        else:
            bundles = given_bundles(run)
            if bundles is not None:
                problem = bundling_problem(
                    list(st.stations), zero, np.zeros((n, n)), seat_min, participants=tuple(codes)
                )
                check_plan(problem, BundlingPlan(bundles))
    if isinstance(run, RoadsRun):
        for i, q in enumerate(run.squads):
            check_codes(codes, q.stations, f"squads[{i}].stations")
    return st


def create(*, session: Session, actor: Actor, run: Any) -> Plan:
    """Save a run checked by ``check_run`` (in a read transaction before: the check solves a
    MIP, which must not hold the writer lock) as a computing plan, audited ``plan.create``."""
    actor.require(Perm.plan_run)
    kind = PlanKind(run.kind)
    plan = Plan(
        kind=kind,
        title=run.title or KIND_LABELS[kind],
        status=PlanStatus.computing,
        params=run.model_dump_json(),
        unit_id=actor.unit_id,
        created_by=actor.user_id,
        created_at=utcnow(),
    )
    session.add(plan)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="plan.create",
        entity_kind="plan",
        entity_id=plan.id,
        unit_id=plan.unit_id,
        after={"kind": kind.value, "title": plan.title, "params": json.loads(plan.params)},
    )
    log.info("plan %d (%s) created by %s", plan.id, kind, actor.name)
    return plan


def submit(*, session: Session, actor: Actor, settings: Settings, plan: Plan, worker: str) -> Job:
    """Queue the plan's computation as a background job (the caller enqueues after commit)."""
    job, _ = jobs.submit(
        session=session,
        actor=actor,
        kind=JOB_KIND,
        params={"plan_id": plan.id},
        worker=worker,
        max_active=settings.jobs_max_active,
    )
    plan.job_id = job.id
    session.flush()
    return job


def _quiet(fraction: float, message: str) -> None:
    """No progress reporting."""


def run_compute(
    *, db: Database, actor: Actor, settings: Settings, plan_id: int, progress: Progress = _quiet
) -> dict[str, Any]:
    """Compute a saved plan and store its inputs and result (ready), or its error (failed)."""
    with db.session(write=False) as session:
        plan = get(session=session, actor=actor, plan_id=plan_id)
        run = RUN.validate_json(plan.params)
    try:
        progress(0.02, "读取派出所、警力与警情")
        with db.session(write=False) as session:
            st = _stations(session, actor, run)
            inp = load_inputs(
                session=session,
                actor=actor,
                settings=settings,
                stations=st,
                days=run.days,
                end=run.end,
            )
        progress(0.15, "建立工作量与行驶时间模型")
        weights = WorkloadWeights(
            {str(k): v for k, v in run.weights.category.items()}, dict(run.weights.priority)
        )
        prep = compute.prepare(inp, weights)
        rule = RosterRule(
            hours={"sworn": run.duty_hours, "auxiliary": run.duty_hours}, crew=run.crew
        )
        result: dict[str, Any]
        if isinstance(run, BundleRun):
            result = compute.run_bundle(inp, prep, bundle_options(run), progress)
        elif isinstance(run, AllocateRun):
            result = compute.run_allocate(
                inp,
                prep,
                kind=run.officer_kind,
                target_minutes=run.target_minutes,
                bundled=run.bundled,
                rule=rule,
                min_gain_minutes=run.min_gain_minutes,
                progress=progress,
            )
        elif isinstance(run, SimulateRun):
            result = compute.run_simulate(
                inp,
                prep,
                bundles=given_bundles(run),
                neighbours=run.neighbours,
                rule=rule,
                progress=progress,
            )
        else:
            result = plan_roads.run_roads(
                inp,
                osm_path=settings.road_graph,
                squads=[q.model_dump() for q in run.squads],
                progress=progress,
            )
        inputs = {**inp.summary(), "calls_per_hour": compute.demand_hours(prep)}
    except Exception as exc:
        error = (
            exc.to_dict()
            if isinstance(exc, QingzhiError)
            else {"code": "internal", "message": "计算出错，请联系管理员", "details": None}
        )
        with db.session(write=True) as session:
            _finish(session, actor, plan_id, PlanStatus.failed, error=error)
        raise
    with db.session(write=True) as session:
        _finish(session, actor, plan_id, PlanStatus.ready, inputs=inputs, result=result)
    progress(1.0, "完成")
    return result


def _finish(
    session: Session,
    actor: Actor,
    plan_id: int,
    to: PlanStatus,
    *,
    inputs: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> None:
    row = lifecycle.locked(session, Plan, plan_id)
    if row is None:
        raise NotFound(details={"plan_id": plan_id})
    if inputs is not None:
        row.inputs = json.dumps(inputs, ensure_ascii=False)
    if result is not None:
        row.result = json.dumps(result, ensure_ascii=False)
    if error is not None:
        row.error = json.dumps(error, ensure_ascii=False)
    row.finished_at = utcnow()
    lifecycle.move(
        session=session,
        actor=actor,
        lifecycle=PLAN,
        row=row,
        target=to,
        entity_kind="plan",
        unit_id=row.unit_id,
        detail={"error": error["message"]} if error else None,
    )


def _job(ctx: JobContext) -> dict[str, Any]:
    plan_id = int(ctx.params["plan_id"])
    run_compute(
        db=ctx.db, actor=ctx.actor, settings=ctx.settings, plan_id=plan_id, progress=ctx.progress
    )
    return {"plan_id": plan_id, "url": f"/api/planning/plans/{plan_id}"}


register(JOB_KIND, _job, Perm.plan_run)


def orphaned(session: Session, plan: Plan) -> str | None:
    """The error of the failed job of a plan still computing (its process stopped), or None."""
    if plan.status != PlanStatus.computing or plan.job_id is None:
        return None
    job = session.get(Job, plan.job_id)
    if job is None or job.status != JobStatus.failed:
        return None
    return job.error or "计算任务已失败"


def settle(*, session: Session, actor: Actor, plan_id: int) -> Plan:
    """Mark failed a plan whose job failed without it (its process stopped): the plan's row says
    what its job says. Call in a write transaction after ``orphaned`` found one."""
    plan = get(session=session, actor=actor, plan_id=plan_id)
    message = orphaned(session, plan)
    if message is not None:
        _finish(
            session, actor, plan_id, PlanStatus.failed,
            error={"code": "job_failed", "message": message, "details": None},
        )  # fmt: skip
    return get(session=session, actor=actor, plan_id=plan_id)


def get(*, session: Session, actor: Actor, plan_id: int) -> Plan:
    """The plan, if the caller may see it (else NotFound, as for a plan that does not exist)."""
    actor.require(Perm.plan_read)
    plan = session.scalars(plan_scope.plans(select(Plan).where(Plan.id == plan_id), actor)).first()
    if plan is None:
        raise NotFound(details={"plan_id": plan_id})
    return plan


def list_plans(
    *, session: Session, actor: Actor, kind: PlanKind | None = None, limit: int = 50
) -> list[Plan]:
    """The caller's visible plans, newest first."""
    actor.require(Perm.plan_read)
    stmt = plan_scope.plans(select(Plan), actor).order_by(Plan.id.desc()).limit(limit)
    if kind is not None:
        stmt = stmt.where(Plan.kind == kind)
    return list(session.scalars(stmt))


def decide(
    *, session: Session, actor: Actor, plan_id: int, decision: PlanStatus, note: str
) -> Plan:
    """An admin applies or rejects a ready plan: the decision is recorded and audited; the
    organisation itself is not changed here (see the module docstring)."""
    actor.require(Perm.plan_apply)
    get(session=session, actor=actor, plan_id=plan_id)
    row = lifecycle.locked(session, Plan, plan_id)
    if row is None:  # pragma: no cover - read just above
        raise NotFound(details={"plan_id": plan_id})
    lifecycle.move(
        session=session,
        actor=actor,
        lifecycle=PLAN,
        row=row,
        target=decision,
        entity_kind="plan",
        unit_id=row.unit_id,
        detail={"note": note},
    )
    row.decided_by = actor.user_id
    row.decided_at = utcnow()
    row.decision_note = note
    session.flush()
    return row


def to_read(plan: Plan, *, with_result: bool = True) -> dict[str, Any]:
    """The plan as the API shows it."""
    out: dict[str, Any] = {
        "id": plan.id,
        "kind": plan.kind.value,
        "kind_label": KIND_LABELS[plan.kind],
        "title": plan.title,
        "status": plan.status.value,
        "status_label": PLAN.label(plan.status),
        "params": json.loads(plan.params),
        "job_id": plan.job_id,
        "job_url": None if plan.job_id is None else f"/api/jobs/{plan.job_id}",
        "created_at": plan.created_at.isoformat(),
        "finished_at": None if plan.finished_at is None else plan.finished_at.isoformat(),
        "decided_at": None if plan.decided_at is None else plan.decided_at.isoformat(),
        "decision_note": plan.decision_note,
        "error": None if plan.error is None else json.loads(plan.error),
    }
    if with_result:
        out["inputs"] = None if plan.inputs is None else json.loads(plan.inputs)
        out["result"] = None if plan.result is None else json.loads(plan.result)
    return out
