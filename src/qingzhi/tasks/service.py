"""Supervised tasks (督办): issue, move along the lifecycle, and the boards.

The clock's rules are in ``tasks.deadlines``, reading in ``tasks.reading``, progress reports in
``tasks.progress``; their public names are importable from here too.

Authority to issue (``check_authority``): the whole bureau (commanders, the command centre's
bureau-wide users) and users of the command centre unit issue to any unit; anybody else with
``task.issue`` (a station chief) to units in their scope. The issuer's side issues, returns,
verifies and cancels; the owner's side (the owner unit and co-operating units) accepts, starts,
reports and submits. Every step is ``lifecycle.move`` on a locked row, audited, and published on
the live bus to the owner's and the issuer's screens.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from qingzhi import lifecycle
from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.errors import NotFound, PermissionDenied, ValidationFailed
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Officer, Unit
from qingzhi.store.base import utcnow
from qingzhi.tasks import scope
from qingzhi.tasks.deadlines import (
    DUE_SOON,
    Flags,
    due_soon_sql,
    escalated_sql,
    feedback_missed_sql,
    flags,
    overdue_sql,
)
from qingzhi.tasks.lifecycle import BY_ISSUER, OWNER_OPEN, TASK, SourceKind, TaskStatus
from qingzhi.tasks.models import Task, TaskReport, TaskUnit
from qingzhi.tasks.progress import add_report, next_feedback, publish
from qingzhi.tasks.reading import (
    BUREAU_BOARD,
    actions,
    get,
    helpers_of,
    source_url,
    to_read,
    visible,
)
from qingzhi.tasks.schemas import TaskCreate, TaskPage

__all__ = [
    "BUREAU_BOARD",
    "DUE_SOON",
    "MAX_PAGE",
    "BoardFilter",
    "Flags",
    "actions",
    "add_report",
    "board",
    "board_queries",
    "check_authority",
    "create",
    "due_soon_sql",
    "escalated_sql",
    "feedback_missed_sql",
    "flags",
    "get",
    "move",
    "overdue_sql",
    "reminders",
    "source_url",
    "to_read",
    "visible",
]

log = logging.getLogger(__name__)

MAX_PAGE = 200
# The references of the map's analysis layers (qz.js makes them): a hot cell of the Gi* map
# ending on a day, and the space-time scan's cluster or a station's control-chart alarm.
MAP_REFS = {
    SourceKind.hotspot: (
        re.compile(r"\d{4}-\d{2}-\d{2}/\d{2,5}/\d{1,9}"),
        "截止日期/网格米数/网格号",
    ),
    SourceKind.warning: (
        re.compile(r"\d{4}-\d{2}-\d{2}/(scan|unit/\d{1,9})"),
        "日期/scan 或 日期/unit/单位号",
    ),
}
_TIME_OF = {
    TaskStatus.issued: "issued_at",
    TaskStatus.accepted: "accepted_at",
    TaskStatus.submitted: "submitted_at",
    TaskStatus.verified: "closed_at",
    TaskStatus.cancelled: "closed_at",
}


# ---------------------------------------------------------------- boards


@dataclass(frozen=True)
class BoardFilter:
    """What a board shows: states, an owner unit, only overdue / due soon / escalated, words,
    a source."""

    status: tuple[TaskStatus, ...] = ()
    owner_unit_id: int | None = None
    overdue: bool = False
    due_soon: bool = False
    escalated: bool = False
    q: str | None = None
    source_kind: SourceKind | None = None
    source_ref: str | None = None


def _selection(
    actor: Actor, flt: BoardFilter, now: dt.datetime, bureau_hours: float
) -> list[ColumnElement[bool]]:
    terms: list[ColumnElement[bool]] = [scope.where(actor)]
    if flt.status:
        terms.append(Task.status.in_(flt.status))
    if flt.owner_unit_id is not None:
        terms.append(Task.owner_unit_id == flt.owner_unit_id)
    if flt.overdue:
        terms.append(overdue_sql(now))
    if flt.due_soon:
        terms.append(due_soon_sql(now))
    if flt.escalated:
        terms.append(escalated_sql(actor, now, bureau_hours))
    if flt.q:
        like = "%" + flt.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        terms.append(
            or_(Task.title.like(like, escape="\\"), Task.instructions.like(like, escape="\\"))
        )
    if flt.source_kind is not None:
        terms.append(Task.source_kind == flt.source_kind)
    if flt.source_ref is not None:
        terms.append(Task.source_ref == flt.source_ref)
    return terms


@dataclass(frozen=True)
class BoardQueries:
    """A board's two statements: the page's tasks (in board order) and the counts by state."""

    page: Select[Task]
    counts: Select[TaskStatus, int, int, int]


def board_queries(
    actor: Actor, flt: BoardFilter, now: dt.datetime, bureau_hours: float, limit: int, offset: int
) -> BoardQueries:
    """The statements of a board (``bench/tasks.py`` explains them)."""
    terms = _selection(actor, flt, now, bureau_hours)
    late = overdue_sql(now)
    # One statement for the page: its ids sorted (three columns, not whole rows) in a
    # subquery, joined to their rows (the operation flag is computed for those rows only).
    order = (late.desc(), Task.deadline, Task.id)
    ids = (
        select(Task.id)
        .where(*terms)
        .order_by(*order)
        .limit(min(limit, MAX_PAGE))
        .offset(offset)
        .subquery()
    )
    page = select(Task).join(ids, ids.c.id == Task.id).order_by(*order)
    counts = (
        select(
            Task.status,
            func.count(),
            func.count().filter(late),
            func.count().filter(due_soon_sql(now)),
        )
        .where(*terms)
        .group_by(Task.status)
    )
    return BoardQueries(page, counts)


def board(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    flt: BoardFilter,
    limit: int = 50,
    offset: int = 0,
    now: dt.datetime | None = None,
) -> TaskPage:
    """A board: the caller's tasks matching ``flt``, overdue first, then by deadline; with the
    counts of the whole selection by state, overdue and due soon."""
    actor.require(Perm.task_read)
    now = now or utcnow()
    hours = settings.task_escalate_bureau_hours
    queries = board_queries(actor, flt, now, hours, limit, offset)
    rows = list(session.scalars(queries.page))
    by_status: dict[str, int] = {}
    total = overdue = due_soon = 0
    for status, n, n_late, n_soon in session.execute(queries.counts):
        by_status[str(status)] = int(n)
        total, overdue, due_soon = total + n, overdue + n_late, due_soon + n_soon
    return TaskPage(
        items=to_read(session, actor, rows, now=now, bureau_hours=hours),
        total=int(total),
        by_status=by_status,
        overdue=int(overdue),
        due_soon=int(due_soon),
    )


def reminders(
    *, session: Session, actor: Actor, settings: Settings, now: dt.datetime | None = None
) -> dict[str, int]:
    """The navigation's counts: tasks the caller's units own that are due soon, overdue or with
    a missed cadence, and overdue tasks escalated to the caller's board."""
    actor.require(Perm.task_read)
    now = now or utcnow()
    mine = actor.scope.where(Task.owner_unit_id)
    row = session.execute(
        select(
            func.count().filter(due_soon_sql(now)),
            func.count().filter(overdue_sql(now)),
            func.count().filter(feedback_missed_sql(now)),
        ).where(mine, Task.status.in_(OWNER_OPEN))
    ).one()
    escalated_terms = escalated_sql(actor, now, settings.task_escalate_bureau_hours)
    escalated, total = session.execute(
        select(
            func.count().filter(escalated_terms),
            func.count().filter(
                or_(
                    and_(mine, or_(due_soon_sql(now), overdue_sql(now))),
                    escalated_terms,
                )
            ),
        ).where(scope.where(actor))
    ).one()
    out = {
        "due_soon": int(row[0]),
        "overdue": int(row[1]),
        "feedback_missed": int(row[2]),
        "escalated": int(escalated),
        "total": int(total),  # tasks, each once
    }
    return out


