"""ORM models of incidents: the incident, its lifecycle events and its officer assignments."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from qingzhi.incidents.enums import Category
from qingzhi.incidents.lifecycle import AssignmentStatus, Status
from qingzhi.store.base import Base, UTCDateTime, str_enum, utcnow


class Incident(Base):
    """A 110 call record (警情). Coordinates are stored in WGS-84."""

    __tablename__ = "incident"
    __table_args__ = (
        Index("ix_incident_unit_received", "unit_id", "received_at", "id"),
        Index("ix_incident_received", "received_at", "id"),
        Index("ix_incident_lat_lon", "lat", "lon"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    category: Mapped[Category] = mapped_column(str_enum(Category))
    subtype: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    source_datum: Mapped[str | None] = mapped_column(String(8))
    priority: Mapped[int] = mapped_column(Integer, default=3)
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    invalid_reason: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[Status] = mapped_column(str_enum(Status), default=Status.received)
    # The handling unit (a bundled member's incidents go to its central station) and the
    # station whose jurisdiction holds the place.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"), index=True)
    routed_by: Mapped[str] = mapped_column(String(16))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_reason: Mapped[str | None] = mapped_column(String(200))
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    repeat_count: Mapped[int] = mapped_column(Integer, default=0)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(String(500))  # 处理结果, given at 结警
    # The source system's own call type, district and beat (a CAD export's), beside the mapped
    # category; a correction (``incidents.corrections``) raises the version.
    source_type: Mapped[str | None] = mapped_column(String(100))
    source_district: Mapped[str | None] = mapped_column(String(64))
    source_beat: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    search_text: Mapped[str] = mapped_column(Text, default="")  # bigram tokens, see search.py
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IncidentEvent(Base):
    """One lifecycle step of an incident: who moved it from which status to which, when, why."""

    __tablename__ = "incident_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    note: Mapped[str] = mapped_column(String(500), default="")


# The WHERE term of ux_incident_assignment_active (migration 0010), word for word.
ACTIVE_ASSIGNMENT_SQL = "status IN ('dispatched', 'arrived')"


class IncidentAssignment(Base):
    """An officer sent to an incident, with the assignment's own times: sent (``assigned_at``),
    arrived, cleared. An officer is on at most one active (not cleared) assignment: decided on
    their locked live row, and a unique partial index besides."""

    __tablename__ = "incident_assignment"
    __table_args__ = (
        Index(
            "ux_incident_assignment_active",
            "officer_id",
            unique=True,
            sqlite_where=text(ACTIVE_ASSIGNMENT_SQL),
            postgresql_where=text(ACTIVE_ASSIGNMENT_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    status: Mapped[AssignmentStatus] = mapped_column(
        str_enum(AssignmentStatus), default=AssignmentStatus.dispatched
    )
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # dispatched
    arrived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(500), default="")
    actor: Mapped[str] = mapped_column(String(64))
