"""ORM models of community policing: officers' community roles and rota, posts (社区警务室),
partners, household visits, disputes with their parties, mediation sessions and linked calls."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from qingzhi.community.enums import (
    DisputeKind,
    DisputeStatus,
    PartnerKind,
    Risk,
    SessionOutcome,
    VisitPurpose,
    VisitStatus,
    VisitTarget,
)
from qingzhi.store.base import Base, UTCDateTime, str_enum, utcnow


class CommunityOfficer(Base):
    """An officer's community-team settings: their community role (e.g. 村居组织副书记) and
    whether they stay in the station's dispatch rota (community-team officers leave it by
    default, 退出大轮班, and take only their own zones' incidents)."""

    __tablename__ = "community_officer"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), unique=True)
    role: Mapped[str] = mapped_column(String(100), default="")
    in_rota: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Post(Base):
    """A community police post (社区警务室) of a zone."""

    __tablename__ = "community_post"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Partner(Base):
    """A community partner who mediates beside the police: a community secretary, a grid worker
    (网格员), a lawyer; a person record, with an account only if one is given."""

    __tablename__ = "community_partner"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"), index=True)
    kind: Mapped[PartnerKind] = mapped_column(str_enum(PartnerKind))
    name: Mapped[str] = mapped_column(String(50))
    organisation: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Visit(Base):
    """A household or business visit (入户走访), planned or done."""

    __tablename__ = "community_visit"
    __table_args__ = (Index("ix_community_visit_zone_at", "zone_id", "visited_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), index=True)
    status: Mapped[VisitStatus] = mapped_column(str_enum(VisitStatus))
    target: Mapped[VisitTarget] = mapped_column(str_enum(VisitTarget))
    purpose: Mapped[VisitPurpose] = mapped_column(str_enum(VisitPurpose))
    planned_for: Mapped[dt.date | None] = mapped_column(Date)
    visited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    address: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    findings: Mapped[str] = mapped_column(Text, default="")
    outside_zone: Mapped[bool] = mapped_column(Boolean, default=False)
    outside_reason: Mapped[str] = mapped_column(String(200), default="")
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Dispute(Base):
    """A dispute (矛盾纠纷): from a dispute call (linked at intake) or a visit's finding."""

    __tablename__ = "dispute"
    # The watch window and a visit are NULL for the disputes intake opens: partial indexes
    # (0019) skip those rows, so intake does not write an index entry for them.
    __table_args__ = (
        Index("ix_dispute_station_reported", "station_id", "reported_at"),
        Index(
            "ix_dispute_watch_until",
            "watch_until",
            sqlite_where=text("watch_until IS NOT NULL"),
            postgresql_where=text("watch_until IS NOT NULL"),
        ),
        Index(
            "ix_dispute_visit_id",
            "visit_id",
            sqlite_where=text("visit_id IS NOT NULL"),
            postgresql_where=text("visit_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), unique=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("community_visit.id"))
    kind: Mapped[DisputeKind] = mapped_column(str_enum(DisputeKind))
    risk: Mapped[Risk] = mapped_column(str_enum(Risk), default=Risk.low)
    status: Mapped[DisputeStatus] = mapped_column(str_enum(DisputeStatus))
    summary: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    first_session_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The state it reached at settlement (kept once followed up and closed).
    outcome: Mapped[DisputeStatus | None] = mapped_column(str_enum(DisputeStatus))
    referred_to: Mapped[str] = mapped_column(String(100), default="")
    follow_up_due: Mapped[dt.date | None] = mapped_column(Date)
    followed_up_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Calls within 30 days of settlement are linked until then; a linked call asks attention.
    watch_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attention: Mapped[bool] = mapped_column(Boolean, default=False)
    repeat_calls: Mapped[int] = mapped_column(Integer, default=0)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DisputeParty(Base):
    """A party to a dispute: name, ID number (GB 11643) and phone, masked on screen."""

    __tablename__ = "dispute_party"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("dispute.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    id_number: Mapped[str | None] = mapped_column(String(18))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    role: Mapped[str] = mapped_column(String(20), default="")


class MediationSession(Base):
    """One mediation session of a dispute, with its package (调解套餐) and who took part."""

    __tablename__ = "mediation_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("dispute.id"), index=True)
    package: Mapped[str | None] = mapped_column(String(32))
    participants: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of names
    partner_ids: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of partner ids
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[SessionOutcome] = mapped_column(str_enum(SessionOutcome))
    agreement: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DisputeCall(Base):
    """A later call linked to a dispute: the same parties' phone or the same place within the
    watch window after settlement, or a repeat call (重复报警) of its incident."""

    __tablename__ = "dispute_call"
    __table_args__ = (UniqueConstraint("dispute_id", "incident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("dispute.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(16))  # phone, place, repeat
    after_settlement: Mapped[bool] = mapped_column(Boolean, default=False)
