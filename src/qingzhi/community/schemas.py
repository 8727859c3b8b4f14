"""Pydantic schemas of the community API: disputes and their parties and sessions, visits,
posts, partners, officers' community settings, and the measures."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qingzhi.community import idnumber
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
from qingzhi.org.enums import Team
from qingzhi.params import Day, DbId, Input, Instant

log = logging.getLogger(__name__)

Phone = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^\+?[0-9][0-9 \-]{2,31}$")]
Name = Annotated[str, Field(min_length=1, max_length=50)]
Words = Annotated[str, Field(max_length=4000)]


class _Strict(Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Point(_Strict):
    """A WGS-84 point."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class PartyIn(_Strict):
    """A party to a dispute; the ID number must pass the GB 11643 check."""

    name: Name
    id_number: str | None = Field(default=None, max_length=20)
    phone: Phone | None = None
    role: str = Field(default="", max_length=20)

    @field_validator("id_number")
    @classmethod
    def _valid_id(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        number = idnumber.normalised(value)
        why = idnumber.problem(number)
        if why:
            raise ValueError(f"身份证号码无效：{why}")
        return number


class PartyRead(BaseModel):
    """A party as shown: ID number and phone masked unless unmasked (audited)."""

    id: int
    name: str
    id_number: str | None
    phone: str | None
    role: str
    masked: bool


class DisputeCreate(_Strict):
    """A dispute from a visit's finding, a dispute incident or the desk."""

    kind: DisputeKind = DisputeKind.other
    risk: Risk = Risk.low
    summary: Words = ""
    address: str = Field(default="", max_length=500)
    location: Point | None = None
    zone_id: DbId | None = None
    incident_id: DbId | None = None
    visit_id: DbId | None = None
    reported_at: Instant | None = None
    parties: list[PartyIn] = Field(default_factory=list, max_length=20)


class DisputeUpdate(_Strict):
    """Risk, type, summary, parties added, or the attention flag cleared."""

    kind: DisputeKind | None = None
    risk: Risk | None = None
    summary: Words | None = None
    attention: bool | None = None
    add_parties: list[PartyIn] = Field(default_factory=list, max_length=20)


class SessionCreate(_Strict):
    """One mediation session: its package, who took part, when, how it ended."""

    package: str | None = Field(default=None, max_length=32)
    participants: list[Name] = Field(default_factory=list, max_length=20)
    partner_ids: list[DbId] = Field(default_factory=list, max_length=20)
    officer_id: DbId | None = None
    started_at: Instant
    ended_at: Instant
    outcome: SessionOutcome
    agreement: Words = ""


class SessionRead(BaseModel):
    """A mediation session as shown."""

    id: int
    package: str | None
    package_label: str
    participants: list[str]
    partner_ids: list[int]
    officer_id: int | None
    started_at: dt.datetime
    ended_at: dt.datetime
    minutes: float
    outcome: SessionOutcome
    outcome_label: str
    agreement: str


class DisputeTransition(_Strict):
    """A step of a dispute's lifecycle."""

    to: DisputeStatus
    at: Instant | None = None
    referred_to: str = Field(default="", max_length=100)
    follow_up_due: Day | None = None
    note: str = Field(default="", max_length=500)


class LinkedCall(BaseModel):
    """A later call linked to a dispute (its id only when the call is in the caller's scope)."""

    incident_id: int | None
    received_at: dt.datetime
    reason: str
    after_settlement: bool


class DisputeRead(BaseModel):
    """A dispute as shown."""

    id: int
    station_id: int | None
    zone_id: int | None
    zone_name: str | None
    incident_id: int | None
    visit_id: int | None
    kind: DisputeKind
    kind_label: str
    risk: Risk
    risk_label: str
    status: DisputeStatus
    status_label: str
    allowed: list[DisputeStatus]
    summary: str
    address: str
    lon: float | None
    lat: float | None
    reported_at: dt.datetime
    first_session_at: dt.datetime | None
    settled_at: dt.datetime | None
    duration_minutes: float | None
    referred_to: str
    follow_up_due: dt.date | None
    follow_up_overdue: bool
    followed_up_at: dt.datetime | None
    closed_at: dt.datetime | None
    attention: bool
    repeat_calls: int
    synthetic: bool
    parties: list[PartyRead] = Field(default_factory=list)
    sessions: list[SessionRead] = Field(default_factory=list)
    calls: list[LinkedCall] = Field(default_factory=list)


class DisputePage(BaseModel):
    """A page of disputes."""

    items: list[DisputeRead]
    total: int


class VisitCreate(_Strict):
    """A visit, done (the default: logged on the spot) or planned."""

    zone_id: DbId
    status: VisitStatus = VisitStatus.done
    target: VisitTarget = VisitTarget.household
    purpose: VisitPurpose = VisitPurpose.prevention
    planned_for: Day | None = None
    visited_at: Instant | None = None
    officer_id: DbId | None = None
    address: str = Field(default="", max_length=200)
    notes: Words = ""
    findings: Words = ""
    outside_reason: str = Field(default="", max_length=200)


class VisitDone(_Strict):
    """A planned visit made (or cancelled)."""

    to: VisitStatus
    visited_at: Instant | None = None
    notes: Words | None = None
    findings: Words | None = None


class VisitTask(_Strict):
    """A task (督办任务) opened from a visit's finding: everything but the visit may be left out
    (title from the findings, owner the visit's station, deadline ``VISIT_TASK_DAYS`` ahead)."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    instructions: Words | None = None
    owner_unit_id: DbId | None = None
    owner_officer_id: DbId | None = None
    deadline: Instant | None = None
    priority: int = Field(default=3, ge=1, le=4)


class VisitRead(BaseModel):
    """A visit as shown."""

    id: int
    station_id: int
    zone_id: int
    zone_name: str
    officer_id: int | None
    officer_name: str | None
    status: VisitStatus
    status_label: str
    target: VisitTarget
    target_label: str
    purpose: VisitPurpose
    purpose_label: str
    planned_for: dt.date | None
    visited_at: dt.datetime | None
    address: str
    notes: str
    findings: str
    outside_zone: bool
    outside_reason: str
    dispute_ids: list[int] = Field(default_factory=list)
    task_ids: list[int] = Field(default_factory=list)
    warning: str | None = None


class PostCreate(_Strict):
    """A community police post of a zone."""

    zone_id: DbId
    name: Name
    address: str = Field(default="", max_length=200)
    phone: Phone | None = None
    location: Point | None = None


class PostRead(BaseModel):
    """A post with the officers embedded in its zone."""

    id: int
    station_id: int
    zone_id: int
    zone_name: str
    name: str
    address: str
    phone: str | None
    lon: float | None
    lat: float | None


class PartnerCreate(_Strict):
    """A community partner (a person record, no account unless given)."""

    kind: PartnerKind
    name: Name
    organisation: str = Field(default="", max_length=100)
    phone: Phone | None = None
    zone_id: DbId | None = None
    station_id: DbId | None = None


class PartnerRead(BaseModel):
    """A partner as shown (the phone is a work contact, shown whole)."""

    id: int
    station_id: int
    zone_id: int | None
    kind: PartnerKind
    kind_label: str
    name: str
    organisation: str
    phone: str | None


class OfficerSetting(_Strict):
    """An officer's team (两队一室), zone, community role and rota."""

    team: Team | None = None
    zone_id: DbId | None = None
    role: str | None = Field(default=None, max_length=100)
    in_rota: bool | None = None


class OfficerCommunity(BaseModel):
    """An officer's place in the station's three parts."""

    officer_id: int
    name: str
    police_number: str
    kind: str
    unit_id: int
    team: Team | None
    team_label: str
    zone_id: int | None
    role: str
    in_rota: bool


class TeamRead(BaseModel):
    """One of a station's three parts and its people."""

    team: Team
    label: str
    officers: list[OfficerCommunity]


class MeasureRow(BaseModel):
    """The measures of one unit (zone, station or the whole scope) over a period."""

    level: str
    unit_id: int | None
    name: str
    disputes: int
    mediated: int
    median_minutes: float | None
    share_within_30: float | None
    share_in_community: float | None
    settled: int
    repeat_within_30: int
    repeat_rate: float | None
    visits: int
    households_estimate: int | None
    coverage: float | None
    found_by_visits: int
    found_before_call: int


class Measures(BaseModel):
    """The measures for a period, by station and zone; households are estimates."""

    start: dt.date
    end: dt.date
    household_size: float
    rows: list[MeasureRow]
