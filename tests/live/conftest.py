"""Fixtures for live tests: bearer-token clients, a committed database and a served app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qingzhi.store.db import Database
from tests.conftest import PG_URL, _backends
from tests.factories import Org, build_org
from tests.helpers import bearer
from tests.live.server import committed_database, serve


@pytest.fixture
def as_user(client: TestClient, db: Database, org: Org) -> Callable[[str], TestClient]:
    """A function giving the client with a bearer token of the named user."""
    headers: dict[str, dict[str, str]] = {}

    def use(username: str) -> TestClient:
        if username not in headers:
            headers[username] = bearer(db, username)
        client.headers.update(headers[username])
        return client

    return use


@pytest.fixture(params=_backends())
def live_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A committed database (SQLite file or a fresh PostgreSQL schema) with the test org."""
    with committed_database(str(request.param), tmp_path, PG_URL) as db:
        with db.session(write=True) as session:
            build_org(session)
        yield db


@pytest.fixture
def live_server(live_db: Database) -> Iterator[str]:
    """The app on ``live_db`` served on a loopback port."""
    with serve(live_db) as url:
        yield url
