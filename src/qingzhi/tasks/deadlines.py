"""Deadlines (督办时限): overdue, due soon, a missed feedback cadence and escalation, derived from
the clock (``now``, which every function takes so that tests can move it), never stored.

``flags`` judges one task in Python; the ``*_sql`` functions are the same rules as SQL conditions
for the boards and counts. An overdue task escalates to its owner's superior's board: a bundled
member station's to its central station's, any other unit's to the bureau's; after
``task_escalate_bureau_hours`` more it is on the bureau's board too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select

from qingzhi.auth.context import Actor
from qingzhi.org.models import Unit
from qingzhi.tasks.lifecycle import OWNER_OPEN, REPORTING, TaskStatus
from qingzhi.tasks.models import Task

DUE_SOON = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Flags:
    """What the clock says of a task."""

    overdue: bool
    due_soon: bool
    hours_left: float
    feedback_missed: bool
    bureau_level: bool  # overdue long enough (or with no central station) for the bureau


def flags(task: Any, now: dt.datetime, *, bureau_hours: float, has_central: bool) -> Flags:
    """Overdue, due soon, missed feedback and escalation of ``task`` at ``now`` (pure)."""
    status = TaskStatus(task.status)
    owner_open = status in OWNER_OPEN
    left = (task.deadline - now).total_seconds() / 3600.0
    overdue = owner_open and task.deadline < now
    due_soon = owner_open and not overdue and task.deadline - now <= DUE_SOON
    due = task.feedback_due_at
    missed = status in REPORTING and due is not None and due < now
    bureau = overdue and (not has_central or now - task.deadline > dt.timedelta(hours=bureau_hours))
    return Flags(overdue, due_soon, round(left, 2), missed, bureau)


def overdue_sql(now: dt.datetime) -> ColumnElement[bool]:
    """Overdue tasks, as a SQL condition (the same rule as ``flags``)."""
    return and_(Task.status.in_(OWNER_OPEN), Task.deadline < now)


def due_soon_sql(now: dt.datetime) -> ColumnElement[bool]:
    """Tasks due within ``DUE_SOON``, as a SQL condition."""
    return and_(Task.status.in_(OWNER_OPEN), Task.deadline >= now, Task.deadline <= now + DUE_SOON)


def feedback_missed_sql(now: dt.datetime) -> ColumnElement[bool]:
    """Tasks whose feedback cadence is missed, as a SQL condition (the same rule as ``flags``)."""
    return and_(Task.status.in_(REPORTING), Task.feedback_due_at < now)


def escalated_sql(actor: Actor, now: dt.datetime, bureau_hours: float) -> ColumnElement[bool]:
    """Overdue tasks escalated to the caller's board: owned by a member station of the
    caller's central station; for the bureau, owned by a unit with no central station or
    overdue for more than ``bureau_hours``."""
    if actor.scope.whole_bureau:
        late = Task.deadline < now - dt.timedelta(hours=bureau_hours)
        unbundled = select(Unit.id).where(Unit.central_id.is_(None))
        return and_(overdue_sql(now), or_(Task.owner_unit_id.in_(unbundled), late))
    if actor.unit_id is None:
        return and_(overdue_sql(now), Task.id < 0)
    members = select(Unit.id).where(Unit.central_id == actor.unit_id)
    return and_(overdue_sql(now), Task.owner_unit_id.in_(members))
