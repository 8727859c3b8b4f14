"""Jobs: sharing a key, scope, the lifecycle on the row, stale jobs, and real concurrency."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from qingzhi.errors import NotFound
from qingzhi.jobs import service as jobs
from qingzhi.jobs.enums import JobStatus
from qingzhi.jobs.models import Job
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database
from tests.factories import Org
from tests.helpers import user_actor


def _submit(db: Database, username: str, key: str | None, **kw: Any) -> tuple[int, bool]:
    with db.session(write=True) as s:
        job, created = jobs.submit(
            session=s, actor=user_actor(s, username), kind="test.echo", params={"n": 1},
            worker="w1", key=key, **kw,
        )  # fmt: skip
        return job.id, created


def test_a_key_is_shared_while_queued_and_jobs_are_read_in_scope(db: Database, org: Org) -> None:
    first, created = _submit(db, "chief_a", "k1")
    again, created_again = _submit(db, "chief_a", "k1")
    other, _ = _submit(db, "chief_a", "k2")
    assert created and not created_again and again == first and other != first
    with db.session() as s:
        assert jobs.get(session=s, actor=user_actor(s, "analyst"), job_id=first).id == first
        assert jobs.get(session=s, actor=user_actor(s, "officer_a"), job_id=first).id == first
        with pytest.raises(NotFound):
            jobs.get(session=s, actor=user_actor(s, "chief_c"), job_id=first)
        assert jobs.list_jobs(session=s, actor=user_actor(s, "chief_c")) == []
        mine = [j.id for j in jobs.list_jobs(session=s, actor=user_actor(s, "chief_a"))]
        assert mine == [other, first]


def test_a_job_moves_along_its_lifecycle_only_for_its_worker(db: Database, org: Org) -> None:
    job_id, _ = _submit(db, "analyst", None)
    with db.session(write=True) as s:
        assert not jobs.claim(session=s, job_id=job_id, worker="w2")  # not its process
        assert jobs.claim(session=s, job_id=job_id, worker="w1")
        assert not jobs.claim(session=s, job_id=job_id, worker="w1")  # already running
        assert jobs.report_progress(
            session=s, job_id=job_id, worker="w1", progress=1.7, message="x" * 300
        )
        assert not jobs.finish(session=s, job_id=job_id, worker="w2", result={"v": 1})
        assert jobs.finish(session=s, job_id=job_id, worker="w1", result={"v": 2})
        assert not jobs.fail(session=s, job_id=job_id, error="too late", worker="w1")
    with db.session() as s:
        read = jobs.to_read(jobs.get(session=s, actor=user_actor(s, "analyst"), job_id=job_id))
    assert read["status"] == "done" and read["status_label"] == "已完成"
    assert read["progress"] == 1.0 and read["result"] == {"v": 2} and read["error"] is None


def test_jobs_of_a_stopped_process_fail_and_the_key_is_free_again(db: Database, org: Org) -> None:
    dead, _ = _submit(db, "analyst", "k")
    alive, _ = _submit(db, "analyst", "other")
    with db.session(write=True) as s:
        s.execute(
            update(Job)
            .where(Job.id == dead)
            .values(heartbeat_at=utcnow() - dt.timedelta(seconds=120))
        )
        assert jobs.is_stale(s.get(Job, dead), 60.0)  # type: ignore[arg-type]
        assert jobs.sweep_stale(session=s, stale_seconds=60.0) == 1
    with db.session() as s:
        assert s.get(Job, dead).status == JobStatus.failed  # type: ignore[union-attr]
        assert s.get(Job, dead).error == jobs.STALE_ERROR  # type: ignore[union-attr]
        assert s.get(Job, alive).status == JobStatus.queued  # type: ignore[union-attr]
    again, created = _submit(db, "analyst", "k")
    assert created and again != dead


def test_the_store_holds_at_most_max_active_jobs(db: Database, org: Org) -> None:
    _submit(db, "analyst", "a", max_active=2)
    _submit(db, "analyst", "b", max_active=2)
    assert _submit(db, "analyst", "a", max_active=2)[1] is False  # joining is not a new job
    with pytest.raises(jobs.QueueFull):
        _submit(db, "analyst", "c", max_active=2)


def test_concurrent_submits_of_one_key_make_one_job(
    committed: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 6
    barrier = threading.Barrier(n)
    if committed.dialect == "postgresql":
        # every thread finds no active job before any inserts: the unique index decides
        real = jobs._active
        waited = threading.local()

        def racing(session: Session, key: str) -> Job | None:
            found = real(session, key)
            if not getattr(waited, "done", False):
                waited.done = True
                barrier.wait(timeout=10)
            return found

        monkeypatch.setattr(jobs, "_active", racing)

    def one(_: int) -> tuple[int, bool]:
        if committed.dialect == "sqlite":
            barrier.wait(timeout=10)  # writers then queue on the store's write lock
        return _submit(committed, "analyst", "same")

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    assert len({job_id for job_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with committed.session() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.key == "same")) == 1


def test_concurrent_claims_let_one_thread_run_the_job(committed: Database) -> None:
    job_id, _ = _submit(committed, "analyst", None)
    barrier = threading.Barrier(4)

    def claim(_: int) -> bool:
        barrier.wait(timeout=10)
        with committed.session(write=True) as s:
            return jobs.claim(session=s, job_id=job_id, worker="w1")

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(claim, range(4))) == [False, False, False, True]