# ---------------------------------------------------------------- writing


def check_authority(session: Session, actor: Actor, unit_ids: Sequence[int], field: str) -> None:
    """Refuse (422 naming ``field``) a unit the caller may not issue tasks to."""
    actor.require(Perm.task_issue)
    if actor.scope.whole_bureau:
        anywhere = True
    else:
        own = session.get(Unit, actor.unit_id) if actor.unit_id is not None else None
        anywhere = own is not None and own.kind == UnitKind.command_centre
    found = set(session.scalars(select(Unit.id).where(Unit.id.in_(list(unit_ids)))))
    for unit_id in unit_ids:
        if unit_id not in found or not (anywhere or actor.scope.admits(unit_id)):
            raise ValidationFailed.field(field, f"单位 {unit_id} 不存在或不在您的督办权限范围内")


def _check_source(session: Session, actor: Actor, kind: SourceKind, ref: str | None) -> None:
    if kind == SourceKind.none:
        if ref is not None:
            raise ValidationFailed.field("source_ref", "来源为“无”时不能填写来源编号")
        return
    if ref is None or not ref.strip():
        raise ValidationFailed.field("source_ref", f"须填写{kind.label}的编号")
    if kind == SourceKind.brief_finding:
        _check_brief_finding(session, actor, ref)
        return
    if kind in MAP_REFS:
        pattern, form = MAP_REFS[kind]
        if not pattern.fullmatch(ref):
            raise ValidationFailed.field("source_ref", f"{kind.label}的编号须为“{form}”")
        return
    if kind in (SourceKind.incident, SourceKind.case, SourceKind.visit):
        if not ref.isdigit() or not 0 < int(ref) < 2**31:
            raise ValidationFailed.field("source_ref", f"{kind.label}编号须为正整数")
        if kind == SourceKind.incident:
            from qingzhi.incidents.models import Incident
            from qingzhi.incidents.scope import in_scope

            row: Any = session.get(Incident, int(ref))
            ok = row is not None and in_scope(actor, row)
        elif kind == SourceKind.visit:
            ok = _visit_visible(session, actor, int(ref))
        else:
            from qingzhi.cases import scope as case_scope

            ok = case_scope.visible_id(session, actor, int(ref))
        if not ok:
            raise ValidationFailed.field("source_ref", f"{kind.label}不存在或不在您的权限范围内")


