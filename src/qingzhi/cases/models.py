"""ORM models of cases: the case, its linked incidents, its team (快侦快办) and its notes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from qingzhi.cases.lifecycle import CaseStatus, Role
from qingzhi.store.base import Base, UTCDateTime, str_enum, utcnow

MONEY = Numeric(14, 2)


class Case(Base):
    """A criminal case (立案), opened from one or more criminal incidents."""

    __tablename__ = "criminal_case"
    __table_args__ = (
        UniqueConstraint("bureau_id", "number", name="uq_criminal_case_bureau_id_number"),
        Index("ix_criminal_case_opened", "opened_at", "unit_id"),
        Index("ix_criminal_case_cleared", "cleared_at", "unit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"))
    number: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    subtype: Mapped[str | None] = mapped_column(String(32))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    loss_yuan: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    rapid: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus), default=CaseStatus.open)
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Hours from opening to clearing, kept when cleared (what fast clearance compares with N).
    hours_to_clear: Mapped[float | None] = mapped_column(Float)
    suspects_caught: Mapped[int] = mapped_column(Integer, default=0)
    recovered_yuan: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CaseIncident(Base):
    """An incident linked to a case (an incident belongs to at most one case)."""

    __tablename__ = "case_incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("criminal_case.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), unique=True)


class CaseMember(Base):
    """A member of a case's team: a unit (and optionally one of its officers) with a role."""

    __tablename__ = "case_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("criminal_case.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"))
    role: Mapped[Role] = mapped_column(str_enum(Role), default=Role.member)


class CaseNote(Base):
    """A note in the case room."""

    __tablename__ = "case_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("criminal_case.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    author_name: Mapped[str] = mapped_column(String(100))
