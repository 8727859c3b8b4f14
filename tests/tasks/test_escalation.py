"""Overdue, due soon, missed feedback and escalation, derived from a controllable clock: a
member station's overdue task reaches its central station's board, then the bureau's; another
station's reaches the bureau's at once."""

from __future__ import annotations

import datetime as dt

from qingzhi.config import Settings
from qingzhi.store.db import Database
from qingzhi.tasks import service
from qingzhi.tasks.lifecycle import TaskStatus
from tests.factories import Org
from tests.helpers import user_actor
from tests.tasks.helpers import NOW, issue

H = dt.timedelta(hours=1)


def _escalated(session, who: str, settings: Settings, now: dt.datetime) -> list[int]:
    page = service.board(
        session=session,
        actor=user_actor(session, who),
        settings=settings,
        flt=service.BoardFilter(escalated=True),
        now=now,
    )
    return [t.id for t in page.items]


def test_a_member_stations_overdue_task_climbs_the_boards(
    db: Database, org: Org, settings: Settings
) -> None:
    """R1 (run by central station C) owes a task due in 2 h: due soon now; overdue at 3 h, on
    C's board and not yet the bureau's; on the bureau's once overdue longer than the setting."""
    hours = settings.task_escalate_bureau_hours
    with db.session(write=True) as session:
        task = issue(session, org, owner="R1", hours=2)
        owner = user_actor(session, "chief_c")
        service.move(
            session=session, actor=owner, task_id=task.id, target=TaskStatus.accepted, now=NOW
        )
        read = service.to_read(session, owner, [task], now=NOW, bureau_hours=hours)[0]
        assert (read.overdue, read.due_soon, read.escalated_to) == (False, True, [])
        assert (
            service.reminders(session=session, actor=owner, settings=settings, now=NOW)["due_soon"]
            == 1
        )

        late = NOW + 3 * H
        read = service.to_read(session, owner, [task], now=late, bureau_hours=hours)[0]
        assert read.overdue and not read.due_soon
        assert read.escalated_to == ["甲乙中心派出所"]
        assert _escalated(session, "chief_c", settings, late) == [task.id]
        assert _escalated(session, "commander", settings, late) == []
        assert _escalated(session, "chief_a", settings, late) == []

        later = NOW + 2 * H + dt.timedelta(hours=hours) + H
        read = service.to_read(session, owner, [task], now=later, bureau_hours=hours)[0]
        assert read.escalated_to == ["甲乙中心派出所", "县局"]
        assert _escalated(session, "commander", settings, later) == [task.id]
        counts = service.reminders(session=session, actor=owner, settings=settings, now=later)
        assert counts["overdue"] == 1 and counts["escalated"] == 1
        assert counts["total"] == 1  # one task, counted once

        # Submitted in time or late, the owner has done its part: no longer overdue.
        for target in (TaskStatus.in_progress, TaskStatus.submitted):
            service.move(session=session, actor=owner, task_id=task.id, target=target, now=later)
        read = service.to_read(session, owner, [task], now=later, bureau_hours=hours)[0]
        assert not read.overdue and read.escalated_to == []


def test_a_station_without_a_central_station_goes_to_the_bureau(
    db: Database, org: Org, settings: Settings
) -> None:
    with db.session(write=True) as session:
        task = issue(session, org, owner="A", hours=1)
        assert _escalated(session, "commander", settings, NOW + 2 * H) == [task.id]
        assert _escalated(session, "commander", settings, NOW) == []
        page = service.board(
            session=session,
            actor=user_actor(session, "chief_a"),
            settings=settings,
            flt=service.BoardFilter(),
            now=NOW + 2 * H,
        )
        assert page.overdue == 1 and page.items[0].overdue


def test_a_missed_feedback_cadence_is_flagged(db: Database, org: Org, settings: Settings) -> None:
    """Every 24 h a report is due: missed after 25 h without one; a report resets the clock."""
    hours = settings.task_escalate_bureau_hours
    with db.session(write=True) as session:
        task = issue(session, org, owner="A", hours=24 * 7, feedback_hours=24)
        owner = user_actor(session, "chief_a")
        service.move(
            session=session, actor=owner, task_id=task.id, target=TaskStatus.accepted, now=NOW
        )
        day = NOW + 25 * H
        assert service.to_read(session, owner, [task], now=day, bureau_hours=hours)[
            0
        ].feedback_missed
        counts = service.reminders(session=session, actor=owner, settings=settings, now=day)
        assert counts["feedback_missed"] == 1
        service.add_report(
            session=session, actor=owner, task_id=task.id, text="已巡逻三次", now=day
        )
        assert not service.to_read(session, owner, [task], now=day + H, bureau_hours=hours)[
            0
        ].feedback_missed
        counts = service.reminders(session=session, actor=owner, settings=settings, now=day + H)
        assert counts["feedback_missed"] == 0
