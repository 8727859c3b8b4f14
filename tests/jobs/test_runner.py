"""The in-process runner: it runs its jobs with progress, fails them with a message, checks the
permission again, and fails the jobs a stopped process left behind."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.errors import ValidationFailed
from qingzhi.jobs import runner as runners
from qingzhi.jobs import service as jobs
from qingzhi.jobs.enums import JobStatus
from qingzhi.jobs.models import Job
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database
from tests.helpers import user_actor

SETTINGS = Settings(database_url="sqlite://", jobs_heartbeat_seconds=0.2, jobs_stale_seconds=60)
seen: list[tuple[float, str]] = []


def _square(ctx: runners.JobContext) -> dict[str, Any]:
    for i in range(3):
        ctx.progress(i / 3, f"第 {i} 步")
    seen.append((ctx.params["n"], ctx.actor.name))
    return {"square": ctx.params["n"] ** 2}


def _broken(ctx: runners.JobContext) -> dict[str, Any]:
    if ctx.params["n"] < 0:
        raise ValidationFailed.field("n", "须为非负数")
    raise RuntimeError("a bug")


runners.register("test.square", _square, Perm.analysis_read)
runners.register("test.broken", _broken, Perm.analysis_read)
runners.register("test.admin_only", _square, Perm.user_manage)


@pytest.fixture
def runner(committed: Database) -> Iterator[runners.JobRunner]:
    r = runners.JobRunner(committed, SETTINGS)
    yield r
    r.stop()


def _run(db: Database, r: runners.JobRunner, username: str, kind: str, n: float) -> Job:
    with db.session(write=True) as s:
        job, _ = jobs.submit(
            session=s, actor=user_actor(s, username), kind=kind, params={"n": n}, worker=r.worker
        )
    r.enqueue(job.id)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with db.session() as s:
            row = s.get(Job, job.id)
            assert row is not None
            if row.status in (JobStatus.done, JobStatus.failed):
                return row
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_the_runner_runs_a_job_as_its_user(committed: Database, runner: runners.JobRunner) -> None:
    job = _run(committed, runner, "chief_a", "test.square", 7)
    assert job.status == JobStatus.done and jobs.result_of(job) == {"square": 49}
    assert job.progress == 1.0 and job.started_at is not None and job.finished_at is not None
    assert (7, "chief_a") in seen


def test_a_failing_job_says_why(committed: Database, runner: runners.JobRunner) -> None:
    refused = _run(committed, runner, "analyst", "test.broken", -1)
    assert refused.status == JobStatus.failed and refused.error == "n：须为非负数"
    bug = _run(committed, runner, "analyst", "test.broken", 1)
    assert bug.status == JobStatus.failed and bug.error == "任务执行出错，请联系管理员"
    unknown = _run(committed, runner, "analyst", "test.nothing", 1)
    assert unknown.status == JobStatus.failed and "未知的任务类型" in (unknown.error or "")
    # a station chief may not run an admin-only job: checked when the job runs
    denied = _run(committed, runner, "chief_a", "test.admin_only", 2)
    assert denied.status == JobStatus.failed and denied.error == "没有执行此操作的权限"


def test_starting_fails_the_jobs_of_a_stopped_process(
    committed: Database, runner: runners.JobRunner
) -> None:
    with committed.session(write=True) as s:
        job, _ = jobs.submit(
            session=s, actor=user_actor(s, "analyst"), kind="test.square", params={"n": 1},
            worker="dead-host:1:abc",
        )  # fmt: skip
        s.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(status=JobStatus.running, heartbeat_at=utcnow() - dt.timedelta(seconds=600))
        )
    runner.start()
    with committed.session() as s:
        row = s.get(Job, job.id)
        assert row is not None and row.status == JobStatus.failed
        assert row.error == jobs.STALE_ERROR


def test_the_heartbeat_keeps_a_long_job_alive(committed: Database) -> None:
    import threading

    release = threading.Event()

    def slow(ctx: runners.JobContext) -> dict[str, Any]:
        release.wait(10)
        return {}

    runners.register("test.slow", slow, Perm.analysis_read)
    r = runners.JobRunner(committed, SETTINGS)
    try:
        with committed.session(write=True) as s:
            job, _ = jobs.submit(
                session=s,
                actor=user_actor(s, "analyst"),
                kind="test.slow",
                params={},
                worker=r.worker,
            )
        r.enqueue(job.id)

        def row() -> Job:
            with committed.session() as s:
                found = s.get(Job, job.id)
                assert found is not None
                return found

        deadline = time.monotonic() + 10
        while row().status != JobStatus.running and time.monotonic() < deadline:
            time.sleep(0.05)
        claimed = row().heartbeat_at  # written by the claim
        # the job reports nothing while it works: only the heartbeat thread moves the time
        while row().heartbeat_at == claimed and time.monotonic() < deadline:
            time.sleep(0.05)
        later = row()
        assert later.status == JobStatus.running and claimed is not None
        assert later.heartbeat_at is not None and later.heartbeat_at > claimed
    finally:
        release.set()
        r.stop()
