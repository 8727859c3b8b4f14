"""ORM models of the evaluation: scoring schemes (one row a version) and recorded reforms.

A scheme's row is immutable: its TOML text, its content digest (unique) and a version label.
Changing a scheme adds a row; old scores are reproduced from the old row. A reform is a dated
change of some stations (bundling, traffic integration, …): the stations it changed are its
treated units; every other station is a control.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qingzhi.store.base import Base, UTCDateTime, utcnow


class KpiScheme(Base):
    """One version of a scoring scheme (考核方案)."""

    __tablename__ = "kpi_scheme"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    toml: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reform(Base):
    """A recorded reform: what changed, from which date, in which stations."""

    __tablename__ = "reform"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    effective: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text, default="")
    synthetic: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ReformUnit(Base):
    """A station the reform changed (a treated unit)."""

    __tablename__ = "reform_unit"

    reform_id: Mapped[int] = mapped_column(
        ForeignKey("reform.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True, index=True)
