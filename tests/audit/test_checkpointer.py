"""Checkpoints made by several processes' threads at once, by the server while it runs, and what
``POST /api/audit/verify`` reports about the latest one."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from qingzhi.audit import checkpoints, signing
from qingzhi.config import Settings
from qingzhi.store.db import Database
from qingzhi.web.app import create_app
from tests.audit.tampering import grow, truncate
from tests.factories import Org
from tests.helpers import bearer


def _key(settings: Settings) -> Ed25519PrivateKey:
    return signing.load_private(settings.audit_signing_key)  # type: ignore[arg-type]


def test_workers_checkpointing_at_once_write_one_checkpoint(
    committed_db: Database, cp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    grow(committed_db, 500)
    real_sign = signing.sign

    def slow_sign(*args: Any, **kwargs: Any) -> signing.Checkpoint:
        time.sleep(0.05)  # widens the window in which another worker could append
        return real_sign(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "sign", slow_sign)
    workers = [Database(committed_db.url) for _ in range(4)]  # as if four server processes
    start = threading.Barrier(len(workers))
    outcomes: list[str] = []

    def work(db: Database) -> None:
        start.wait()
        outcome = checkpoints.make(db=db, key=_key(cp_settings), settings=cp_settings)
        outcomes.append(outcome.status)

    threads = [threading.Thread(target=work, args=(db,)) for db in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for db in workers:
        db.dispose()
    assert sorted(outcomes) == ["made", "unchanged", "unchanged", "unchanged"]
    assert len(cp_settings.audit_checkpoint_file.read_text().splitlines()) == 1


def test_checkpoints_made_while_records_are_appended_stay_in_order(
    committed_db: Database, cp_settings: Settings
) -> None:
    grow(committed_db, 10)
    done = threading.Event()
    errors: list[BaseException] = []

    def append() -> None:
        try:
            for _ in range(25):
                grow(committed_db, 40)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def checkpoint() -> None:
        db = Database(committed_db.url)
        try:
            while not done.is_set():
                checkpoints.make(db=db, key=_key(cp_settings), settings=cp_settings)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=append)] + [
        threading.Thread(target=checkpoint) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    checkpoints.make(db=committed_db, key=_key(cp_settings), settings=cp_settings)
    public = checkpoints.public_key_of(cp_settings)
    signed = checkpoints.load(cp_settings.audit_checkpoint_file, public)  # in order, or it raises
    assert len(signed) >= 2
    with committed_db.session() as session:
        result = checkpoints.check(session=session, checkpoints=signed)
    assert result.ok, result
    assert (result.records, result.unattested) == (1010, 0)


def _wait_for_lines(path: Path, n: int) -> list[str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"{path} did not get {n} checkpoints")


def test_the_server_makes_checkpoints_while_it_runs_and_on_shutdown(
    committed_db: Database, cp_settings: Settings
) -> None:
    grow(committed_db, 20)
    path = cp_settings.audit_checkpoint_file
    app = create_app(cp_settings, committed_db)
    with TestClient(app):
        first = _wait_for_lines(path, 1)
        grow(committed_db, 5)  # fewer than the 100 records that make one due while serving
    lines = path.read_text().splitlines()
    assert lines[0] == first[0] and len(lines) == 2  # the last one, made on shutdown
    public = checkpoints.public_key_of(cp_settings)
    assert [n.checkpoint.seq for n in checkpoints.load(path, public)] == [20, 25]


def test_without_a_key_the_server_warns_and_makes_none(
    committed_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url="sqlite://", audit_checkpoint_file=tmp_path / "cp.log")
    grow(committed_db, 3)
    with caplog.at_level(logging.WARNING), TestClient(create_app(settings, committed_db)):
        pass
    assert "no audit signing key configured" in caplog.text
    assert not (tmp_path / "cp.log").exists()


def test_verify_endpoint_reports_the_latest_checkpoint(
    db: Database, org: Org, unprotected: Connection, cp_settings: Settings
) -> None:
    settings = cp_settings.model_copy(update={"audit_checkpoint_minutes": 0})  # no thread here
    headers = bearer(db, "admin")
    with TestClient(create_app(settings, db), base_url="http://testserver") as client:
        body = client.post("/api/audit/verify", headers=headers).json()
        assert (body["ok"], body["checkpoint"]) == (True, None)  # none made yet
        seq = grow(db, 10)
        checkpoints.make(db=db, key=_key(settings), settings=settings)
        grow(db, 2)
        body = client.post("/api/audit/verify", headers=headers).json()
        assert body["ok"] is True and body["checked"] == seq + 2
        cp = body["checkpoint"]
        assert (cp["ok"], cp["seq"], cp["unattested"], cp["reason"]) == (True, seq, 2, None)
        assert cp["key"] == signing.key_id(checkpoints.public_key_of(settings))
        truncate(unprotected, seq - 1)
        body = client.post("/api/audit/verify", headers=headers).json()
        assert (body["ok"], body["first_bad_seq"], body["checkpoint"]["ok"]) == (False, seq, False)
        assert "被删除" in body["checkpoint"]["reason"]


def test_verify_endpoint_reports_a_forged_latest_checkpoint(
    db: Database, org: Org, cp_settings: Settings
) -> None:
    settings = cp_settings.model_copy(update={"audit_checkpoint_minutes": 0})
    grow(db, 3)
    checkpoints.make(db=db, key=_key(settings), settings=settings)
    path = settings.audit_checkpoint_file
    path.write_text(path.read_text().replace('"seq":', '"seq":9'))
    with TestClient(create_app(settings, db), base_url="http://testserver") as client:
        body = client.post("/api/audit/verify", headers=bearer(db, "admin")).json()
    assert body["ok"] is False
    assert body["reason"] is None  # the chain itself is intact
    assert "签名无效" in body["checkpoint"]["reason"]