def _visit_visible(session: Session, actor: Actor, visit_id: int) -> bool:
    """Whether the caller sees the community visit (its station in scope, and its zone for a
    zone officer: ``community.scope``)."""
    from qingzhi.community.models import Visit
    from qingzhi.community.scope import view_of

    row = session.get(Visit, visit_id)
    return (
        row is not None
        and actor.can(Perm.community_read)
        and view_of(session, actor).admits_row(row)
    )


def _check_brief_finding(session: Session, actor: Actor, ref: str) -> None:
    """A brief's draft action, ``<brief id>:<action number>`` (from 1), in a brief the caller
    may read."""
    from qingzhi.reports import service as briefs

    brief_id, _, number = ref.partition(":")
    if not (brief_id.isdigit() and number.isdigit() and 0 < int(brief_id) < 2**31):
        raise ValidationFailed.field("source_ref", "研判简报建议的编号须为“简报编号:建议序号”")
    try:
        brief = briefs.get(session=session, actor=actor, brief_id=int(brief_id))
    except (NotFound, PermissionDenied):
        raise ValidationFailed.field("source_ref", "研判简报不存在或不在您的权限范围内") from None
    actions = json.loads(brief.content).get("actions") or []
    if not 1 <= int(number) <= len(actions):
        raise ValidationFailed.field("source_ref", f"该简报只有 {len(actions)} 条建议措施")


