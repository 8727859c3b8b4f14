"""Two processes' worth of roster applications at once (the simulator and cron): each officer
changes once, audited once, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from qingzhi.audit.models import AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.demo.loader import load_demo
from qingzhi.duty import service as duty
from qingzhi.store.db import Database
from tests.live.server import committed_database

PG_URL = os.environ.get("QINGZHI_TEST_DATABASE_URL")

NOON = dt.datetime(2026, 6, 3, 4, tzinfo=dt.UTC)  # Wednesday 12:00 in Shanghai
NIGHT = dt.datetime(2026, 6, 3, 19, 30, tzinfo=dt.UTC)  # Thursday 03:30 in Shanghai


@pytest.mark.parametrize(
    "backend",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL, reason="no PG"))],
)
def test_concurrent_applies_change_each_officer_once(backend: str, tmp_path: Path) -> None:
    with committed_database(backend, tmp_path, PG_URL) as db:
        _race(db)


def _race(committed: Database) -> None:
    with committed.session(write=True) as session:
        load_demo(session=session, actor=system_actor("test"), seed=2026, now=NOON)
    reports: list[duty.ApplyReport] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            with committed.session(write=True) as session:
                reports.append(
                    duty.apply(
                        session=session, actor=system_actor("race"), at=NIGHT, tz="Asia/Shanghai"
                    )
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    changed = [len(r.on) + len(r.off) for r in reports]
    assert sorted(changed)[0] == 0 and sorted(changed)[1] > 100  # one did it, the other nothing
    with committed.session() as session:
        audited = session.execute(
            select(func.count(AuditRecord.seq)).where(AuditRecord.action == "officer.duty")
        ).scalar_one()
    assert audited == max(changed)
