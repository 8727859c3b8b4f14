"""Test fixtures: a migrated database per backend, a rolled-back transaction per test, the app,
signed-in clients, and a committed database for tests whose threads or servers need their own
connections.

Every test that takes ``db`` (or ``committed``) runs on SQLite and, when
QINGZHI_TEST_DATABASE_URL is set, on PostgreSQL too. The schema comes from the Alembic migrations.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from qingzhi.config import Settings, shared_data_dir
from qingzhi.store.db import Database, make_engine, migrate
from qingzhi.web.app import create_app
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.factories import Org, build_org
from tests.helpers import bearer
from tests.live.server import committed_database

PG_URL = os.environ.get("QINGZHI_TEST_DATABASE_URL")
SHARED_DATA = shared_data_dir()


def _backends() -> list[object]:
    params: list[object] = ["sqlite"]
    params.append(
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not PG_URL, reason="QINGZHI_TEST_DATABASE_URL is not set (PostgreSQL tests skip)"
            ),
        )
    )
    return params


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session", params=_backends())
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database engine for one backend (one schema per test process on PostgreSQL)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        migrate(url)
        eng = make_engine(url)
    else:
        assert PG_URL
        schema = f"qingzhi_test_{_worker()}_{os.getpid()}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        pg_url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        url_text = pg_url.render_as_string(hide_password=False)
        migrate(url_text)
        eng = make_engine(url_text)
    yield eng
    eng.dispose()
    if request.param == "postgresql":
        admin = make_engine(PG_URL or "")
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        trans = conn.begin()
        yield conn
        trans.rollback()


@pytest.fixture
def db(connection: Connection) -> Database:
    """The Database whose sessions are savepoints in the test's transaction."""
    return Database.on_connection(connection)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for tests (fast throttling; files such as task attachments in a temporary
    data directory)."""
    return Settings(
        database_url="sqlite://", login_slow_after=3, login_lock_after=6, data_dir=tmp_path / "data"
    )


@pytest.fixture
def org(db: Database) -> Org:
    """A small organisation with one user of every role."""
    with db.session(write=True) as session:
        return build_org(session)


@pytest.fixture
def app(settings: Settings, db: Database) -> FastAPI:
    """The web application on the test's transaction."""
    return create_app(settings, db)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client for the app (same-origin host)."""
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def as_user(client: TestClient, db: Database, org: Org) -> Callable[[str], TestClient]:
    """A function giving the client with a bearer token of the named user (one token each)."""
    headers: dict[str, dict[str, str]] = {}

    def use(username: str) -> TestClient:
        if username not in headers:
            headers[username] = bearer(db, username)
        client.headers.update(headers[username])
        return client

    return use


@pytest.fixture
def admin(db: Database, org: Org) -> dict[str, str]:
    """Authorization headers of the bureau's administrator."""
    return bearer(db, "admin")


@pytest.fixture(params=_backends())
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A committed database (SQLite file or a fresh PostgreSQL schema) with the test org, for
    tests whose threads or servers each need their own connection."""
    with committed_database(str(request.param), tmp_path, PG_URL) as db:
        with db.session(write=True) as session:
            build_org(session)
        yield db


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (browser tests only: ``tests.browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> Iterator[None]:
    """Argon2id with low cost parameters, so that building users in every test stays fast."""
    from argon2 import PasswordHasher

    from qingzhi.auth import passwords

    original, original_dummy = passwords._hasher, passwords._DUMMY_HASH
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    # the unknown-user path checks this hash: cheap too (its cost is in the hash itself)
    passwords._DUMMY_HASH = passwords._hasher.hash("qingzhi-timing-equaliser")
    yield
    passwords._hasher, passwords._DUMMY_HASH = original, original_dummy
