"""ORM models of the live domain: the event bus table and each officer's live state."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qingzhi.store.base import Base, UTCDateTime, utcnow

EVENT_ID = BigInteger().with_variant(Integer(), "sqlite")


class LiveEvent(Base):
    """One event on the bus, written in the transaction of the change it reports.

    Subscribers resume from an id (the SSE ``Last-Event-ID``) by reading ``id > last``; an event
    is visible to the scopes that contain ``unit_id`` or ``station_id``.
    """

    __tablename__ = "live_event"

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(Integer)
    station_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)  # JSON


class OfficerLive(Base):
    """An officer's live status and last known position (WGS-84)."""

    __tablename__ = "officer_live"

    officer_id: Mapped[int] = mapped_column(
        ForeignKey("officer.id"), primary_key=True, autoincrement=False
    )
    status: Mapped[str] = mapped_column(String(16))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    heading: Mapped[float | None] = mapped_column(Float)
    fix_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # time of the last position
    camera_url: Mapped[str | None] = mapped_column(String(500))  # body camera stream (HLS)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
