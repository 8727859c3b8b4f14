"""Background jobs: submit, read (in scope), and the runner's state changes on the job's row.

A user sees the jobs they created and, with a unit's scope, the jobs created in their scope's
units (with the bureau's scope, every job). Every state change is one conditional UPDATE on the
job's row (``WHERE status IN`` the states it may come from, and for the runner's writes ``AND
worker = ``its process): a decision made on the row itself, so two processes can never both run
a job or finish it twice. Writes are short transactions; nothing is held while a job computes.

Submitting with a ``key`` shares work: while a queued or running job has the key, the same job
is returned (the unique partial index ``uq_job_active_key`` makes that hold across processes:
the second insert fails and the first job is read back). A process that stops leaves its jobs
queued or running; ``sweep_stale`` marks failed every such job whose process has shown no sign
of life (``heartbeat_at``) for ``jobs_stale_seconds``, so a later request submits it afresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.errors import NotFound, QingzhiError
from qingzhi.jobs.enums import ACTIVE, STATUS_LABELS, TRANSITIONS, JobStatus
from qingzhi.jobs.models import Job
from qingzhi.store.base import utcnow

log = logging.getLogger(__name__)

STALE_ERROR = "执行该任务的服务进程已停止，请重新提交"
MESSAGE_LENGTH = 200


class QueueFull(QingzhiError):
    """Too many jobs wait or run: the store's limit (``jobs_max_active``) is reached."""

    code = "jobs_busy"
    status = 503
    message = "后台任务已满，请稍后再试"


