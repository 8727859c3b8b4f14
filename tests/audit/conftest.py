"""Fixtures of the audit tests: the append-only triggers dropped (as an attacker holding the
database would), a signing key and checkpoint file, and a database whose writes commit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from qingzhi.audit import signing
from qingzhi.config import Settings
from qingzhi.store.db import Database
from tests.conftest import PG_URL
from tests.live.server import committed_database


@pytest.fixture
def unprotected(connection: Connection) -> Connection:
    """The test's connection with the append-only triggers dropped (rolled back after the test)."""
    drop_triggers(connection)
    return connection


def drop_triggers(connection: Connection) -> None:
    """Drop the triggers that refuse UPDATE and DELETE on audit_record."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("DROP TRIGGER audit_record_no_update")
        connection.exec_driver_sql("DROP TRIGGER audit_record_no_delete")
    else:
        connection.exec_driver_sql("DROP TRIGGER audit_record_append_only ON audit_record")
        connection.exec_driver_sql("DROP TRIGGER audit_record_no_truncate ON audit_record")


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    """A fresh signing key (its public half beside it, as ``.pub``)."""
    path = tmp_path / "keys" / "audit.key"
    signing.generate(path, path.with_name("audit.key.pub"))
    return path


@pytest.fixture
def cp_settings(tmp_path: Path, key_path: Path) -> Settings:
    """Settings with the signing key, the public key and a checkpoint file in tmp_path."""
    return Settings(
        database_url="sqlite://",
        audit_signing_key=key_path,
        audit_public_key=key_path.with_name("audit.key.pub"),
        audit_checkpoint_file=tmp_path / "var" / "audit-checkpoints.log",
        audit_checkpoint_records=100,
        audit_checkpoint_minutes=5,
    )


@pytest.fixture
def committed_db(engine: Engine, tmp_path: Path) -> Iterator[Database]:
    """A migrated database of its own, without the test org, whose transactions really commit
    (a SQLite file, or a PostgreSQL schema dropped afterwards), for several threads at once;
    on the backend of ``engine``."""
    with committed_database(engine.dialect.name, tmp_path, PG_URL) as db:
        yield db
