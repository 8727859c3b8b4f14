"""The brief scheduler on a simulated clock: the right periods fall due at the right local times,
missed runs are caught up, and two runners at once never make the same brief (SQLite and
PostgreSQL, real threads on a committed database)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.reports import schedule, service
from qingzhi.reports.enums import BriefFormat, BriefKind
from qingzhi.reports.models import Brief, BriefRun
from qingzhi.reports.periods import Period, Schedule
from qingzhi.store.db import Database
from tests.factories import add_incident

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)


def local(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    """A Shanghai wall-clock moment."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SH)


def test_each_kind_falls_due_at_its_local_time() -> None:
    s = Schedule()
    # 07:29 on Wednesday 25 November: Monday's daily brief is the newest due, not Tuesday's
    assert s.latest_due(BriefKind.daily, local(2026, 11, 25, 7, 29), TZ).start == dt.date(
        2026, 11, 23
    )
    assert s.latest_due(BriefKind.daily, local(2026, 11, 25, 7, 30), TZ).start == dt.date(
        2026, 11, 24
    )
    # the week of 16–22 November is due on Monday 23 November at 08:00
    assert s.latest_due(BriefKind.weekly, local(2026, 11, 23, 7, 59), TZ).start == dt.date(
        2026, 11, 9
    )
    assert s.latest_due(BriefKind.weekly, local(2026, 11, 23, 8, 0), TZ) == Period(
        BriefKind.weekly, dt.date(2026, 11, 16), dt.date(2026, 11, 23)
    )
    # November is due on 1 December at 08:00, Beijing time (00:00 UTC)
    assert s.latest_due(
        BriefKind.monthly, dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.UTC), TZ
    ).start == dt.date(2026, 10, 1)
    assert s.latest_due(
        BriefKind.monthly, dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC), TZ
    ).start == dt.date(2026, 11, 1)
    assert schedule.next_due(Settings(), local(2026, 11, 25, 7, 0)) == local(2026, 11, 25, 7, 30)


def _data(db: Database) -> None:
    for day in range(16, 27):
        for hour in (9, 15, 21):
            add_incident(
                db, at=f"2026-11-{day:02d}T{hour:02d}:00:00+08:00", unit="A", category="dispute"
            )


def _settings(tmp_path: Path) -> Settings:
    return Settings(database_url="sqlite://", briefs_dir=tmp_path / "archive")


def _run(
    db: Database, settings: Settings, now: dt.datetime, worker: str = "w"
) -> schedule.RunReport:
    return schedule.run_due(
        db=db,
        settings=settings,
        now=now,
        worker=worker,
        formats=[BriefFormat.docx],
        kinds=(BriefKind.daily,),
        scopes=[None],
    )


def _made(db: Database) -> list[tuple[str, int]]:
    with db.session() as session:
        rows = session.execute(
            select(Brief.period_start, Brief.version).order_by(Brief.period_start)
        ).all()
    return [(r.period_start.isoformat(), r.version) for r in rows]


def test_runs_the_due_brief_then_catches_up_after_downtime(
    committed: Database, tmp_path: Path
) -> None:
    _data(committed)
    settings = _settings(tmp_path)
    first = _run(committed, settings, local(2026, 11, 21, 7, 31))
    assert [m[2] for m in first.made] == ["2026-11-20"]
    again = _run(committed, settings, local(2026, 11, 21, 9, 0))
    assert again.made == []  # nothing new is due
    # down from the 21st to the 24th 10:00: the 21st, 22nd and 23rd are made at start
    caught = _run(committed, settings, local(2026, 11, 24, 10, 0))
    assert [m[2] for m in caught.made] == ["2026-11-21", "2026-11-22", "2026-11-23"]
    assert _made(committed) == [(f"2026-11-{d}", 1) for d in (20, 21, 22, 23)]
    with committed.session() as session:
        assert session.execute(select(Brief.trigger).distinct()).scalars().all() == ["schedule"]


