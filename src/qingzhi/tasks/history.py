"""A task's reports (with their attachments) and its timeline (the audit trail of the task)."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.audit.models import AuditRecord
from qingzhi.auth.context import Actor
from qingzhi.org.models import Unit
from qingzhi.store.rows import read_of
from qingzhi.tasks import attachments
from qingzhi.tasks.lifecycle import TaskStatus
from qingzhi.tasks.models import TaskAttachment, TaskReport
from qingzhi.tasks.reading import visible
from qingzhi.tasks.schemas import AttachmentRead, ReportRead, TimelineEntry

log = logging.getLogger(__name__)

REPORT_KINDS = {"progress": "进展反馈", **{s.value: s.label for s in TaskStatus}}
_ACTIONS = {
    "task.created": "创建督办任务",
    "task.operation": "划定专项行动区域与行动期",
    "task.report": "反馈进展",
    "task.attachment": "上传附件",
    **{f"task.{s.value}": s.label for s in TaskStatus},
}


def attachment_read(row: TaskAttachment) -> AttachmentRead:
    """An attachment as the API shows it."""
    return read_of(AttachmentRead, row, url=f"/api/tasks/{row.task_id}/attachments/{row.id}")


def reports(*, session: Session, actor: Actor, task_id: int) -> list[ReportRead]:
    """A task's reports, oldest first, each with its attachments (files attached to no report
    are listed under a report of their own only in ``attachments``)."""
    visible(session, actor, task_id)
    files: dict[int | None, list[AttachmentRead]] = {}
    for row in attachments.of_task(session, task_id):
        files.setdefault(row.report_id, []).append(attachment_read(row))
    names = dict(session.execute(select(Unit.id, Unit.name)).all())
    out = []
    for r in session.scalars(
        select(TaskReport)
        .where(TaskReport.task_id == task_id)
        .order_by(TaskReport.at, TaskReport.id)
    ):
        out.append(
            read_of(
                ReportRead,
                r,
                kind_label=REPORT_KINDS.get(r.kind, r.kind),
                unit_name=names.get(r.unit_id) if r.unit_id else None,
                attachments=files.get(r.id, []),
            )
        )
    return out


def all_attachments(*, session: Session, actor: Actor, task_id: int) -> list[AttachmentRead]:
    """Every attachment of a task the caller can see."""
    visible(session, actor, task_id)
    return [attachment_read(a) for a in attachments.of_task(session, task_id)]


def timeline(*, session: Session, actor: Actor, task_id: int) -> list[TimelineEntry]:
    """The task's audit records, oldest first: who created, moved, reported and attached what."""
    visible(session, actor, task_id)
    rows = session.scalars(
        select(AuditRecord)
        .where(AuditRecord.entity_kind == "task", AuditRecord.entity_id == str(task_id))
        .order_by(AuditRecord.seq)
    )
    out = []
    for rec in rows:
        try:
            detail = json.loads(rec.diff)
        except ValueError:
            detail = {}
        out.append(
            TimelineEntry(
                at=rec.at,
                action=rec.action,
                title=_ACTIONS.get(rec.action, rec.action),
                actor=rec.actor,
                detail=detail if isinstance(detail, dict) else {},
            )
        )
    return out
