"""The task lifecycle: every allowed and refused pair through the service, who may take each
step, and a real race of two owners accepting at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.errors import InvalidTransition, PermissionDenied, ValidationFailed
from qingzhi.store.db import Database
from qingzhi.tasks import service
from qingzhi.tasks.lifecycle import BY_ISSUER, TASK, TaskStatus
from qingzhi.tasks.models import Task
from tests.factories import Org
from tests.helpers import last_audit, user_actor
from tests.tasks.helpers import NOW, Units, issue

LATER = NOW + dt.timedelta(hours=1)


def test_the_table() -> None:
    """The issue's lifecycle, as declared."""
    s = TaskStatus
    assert TASK.allowed(s.draft) == {s.issued, s.cancelled}
    assert TASK.allowed(s.submitted) == {s.verified, s.returned, s.cancelled}
    assert TASK.allowed(s.returned) == {s.in_progress, s.cancelled}
    assert TASK.is_final(s.verified) and TASK.is_final(s.cancelled)
    for state in (s.issued, s.accepted, s.in_progress, s.submitted, s.returned):
        assert s.cancelled in TASK.allowed(state)


@pytest.mark.parametrize("current", list(TaskStatus), ids=str)
def test_every_pair_through_the_service(db: Database, org: Org, current: TaskStatus) -> None:
    """From each state, each target: allowed ones move (audited ``task.<target>``), refused
    ones are a 409 naming both states and change nothing."""
    for target in TaskStatus:
        with db.session(write=True) as session:
            task = issue(session, org, status=current)
            by = "commander" if target in BY_ISSUER else "chief_a"
            actor = user_actor(session, by)
            note = "材料不全" if target == TaskStatus.returned else ""
            if target in TASK.allowed(current):
                service.move(
                    session=session,
                    actor=actor,
                    task_id=task.id,
                    target=target,
                    note=note,
                    now=LATER,
                )
                assert task.status == target
                rec = session.scalars(
                    select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)
                ).one()
                assert rec.action == f"task.{target.value}"
                assert rec.entity_id == str(task.id)
            else:
                with pytest.raises(InvalidTransition) as refused:
                    service.move(
                        session=session,
                        actor=actor,
                        task_id=task.id,
                        target=target,
                        note=note,
                        now=LATER,
                    )
                assert current.label in refused.value.message
                assert target.label in refused.value.message
                assert refused.value.status == 409
                assert session.get(Task, task.id).status == current  # type: ignore[union-attr]


def test_each_side_takes_only_its_steps(db: Database, org: Org) -> None:
    """The owner cannot verify its own work, the issuer cannot accept for the owner, and a
    return needs its reason."""
    with db.session(write=True) as session:
        task = issue(session, org, status=TaskStatus.submitted)
        with pytest.raises(PermissionDenied):
            service.move(
                session=session,
                actor=user_actor(session, "chief_a"),
                task_id=task.id,
                target=TaskStatus.verified,
                now=LATER,
            )
        with pytest.raises(ValidationFailed) as no_reason:
            service.move(
                session=session,
                actor=user_actor(session, "commander"),
                task_id=task.id,
                target=TaskStatus.returned,
                now=LATER,
            )
        assert no_reason.value.details[0]["field"] == "note"
        task.status = TaskStatus.issued
        session.flush()
        with pytest.raises(PermissionDenied):
            service.move(
                session=session,
                actor=user_actor(session, "commander"),
                task_id=task.id,
                target=TaskStatus.accepted,
                now=LATER,
            )


def test_a_whole_round_is_audited_in_order(db: Database, org: Org) -> None:
    """Issued, accepted, in progress, submitted, returned, in progress, submitted, verified."""
    steps = [
        ("chief_a", TaskStatus.accepted),
        ("chief_a", TaskStatus.in_progress),
        ("chief_a", TaskStatus.submitted),
        ("commander", TaskStatus.returned),
        ("chief_a", TaskStatus.in_progress),
        ("chief_a", TaskStatus.submitted),
        ("commander", TaskStatus.verified),
    ]
    with db.session(write=True) as session:
        task = issue(session, org)
        for n, (who, target) in enumerate(steps):
            service.move(
                session=session,
                actor=user_actor(session, who),
                task_id=task.id,
                target=target,
                note="请补充走访记录" if target == TaskStatus.returned else "",
                now=LATER + dt.timedelta(minutes=n),
            )
        assert task.status == TaskStatus.verified
        assert task.closed_at == LATER + dt.timedelta(minutes=len(steps) - 1)
        actions = list(
            session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.entity_kind == "task", AuditRecord.entity_id == str(task.id))
                .order_by(AuditRecord.seq)
            )
        )
    assert actions == ["task.created", "task.issued", *[f"task.{t.value}" for _, t in steps]]
    assert last_audit(db).action == "task.verified"


def test_two_owners_accepting_at_once_one_wins(committed: Database) -> None:
    """Two threads, two connections, the same task: exactly one acceptance, the other a 409
    naming the state it found; one audit record (SQLite and PostgreSQL)."""
    with committed.session(write=True) as session:
        task = issue(session, Units(session), now=dt.datetime.now(dt.UTC), hours=48)
        task_id = task.id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def accept(who: str) -> None:
        barrier.wait()
        try:
            with committed.session(write=True) as session:
                service.move(
                    session=session,
                    actor=user_actor(session, who),
                    task_id=task_id,
                    target=TaskStatus.accepted,
                )
            outcomes.append("ok")
        except InvalidTransition as exc:
            assert "已签收" in exc.message
            outcomes.append("refused")

    threads = [threading.Thread(target=accept, args=(u,)) for u in ("chief_a", "officer_a")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused"]
    with committed.session() as session:
        accepted = session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "task.accepted", AuditRecord.entity_id == str(task_id)
            )
        ).all()
    assert len(accepted) == 1
