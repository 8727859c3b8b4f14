"""Reading tasks (督办): one task in the caller's scope, and tasks as the caller sees them (with
their units, officers, clock flags, escalation and the steps the caller may take)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from qingzhi import lifecycle
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.errors import NotFound
from qingzhi.org.models import Officer, Unit
from qingzhi.store.base import utcnow
from qingzhi.tasks import scope
from qingzhi.tasks.deadlines import flags
from qingzhi.tasks.lifecycle import (
    BY_ISSUER,
    PRIORITY_LABELS,
    REPORTING,
    TASK,
    SourceKind,
    TaskStatus,
)
from qingzhi.tasks.models import Task, TaskUnit
from qingzhi.tasks.schemas import TaskRead, UnitRef

BUREAU_BOARD = "县局"


@dataclass(frozen=True)
class _Unit:
    id: int
    name: str
    central_id: int | None
    central_name: str | None


def _units(session: Session, ids: set[int]) -> dict[int, _Unit]:
    """The units' names and their central stations' (not their jurisdictions' geometry), in
    one query."""
    if not ids:
        return {}
    central = aliased(Unit)
    rows = session.execute(
        select(Unit.id, Unit.name, Unit.central_id, central.name.label("central_name"))
        .outerjoin(central, central.id == Unit.central_id)
        .where(Unit.id.in_(sorted(ids)))
    )
    return {r.id: _Unit(r.id, r.name, r.central_id, r.central_name) for r in rows}


def helpers_of(session: Session, task_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {t: [] for t in task_ids}
    if task_ids:
        rows = session.execute(
            select(TaskUnit.task_id, TaskUnit.unit_id)
            .where(TaskUnit.task_id.in_(list(task_ids)))
            .order_by(TaskUnit.id)
        )
        for task_id, unit_id in rows:
            out[task_id].append(unit_id)
    return out


def source_url(kind: SourceKind, ref: str | None) -> str | None:
    """The page of a task's source, where it has one."""
    if ref is None:
        return None
    if kind == SourceKind.incident:
        return f"/incidents/{ref}"
    if kind == SourceKind.case:
        return f"/cases/{ref}"
    if kind == SourceKind.brief_finding:
        return f"/briefs/{ref.partition(':')[0]}"
    if kind == SourceKind.visit:  # the community UI has no page of one visit: its API record
        return f"/api/community/visits/{ref}"
    return None


def actions(actor: Actor, task: Any, helpers: Sequence[int]) -> list[TaskStatus]:
    """The steps the caller may take on ``task`` now (by the table and their side)."""
    out = []
    for target in sorted(TASK.allowed(TaskStatus(task.status))):
        if target in BY_ISSUER:
            if actor.can(Perm.task_issue) and scope.issues(actor, task):
                out.append(target)
        elif actor.can(Perm.task_report) and scope.owns(actor, task, tuple(helpers)):
            out.append(target)
    return out


def to_read(
    session: Session,
    actor: Actor,
    tasks: Sequence[Task],
    *,
    now: dt.datetime,
    bureau_hours: float,
) -> list[TaskRead]:
    """Tasks as the caller sees them (one look-up of units, officers and helpers for all)."""
    helpers = helpers_of(session, [t.id for t in tasks])
    ids = {t.owner_unit_id for t in tasks} | {t.issuer_unit_id for t in tasks if t.issuer_unit_id}
    ids |= {u for hs in helpers.values() for u in hs}
    units = _units(session, ids)
    officer_ids = sorted({t.owner_officer_id for t in tasks if t.owner_officer_id})
    officers = dict(
        session.execute(select(Officer.id, Officer.name).where(Officer.id.in_(officer_ids))).all()
        if officer_ids
        else []
    )
    out = []
    for t in tasks:
        owner = units[t.owner_unit_id]
        f = flags(t, now, bureau_hours=bureau_hours, has_central=owner.central_id is not None)
        escalated: list[str] = []
        if f.overdue and owner.central_id is not None:
            escalated.append(owner.central_name or "")
        if f.bureau_level:
            escalated.append(BUREAU_BOARD)
        issuer = units.get(t.issuer_unit_id) if t.issuer_unit_id else None
        kind = SourceKind(t.source_kind)
        out.append(
            TaskRead(
                id=t.id,
                title=t.title,
                instructions=t.instructions,
                source_kind=kind,
                source_label=kind.label,
                source_ref=t.source_ref,
                source_url=source_url(kind, t.source_ref),
                issuer_unit=UnitRef(id=issuer.id, name=issuer.name) if issuer else None,
                issuer_name=t.issuer_name,
                owner_unit=UnitRef(id=owner.id, name=owner.name),
                owner_officer_id=t.owner_officer_id,
                owner_officer_name=officers.get(t.owner_officer_id) if t.owner_officer_id else None,
                helper_units=[UnitRef(id=u, name=units[u].name) for u in helpers[t.id]],
                deadline=t.deadline,
                priority=t.priority,
                priority_label=PRIORITY_LABELS.get(t.priority, str(t.priority)),
                feedback_hours=t.feedback_hours,
                status=TaskStatus(t.status),
                status_label=TaskStatus(t.status).label,
                issued_at=t.issued_at,
                accepted_at=t.accepted_at,
                submitted_at=t.submitted_at,
                closed_at=t.closed_at,
                last_report_at=t.last_report_at,
                overdue=f.overdue,
                due_soon=f.due_soon,
                feedback_missed=f.feedback_missed,
                escalated_to=escalated,
                actions=actions(actor, t, helpers[t.id]),
                can_report=actor.can(Perm.task_report)
                and scope.owns(actor, t, tuple(helpers[t.id]))
                and TaskStatus(t.status) in REPORTING,
                operation=t.is_operation,
                synthetic=t.synthetic,
            )
        )
    return out


def visible(session: Session, actor: Actor, task_id: int, *, lock: bool = False) -> Task:
    """The task if it exists and is in the caller's scope (else 404, never 403); ``lock``
    reads it again and locks it (decisions on its state are made on that row)."""
    actor.require(Perm.task_read)
    task = lifecycle.locked(session, Task, task_id) if lock else session.get(Task, task_id)
    if task is None:
        raise NotFound()
    if not scope.admits(actor, task, tuple(helpers_of(session, [task.id])[task.id])):
        raise NotFound()
    return task


def get(
    *, session: Session, actor: Actor, settings: Settings, task_id: int, now: dt.datetime | None
) -> TaskRead:
    """One task, as the caller sees it."""
    task = visible(session, actor, task_id)
    return to_read(
        session,
        actor,
        [task],
        now=now or utcnow(),
        bureau_hours=settings.task_escalate_bureau_hours,
    )[0]
