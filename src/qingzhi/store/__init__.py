"""The store: SQLAlchemy engine, session scope, declarative base and Alembic migrations."""

from qingzhi.store.base import Base, UTCDateTime, utcnow
from qingzhi.store.db import Database, make_engine, migrate

__all__ = ["Base", "Database", "UTCDateTime", "make_engine", "migrate", "utcnow"]
