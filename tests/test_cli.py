"""The command line on a temporary SQLite file: org import/export, users and their lifecycle,
tokens, serve's refusal of demo passwords, private database files, audit verify."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from qingzhi.auth import service as auth
from qingzhi.auth import tokens
from qingzhi.auth.context import system_actor
from qingzhi.auth.models import ApiToken
from qingzhi.auth.passwords import check_password
from qingzhi.cli import app
from qingzhi.config import Settings, get_settings
from qingzhi.org import exchange
from qingzhi.store.base import utcnow
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


def test_user_lifecycle_commands(org_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """list, disable/enable, set-password (prompt or stdin), logout and unlock: each acts on the
    account, prints what it did and is audited; unknown users and weak passwords exit 2."""
    from qingzhi.audit.models import AuditRecord
    from qingzhi.auth import throttle
    from qingzhi.auth.models import User

    settings = Settings(database_url=org_db)
    db = Database(org_db)
    with db.session(write=True) as session:
        _, row = tokens.create_token(session=session, actor=system_actor(), username="analyst")
        token_id = row.id
        start = utcnow() - dt.timedelta(minutes=11)
        for n in range(settings.login_lock_after):  # spaced past each delay
            throttle.reserve(
                session=session,
                settings=settings,
                username="analyst",
                address="192.0.2.7",
                now=start + n * dt.timedelta(seconds=61),
            )

    from qingzhi.cli import common as cli_common

    monkeypatch.setattr(cli_common.console, "width", 200)  # one table row per line
    listing = runner.invoke(app, ["user", "list"])
    assert listing.exit_code == 0, listing.output
    line = next(ln for ln in listing.output.splitlines() if "analyst" in ln)
    assert "研判分析员" in line and "启用" in line and "192.0.2.7" in line

    r = runner.invoke(app, ["user", "disable", "analyst"])
    assert r.exit_code == 0, r.output
    assert "吊销令牌 1 个" in r.output
    listing = runner.invoke(app, ["user", "list"])
    assert "停用" in next(ln for ln in listing.output.splitlines() if "analyst" in ln)
    assert runner.invoke(app, ["user", "enable", "analyst"]).exit_code == 0
    assert runner.invoke(app, ["user", "disable", "nobody"]).exit_code == 2

    weak = runner.invoke(app, ["user", "set-password", "analyst", "--password-stdin"], input="x\n")
    assert weak.exit_code == 2 and "密码" in weak.output
    r = runner.invoke(
        app, ["user", "set-password", "analyst"], input="Brand-new-secret-42\nBrand-new-secret-42\n"
    )
    assert r.exit_code == 0, r.output
    mismatch = runner.invoke(
        app, ["user", "set-password", "analyst"], input="Brand-new-secret-42\nsomething-else\n" * 3
    )
    assert mismatch.exit_code != 0  # the two entries must agree

    r = runner.invoke(app, ["user", "unlock", "analyst", "--address", "192.0.2.7"])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["user", "unlock"]).exit_code == 2  # neither user nor address
    r = runner.invoke(app, ["user", "logout", "analyst", "--tokens"])
    assert r.exit_code == 0, r.output

    with db.session() as session:
        user = session.execute(select(User).where(User.username == "analyst")).scalar_one()
        assert check_password(user.password_hash, "Brand-new-secret-42")
        assert user.active
        actions = (
            session.execute(select(AuditRecord.action).where(AuditRecord.entity_id == str(user.id)))
            .scalars()
            .all()
        )
        assert session.get(ApiToken, token_id).revoked_at is not None  # type: ignore[union-attr]
    assert actions[-5:] == [
        "user.disable",
        "user.enable",
        "user.password_reset",
        "auth.unlock",
        "auth.logout_all",
    ]
    db.dispose()


def test_token_expiry_option(org_db: str) -> None:
    r = runner.invoke(app, ["token", "create", "--username", "viewer", "--expires-days", "7"])
    assert r.exit_code == 0, r.output
    assert "有效至" in r.output
    db = Database(org_db)
    with db.session() as session:
        row = session.execute(select(ApiToken).order_by(ApiToken.id.desc()).limit(1)).scalar_one()
        assert round((row.expires_at - row.created_at) / dt.timedelta(days=1)) == 7
    db.dispose()
    r = runner.invoke(app, ["token", "create", "--username", "viewer", "--expires-days", "5000"])
    assert r.exit_code == 2
    assert "expires_days" in r.output


def test_serve_refuses_demo_passwords(cli_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """serve and demo serve refuse to start while an active account has the demo password,
    unless --allow-demo-passwords (then they warn); other accounts are vetted once."""
    import uvicorn

    from qingzhi.demo.loader import DEMO_PASSWORD

    started: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    db = Database(cli_db)
    with db.session(write=True) as session:
        build_org(session)  # accounts made under the password rules: known to be safe
        for username, password in (("demo_admin", DEMO_PASSWORD), ("legacy", "Legacy-secret-77")):
            auth.create_user(  # outside the rules, as the demo loader (or an older version)
                session=session,
                actor=system_actor(),
                username=username,
                password=password,
                password_policy=False,
                role="admin",
            )
    r = runner.invoke(app, ["serve", "--port", "8123"])
    assert r.exit_code == 2
    assert "demo_admin" in r.output and "legacy" not in r.output
    assert started == []
    r = runner.invoke(app, ["demo", "serve", "--port", "8123"])
    assert r.exit_code == 2 and started == []
    # the check found "legacy" free of the demo password and marked it: the next start skips it
    with db.session() as session:
        from qingzhi.auth.models import User

        vetted = dict(session.execute(select(User.username, User.password_vetted)).all())
    assert [name for name, ok in vetted.items() if not ok] == ["demo_admin"]
    r = runner.invoke(app, ["serve", "--port", "8123", "--allow-demo-passwords"])
    assert r.exit_code == 0, r.output
    assert "警告" in r.output and "demo_admin" in r.output and "legacy" not in r.output
    assert started and started[0]["port"] == 8123
    # a disabled demo account does not count
    assert runner.invoke(app, ["user", "disable", "demo_admin"]).exit_code == 0
    r = runner.invoke(app, ["serve", "--port", "8124"])
    assert r.exit_code == 0, r.output
    assert "警告" not in r.output and started[-1]["port"] == 8124
    db.dispose()


def test_sqlite_files_are_private(tmp_path: Path) -> None:
    """A new database file and its -wal and -shm files are readable by their owner only."""
    import os
    import stat

    url = f"sqlite:///{tmp_path / 'private.db'}"
    old = os.umask(0o022)  # a usual umask, which would give 0644
    try:
        migrate(url)
        db = Database(url)
        with db.session(write=True) as session:
            build_org(session)
        with db.session() as session:  # a reader keeps the WAL and the shared memory open
            session.execute(select(ApiToken.id)).all()
            files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        db.dispose()
    finally:
        os.umask(old)
    assert {"private.db", "private.db-wal", "private.db-shm"} <= set(files)
    assert {name: mode for name, mode in files.items() if mode & 0o077} == {}