def create(
    *,
    session: Session,
    actor: Actor,
    body: TaskCreate,
    now: dt.datetime | None = None,
    synthetic: bool = False,
) -> Task:
    """Create a task (audited ``task.created``) and, unless a draft, issue it (``task.issued``).
    Refused, naming the field: a deadline not in the future, an owner or co-operating unit
    outside the caller's authority, an officer not of the owner unit, a source not visible."""
    now = now or utcnow()
    if body.deadline <= now:
        raise ValidationFailed.field("deadline", "截止时间须晚于当前时间")
    check_authority(session, actor, [body.owner_unit_id], "owner_unit_id")
    helpers = list(dict.fromkeys(u for u in body.helper_unit_ids if u != body.owner_unit_id))
    if helpers:
        check_authority(session, actor, helpers, "helper_unit_ids")
    if body.owner_officer_id is not None:
        officer = session.get(Officer, body.owner_officer_id)
        if officer is None or officer.unit_id != body.owner_unit_id:
            raise ValidationFailed.field("owner_officer_id", "民警不存在或不属于承办单位")
    _check_source(session, actor, body.source_kind, body.source_ref)
    task = Task(
        title=body.title.strip(),
        instructions=body.instructions,
        source_kind=body.source_kind,
        source_ref=body.source_ref,
        issuer_unit_id=actor.unit_id,
        issuer_user_id=actor.user_id,
        issuer_name=actor.name,
        owner_unit_id=body.owner_unit_id,
        owner_officer_id=body.owner_officer_id,
        deadline=body.deadline.astimezone(dt.UTC),
        priority=body.priority,
        feedback_hours=body.feedback_hours,
        status=TaskStatus.draft,
        synthetic=synthetic,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    session.flush()
    session.add_all(TaskUnit(task_id=task.id, unit_id=u) for u in helpers)
    audit.record(
        session=session,
        actor=actor,
        action="task.created",
        entity_kind="task",
        entity_id=task.id,
        unit_id=task.owner_unit_id,
        after={
            "title": task.title,
            "owner_unit_id": task.owner_unit_id,
            "helper_unit_ids": helpers,
            "deadline": task.deadline.isoformat(),
            "source": [str(task.source_kind), task.source_ref],
        },
    )
    if not body.draft:
        _step(session, actor, task, TaskStatus.issued, "", now)
    else:
        session.flush()
    return task


def _step(
    session: Session, actor: Actor, task: Task, target: TaskStatus, note: str, now: dt.datetime
) -> None:
    lifecycle.move(
        session=session,
        actor=actor,
        lifecycle=TASK,
        row=task,
        target=target,
        entity_kind="task",
        unit_id=task.owner_unit_id,
        detail={"note": note} if note else None,
    )
    stamp = _TIME_OF.get(target)
    if stamp is not None:
        setattr(task, stamp, now)
    if target == TaskStatus.in_progress and task.accepted_at is None:
        task.accepted_at = now
    next_feedback(task, now)
    task.updated_at = now
    if note:
        session.add(
            TaskReport(
                task_id=task.id,
                at=now,
                kind=target.value,
                text=note,
                unit_id=actor.unit_id,
                author_user_id=actor.user_id,
                author_name=actor.name,
            )
        )
    session.flush()
    publish(session, task, target.value)


def move(
    *,
    session: Session,
    actor: Actor,
    task_id: int,
    target: TaskStatus,
    note: str = "",
    now: dt.datetime | None = None,
) -> Task:
    """Move a task to ``target`` on its locked row: the issuer's side issues, returns,
    verifies and cancels, the owner's side accepts, starts and submits (403 otherwise); a step
    not in the table is a 409 naming both states."""
    now = now or utcnow()
    task = visible(session, actor, task_id, lock=True)
    helpers = tuple(helpers_of(session, [task.id])[task.id])
    if target in BY_ISSUER:
        actor.require(Perm.task_issue)
        if not scope.issues(actor, task):
            raise PermissionDenied("只有下发单位可以下发、退回、核销或撤销督办任务")
    else:
        actor.require(Perm.task_report)
        if not scope.owns(actor, task, helpers):
            raise PermissionDenied("只有承办或协办单位可以签收、办理和提交督办任务")
    if target == TaskStatus.returned and not note.strip():
        raise ValidationFailed.field("note", "退回须说明理由")
    if target == TaskStatus.issued and task.deadline <= now:
        raise ValidationFailed.field("deadline", "截止时间已过，不能下发")
    _step(session, actor, task, target, note.strip(), now)
    return task
