"""The plan lifecycle: every allowed and refused pair, on the table and on a stored plan, and a
station chief sees the plans placed in their scope only."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.errors import InvalidTransition
from qingzhi.plans import service
from qingzhi.plans.enums import PLAN, PlanKind, PlanStatus
from qingzhi.plans.models import Plan
from qingzhi.store.db import Database
from tests.helpers import bearer

ALLOWED = {
    (PlanStatus.computing, PlanStatus.ready),
    (PlanStatus.computing, PlanStatus.failed),
    (PlanStatus.ready, PlanStatus.applied),
    (PlanStatus.ready, PlanStatus.rejected),
}


@pytest.mark.parametrize("current, target", list(itertools.product(PlanStatus, PlanStatus)))
def test_every_pair(current: PlanStatus, target: PlanStatus) -> None:
    if (current, target) in ALLOWED:
        PLAN.check(current, target)
    else:
        with pytest.raises(InvalidTransition) as caught:
            PLAN.check(current, target)
        assert PLAN.label(current) in caught.value.message
        assert PLAN.label(target) in caught.value.message


def _plan(db: Database, status: PlanStatus, unit_id: int | None = None) -> int:
    with db.session(write=True) as s:
        p = Plan(
            kind=PlanKind.roads,
            title="道路里程",
            status=status,
            params='{"kind": "roads"}',
            result='{"classes": ["national"], "stations": []}',
            unit_id=unit_id,
        )
        s.add(p)
        s.flush()
        return p.id


@pytest.mark.parametrize("status", list(PlanStatus))
@pytest.mark.parametrize("decision", [PlanStatus.applied, PlanStatus.rejected])
def test_a_decision_only_on_a_ready_plan(
    db: Database, org: Any, status: PlanStatus, decision: PlanStatus
) -> None:
    plan_id = _plan(db, status)
    with db.session(write=True) as s:
        if status == PlanStatus.ready:
            row = service.decide(
                session=s, actor=system_actor(), plan_id=plan_id, decision=decision, note="n"
            )
            assert row.status == decision and row.decision_note == "n"
            audit = s.scalars(select(AuditRecord.action).where(AuditRecord.entity_kind == "plan"))
            assert list(audit) == [f"plan.{decision.value}"]
        else:
            with pytest.raises(InvalidTransition):
                service.decide(
                    session=s, actor=system_actor(), plan_id=plan_id, decision=decision, note=""
                )


def test_a_chief_reads_the_plans_of_their_scope(client: TestClient, db: Database, org: Any) -> None:
    mine, theirs, bureau = (
        _plan(db, PlanStatus.ready, org.id("A")),
        _plan(db, PlanStatus.ready, org.id("B")),
        _plan(db, PlanStatus.ready, None),
    )
    chief = bearer(db, "chief_a")
    assert client.get(f"/api/planning/plans/{mine}", headers=chief).status_code == 200
    for other in (theirs, bureau):
        r = client.get(f"/api/planning/plans/{other}", headers=chief)
        assert r.status_code == 404, r.text
        assert (
            client.get(f"/api/planning/plans/{other}/table.csv", headers=chief).status_code == 404
        )
    listed = client.get("/api/planning/plans", headers=chief).json()["items"]
    assert [p["id"] for p in listed] == [mine]
    everyone = client.get("/api/planning/plans", headers=bearer(db, "analyst")).json()["items"]
    assert [p["id"] for p in everyone] == [bureau, theirs, mine]
    r = client.post(
        f"/api/planning/plans/{mine}/decision", json={"decision": "applied"}, headers=chief
    )
    assert r.status_code == 403


def test_a_plan_whose_job_died_reads_as_failed(client: TestClient, db: Database, org: Any) -> None:
    from qingzhi.jobs.enums import JobStatus
    from qingzhi.jobs.models import Job
    from qingzhi.jobs.service import STALE_ERROR

    plan_id = _plan(db, PlanStatus.computing)
    with db.session(write=True) as s:
        job = Job(kind="planning.run", params="{}", status=JobStatus.failed, error=STALE_ERROR)
        s.add(job)
        s.flush()
        s.get(Plan, plan_id).job_id = job.id  # type: ignore[union-attr]
    r = client.get(f"/api/planning/plans/{plan_id}", headers=bearer(db, "analyst"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "failed" and r.json()["error"]["message"] == STALE_ERROR
    with db.session() as s:
        actions = list(
            s.scalars(select(AuditRecord.action).where(AuditRecord.entity_kind == "plan"))
        )
    assert actions == ["plan.failed"]
