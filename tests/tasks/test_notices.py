"""Deadline notices on a controllable clock: a live ``task`` event when a task becomes due
within 24 h and when it becomes overdue, each once, to the owner's scope (not another
station's); the scheduler's loop publishes them."""

from __future__ import annotations

import datetime as dt
import json

from qingzhi.auth.scope import scope_for_unit
from qingzhi.cli.tasks import chores
from qingzhi.config import Settings
from qingzhi.live import bus
from qingzhi.reports import schedule
from qingzhi.store.db import Database
from qingzhi.tasks import notices
from qingzhi.tasks.lifecycle import TaskStatus
from tests.factories import Org
from tests.tasks.helpers import NOW, issue

H = dt.timedelta(hours=1)


def _task_events(db: Database, unit_id: int | None = None) -> list[tuple[int, str]]:
    with db.session() as session:
        scope = scope_for_unit(session, unit_id) if unit_id is not None else None
        events = bus.read_since(session, last=0, scope=scope)
    out = []
    for e in events:
        if e.kind == "task":
            data = json.loads(e.frame.split("data: ", 1)[1])
            if data["what"] in ("due_soon", "overdue"):
                out.append((data["id"], data["what"]))
    return out


def test_due_soon_then_overdue_each_once_to_the_owners_screens(db: Database, org: Org) -> None:
    """Due 30 h after NOW: nothing at NOW; due soon at +7 h (23 h left), not again at +8 h;
    overdue at +31 h, not again at +40 h. A task submitted in time gets no overdue notice."""
    with db.session(write=True) as session:
        task = issue(session, org, owner="A", hours=30).id
        done = issue(session, org, owner="A", hours=30, status=TaskStatus.submitted).id
    assert notices.run(db, NOW) == []
    assert notices.run(db, NOW + 7 * H) == [(task, "due_soon")]
    assert notices.run(db, NOW + 8 * H) == []
    assert notices.run(db, NOW + 31 * H) == [(task, "overdue")]
    assert notices.run(db, NOW + 40 * H) == []
    assert _task_events(db, org.id("A")) == [(task, "due_soon"), (task, "overdue")]
    assert _task_events(db, org.id("B")) == []  # another station's screens see nothing
    assert done not in {i for i, _ in _task_events(db)}


def test_a_task_that_passed_both_marks_unwatched_gets_the_overdue_notice_only(
    db: Database, org: Org
) -> None:
    with db.session(write=True) as session:
        task = issue(session, org, owner="R1", hours=2).id
    assert notices.run(db, NOW + 5 * H) == [(task, "overdue")]
    assert notices.run(db, NOW + 6 * H) == []
    # R1's central station C sees it (its board is where the overdue task escalates).
    assert _task_events(db, org.id("C")) == [(task, "overdue")]


def test_the_scheduler_loop_publishes_the_notices(
    db: Database, org: Org, settings: Settings
) -> None:
    with db.session(write=True) as session:
        task = issue(session, org, owner="A", hours=3).id
    ticks = iter([NOW + 5 * H] * 10)
    runs: list[int] = []
    schedule.serve(
        db=db,
        settings=settings,
        chores=chores(db, settings),
        clock=lambda: next(ticks),
        sleep=lambda s: runs.append(1),
        stop=lambda: len(runs) >= 1,
    )
    assert _task_events(db) == [(task, "overdue")]
