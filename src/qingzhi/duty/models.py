"""ORM models of duty rosters: shift patterns (排班班次) and who works which (排班表)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from qingzhi.duty.rota import Pattern
from qingzhi.store.base import Base, UTCDateTime, utcnow


class DutyShift(Base):
    """A unit's shift: its hours, its cycle of days, and whether it is street duty.

    Street duty (``street``: patrol, traffic, community work in the zones) puts its people on the
    map and among dispatch candidates while on duty; office duty (case work, investigation, the
    command centre's desks) keeps them off the street.
    """

    __tablename__ = "duty_shift"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    starts_min: Mapped[int] = mapped_column(Integer)  # minutes after local midnight
    ends_min: Mapped[int] = mapped_column(Integer)  # at or before the start: ends the next day
    cycle_days: Mapped[int] = mapped_column(Integer, default=1)
    on_days: Mapped[int] = mapped_column(Integer, default=1)
    street: Mapped[bool] = mapped_column(Boolean, default=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def pattern(self) -> Pattern:
        """The pure rota rule of this shift."""
        return Pattern(self.starts_min, self.ends_min, self.cycle_days, self.on_days)


class DutyRoster(Base):
    """Which shift an officer works, and their place (phase) in its cycle."""

    __tablename__ = "duty_roster"

    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("duty_shift.id"), index=True)
    phase: Mapped[int] = mapped_column(Integer, default=0)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
