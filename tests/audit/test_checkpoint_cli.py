"""The checkpoint commands on a SQLite file: ``audit keygen``, ``audit checkpoint`` and
``audit verify --checkpoints`` (exit 0 on an intact chain, 1 on a truncation by one record, a full
rewrite or a forged checkpoint, 2 on a missing key)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qingzhi.cli import app
from qingzhi.config import get_settings
from qingzhi.store.db import Database, make_engine, migrate
from tests.audit.conftest import drop_triggers
from tests.audit.tampering import grow, rewrite, truncate
from tests.factories import build_org

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """A migrated database file with the factory organisation, a key pair made by the CLI, and
    the settings pointing at them."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate(url)
    db = Database(url)
    with db.session(write=True) as session:
        build_org(session)
    db.dispose()
    key = tmp_path / "keys" / "audit.key"
    r = runner.invoke(app, ["audit", "keygen", "--out", str(key)])
    assert r.exit_code == 0, r.output
    assert "BEGIN PUBLIC KEY" in r.output
    log = tmp_path / "var" / "audit-checkpoints.log"
    monkeypatch.setenv("QINGZHI_DATABASE_URL", url)
    monkeypatch.setenv("QINGZHI_AUDIT_SIGNING_KEY", str(key))
    monkeypatch.setenv("QINGZHI_AUDIT_CHECKPOINT_FILE", str(log))
    get_settings.cache_clear()
    yield {"db": tmp_path / "cli.db", "key": key, "pub": key.with_name("audit.key.pub"), "log": log}
    get_settings.cache_clear()


def _db(env: dict[str, Path]) -> Database:
    return Database(f"sqlite:///{env['db']}")


def verify(env: dict[str, Path]) -> tuple[int, str]:
    r = runner.invoke(
        app, ["audit", "verify", "--checkpoints", str(env["log"]), "--public-key", str(env["pub"])]
    )
    return r.exit_code, r.output


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(
    env: dict[str, Path],
) -> None:
    assert stat.S_IMODE(env["key"].stat().st_mode) == 0o600
    before = env["key"].read_bytes()
    r = runner.invoke(app, ["audit", "keygen", "--out", str(env["key"])])
    assert r.exit_code == 2
    assert "已存在" in r.output
    assert env["key"].read_bytes() == before


def test_checkpoint_then_verify_then_catch_a_truncation_by_one(env: dict[str, Path]) -> None:
    r = runner.invoke(app, ["audit", "checkpoint"])
    assert r.exit_code == 0, r.output
    assert "已写入检查点" in r.output
    r = runner.invoke(app, ["audit", "checkpoint"])
    assert (r.exit_code, "链头未变" in r.output) == (0, True)
    code, out = verify(env)
    assert code == 0, out
    assert "与 1 个签名检查点一致" in out and "其后 0 条" in out
    seq = json.loads(env["log"].read_text())["seq"]

    engine = make_engine(f"sqlite:///{env['db']}")
    with engine.begin() as conn:
        drop_triggers(conn)
        truncate(conn, seq - 1)
    engine.dispose()
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code == 0  # the chain alone does not see it
    code, out = verify(env)
    assert code == 1
    assert f"seq={seq}" in out and "检查点文件第 1 行" in out and "被删除" in out
    r = runner.invoke(app, ["audit", "checkpoint"])
    assert r.exit_code == 1
    assert "拒绝签署" in r.output and "截断" in r.output


def test_verify_catches_a_full_rewrite(env: dict[str, Path]) -> None:
    db = _db(env)
    grow(db, 40)
    assert runner.invoke(app, ["audit", "checkpoint"]).exit_code == 0
    grow(db, 10)
    db.dispose()
    engine = make_engine(f"sqlite:///{env['db']}")
    with engine.begin() as conn:
        drop_triggers(conn)
        rewrite(conn, 3)
    engine.dispose()
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    code, out = verify(env)
    assert code == 1
    assert "seq=1" in out and "被改写" in out


def test_verify_refuses_a_forged_checkpoint_and_another_key(
    env: dict[str, Path], tmp_path: Path
) -> None:
    assert runner.invoke(app, ["audit", "checkpoint"]).exit_code == 0
    text = env["log"].read_text()
    env["log"].write_text(text.replace('"seq":', '"seq":1'))
    code, out = verify(env)
    assert code == 1 and "签名无效" in out
    env["log"].write_text(text)
    other = tmp_path / "other.key"
    assert runner.invoke(app, ["audit", "keygen", "--out", str(other)]).exit_code == 0
    r = runner.invoke(
        app,
        ["audit", "verify", "--checkpoints", str(env["log"]), "--public-key", f"{other}.pub"],
    )
    assert r.exit_code == 1 and "另一把密钥" in r.output


def test_without_a_key_the_commands_exit_2(
    env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QINGZHI_AUDIT_SIGNING_KEY")
    get_settings.cache_clear()
    r = runner.invoke(app, ["audit", "checkpoint"])
    assert r.exit_code == 2 and "QINGZHI_AUDIT_SIGNING_KEY" in r.output
    r = runner.invoke(app, ["audit", "verify", "--checkpoints", str(env["log"])])
    assert r.exit_code == 2 and "未配置审计公钥" in r.output
    r = runner.invoke(
        app, ["audit", "verify", "--checkpoints", str(env["log"]), "--public-key", "x"]
    )
    assert r.exit_code == 2 and "无法读取" in r.output
