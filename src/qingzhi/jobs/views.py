"""Jobs API: a job's status and progress, and its result once done (``/api/jobs``).

A caller sees their own jobs and their scope's (``jobs.service.visible``) and needs the
permission of the job's kind (a forecast fit needs ``analysis.read``). Any server process
answers: the state is the job's row. A queued or running job whose process stopped is reported
(and recorded) as failed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import principal
from qingzhi.jobs import runner, service
from qingzhi.jobs.enums import JobStatus
from qingzhi.store.deps import settings_of, transaction

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At shutdown, stop this process's job runner (its running jobs are left to the sweep)."""
    yield
    runner.stop_runner(app.state.db)


router = APIRouter(prefix="/api/jobs", tags=["jobs"], lifespan=lifespan)


async def signed_in(request: Request) -> Actor:
    """The signed-in actor (each job kind checks its own permission)."""
    return (await principal(request)).actor


def _allowed(actor: Actor, kind: str) -> bool:
    registered = runner.KINDS.get(kind)
    return registered is None or actor.can(registered.permission)


@router.get("/{job_id}")
def get_job(request: Request, job_id: int, actor: Actor = Depends(signed_in)) -> dict[str, Any]:
    """A job's status, progress and message; its result once done."""
    stale = settings_of(request).jobs_stale_seconds
    with transaction(request, write=False) as session:
        job = service.get(session=session, actor=actor, job_id=job_id)
        registered = runner.KINDS.get(job.kind)
        if registered is not None:
            actor.require(registered.permission)
        if not service.is_stale(job, stale):
            return service.to_read(job)
    with transaction(request, write=True) as session:
        service.sweep_stale(session=session, stale_seconds=stale)
        return service.to_read(service.get(session=session, actor=actor, job_id=job_id))


@router.get("")
def list_jobs(
    request: Request,
    kind: str | None = Query(default=None, max_length=64),
    status: JobStatus | None = None,
    limit: int = Query(default=50, ge=1, le=200),
    actor: Actor = Depends(signed_in),
) -> dict[str, Any]:
    """The caller's visible jobs, newest first (without their results)."""
    with transaction(request, write=False) as session:
        jobs = service.list_jobs(
            session=session, actor=actor, kind=kind, status=status, limit=limit
        )
        items = [service.to_read(j, with_result=False) for j in jobs if _allowed(actor, j.kind)]
    return {"items": items}
