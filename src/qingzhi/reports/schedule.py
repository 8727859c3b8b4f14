"""Scheduled briefs: which are due, a database claim so that two runners never make the same one,
and catching up after downtime.

One mechanism: ``run_due`` (the CLI's ``qingzhi brief run-due``, for cron or a systemd timer, and
the loop of ``qingzhi scheduler``, the one process ``make demo`` starts beside the server — an
in-process scheduler would run once per server worker). At a moment ``now`` (a parameter: tests
drive a simulated clock) it makes, for the bureau and every central and urban station, each kind's
briefs that are due (``periods.Schedule``: daily 07:30, weekly Monday 08:00, monthly the 1st
08:00, local time) and not yet made: the latest due period, and after downtime every period since
the last one this scope and kind was claimed for (at most ``MAX_CATCH_UP`` each).

The claim is a ``BriefRun`` row keyed by kind, scope and period, inserted in its own short
transaction before the brief is computed: a second runner's insert fails on the primary key and it
moves on (SQLite and PostgreSQL alike). The brief is archived and the claim marked done in one
transaction; a failure marks it failed (retried on the next run); a claim left running by a runner
that stopped is taken over after ``briefs_claim_minutes`` by a conditional UPDATE on the row.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.sql.dml import Update

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.errors import QingzhiError
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Unit
from qingzhi.reports import content as figures
from qingzhi.reports import service
from qingzhi.reports.enums import BriefFormat, BriefKind
from qingzhi.reports.models import BriefRun
from qingzhi.reports.periods import Period, Schedule, parse_time, period_of
from qingzhi.reports.render import pdf_available
from qingzhi.reports.scope import scope_key
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

SCHEDULED_KINDS = (UnitKind.central_station, UnitKind.urban_station)
MAX_CATCH_UP = 31  # periods per kind and scope made in one run after downtime


def schedule_of(settings: Settings) -> Schedule:
    """The configured times."""
    return Schedule(
        daily=parse_time(settings.briefs_daily_at, "briefs_daily_at"),
        weekly=parse_time(settings.briefs_weekly_at, "briefs_weekly_at"),
        monthly=parse_time(settings.briefs_monthly_at, "briefs_monthly_at"),
    )


def worker_name() -> str:
    """host:pid:token of this runner."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class RunReport:
    """What one run did."""

    made: list[tuple[str, str, str, int]] = field(default_factory=list)  # kind, scope, start, id
    skipped: int = 0
    failed: list[tuple[str, str, str, str]] = field(default_factory=list)


def targets(db: Database) -> list[int | None]:
    """The scopes briefs are made for: the bureau (None) and every central and urban station."""
    with db.session() as session:
        ids = session.scalars(
            select(Unit.id).where(Unit.kind.in_(SCHEDULED_KINDS)).order_by(Unit.code)
        ).all()
    return [None, *ids]


def due_periods(
    db: Database, settings: Settings, kind: BriefKind, unit_id: int | None, now: dt.datetime
) -> list[Period]:
    """The periods of ``kind`` due at ``now`` for the scope and not yet claimed: the latest,
    and every one after the last claimed (catch-up), oldest first."""
    sched = schedule_of(settings)
    tz = settings.timezone
    latest = sched.latest_due(kind, now, tz)
    with db.session() as session:
        last = session.execute(
            select(BriefRun.period_start)
            .where(BriefRun.kind == kind, BriefRun.scope_key == scope_key(unit_id))
            .order_by(BriefRun.period_start.desc())
            .limit(1)
        ).scalar_one_or_none()
        first = figures.first_data_day(session, settings)
        retry = session.scalars(
            select(BriefRun.period_start).where(
                BriefRun.kind == kind,
                BriefRun.scope_key == scope_key(unit_id),
                BriefRun.status != "done",
            )
        ).all()
    if first is None:
        return []
    since = latest.start if last is None else last + dt.timedelta(days=1)
    periods = [p for p in sched.due_since(kind, now, tz, since) if p.end > first]
    periods = periods[-MAX_CATCH_UP:]
    extra = [p for p in (period_of(kind, d) for d in retry) if p.end > first and p not in periods]
    return sorted(extra + periods, key=lambda p: p.start)


def claim(
    db: Database,
    settings: Settings,
    kind: BriefKind,
    key: str,
    period: Period,
    worker: str,
    now: dt.datetime,
) -> bool:
    """Take the claim on one brief at ``now`` (its own short transaction); False when another
    runner has it or it is done."""
    try:
        with db.session(write=True) as session:
            session.add(
                BriefRun(
                    kind=kind,
                    scope_key=key,
                    period_start=period.start,
                    status="running",
                    worker=worker,
                    claimed_at=now,
                )
            )
            session.flush()
        return True
    except IntegrityError:
        pass
    stale = now - dt.timedelta(minutes=settings.briefs_claim_minutes)
    with db.session(write=True) as session:
        taken = session.execute(
            update(BriefRun)
            .where(
                BriefRun.kind == kind,
                BriefRun.scope_key == key,
                BriefRun.period_start == period.start,
                (BriefRun.status == "failed")
                | ((BriefRun.status == "running") & (BriefRun.claimed_at < stale)),
            )
            .values(status="running", worker=worker, claimed_at=now, error=None)
        )
        return bool(taken.rowcount)  # type: ignore[attr-defined]


