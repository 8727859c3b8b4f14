"""Engines and the session scope: one transaction per request or CLI command.

SQLite runs in WAL mode with ``synchronous=FULL`` and foreign keys on. Its driver's own transaction
handling is switched off so that qingzhi emits ``BEGIN`` itself: a writing scope takes the write
lock at once (``BEGIN IMMEDIATE``), so the audit chain head it reads cannot move under it. The
writer lock and the group commit of single writes are ``store.writer``'s.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Select, create_engine, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from qingzhi.store.writer import GroupCommit, WriterLock

if TYPE_CHECKING:
    from qingzhi.config import Settings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
WRITE_OPTION = "qingzhi_write"


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _create_private(path: Path) -> None:
    """Create a missing database file readable and writable by its owner only (mode 0600):
    SQLite gives its -wal and -shm files the database file's mode. An existing file that
    others may read is left as it is, with a warning."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("database file %s has mode %o: others may read it (chmod 600)", path, mode)
        return
    os.close(fd)


def make_engine(
    url: str, *, busy_timeout_ms: int = 30_000, cache_mb: int = 64, **kwargs: Any
) -> Engine:
    """An engine for ``url`` with qingzhi's SQLite pragmas and transaction handling applied."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_private(path)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        poolclass=kwargs.pop("poolclass", NullPool if path is None else None),
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")  # in KiB when negative
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the project's migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head", *, connection: Connection | None = None) -> None:
    """Bring the schema at ``url`` (or on ``connection``) up to ``revision``."""
    cfg = alembic_config(url)
    if connection is not None:
        cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


T = TypeVar("T")


class HotRead:
    """A SELECT run straight on a pooled DBAPI connection: compiled once per dialect, without an
    ORM session, SQLAlchemy's connection wrapper or an explicit transaction (one statement reads
    one consistent snapshot). It costs about a tenth of a read session, for lookups made on every
    request (a bearer token). Values go through their column types' result processors, as
    SQLAlchemy's own results do. In a Database bound to a test's connection it runs there."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._plans: dict[str, tuple[str, Callable[[dict[str, Any]], Any], list[Any]]] = {}

    def _plan(self, dialect: Dialect) -> tuple[str, Callable[[dict[str, Any]], Any], list[Any]]:
        plan = self._plans.get(dialect.name)
        if plan is None:
            compiled = self.statement.compile(dialect=dialect)
            defaults = dict(compiled.params)
            positions = compiled.positiontup
            if positions is not None:
                names = tuple(positions)

                def args(params: dict[str, Any]) -> Any:
                    return tuple(params[n] if n in params else defaults[n] for n in names)

            else:

                def args(params: dict[str, Any]) -> Any:
                    return {**defaults, **params}

            processors = [
                c.type.dialect_impl(dialect).result_processor(dialect, None)
                for c in self.statement.selected_columns
            ]
            plan = self._plans[dialect.name] = (str(compiled), args, processors)
        return plan

    def all(self, db: Database, **params: Any) -> list[tuple[Any, ...]]:
        """Every row for ``params``."""
        if db.connection is not None:
            return [tuple(r) for r in db.connection.execute(self.statement, params)]
        sql, args, processors = self._plan(db.engine.dialect)
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(sql, args(params))
                rows = cursor.fetchall()
            finally:
                cursor.close()
        finally:
            raw.close()  # back to the pool, which rolls back (ends PostgreSQL's transaction)
        if not any(processors):
            return [tuple(r) for r in rows]
        return [
            tuple(v if p is None else p(v) for p, v in zip(processors, r, strict=True))
            for r in rows
        ]


class Database(GroupCommit):
    """The engine and its session factories; one per process."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_ms: int = 30_000,
        cache_mb: int = 64,
        gather_ms: float = 0.0,
        **engine_kwargs: Any,
    ) -> None:
        self.url = url
        self.engine = make_engine(
            url, busy_timeout_ms=busy_timeout_ms, cache_mb=cache_mb, **engine_kwargs
        )
        self.connection: Connection | None = None  # set when bound to a test's transaction
        self._read = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            bind=self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )
        sqlite = self.engine.dialect.name == "sqlite"
        self._writes(
            WriterLock(_sqlite_path(url), busy_timeout_ms) if sqlite else nullcontext(), gather_ms
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The configured database with its SQLite settings (the server's and the CLI's)."""
        return cls(
            settings.database_url,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            cache_mb=settings.sqlite_cache_mb,
            gather_ms=settings.sqlite_gather_ms,
        )

    @classmethod
    def on_connection(cls, connection: Connection) -> Database:
        """A Database whose sessions run as savepoints inside ``connection``'s transaction.

        Tests use it: each test's outer transaction is rolled back at the end.
        """
        db = cls.__new__(cls)
        db.url = str(connection.engine.url)
        db.engine = connection.engine
        db.connection = connection
        factory = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        db._read = db._write = factory
        db._writes(nullcontext(), 0.0)
        return db

    @property
    def dialect(self) -> str:
        """The backend's name: ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        if not write:
            with self._read() as session, session.begin():
                yield session
            return
        with self._writer, self._write() as session, session.begin():
            yield session

    def write_each(self, jobs: Iterable[Callable[[Session], T]]) -> Iterator[T]:
        """Run each job in a write transaction of its own, in order; yield its result once
        committed. While one commits (on SQLite, a wait for the disk during which the driver
        holds no GIL), a helper thread does the commit and this thread draws the next job from
        ``jobs``, so whatever makes a job (reading, validating, routing the next batch) overlaps
        the flush. A job that fails is rolled back and its error raised; nothing after it runs."""
        it = iter(jobs)
        job = next(it, None)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qingzhi-commit") as helper:
            while job is not None:
                with self._writer, self._write() as session:  # closing it rolls back a failure
                    transaction = session.begin()
                    result = job(session)
                    committed = helper.submit(transaction.commit)
                    try:
                        job = next(it, None)
                    finally:
                        committed.result()
                yield result

    def analyze(self) -> None:
        """Refresh the query planner's statistics (after a bulk load the plans depend on it)."""
        with self.session(write=True) as session:
            session.execute(text("ANALYZE"))

    def dispose(self) -> None:
        """Stop the writer thread (after the writes queued) and close every pooled connection."""
        self._stop_writer()
        self.engine.dispose()
