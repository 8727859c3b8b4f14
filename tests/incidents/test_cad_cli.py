"""``qingzhi import incidents`` on a temporary SQLite file: exit codes, ``--check`` writing
nothing, ``--max-errors``, the full error file, a misspelt column as a message (no traceback),
an unmigrated store refused with the command that fixes it."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from qingzhi.cli import app
from qingzhi.config import get_settings
from qingzhi.demo import cad_export
from qingzhi.incidents.models import Incident
from qingzhi.store.db import Database, migrate
from tests.factories import build_org
from tests.helpers import rows

runner = CliRunner()
SHAPE = cad_export.Shape(107.0, 30.0, 107.2, 30.2, dt.date(2026, 10, 20), 10)


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A migrated database file with the factory organisation, used by the CLI."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate(url)
    db = Database(url)
    with db.session(write=True) as session:
        build_org(session)
    monkeypatch.setenv("QINGZHI_DATABASE_URL", url)
    get_settings.cache_clear()
    yield db
    db.dispose()
    get_settings.cache_clear()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A messy export of 30 rows (2 of them bad: no id, a placeholder point) and its mapping."""
    data = tmp_path / "calls.csv.gz"
    cad_export.write(data, cad_export.rows(30, SHAPE, seed=9))
    mapping = tmp_path / "sa.toml"
    mapping.write_text(cad_export.MAPPING, encoding="utf-8")
    return data, mapping


def _run(*args: str) -> Result:
    return runner.invoke(app, ["import", "incidents", *args])


def test_check_writes_nothing_and_exits_1_on_bad_rows(
    cli_db: Database, files: tuple[Path, Path], tmp_path: Path
) -> None:
    data, mapping = files
    errors = tmp_path / "errors.csv"
    r = _run(str(data), "--mapping", str(mapping), "--check", "--errors", str(errors))
    assert r.exit_code == 1, r.output
    assert "合格 28" in r.output and "错误行 2" in r.output and "类别映射命中" in r.output
    assert rows(cli_db, Incident) == 0
    with errors.open(encoding="utf-8-sig") as fh:
        table = list(csv.reader(fh))
    assert table[0][:5] == ["file", "row", "field", "code", "reason"]
    assert table[0][5:] == cad_export.HEADER
    assert sorted(r[3] for r in table[1:]) == ["missing_id", "placeholder_point"]
    assert all(len(r) == 5 + len(cad_export.HEADER) for r in table[1:])  # the rows whole


def test_import_exit_codes(cli_db: Database, files: tuple[Path, Path]) -> None:
    data, mapping = files
    r = _run(str(data), "--mapping", str(mapping), "--max-errors", "1")
    assert r.exit_code == 3 and rows(cli_db, Incident) == 0
    r = _run(str(data), "--mapping", str(mapping))
    assert r.exit_code == 1 and rows(cli_db, Incident) == 28
    assert "新增 28" in r.output
    clean = data.parent / "clean.csv"
    cad_export.write(clean, cad_export.rows(5, SHAPE, seed=10)[:5])
    r = _run(str(clean), "--mapping", str(mapping))
    assert r.exit_code == 0, r.output


def test_a_misspelt_column_is_a_message_not_a_traceback(
    cli_db: Database, files: tuple[Path, Path]
) -> None:
    data, mapping = files
    mapping.write_text(cad_export.MAPPING.replace('x = "LON"', 'x = "LONG"'), encoding="utf-8")
    r = _run(str(data), "--mapping", str(mapping))
    assert r.exit_code == 2
    assert "LONG" in r.output and "Traceback" not in r.output
    assert rows(cli_db, Incident) == 0


def test_an_unmigrated_store_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: tuple[Path, Path]
) -> None:
    monkeypatch.setenv("QINGZHI_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    try:
        data, mapping = files
        r = _run(str(data), "--mapping", str(mapping))
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 2
    assert "qingzhi db upgrade" in r.output and "Traceback" not in r.output
