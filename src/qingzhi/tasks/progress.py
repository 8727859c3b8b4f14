"""Progress (办理进展): a task's progress reports, the next report its feedback cadence expects,
and the live event of every step and report (to the owner's and the issuer's screens)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import Conflict, PermissionDenied
from qingzhi.live import bus
from qingzhi.store.base import utcnow
from qingzhi.tasks import scope
from qingzhi.tasks.lifecycle import REPORTING, TaskStatus
from qingzhi.tasks.models import Task, TaskReport
from qingzhi.tasks.reading import helpers_of, visible


def publish(session: Session, task: Task, what: str) -> None:
    payload = {
        "id": task.id,
        "what": what,
        "status": str(task.status),
        "owner_unit_id": task.owner_unit_id,
        "deadline": task.deadline.isoformat(),
    }
    unit = task.owner_unit_id
    bus.publish(
        session, [bus.EventIn("task", payload, unit_id=unit, station_id=task.issuer_unit_id)]
    )


def next_feedback(task: Task, now: dt.datetime) -> None:
    """The time the next progress report is due (its cadence from now), while one is expected."""
    reporting = TaskStatus(task.status) in REPORTING and task.feedback_hours
    task.feedback_due_at = now + dt.timedelta(hours=task.feedback_hours or 0) if reporting else None


def add_report(
    *, session: Session, actor: Actor, task_id: int, text: str, now: dt.datetime | None = None
) -> TaskReport:
    """A progress report from the owner's side, on the locked task (audited ``task.report``);
    a task not accepted yet, or closed, is a 409 naming its state."""
    now = now or utcnow()
    task = visible(session, actor, task_id, lock=True)
    actor.require(Perm.task_report)
    if not scope.owns(actor, task, tuple(helpers_of(session, [task.id])[task.id])):
        raise PermissionDenied("只有承办或协办单位可以反馈进展")
    status = TaskStatus(task.status)
    if status not in REPORTING:
        raise Conflict(
            f"督办任务状态为“{status.label}”，不能反馈进展",
            details={"field": "status", "status": status.value},
        )
    report = TaskReport(
        task_id=task.id,
        at=now,
        kind="progress",
        text=text.strip(),
        unit_id=actor.unit_id,
        author_user_id=actor.user_id,
        author_name=actor.name,
    )
    session.add(report)
    task.last_report_at = now
    task.updated_at = now
    next_feedback(task, now)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="task.report",
        entity_kind="task",
        entity_id=task.id,
        unit_id=task.owner_unit_id,
        diff={"report_id": report.id, "chars": len(report.text)},
    )
    publish(session, task, "report")
    return report
