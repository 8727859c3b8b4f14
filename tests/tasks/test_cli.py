"""``qingzhi task list|show`` and ``qingzhi case rates`` on a temporary SQLite file, and their
refusals (a Chinese message, exit code 2, no traceback)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qingzhi.cases import service as cases
from qingzhi.cases.schemas import CaseCreate, Outcome
from qingzhi.cli import app
from qingzhi.config import Settings, get_settings
from qingzhi.store.db import Database, migrate
from qingzhi.tasks import service as tasks
from tests.factories import build_org, make_incident
from tests.helpers import user_actor
from tests.tasks.helpers import body

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate(url)
    monkeypatch.setenv("QINGZHI_DATABASE_URL", url)
    get_settings.cache_clear()
    db = Database(url)
    yield db
    db.dispose()
    get_settings.cache_clear()


def test_task_list_show_and_case_rates(cli_db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    settings = Settings(database_url="sqlite://")
    with cli_db.session(write=True) as session:
        org = build_org(session)
        task = tasks.create(
            session=session,
            actor=user_actor(session, "commander"),
            body=body(org, "R1", hours=1, now=now),
            now=now,
        )
        chief = user_actor(session, "chief_a")
        inc = make_incident(
            session, category="criminal", subtype="theft", unit="A", at=now - dt.timedelta(days=3)
        )
        case = cases.open_case(
            session=session,
            actor=chief,
            settings=settings,
            body=CaseCreate(incident_ids=[inc.id], opened_at=inc.received_at, loss_yuan=7000),
        )
        cases.set_outcome(
            session=session,
            actor=chief,
            case_id=case.id,
            body=Outcome(
                status="cleared", at=inc.received_at + dt.timedelta(hours=20), recovered_yuan=5000
            ),
        )
    r = runner.invoke(app, ["task", "list"])
    assert r.exit_code == 0, r.output
    assert "R1 辖区夜间巡防" in r.output and "24小时内到期" in r.output
    r = runner.invoke(app, ["task", "show", str(task.id)])
    assert r.exit_code == 0, r.output
    assert "创建督办任务" in r.output and "甲镇派出所" in r.output
    # Due within the hour: one deadline notice, then none (each is given once).
    assert "已推送到期提醒 1 条" in runner.invoke(app, ["task", "notices"]).output
    assert "已推送到期提醒 0 条" in runner.invoke(app, ["task", "notices"]).output
    today = dt.date.today()
    span = ["--from", str(today - dt.timedelta(days=10)), "--to", str(today)]
    r = runner.invoke(app, ["case", "rates", *span, "--unit", "A"])
    assert r.exit_code == 0, r.output
    assert "快破时限 N = 72 小时" in r.output
    assert "100.0%" in r.output and "5,000.00" in r.output
    assert "72 小时内破案" in r.output


def test_sweep_attachments_removes_an_old_unreferenced_file(
    cli_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QINGZHI_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    orphan = tmp_path / "data" / "attachments" / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"rolled back")
    os.utime(orphan, (0, 0))
    r = runner.invoke(app, ["task", "sweep-attachments"])
    assert r.exit_code == 0, r.output
    assert "已清理无引用的附件文件 1 个" in r.output and not orphan.exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["task", "show", "999"], "不存在"),
        (["task", "list", "--unit", "NOPE"], "--unit"),
        (["case", "rates", "--from", "昨天", "--to", "2026-12-01"], "--from"),
        (["case", "rates", "--from", "2026-12-01", "--to", "2026-01-01"], "end"),
        (["case", "rates", "--from", "2026-01-01", "--to", "2026-12-01", "--by", "x"], "--by"),
    ],
)
def test_refusals(cli_db: Database, args: list[str], words: str) -> None:
    with cli_db.session(write=True) as session:
        build_org(session)
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert words in r.output and "Traceback" not in r.output
