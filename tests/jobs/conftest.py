"""Fixtures for the job tests: signed-in clients, and a committed database for real threads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qingzhi.store.db import Database
from tests.conftest import PG_URL, _backends
from tests.factories import build_org
from tests.incidents.conftest import as_user
from tests.live.server import committed_database

__all__ = ["as_user"]


@pytest.fixture(params=_backends())
def committed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A committed database (SQLite file or a fresh PostgreSQL schema) with the test org, for
    tests whose threads each need their own connection."""
    with committed_database(str(request.param), tmp_path, PG_URL) as db:
        with db.session(write=True) as session:
            build_org(session)
        yield db
