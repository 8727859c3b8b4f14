"""The command line on a temporary SQLite file: org import/export, users, tokens, audit verify."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qingzhi.auth.context import system_actor
from qingzhi.cli import app
from qingzhi.config import Settings, get_settings
from qingzhi.org import exchange
from qingzhi.store.db import Database, migrate
from qingzhi.web.app import create_app
from tests.factories import build_org

runner = CliRunner()


def _use(monkeypatch: pytest.MonkeyPatch, path: Path) -> str:
    url = f"sqlite:///{path}"
    migrate(url)
    monkeypatch.setenv("QINGZHI_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty migrated database file that the CLI uses."""
    yield _use(monkeypatch, tmp_path / "cli.db")
    get_settings.cache_clear()


@pytest.fixture
def org_db(cli_db: str) -> str:
    """The CLI database with the factory organisation in it."""
    db = Database(cli_db)
    with db.session(write=True) as session:
        build_org(session)
    db.dispose()
    return cli_db


def _export(url: str) -> dict[str, bytes]:
    db = Database(url)
    with db.session() as session:
        files = exchange.export_bundle(session=session, actor=system_actor("test"))
    db.dispose()
    return files


def test_org_export_then_import_into_a_fresh_database(
    org_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "org.zip"
    r = runner.invoke(app, ["org", "export", str(target)])
    assert r.exit_code == 0, r.output
    original = _export(org_db)
    assert exchange.read_bundle(target) == original
    folder = tmp_path / "org"
    assert runner.invoke(app, ["org", "export", str(folder)]).exit_code == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(original)

    fresh = _use(monkeypatch, tmp_path / "fresh.db")
    r = runner.invoke(app, ["org", "import", str(target)])
    assert r.exit_code == 0, r.output
    assert "导入完成" in r.output
    assert _export(fresh) == original
    # a folder imports the same way, and changes nothing the second time
    r = runner.invoke(app, ["org", "import", str(folder)])
    assert r.exit_code == 0, r.output
    assert _export(fresh) == original


def test_org_import_with_bad_rows_fails_and_writes_nothing(cli_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "bureau.json").write_text(
        json.dumps({"code": "X", "name": "某县公安局", "population": 1000}), encoding="utf-8"
    )
    (folder / "units.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": None,
                        "properties": {"code": "U1", "name": "某所", "kind": "urban_station"},
                    },
                    {
                        "type": "Feature",
                        "geometry": None,
                        "properties": {"code": "U2", "name": "", "kind": "nope"},
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    (folder / "officers.csv").write_text(
        "police_number,name,kind,unit\nP1,甲,sworn,U1\nP2,乙,sworn,U9\n", encoding="utf-8"
    )
    r = runner.invoke(app, ["org", "import", str(folder)])
    assert r.exit_code == 2
    assert "units.geojson" in r.output and "officers.csv" in r.output
    assert "'row': 3" in r.output  # the CSV's bad line
    db = Database(cli_db)
    with db.session() as session:
        from sqlalchemy import func, select

        from qingzhi.org.models import Bureau, Officer, Unit

        for model in (Bureau, Unit, Officer):
            assert session.execute(select(func.count()).select_from(model)).scalar_one() == 0
    db.dispose()


def test_user_and_token_create(org_db: str) -> None:
    r = runner.invoke(
        app,
        ["user", "create", "--username", "cli_user", "--role", "analyst", "--unit", "A"],
        input="long-enough-1\nlong-enough-1\n",  # typed twice at a hidden prompt
    )
    assert r.exit_code == 0, r.output
    assert "cli_user" in r.output
    assert "long-enough-1" not in r.output  # the prompt does not echo it
    bad = runner.invoke(
        app,
        ["user", "create", "--username", "x", "--role", "king", "--password-stdin"],
        input="long-enough-1\n",
    )
    assert bad.exit_code == 2
    assert "role" in bad.output or "角色" in bad.output
    dup = runner.invoke(
        app,
        ["user", "create", "--username", "cli_user", "--role", "viewer", "--password-stdin"],
        input="long-enough-1\n",
    )
    assert dup.exit_code == 2
    # the password is never an argument of the command line
    old_style = ["user", "create", "--username", "y", "--password", "long-enough-1"]
    assert runner.invoke(app, [*old_style, "--role", "viewer"]).exit_code != 0

    r = runner.invoke(app, ["token", "create", "--username", "cli_user", "--name", "脚本"])
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("qz_")

    settings = Settings(database_url=org_db)
    with TestClient(create_app(settings)) as client:
        me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert me.json()["user"]["username"] == "cli_user"
        assert me.json()["user"]["role"] == "analyst"
        units = client.get("/api/units", headers={"Authorization": f"Bearer {token}"}).json()
        assert [u["code"] for u in units] == ["A"]
        client.app.state.db.dispose()  # type: ignore[attr-defined]

    assert runner.invoke(app, ["token", "create", "--username", "nobody"]).exit_code == 2


def test_audit_verify(org_db: str, tmp_path: Path) -> None:
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code == 0, r.output
    assert "审计链完整" in r.output

    path = org_db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        n = conn.execute("SELECT count(*) FROM audit_record").fetchone()[0]
        assert n >= 9
        conn.execute("DROP TRIGGER audit_record_no_update")
        conn.execute("UPDATE audit_record SET actor = 'mallory' WHERE seq = 4")
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code != 0
    assert "seq=4" in r.output
