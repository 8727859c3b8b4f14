"""ORM models of the organisation: bureau, units, zones (片区) and officers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qingzhi.org.enums import DutyStatus, OfficerKind, Team, UnitKind
from qingzhi.store.base import Base, UTCDateTime, str_enum, utcnow


class Bureau(Base):
    """The county public security bureau (公安局); one per deployment."""

    __tablename__ = "bureau"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    population: Mapped[int | None] = mapped_column(Integer)
    boundary: Mapped[str | None] = mapped_column(Text)  # GeoJSON geometry, WGS-84
    # The place (``qingzhi place init``): its IANA time zone and projected CRS for metric work.
    timezone: Mapped[str | None] = mapped_column(String(64))
    projected_crs: Mapped[str | None] = mapped_column(String(32))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class Unit(Base):
    """A unit of the bureau: a station, a central station, a squad, the command centre…"""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[UnitKind] = mapped_column(str_enum(UnitKind))
    # A bundled member station points at the central station that runs it (捆绑运行).
    central_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    population: Mapped[int | None] = mapped_column(Integer)
    jurisdiction: Mapped[str | None] = mapped_column(Text)  # GeoJSON geometry, WGS-84
    # True when derived from the calls' district column (shown as 推算 on screen).
    jurisdiction_derived: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    traffic_integrated: Mapped[bool] = mapped_column(Boolean, default=False)
    service_window: Mapped[bool] = mapped_column(Boolean, default=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    central: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="members")
    members: Mapped[list[Unit]] = relationship(back_populates="central", order_by="Unit.code")


class Zone(Base):
    """A zone (片区) of a station, the beat of its community team."""

    __tablename__ = "zone"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    station_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    population: Mapped[int | None] = mapped_column(Integer)
    geometry: Mapped[str | None] = mapped_column(Text)  # GeoJSON geometry, WGS-84
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    station: Mapped[Unit] = relationship()


class Officer(Base):
    """A sworn officer (民警) or an auxiliary (辅警)."""

    __tablename__ = "officer"

    id: Mapped[int] = mapped_column(primary_key=True)
    police_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(50), index=True)
    kind: Mapped[OfficerKind] = mapped_column(str_enum(OfficerKind))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    team: Mapped[Team | None] = mapped_column(str_enum(Team))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"), index=True)
    duty_status: Mapped[DutyStatus] = mapped_column(
        str_enum(DutyStatus), default=DutyStatus.off_duty
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    unit: Mapped[Unit] = relationship()
    zone: Mapped[Zone | None] = relationship()
