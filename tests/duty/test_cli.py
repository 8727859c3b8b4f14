"""``qingzhi duty apply`` and ``show`` on a temporary SQLite file with the demo organisation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from qingzhi.auth.context import system_actor
from qingzhi.cli import app
from qingzhi.config import get_settings
from qingzhi.demo.loader import load_demo
from qingzhi.org.enums import DutyStatus
from qingzhi.org.models import Officer
from qingzhi.store.db import Database, migrate

runner = CliRunner()
NOON = dt.datetime(2026, 6, 3, 4, tzinfo=dt.UTC)  # Wednesday 12:00 in Shanghai


@pytest.fixture
def demo_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'duty.db'}"
    migrate(url)
    monkeypatch.setenv("QINGZHI_DATABASE_URL", url)
    get_settings.cache_clear()
    db = Database(url)
    with db.session(write=True) as session:
        load_demo(session=session, actor=system_actor("test"), seed=2026, now=NOON)
    db.dispose()
    yield url
    get_settings.cache_clear()


def _on_duty(url: str) -> int:
    db = Database(url)
    with db.session() as session:
        n = session.execute(
            select(func.count(Officer.id)).where(Officer.duty_status == DutyStatus.on_duty)
        ).scalar_one()
    db.dispose()
    return int(n)


def test_apply_at_night_then_show(demo_db: str) -> None:
    noon = _on_duty(demo_db)
    r = runner.invoke(app, ["duty", "apply", "--at", "2026-06-04T03:30:00+08:00"])
    assert r.exit_code == 0, r.output
    assert "下岗" in r.output
    night = _on_duty(demo_db)
    assert 0 < night < noon / 3  # offices closed, a third of the street staff
    r = runner.invoke(app, ["duty", "show", "--date", "2026-06-03"])
    assert r.exit_code == 0, r.output
    assert "桂阳派出所" in r.output and "街面" in r.output and "内勤" in r.output


def test_apply_refuses_a_time_without_zone(demo_db: str) -> None:
    r = runner.invoke(app, ["duty", "apply", "--at", "2026-06-04T03:30:00"])
    assert r.exit_code == 2 and "时区" in r.output
