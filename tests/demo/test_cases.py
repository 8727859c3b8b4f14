"""The demo's cases loaded through the services: the seed's figures (clearance about 84%, fast
clearance about 91% within 72 hours) come out of the rates service, teams and tasks exist, and
a reload adds nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from qingzhi.auth.context import system_actor
from qingzhi.cases import rates
from qingzhi.cases.models import Case, CaseMember
from qingzhi.config import Settings
from qingzhi.demo.cases import load_cases
from qingzhi.demo.loader import generate_demo_incidents, load_demo, load_incidents
from qingzhi.store.db import Database
from qingzhi.tasks.lifecycle import SourceKind, TaskStatus
from qingzhi.tasks.models import Task
from tests.helpers import rows

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
DAYS = 75


@pytest.mark.slow
def test_the_demo_cases_show_the_seeds_figures(db: Database, settings: Settings) -> None:
    actor = system_actor("demo")
    with db.session(write=True) as session:
        load_demo(session=session, actor=actor, seed=2026)
    specs = generate_demo_incidents(seed=2026, days=DAYS, start=dt.date(2026, 3, 18))
    load_incidents(
        db=db,
        actor=actor,
        settings=settings,
        specs=specs,
        now=NOW,
        start=dt.date(2026, 3, 18),
        days=DAYS,
    )
    report = load_cases(db=db, actor=actor, settings=settings, specs=specs, now=NOW)
    assert report.opened == rows(db, Case) > 900
    assert report.rapid > 20 and report.tasks > 10
    # Cohort: the first 30 days, whose slow clearances (median 12 days) are mostly in by NOW.
    # Fast clearance: the 30 days after, whose cleared cases include the slow ones opened
    # before (the first days' cleared cases are only the fast ones: nothing was opened before).
    with db.session() as session:
        got = rates.compute(
            session=session,
            actor=actor,
            settings=settings,
            start=dt.date(2026, 3, 18),
            end=dt.date(2026, 4, 16),
            group_by="category",
        )
        steady = rates.compute(
            session=session,
            actor=actor,
            settings=settings,
            start=dt.date(2026, 4, 17),
            end=dt.date(2026, 5, 16),
            group_by="none",
        )
        teams = session.execute(select(func.count(func.distinct(CaseMember.case_id)))).scalar_one()
        verified = session.execute(
            select(func.count()).where(
                Task.source_kind == SourceKind.case, Task.status == TaskStatus.verified
            )
        ).scalar_one()
    cohort, fast = got.total.cohort.estimate, steady.total.fast_rate.estimate
    assert cohort is not None and fast is not None
    assert 0.80 <= cohort <= 0.88, cohort  # seed: 破案率 84%
    assert 0.87 <= fast <= 0.95, fast  # seed: 快破率 91.2%
    assert got.fast_hours == 72
    theft = next(line for line in got.lines if line.key == "theft")
    fraud = next(line for line in got.lines if line.key == "fraud")
    assert theft.cohort.estimate is not None and fraud.cohort.estimate is not None
    assert theft.cohort.estimate > fraud.cohort.estimate  # fraud is cleared less often
    assert got.total.recovered_yuan > 0
    assert teams == report.rapid and verified > 0

    again = load_cases(db=db, actor=actor, settings=settings, specs=specs, now=NOW)
    assert again.opened == 0 and rows(db, Case) == report.opened