def test_two_runners_at_once_never_make_the_same_brief(committed: Database, tmp_path: Path) -> None:
    _data(committed)
    settings = _settings(tmp_path)
    now = local(2026, 11, 23, 7, 31)
    with committed.session(write=True) as session:  # the last claim: the 19th, so 20–22 are due
        session.add(
            BriefRun(
                kind=BriefKind.daily,
                scope_key="bureau",
                period_start=dt.date(2026, 11, 19),
                status="done",
                worker="old",
                claimed_at=now,
            )
        )
    reports: list[schedule.RunReport] = []
    barrier = threading.Barrier(2)

    def runner(name: str) -> None:
        barrier.wait()
        reports.append(_run(committed, settings, now, worker=name))

    threads = [threading.Thread(target=runner, args=(f"runner-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    made = [m[2] for r in reports for m in r.made]
    assert sorted(made) == ["2026-11-20", "2026-11-21", "2026-11-22"]  # each exactly once
    assert sum(r.skipped for r in reports) == 3
    assert not any(r.failed for r in reports)
    assert _made(committed) == [(f"2026-11-{d}", 1) for d in (20, 21, 22)]
    with committed.session() as session:
        done = session.execute(select(func.count()).where(BriefRun.status == "done")).scalar_one()
    assert done == 4


def test_a_stale_claim_is_taken_over(committed: Database, tmp_path: Path) -> None:
    _data(committed)
    settings = _settings(tmp_path)
    now = local(2026, 11, 21, 7, 31)
    with committed.session(write=True) as session:
        session.add(
            BriefRun(
                kind=BriefKind.daily,
                scope_key="bureau",
                period_start=dt.date(2026, 11, 20),
                status="running",
                worker="dead",
                claimed_at=now - dt.timedelta(minutes=5),
            )
        )
    assert _run(committed, settings, now).made == []  # a live claim is left alone
    later = now + dt.timedelta(minutes=settings.briefs_claim_minutes + 1)
    with committed.session(write=True) as session:
        session.execute(update(BriefRun).values(claimed_at=now - dt.timedelta(hours=1)))
    assert [m[2] for m in _run(committed, settings, later).made] == ["2026-11-20"]


def test_two_makes_at_once_get_versions_1_and_2(committed: Database, tmp_path: Path) -> None:
    _data(committed)
    settings = _settings(tmp_path)
    actor = system_actor("test")
    with committed.session() as session:
        prepared = service.prepare(
            session=session,
            actor=actor,
            settings=settings,
            kind=BriefKind.daily,
            day=dt.date(2026, 11, 20),
            unit_id=None,
            formats=[BriefFormat.docx],
            now=local(2026, 11, 21, 9, 0),
        )
    barrier = threading.Barrier(2)
    versions: list[int] = []
    errors: list[BaseException] = []

    def make() -> None:
        try:
            barrier.wait(timeout=30)  # (SQLite: the writer lock then serialises the two)
            with committed.session(write=True) as session:
                brief = service.archive(
                    session=session, actor=actor, settings=settings, prepared=prepared
                )
                versions.append(brief.version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(versions) == [1, 2]
    with committed.session() as session:
        for brief in session.scalars(select(Brief)):
            assert service.verify(settings=settings, brief=brief)["ok"]


def test_the_loop_runs_its_chores_at_their_pace_and_survives_a_failing_one(
    committed: Database, tmp_path: Path
) -> None:
    """Wake-ups 20 minutes apart: a chore without a pace runs at each, an hourly one at the
    first and then once the hour has passed; a chore that fails is tried again next time."""
    start = local(2026, 11, 21, 9, 0)
    wakes = [start + dt.timedelta(minutes=20 * i) for i in range(5)]  # 09:00 … 10:20
    now = iter(wakes)
    current = [start]

    def clock() -> dt.datetime:
        return current[0]

    def sleep(_: float) -> None:
        current[0] = next(now, current[0])

    each: list[dt.datetime] = []
    hourly: list[dt.datetime] = []

    def broken(at: dt.datetime) -> None:
        raise OSError("disk gone")

    chores = (
        schedule.Chore("broken", broken),
        schedule.Chore("each", each.append),
        schedule.Chore("hourly", hourly.append, every=dt.timedelta(hours=1)),
    )
    next(now)
    schedule.serve(
        db=committed,
        settings=_settings(tmp_path),
        chores=chores,
        clock=clock,
        sleep=sleep,
        stop=lambda: len(each) >= 5,
    )
    assert each == wakes
    assert hourly == [wakes[0], wakes[3]]  # 09:00, then 10:00
