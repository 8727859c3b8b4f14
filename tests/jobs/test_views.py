"""The jobs API: status and progress in scope, the result once done, a dead job shown failed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import update

from qingzhi.jobs import service as jobs
from qingzhi.jobs.models import Job
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database
from tests.factories import Org
from tests.helpers import user_actor


def _job(db: Database, username: str, key: str | None = None) -> int:
    with db.session(write=True) as s:
        job, _ = jobs.submit(
            session=s, actor=user_actor(s, username), kind="analysis.forecast_fit", params={"n": 1},
            worker="w1", key=key,
        )  # fmt: skip
        return job.id


def test_a_job_is_read_in_scope_with_its_progress_and_result(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    job_id = _job(db, "chief_a")
    r = as_user("chief_a").get(f"/api/jobs/{job_id}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "queued" and body["status_label"] == "排队中"
    assert body["progress"] == 0.0 and body["url"] == f"/api/jobs/{job_id}"
    assert "result" not in body
    assert as_user("chief_c").get(f"/api/jobs/{job_id}").status_code == 404
    assert as_user("analyst").get(f"/api/jobs/{job_id}").status_code == 200
    # a job's kind needs its permission: a forecast fit needs analysis.read
    assert as_user("aux_a").get(f"/api/jobs/{job_id}").status_code == 403
    with db.session(write=True) as s:
        jobs.claim(session=s, job_id=job_id, worker="w1")
        jobs.report_progress(
            session=s, job_id=job_id, worker="w1", progress=0.4, message="计算特征"
        )
    running = as_user("chief_a").get(f"/api/jobs/{job_id}").json()
    assert (running["status"], running["progress"], running["message"]) == (
        "running",
        0.4,
        "计算特征",
    )
    with db.session(write=True) as s:
        jobs.finish(session=s, job_id=job_id, worker="w1", result={"cells": [1, 2]})
    done = as_user("chief_a").get(f"/api/jobs/{job_id}").json()
    assert done["status"] == "done" and done["result"] == {"cells": [1, 2]}
    listed = as_user("chief_a").get("/api/jobs").json()["items"]
    assert [j["id"] for j in listed] == [job_id] and "result" not in listed[0]
    assert as_user("chief_c").get("/api/jobs").json()["items"] == []
    assert as_user("chief_a").get("/api/jobs", params={"status": "lost"}).status_code == 422


def test_a_job_whose_process_stopped_is_shown_failed(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    job_id = _job(db, "analyst", key="k")
    with db.session(write=True) as s:
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(heartbeat_at=utcnow() - dt.timedelta(minutes=5))
        )
    body = as_user("analyst").get(f"/api/jobs/{job_id}").json()
    assert body["status"] == "failed" and body["error"] == jobs.STALE_ERROR
    with db.session() as s:
        assert s.get(Job, job_id).status == "failed"  # type: ignore[union-attr]


def test_jobs_need_sign_in(client: TestClient) -> None:
    assert client.get("/api/jobs/1").status_code == 401
