"""The store: SQLite pragmas, the schema from the migrations, the UTC column type."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    bindparam,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import StatementError

from qingzhi.models import Base
from qingzhi.org.models import Unit
from qingzhi.store.base import UTCDateTime
from qingzhi.store.db import Database, HotRead, alembic_config, make_engine, migrate
from tests.factories import Org


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -64 * 1024  # 64 MB
    engine.dispose()


def test_test_engine_has_the_pragmas(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_foreign_keys_are_enforced(db: Database, org: Org) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"), db.session(write=True) as session:
        session.get(Unit, org.id("A")).central_id = 999_999  # type: ignore[union-attr]
        session.flush()


def test_schema_comes_from_the_migrations(connection: Connection) -> None:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == head
    tables = set(inspect(connection).get_table_names())
    assert {"alembic_version", "bureau", "unit", "zone", "officer", "app_user"} <= tables
    assert {"web_session", "api_token", "audit_record", "audit_head"} <= tables


def test_migrations_match_the_models(connection: Connection) -> None:
    """Every table, column, index and type of the ORM models is in the migrated schema."""

    def include(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
        # objects only the migrations create (full-text tables, expression indexes) are fine
        return not (reflected and other is None)

    ctx = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": include}
    )
    diffs = compare_metadata(ctx, Base.metadata)
    assert diffs == []


def test_migrate_a_fresh_file_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate(url)
    migrate(url)  # idempotent
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT seq, hash FROM audit_head")).one() == (0, "0" * 64)
    engine.dispose()


def test_naive_datetime_is_refused(db: Database, org: Org) -> None:
    with pytest.raises(StatementError, match="naive datetime"), db.session(write=True) as session:
        unit = session.get(Unit, org.id("A"))
        assert unit is not None
        unit.created_at = dt.datetime(2026, 1, 1, 8, 0)  # naive
        session.flush()


def test_aware_datetimes_round_trip_as_utc(db: Database, org: Org) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    local = dt.datetime(2026, 1, 1, 8, 30, 15, 250_000, tzinfo=shanghai)
    with db.session(write=True) as session:
        unit = session.get(Unit, org.id("A"))
        assert unit is not None
        unit.created_at = local
    with db.session() as session:
        stored = session.execute(select(Unit.created_at).where(Unit.id == org.id("A"))).scalar_one()
        assert stored == local
        assert stored.utcoffset() == dt.timedelta(0)
        assert stored.hour == 0 and stored.minute == 30
        # comparisons in SQL work across zones
        later = session.execute(
            select(Unit.code).where(Unit.created_at > dt.datetime(2026, 1, 1, 0, 30, tzinfo=dt.UTC))
        ).scalars()
        assert "A" in list(later)


def test_utc_type_refuses_naive_directly() -> None:
    t = UTCDateTime()
    with pytest.raises(ValueError, match="naive"):
        t.process_bind_param(dt.datetime(2026, 1, 1), sqlite.dialect())
    assert t.process_bind_param(None, sqlite.dialect()) is None
    aware = dt.datetime(2026, 1, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert t.process_bind_param(aware, sqlite.dialect()) == dt.datetime(2026, 1, 1, 0)
    assert t.process_result_value(dt.datetime(2026, 1, 1), sqlite.dialect()) == dt.datetime(
        2026, 1, 1, tzinfo=dt.UTC
    )


def test_write_session_takes_the_write_lock_at_once(tmp_path: Path) -> None:
    """A writing scope begins IMMEDIATE: a second writer waits (here: fails fast)."""
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    migrate(url)
    first = Database(url)
    second = Database(url, busy_timeout_ms=50)
    with first.session(write=True) as s1:
        s1.execute(text("SELECT 1"))  # the scope's first statement begins the transaction
        with pytest.raises(Exception, match="locked"), second.session(write=True) as s2:
            s2.execute(text("SELECT 1"))
        # readers are not blocked (WAL)
        with second.session() as s:
            assert s.execute(text("SELECT count(*) FROM unit")).scalar_one() == 0
    first.dispose()
    second.dispose()


def test_writers_of_two_processes_queue_on_the_lock_file(tmp_path: Path) -> None:
    """Two Database objects on one file stand for two processes (each its own lock file
    descriptor): the second writer waits for the first, then writes; it does not fail."""
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    migrate(url)
    first, second = Database(url), Database(url)
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with first.session(write=True) as s:
            s.execute(text("CREATE TABLE t (x INTEGER)"))
            holding.set()
            time.sleep(0.3)
            s.execute(text("INSERT INTO t VALUES (1)"))
        done.set()

    worker = threading.Thread(target=hold)
    worker.start()
    holding.wait(5)
    with second.session(write=True) as s:
        assert done.is_set()  # it got the lock only after the first committed
        s.execute(text("INSERT INTO t VALUES (2)"))
    worker.join()
    with second.session() as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    first.dispose()
    second.dispose()


def test_session_rolls_back_on_error(db: Database, org: Org) -> None:
    with pytest.raises(RuntimeError), db.session(write=True) as session:
        session.get(Unit, org.id("A")).name = "改名"  # type: ignore[union-attr]
        session.flush()
        raise RuntimeError("boom")
    with db.session() as session:
        assert session.get(Unit, org.id("A")).name == "城一派出所"  # type: ignore[union-attr]


def test_hot_read_binds_parameters_and_converts_results(engine: Engine) -> None:
    """``HotRead`` on each backend's own parameter style: given and default parameters, and
    values through their types (a UTC time comes back aware)."""
    db = Database(engine.url.render_as_string(hide_password=False))
    read = HotRead(
        select(
            bindparam("n", type_=Integer) + literal(1, Integer),
            bindparam("word", "默认", type_=String),
            bindparam("at", type_=UTCDateTime),
        )
    )
    at = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)
    assert read.all(db, n=2, at=at) == [(3, "默认", at)]
    assert read.all(db, n=5, word="x", at=at) == [(6, "x", at)]
    db.dispose()


@pytest.mark.parametrize("count", [1, 3, 40])
def test_bulk_insert_stores_times_as_the_orm_does(db: Database, org: Org, count: int) -> None:
    """``insert_rows`` writes UTC times in the text SQLAlchemy's SQLite type reads back (one
    by one for a few values, vectorised for many, once for a column of one time), and they
    round-trip as the same aware instants."""
    from qingzhi.audit.models import AuditRecord
    from qingzhi.store.base import table_of
    from qingzhi.store.bulk import insert_rows

    shanghai = dt.timezone(dt.timedelta(hours=8))
    times = [
        dt.datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=shanghai) + dt.timedelta(minutes=7 * i)
        for i in range(count)
    ]
    rows: list[dict[str, Any]] = [
        {
            "seq": 1000 + i,
            "at": at,
            "actor": "t",
            "action": "test.bulk",
            "entity_kind": "test",
            "entity_id": str(i),
            "diff": "{}",
            "prev_hash": "",
            "hash": "",
        }
        for i, at in enumerate(times)
    ]
    with db.session(write=True) as session:
        insert_rows(session.connection(), table_of(AuditRecord), rows)
        insert_rows(
            session.connection(),
            table_of(AuditRecord),
            [{**r, "seq": r["seq"] + 1000, "at": times[0]} for r in rows],
        )
        got = session.execute(
            select(AuditRecord.seq, AuditRecord.at).where(AuditRecord.action == "test.bulk")
        ).all()
        if db.dialect == "sqlite":  # the very text SQLAlchemy binds, so SQL compares them right
            raw = session.connection().exec_driver_sql(
                "SELECT at FROM audit_record WHERE seq IN (1000, 2000)"
            )
            assert {r[0] for r in raw} == {"2026-11-01 02:00:00.123456"}
    stored = dict(got)
    assert [stored[1000 + i] for i in range(count)] == times
    assert {stored[2000 + i] for i in range(count)} == {times[0]}
    assert all(at.tzinfo is not None for at in stored.values())