def job_key(kind: str, params: Mapping[str, Any]) -> str:
    """A computation's identity: SHA-256 of its kind and canonical JSON parameters."""
    canonical = json.dumps(
        {"kind": kind, "params": params}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def visible(actor: Actor) -> ColumnElement[bool] | None:
    """The jobs the actor may read (None: every job): their own, or their scope's units'."""
    if actor.scope.whole_bureau:
        return None
    mine = Job.created_by == actor.user_id if actor.user_id is not None else None
    in_scope = actor.scope.where(Job.unit_id)
    return in_scope if mine is None else or_(mine, in_scope)


def _active(session: Session, key: str) -> Job | None:
    stmt = select(Job).where(Job.key == key, Job.status.in_(ACTIVE))
    return session.scalars(stmt.limit(1)).first()


def submit(
    *,
    session: Session,
    actor: Actor,
    kind: str,
    params: Mapping[str, Any],
    worker: str,
    key: str | None = None,
    max_active: int = 8,
) -> tuple[Job, bool]:
    """Queue a job owned by ``worker`` (the submitting process), or return the queued or running
    job with the same ``key``; the flag says whether it is new (then the caller hands it to its
    runner once the transaction has committed)."""
    if key is not None:
        existing = _active(session, key)
        if existing is not None:
            return existing, False
    active = session.scalar(select(func.count()).select_from(Job).where(Job.status.in_(ACTIVE)))
    if int(active or 0) >= max_active:
        raise QueueFull(details={"active": int(active or 0), "limit": max_active})
    now = utcnow()
    job = Job(
        kind=kind,
        key=key,
        params=json.dumps(dict(params), ensure_ascii=False, default=str),
        status=JobStatus.queued,
        progress=0.0,
        message="排队中",
        created_by=actor.user_id,
        unit_id=actor.unit_id,
        worker=worker,
        heartbeat_at=now,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:  # another process queued the same key meanwhile
        existing = _active(session, key) if key is not None else None
        if existing is None:
            raise
        return existing, False
    log.info("job %d (%s) queued by %s", job.id, kind, actor.name)
    return job, True


def get(*, session: Session, actor: Actor, job_id: int) -> Job:
    """The job, if the actor may see it (else NotFound, as for a job that does not exist)."""
    stmt = select(Job).where(Job.id == job_id)
    scope = visible(actor)
    if scope is not None:
        stmt = stmt.where(scope)
    job = session.scalars(stmt).first()
    if job is None:
        raise NotFound(details={"job_id": job_id})
    return job


def list_jobs(
    *,
    session: Session,
    actor: Actor,
    kind: str | None = None,
    status: JobStatus | None = None,
    limit: int = 50,
) -> list[Job]:
    """The actor's visible jobs, newest first."""
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    scope = visible(actor)
    if scope is not None:
        stmt = stmt.where(scope)
    if kind is not None:
        stmt = stmt.where(Job.kind == kind)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    return list(session.scalars(stmt))


def find_done(*, session: Session, kind: str, key: str) -> Job | None:
    """The latest finished job of ``kind`` with ``key`` (its result serves the same request)."""
    stmt = (
        select(Job)
        .where(Job.kind == kind, Job.key == key, Job.status == JobStatus.done)
        .order_by(Job.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def _move(
    session: Session,
    job_id: int,
    to: JobStatus,
    worker: str | None,
    **values: Any,
) -> bool:
    """Move the job to ``to`` if it is in a state allowed to reach it (and owned by ``worker``
    when given); False if it was not (another process moved it first)."""
    stmt = update(Job).where(Job.id == job_id, Job.status.in_(list(TRANSITIONS[to])))
    if worker is not None:
        stmt = stmt.where(Job.worker == worker)
    moved = session.execute(
        stmt.values(status=to, **values).execution_options(synchronize_session=False)
    )
    return bool(getattr(moved, "rowcount", 0))


def claim(*, session: Session, job_id: int, worker: str) -> bool:
    """queued → running for ``worker``; False if the job is no longer queued or not its own."""
    now = utcnow()
    return _move(
        session,
        job_id,
        JobStatus.running,
        worker,
        started_at=now,
        heartbeat_at=now,
        message="开始计算",
    )


def report_progress(
    *, session: Session, job_id: int, worker: str, progress: float, message: str
) -> bool:
    """Record a running job's progress (0..1) and what it is doing; False if not running."""
    stmt = (
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.running, Job.worker == worker)
        .values(
            progress=min(max(float(progress), 0.0), 1.0),
            message=message[:MESSAGE_LENGTH],
            heartbeat_at=utcnow(),
        )
    )
    return bool(getattr(session.execute(stmt), "rowcount", 0))


def finish(
    *,
    session: Session,
    job_id: int,
    worker: str,
    result: Mapping[str, Any] | None = None,
    result_path: str | None = None,
    key: str | None = None,
) -> bool:
    """running → done with the result (JSON) or a file path; ``key`` replaces the job's key
    when the computation turned out to depend on other data than it was submitted with."""
    values: dict[str, Any] = {
        "progress": 1.0,
        "message": "完成",
        "result": None if result is None else json.dumps(dict(result), ensure_ascii=False),
        "result_path": result_path,
        "finished_at": utcnow(),
    }
    if key is not None:
        values["key"] = key
    return _move(session, job_id, JobStatus.done, worker, **values)


def fail(*, session: Session, job_id: int, error: str, worker: str | None = None) -> bool:
    """queued or running → failed with a message for the user."""
    return _move(
        session,
        job_id,
        JobStatus.failed,
        worker,
        error=error,
        message="失败",
        finished_at=utcnow(),
    )


def heartbeat(*, session: Session, worker: str) -> int:
    """Show that ``worker``'s queued and running jobs are alive; how many there are."""
    stmt = (
        update(Job)
        .where(Job.worker == worker, Job.status.in_(ACTIVE))
        .values(heartbeat_at=utcnow())
    )
    return int(getattr(session.execute(stmt), "rowcount", 0))


def sweep_stale(*, session: Session, stale_seconds: float, now: dt.datetime | None = None) -> int:
    """Mark failed every queued or running job without a sign of life for ``stale_seconds``
    (its process stopped); how many."""
    limit = (now or utcnow()) - dt.timedelta(seconds=stale_seconds)
    stmt = (
        update(Job)
        .where(Job.status.in_(ACTIVE), or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < limit))
        .values(status=JobStatus.failed, error=STALE_ERROR, message="失败", finished_at=utcnow())
    )
    swept = int(getattr(session.execute(stmt), "rowcount", 0))
    if swept:
        log.warning("%d job(s) failed: their process stopped", swept)
    return swept


def is_stale(job: Job, stale_seconds: float, now: dt.datetime | None = None) -> bool:
    """Whether a queued or running job's process has shown no sign of life for too long."""
    if job.status not in ACTIVE:
        return False
    if job.heartbeat_at is None:
        return True
    return (now or utcnow()) - job.heartbeat_at > dt.timedelta(seconds=stale_seconds)


def result_of(job: Job) -> dict[str, Any] | None:
    """The job's JSON result, once done."""
    if job.status != JobStatus.done or job.result is None:
        return None
    out = json.loads(job.result)
    return out if isinstance(out, dict) else {"value": out}


def to_read(job: Job, *, with_result: bool = True) -> dict[str, Any]:
    """The job as the API shows it: state and progress; the result once done."""
    out: dict[str, Any] = {
        "id": job.id,
        "kind": job.kind,
        "status": str(job.status),
        "status_label": STATUS_LABELS[job.status],
        "progress": round(float(job.progress), 4),
        "message": job.message,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "started_at": None if job.started_at is None else job.started_at.isoformat(),
        "finished_at": None if job.finished_at is None else job.finished_at.isoformat(),
        "url": f"/api/jobs/{job.id}",
    }
    if with_result and job.status == JobStatus.done:
        out["result"] = result_of(job)
        out["result_path"] = job.result_path
    return out
