"""ORM model of a saved plan: its kind, parameters, the inputs it was computed on, its results.

A plan is a snapshot: ``inputs`` holds what the run read from the store (stations, officers,
workload by hour of week, the travel model), ``result`` what it computed, so a plan reads the
same however the organisation changes later. ``unit_id`` places it in a unit for scope (the
unit of the account that ran it; None for the bureau). ``decided_*`` records the admin's
explicit apply or reject.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qingzhi.plans.enums import PlanKind, PlanStatus
from qingzhi.store.base import Base, UTCDateTime, str_enum, utcnow


class Plan(Base):
    """One planning run and its outcome."""

    __tablename__ = "plan"
    __table_args__ = (Index("ix_plan_kind_created", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PlanKind] = mapped_column(str_enum(PlanKind))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus), default=PlanStatus.computing)
    params: Mapped[str] = mapped_column(Text)  # JSON
    inputs: Mapped[str | None] = mapped_column(Text)  # JSON, once computed
    result: Mapped[str | None] = mapped_column(Text)  # JSON, once computed
    error: Mapped[str | None] = mapped_column(Text)  # JSON {"message", "details"}
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(String(500))
