"""The job runner: a few threads inside the server process that accepted the job.

Why in-process threads: the simplest runner that works on SQLite and PostgreSQL alike, needs no
broker, no extra service to deploy and nothing new on a police intranet; the jobs it runs
(forecast fits, later planning runs and briefs) are numpy work that releases the GIL for most of
its time. Each process that submits a job runs it (``jobs_threads`` at a time, 1 by default on
a 2-core machine: one fit at a time leaves the other core to the requests). Several server
workers still answer alike: a job's status, progress and result are in its row, which every
process reads. A process that stops takes its jobs with it; its heartbeat stops too, and the
first process to start or to look at such a job after ``jobs_stale_seconds`` marks it failed
(``service.sweep_stale``), so the next request submits it again.

A job kind registers a handler (``register``) that receives a ``JobContext``: the job's
parameters, the actor who submitted it (rebuilt from the user, so a revoked role or a changed
unit counts), the database for short read transactions of its own, and ``progress`` to report
(written at most every half second, a short transaction each). The handler returns the JSON
result, or a ``JobResult`` with the key the result really depends on, or a file path; an
exception fails the job with its message (a ``QingzhiError``'s Chinese one, else a generic one;
the traceback goes to the log).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qingzhi.auth.context import Actor
from qingzhi.auth.models import User
from qingzhi.auth.permissions import Perm
from qingzhi.auth.service import actor_for
from qingzhi.config import Settings
from qingzhi.errors import QingzhiError
from qingzhi.jobs import service
from qingzhi.jobs.models import Job
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.5  # seconds between progress writes of one job


@dataclass(frozen=True)
class JobResult:
    """What a handler may return instead of a plain dict: the result, the key it depends on, a
    file it wrote."""

    result: dict[str, Any] | None
    key: str | None = None
    path: str | None = None


class JobContext:
    """What a handler gets: the job, its actor, the database and progress reporting."""

    def __init__(
        self, runner: JobRunner, job_id: int, kind: str, params: dict[str, Any], actor: Actor
    ) -> None:
        self.runner = runner
        self.job_id = job_id
        self.kind = kind
        self.params = params
        self.actor = actor
        self.db = runner.db
        self.settings = runner.settings
        self._last = 0.0

    def progress(self, fraction: float, message: str) -> None:
        """Report progress (0..1) and what the job is doing; written at most twice a second."""
        now = time.monotonic()
        if now - self._last < PROGRESS_INTERVAL and fraction < 1.0:
            return
        self._last = now
        with self.db.session(write=True) as session:
            service.report_progress(
                session=session,
                job_id=self.job_id,
                worker=self.runner.worker,
                progress=fraction,
                message=message,
            )


Handler = Callable[[JobContext], "dict[str, Any] | JobResult"]


@dataclass(frozen=True)
class Kind:
    """A registered job kind: its handler and the permission needed to submit or read it."""

    handler: Handler
    permission: Perm


KINDS: dict[str, Kind] = {}


def register(kind: str, handler: Handler, permission: Perm) -> None:
    """Register the handler of a job kind (a module does it once, at import)."""
    KINDS[kind] = Kind(handler, permission)


def worker_id() -> str:
    """This process's identity in the job table: host, pid and a token of its start."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobRunner:
    """Runs the jobs this process queued, ``settings.jobs_threads`` at a time."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.worker = worker_id()
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Fail the jobs of stopped processes, then start the threads and the heartbeat."""
        with self._lock:
            if self._threads:
                return
            with self.db.session(write=True) as session:
                service.sweep_stale(session=session, stale_seconds=self.settings.jobs_stale_seconds)
            for n in range(self.settings.jobs_threads):
                t = threading.Thread(target=self._work, name=f"qingzhi-job-{n}", daemon=True)
                t.start()
                self._threads.append(t)
            beat = threading.Thread(target=self._beat, name="qingzhi-job-heartbeat", daemon=True)
            beat.start()
            self._threads.append(beat)

    def enqueue(self, job_id: int) -> None:
        """Run a job this process queued (call after the transaction that queued it committed)."""
        self.start()
        self._queue.put(job_id)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; wait up to ``timeout`` for the threads (a running job is abandoned
        to the sweep if it does not finish)."""
        self._stop.set()
        for _ in range(self.settings.jobs_threads):
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout)

    def _beat(self) -> None:
        while not self._stop.wait(self.settings.jobs_heartbeat_seconds):
            try:
                with self.db.session(write=True) as session:
                    service.heartbeat(session=session, worker=self.worker)
            except Exception:  # a busy store must not kill the heartbeat
                log.exception("job heartbeat failed")

    def _work(self) -> None:
        while not self._stop.is_set():
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self.run(job_id)
            except Exception:  # never lose the thread
                log.exception("job %d: runner error", job_id)

    def run(self, job_id: int) -> None:
        """Claim and run one job in this thread."""
        with self.db.session(write=True) as session:
            if not service.claim(session=session, job_id=job_id, worker=self.worker):
                return
            job = session.get(Job, job_id)
            assert job is not None
            kind, params = job.kind, json.loads(job.params)
            user = None if job.created_by is None else session.get(User, job.created_by)
            actor = (
                None
                if user is None or not user.active
                else actor_for(session, user, request_id=f"job-{job_id}", via="job")
            )
        began = time.monotonic()
        try:
            registered = KINDS.get(kind)
            if registered is None:
                raise QingzhiError(f"未知的任务类型 {kind}")
            if actor is None:
                raise QingzhiError("提交任务的账号已停用")
            actor.require(registered.permission)
            outcome = registered.handler(JobContext(self, job_id, kind, params, actor))
        except Exception as exc:
            if isinstance(exc, QingzhiError):
                message = exc.message
                log.warning("job %d (%s) failed: %s", job_id, kind, exc)
            else:
                message = "任务执行出错，请联系管理员"
                log.exception("job %d (%s) failed", job_id, kind)
            with self.db.session(write=True) as session:
                service.fail(session=session, job_id=job_id, error=message, worker=self.worker)
            return
        done = outcome if isinstance(outcome, JobResult) else JobResult(outcome)
        with self.db.session(write=True) as session:
            service.finish(
                session=session,
                job_id=job_id,
                worker=self.worker,
                result=done.result,
                result_path=done.path,
                key=done.key,
            )
        log.info("job %d (%s) done in %.1f s", job_id, kind, time.monotonic() - began)


_RUNNERS: dict[int, JobRunner] = {}
_RUNNERS_LOCK = threading.Lock()


def runner_for(db: Database, settings: Settings) -> JobRunner:
    """The process's runner for ``db`` (one per database, started when first needed)."""
    with _RUNNERS_LOCK:
        runner = _RUNNERS.get(id(db))
        if runner is None or runner.db is not db:
            runner = _RUNNERS[id(db)] = JobRunner(db, settings)
        return runner


def stop_runner(db: Database, timeout: float = 5.0) -> None:
    """Stop and forget the process's runner for ``db``, if it has one."""
    with _RUNNERS_LOCK:
        found = _RUNNERS.pop(id(db), None)
    if found is not None and found.db is db:
        found.stop(timeout)
