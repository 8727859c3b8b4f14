"""``qingzhi plan …``: a run saved and printed as JSON or CSV; bad input is one Chinese line
naming the field and exit 2, with nothing saved."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from qingzhi.cli.main import app
from qingzhi.config import get_settings
from qingzhi.plans.models import Plan
from qingzhi.store.db import Database, migrate
from tests.factories import build_org
from tests.plans.data import load_calls

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A migrated SQLite file with the factory organisation and calls, used by the CLI."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate(url)
    monkeypatch.setenv("QINGZHI_DATABASE_URL", url)
    get_settings.cache_clear()
    db = Database.from_settings(get_settings())
    with db.session(write=True) as s:
        build_org(s)
    load_calls(db)
    yield db
    db.dispose()
    get_settings.cache_clear()


def _plans(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Plan)) or 0)


def test_bundle_as_json_and_allocation_as_csv(store: Database, tmp_path: Path) -> None:
    r = runner.invoke(app, ["plan", "bundle", "--format", "json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert plan["status"] == "ready"
    assert [p["key"] for p in plan["result"]["plans"]] == ["none", "actual", "optimal"]
    out = tmp_path / "moves.csv"
    r = runner.invoke(app, ["plan", "allocate", "--format", "csv", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["调出单位", "调入单位", "人数"]
    assert _plans(store) == 2


@pytest.mark.parametrize(
    "args, words",
    [
        (["plan", "bundle", "--n-bundles", "2"], "中心派出所数量"),
        (["plan", "allocate", "--kind", "generals"], "officer_kind"),
        (["plan", "roads", "--days", "2"], "days"),
    ],
)
def test_bad_input_exits_2_naming_it(store: Database, args: list[str], words: str) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert words in r.output and "Traceback" not in r.output
    assert _plans(store) == 0


def test_a_station_below_its_minimum(store: Database, tmp_path: Path) -> None:
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"staffing": {"R1": {"sworn": 1}}}), encoding="utf-8")
    r = runner.invoke(app, ["plan", "allocate", "--params", str(params)])
    assert r.exit_code == 2 and "低于最低配置" in r.output, r.output
