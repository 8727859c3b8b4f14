"""Deadline notices (到期提醒): a live event when a task becomes due within 24 hours or overdue.

Overdue and due soon are derived from the clock (``tasks.deadlines``); nothing changes in the
database when a deadline passes, so no step publishes an event then. ``announce`` does: run by
the scheduler process (``qingzhi scheduler``, every minute at most; or ``qingzhi task
notices`` from cron), at a moment ``now`` (a parameter: tests drive the clock), it publishes a
``task`` event (``what``: ``due_soon`` or ``overdue``) to the owner's and the issuer's scopes for
each task that has passed one of these marks since its last notice, so the owner unit's board
and navigation count update without a reload. ``Task.deadline_notice`` records the last notice
given, so each is given once, and is claimed by a conditional UPDATE: two schedulers never
announce the same task twice. A task that passed both marks while no scheduler ran gets the
overdue notice only. The notice is delivery bookkeeping, not a change of the task (no audit
record; the event itself is kept on the bus).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from qingzhi.store.base import utcnow
from qingzhi.store.db import Database
from qingzhi.tasks.deadlines import due_soon_sql, overdue_sql
from qingzhi.tasks.models import Task
from qingzhi.tasks.progress import publish

log = logging.getLogger(__name__)

DUE_SOON = "due_soon"
OVERDUE = "overdue"
BATCH = 500


def pending(session: Session, now: dt.datetime) -> list[tuple[int, str | None, str]]:
    """Tasks owing a notice at ``now``: (id, the last notice, the notice owed)."""
    late = and_(
        overdue_sql(now), or_(Task.deadline_notice.is_(None), Task.deadline_notice != OVERDUE)
    )
    soon = and_(due_soon_sql(now), Task.deadline_notice.is_(None))
    rows = session.execute(
        select(Task.id, Task.deadline_notice, overdue_sql(now))
        .where(or_(late, soon))
        .order_by(Task.deadline, Task.id)
        .limit(BATCH)
    )
    return [(i, last, OVERDUE if is_late else DUE_SOON) for i, last, is_late in rows]


def announce(session: Session, now: dt.datetime | None = None) -> list[tuple[int, str]]:
    """Publish the notices owed at ``now`` in the caller's transaction; (task id, notice) of
    each published (a task another runner claimed first is skipped)."""
    now = now or utcnow()
    out: list[tuple[int, str]] = []
    for task_id, last, notice in pending(session, now):
        was = Task.deadline_notice.is_(None) if last is None else Task.deadline_notice == last
        claimed = session.execute(
            update(Task)
            .where(Task.id == task_id, was)
            .values(deadline_notice=notice)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            continue
        task = session.get(Task, task_id)
        assert task is not None
        session.refresh(task, ["deadline_notice"])
        publish(session, task, notice)
        out.append((task_id, notice))
    if out:
        log.info("deadline notices: %d", len(out))
    return out


def run(db: Database, now: dt.datetime | None = None) -> list[tuple[int, str]]:
    """``announce`` in a transaction of its own (the scheduler's and the CLI's entry)."""
    with db.session(write=True) as session:
        return announce(session, now)
