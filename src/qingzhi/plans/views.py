"""Planning API (``/api/planning``): run a plan (a background job), list and read plans, the
main table as CSV, and an admin's decision.

``POST /plans`` checks the run against the stations in scope (422 naming the field, or the
constraints no plan can meet), saves the plan and answers 202 with it and its job
(``/api/jobs/{id}`` shows progress; the plan is ``ready`` when the job is done). Reading needs
``plan.read`` and sees plans in the caller's scope (``plans.scope``); running ``plan.run``;
deciding ``plan.apply`` (admins).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.errors import Conflict
from qingzhi.jobs import service as jobs
from qingzhi.jobs.models import Job
from qingzhi.jobs.runner import runner_for
from qingzhi.org import service as org
from qingzhi.params import IdPath
from qingzhi.plans import report, service, tables
from qingzhi.plans.enums import PlanKind, PlanStatus
from qingzhi.plans.schemas import Decision, PlanRun
from qingzhi.reports.enums import MEDIA_TYPES, BriefFormat
from qingzhi.store.deps import database, settings_of, transaction

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/planning", tags=["planning"])


@router.post("/plans", status_code=202)
def create_plan(
    request: Request, run: PlanRun, actor: Actor = Depends(require(Perm.plan_run))
) -> JSONResponse:
    """Check and save a run; its computation runs as a background job (202 with plan and job)."""
    settings = settings_of(request)
    with transaction(request, write=False) as session:
        service.check_run(session=session, actor=actor, settings=settings, run=run)
    runner = runner_for(database(request), settings)
    with transaction(request, write=True) as session:
        plan = service.create(session=session, actor=actor, run=run)
        job = service.submit(
            session=session, actor=actor, settings=settings, plan=plan, worker=runner.worker
        )
        body = {"plan": service.to_read(plan), "job": jobs.to_read(job)}
    runner.enqueue(job.id)
    headers = {"Location": f"/api/planning/plans/{plan.id}"}
    return JSONResponse(body, status_code=202, headers=headers)


@router.get("/plans")
def list_plans(
    request: Request,
    kind: PlanKind | None = None,
    limit: int = Query(default=50, ge=1, le=200),
    actor: Actor = Depends(require(Perm.plan_read)),
) -> dict[str, Any]:
    """The caller's visible plans, newest first (without their inputs and results)."""
    with transaction(request, write=False) as session:
        items = service.list_plans(session=session, actor=actor, kind=kind, limit=limit)
        return {"items": [service.to_read(p, with_result=False) for p in items]}


@router.get("/plans/{plan_id}")
def get_plan(
    request: Request, plan_id: IdPath, actor: Actor = Depends(require(Perm.plan_read))
) -> dict[str, Any]:
    """A plan with its parameters, inputs and results (a plan whose job failed without it, its
    process having stopped, is recorded failed)."""
    stale = settings_of(request).jobs_stale_seconds
    with transaction(request, write=False) as session:
        plan = service.get(session=session, actor=actor, plan_id=plan_id)
        job = None if plan.job_id is None else session.get(Job, plan.job_id)
        if job is not None and jobs.is_stale(job, stale):
            pass  # swept below
        elif service.orphaned(session, plan) is None:
            return service.to_read(plan)
    with transaction(request, write=True) as session:
        jobs.sweep_stale(session=session, stale_seconds=stale)
        return service.to_read(service.settle(session=session, actor=actor, plan_id=plan_id))


@router.get("/plans/{plan_id}/table.csv")
def plan_table(
    request: Request, plan_id: IdPath, actor: Actor = Depends(require(Perm.plan_read))
) -> Response:
    """The plan's main table (plans, moves, scenarios or stations) as CSV."""
    with transaction(request, write=False) as session:
        plan = service.get(session=session, actor=actor, plan_id=plan_id)
        read = service.to_read(plan)
    if read["result"] is None:
        raise Conflict("方案尚未计算完成", details={"status": read["status"]})
    text = tables.to_csv(read["kind"], read["result"])
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="plan-{plan_id}.csv"'},
    )


@router.get("/plans/{plan_id}/report.{fmt}")
def plan_report(
    request: Request,
    plan_id: IdPath,
    fmt: Literal["docx", "pdf"],
    actor: Actor = Depends(require(Perm.plan_read)),
) -> Response:
    """The plan as a report in the briefs' Word layout (公文, GB/T 9704), or PDF from it."""
    with transaction(request, write=False) as session:
        plan = service.get(session=session, actor=actor, plan_id=plan_id)
        read = service.to_read(plan)
        issuer = org.bureau(session).name
    if read["result"] is None:
        raise Conflict("方案尚未计算完成", details={"status": read["status"]})
    today = dt.datetime.now(ZoneInfo(settings_of(request).timezone)).date()
    data = report.render(read, issuer=issuer, today=today, fmt=fmt)
    return Response(
        data,
        media_type=MEDIA_TYPES[BriefFormat(fmt)],
        headers={
            "Content-Disposition": f'attachment; filename="plan-{plan_id}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/plans/{plan_id}/decision")
def decide(
    request: Request,
    plan_id: IdPath,
    body: Decision,
    actor: Actor = Depends(require(Perm.plan_apply)),
) -> dict[str, Any]:
    """An admin applies or rejects a ready plan (recorded and audited; the organisation itself
    is changed only through the org service's own operations)."""
    with transaction(request, write=True) as session:
        plan = service.decide(
            session=session,
            actor=actor,
            plan_id=plan_id,
            decision=PlanStatus(body.decision),
            note=body.note,
        )
        return service.to_read(plan, with_result=False)
