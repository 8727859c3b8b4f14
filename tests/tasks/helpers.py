"""Building tasks for the tests: a body, and a task issued (or put in any state) directly."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.org.models import Unit
from qingzhi.tasks import service
from qingzhi.tasks.lifecycle import TaskStatus
from qingzhi.tasks.models import Task
from qingzhi.tasks.schemas import TaskCreate
from tests.factories import Org
from tests.helpers import user_actor

NOW = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)


class Units:
    """The org's unit ids by code, read from a database (for committed databases, whose org
    the fixture does not return)."""

    def __init__(self, session: Session) -> None:
        self.ids = {code: uid for code, uid in session.execute(select(Unit.code, Unit.id))}

    def id(self, code: str) -> int:
        return int(self.ids[code])


def body(
    org: Org | Units, owner: str = "A", hours: float = 48, now: dt.datetime = NOW, **fields: Any
) -> TaskCreate:
    """A task body for ``owner``, due ``hours`` after ``now``."""
    return TaskCreate.model_validate(
        {
            "title": f"{owner} 辖区夜间巡防",
            "instructions": "加强夜间巡逻，每日反馈",
            "owner_unit_id": org.id(owner),
            "deadline": (now + dt.timedelta(hours=hours)).isoformat(),
            **fields,
        }
    )


def issue(
    session: Session,
    org: Org | Units,
    *,
    by: str = "commander",
    owner: str = "A",
    hours: float = 48,
    status: TaskStatus | None = None,
    now: dt.datetime = NOW,
    **fields: Any,
) -> Task:
    """A task issued by ``by`` to ``owner`` at ``now``; forced into ``status`` if given (for
    the lifecycle's pairs)."""
    task = service.create(
        session=session,
        actor=user_actor(session, by),
        body=body(org, owner, hours, now, **fields),
        now=now,
    )
    if status is not None:
        task.status = status
        session.flush()
    return task