def _mark(kind: BriefKind, key: str, period: Period, worker: str, **values: object) -> Update:
    """Set ``values`` on this worker's claim of one brief."""
    return (
        update(BriefRun)
        .where(
            BriefRun.kind == kind,
            BriefRun.scope_key == key,
            BriefRun.period_start == period.start,
            BriefRun.worker == worker,
        )
        .values(**values)
    )


def _finish(
    db: Database, kind: BriefKind, key: str, period: Period, worker: str, **values: object
) -> None:
    with db.session(write=True) as session:
        session.execute(_mark(kind, key, period, worker, **values))


def run_due(
    *,
    db: Database,
    settings: Settings,
    now: dt.datetime | None = None,
    worker: str | None = None,
    formats: list[BriefFormat] | None = None,
    kinds: tuple[BriefKind, ...] = tuple(BriefKind),
    scopes: list[int | None] | None = None,
) -> RunReport:
    """Make every brief due at ``now`` that no runner has claimed (see the module docstring)."""
    now = now or utcnow()
    worker = worker or worker_name()
    if formats is None:
        formats = [BriefFormat.html, BriefFormat.docx]
        if pdf_available():
            formats.append(BriefFormat.pdf)
    actor = system_actor("scheduler")
    report = RunReport()
    for unit_id in targets(db) if scopes is None else scopes:
        key = scope_key(unit_id)
        for kind in kinds:
            for period in due_periods(db, settings, kind, unit_id, now):
                if not claim(db, settings, kind, key, period, worker, now):
                    report.skipped += 1
                    continue
                try:
                    with db.session() as session:
                        prepared = service.prepare(
                            session=session,
                            actor=actor,
                            settings=settings,
                            kind=kind,
                            day=period.start,
                            unit_id=unit_id,
                            formats=formats,
                            now=now,
                        )
                    with db.session(write=True) as session:
                        brief = service.archive(
                            session=session,
                            actor=actor,
                            settings=settings,
                            prepared=prepared,
                            trigger="schedule",
                        )
                        brief_id = brief.id
                        session.execute(
                            _mark(kind, key, period, worker, status="done", brief_id=brief_id)
                        )
                    report.made.append((str(kind), key, period.start.isoformat(), brief_id))
                except (QingzhiError, OSError) as exc:
                    log.warning("brief %s %s %s failed: %s", kind, key, period.start, exc)
                    _finish(db, kind, key, period, worker, status="failed", error=str(exc)[:2000])
                    report.failed.append((str(kind), key, period.start.isoformat(), str(exc)))
    return report


def next_due(settings: Settings, now: dt.datetime) -> dt.datetime:
    """The next moment any kind falls due after ``now``."""
    sched = schedule_of(settings)
    tz = settings.timezone
    out = []
    for kind in BriefKind:
        period = sched.latest_due(kind, now, tz)
        nxt = period_of(kind, period.end)
        out.append(sched.due_at(nxt, tz))
    return min(out)


@dataclass(frozen=True)
class Chore:
    """Other work the scheduler process does between briefs: ``run(now)`` at each wake-up,
    or at most once every ``every``. A chore that fails is logged and tried again next time."""

    name: str
    run: Callable[[dt.datetime], object]
    every: dt.timedelta = dt.timedelta(0)


def serve(
    *,
    db: Database,
    settings: Settings,
    chores: Sequence[Chore] = (),
    clock: Callable[[], dt.datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
    poll_seconds: float = 60.0,
) -> None:
    """The scheduler process: catch up at start, then run whenever a kind falls due, waking
    every ``poll_seconds`` at most for the ``chores`` (the CLI's ``qingzhi scheduler`` passes
    the tasks' deadline notices and the sweep of rolled-back uploads)."""
    worker = worker_name()
    next_run = {chore.name: clock() for chore in chores}
    while not stop():
        report = run_due(db=db, settings=settings, now=clock(), worker=worker)
        if report.made or report.failed:
            log.info("scheduler: %d made, %d failed", len(report.made), len(report.failed))
        for chore in chores:
            now = clock()
            if now < next_run[chore.name]:
                continue
            try:
                chore.run(now)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("scheduler: %s failed: %s", chore.name, exc)
            next_run[chore.name] = now + chore.every
        wait = (next_due(settings, clock()) - clock()).total_seconds()
        sleep(max(1.0, min(wait, poll_seconds)))
