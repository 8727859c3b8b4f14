"""ORM models of the briefs archive: every generated brief (immutable, versioned) and the
scheduler's claims (one per kind, scope and period: the lock two runners share).

A ``Brief`` row is written once and never updated: its parameters, the data's as-of time, the
computed figures (``content``, JSON), the archived files (``files``: format → path under the data
directory, SHA-256 and size) and a content hash over all of them. Generating the same kind, scope
and period again makes version N+1 (unique per ``scope_key``/kind/period/version). ``unit_id`` is
the brief's unit (None: the whole bureau); ``scope_key`` is "bureau" or "unit:<id>", so that the
uniqueness holds for bureau briefs too (NULLs are never equal in a unique index).

A ``BriefRun`` is the scheduler's claim on one due brief: inserted before the brief is made (the
primary key makes a second runner's insert fail), marked done with the brief's id afterwards; a
claim left running by a runner that died is taken over after ``briefs_claim_minutes``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qingzhi.reports.enums import BriefKind
from qingzhi.store.base import Base, UTCDateTime, str_enum, utcnow


class Brief(Base):
    """One archived brief: a kind, a scope and a period, at one version."""

    __tablename__ = "brief"
    __table_args__ = (
        UniqueConstraint("kind", "scope_key", "period_start", "version"),
        Index("ix_brief_list", "kind", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[BriefKind] = mapped_column(str_enum(BriefKind))
    scope_key: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    params: Mapped[str] = mapped_column(Text)  # JSON
    as_of: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    content: Mapped[str] = mapped_column(Text)  # JSON: the figures
    files: Mapped[str] = mapped_column(Text)  # JSON: {format: {path, sha256, bytes}}
    content_hash: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))  # manual | schedule
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BriefRun(Base):
    """The scheduler's claim on one due brief (kind, scope, period)."""

    __tablename__ = "brief_run"

    kind: Mapped[BriefKind] = mapped_column(str_enum(BriefKind), primary_key=True)
    scope_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    period_start: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done | failed
    worker: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    brief_id: Mapped[int | None] = mapped_column(ForeignKey("brief.id"))
    error: Mapped[str | None] = mapped_column(Text)
