"""Request dependencies of the store: the process's database, the settings and the request's
transaction (one per request; it commits before the response is sent)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from sqlalchemy.orm import Session

from qingzhi.config import Settings
from qingzhi.store.db import Database


def database(request: Request) -> Database:
    """The process's database."""
    db: Database = request.app.state.db
    return db


def settings_of(request: Request) -> Settings:
    """The application's settings."""
    settings: Settings = request.app.state.settings
    return settings


@contextmanager
def transaction(request: Request, *, write: bool) -> Iterator[Session]:
    """One transaction for this request; it commits before the response is sent."""
    with database(request).session(write=write) as session:
        yield session
