"""Pydantic schemas of the cases API (案件, 快侦快办)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from qingzhi.cases.lifecycle import CaseStatus, Role
from qingzhi.params import DbId, Input, Instant, Text

MAX_INCIDENTS = 50
MAX_TEAM = 50
MAX_YUAN = 1e12


class CaseCreate(Input):
    """A case to open (立案) from criminal incidents."""

    incident_ids: list[DbId] = Field(min_length=1, max_length=MAX_INCIDENTS)
    number: Text | None = Field(default=None, min_length=1, max_length=40)
    title: Text | None = Field(default=None, max_length=200)
    category: Text | None = Field(default=None, max_length=32)
    subtype: Text | None = Field(default=None, max_length=32)
    opened_at: Instant | None = None
    loss_yuan: float = Field(default=0.0, ge=0, le=MAX_YUAN, allow_inf_nan=False)
    rapid: bool = False


class CaseLink(Input):
    """More incidents for a case (several calls can belong to one case)."""

    incident_ids: list[DbId] = Field(min_length=1, max_length=MAX_INCIDENTS)


class MemberIn(Input):
    """A member of a case's team."""

    unit_id: DbId
    officer_id: DbId | None = None
    role: Role = Role.member


class TeamSet(Input):
    """A case's whole team (replaces the one before): exactly one lead."""

    members: list[MemberIn] = Field(min_length=1, max_length=MAX_TEAM)


class Outcome(Input):
    """A case's outcome: cleared (破案) at a time with suspects caught and loss recovered,
    suspended (中止侦查), or reopened."""

    status: CaseStatus
    at: Instant | None = None
    suspects_caught: int = Field(default=0, ge=0, le=10_000)
    recovered_yuan: float = Field(default=0.0, ge=0, le=MAX_YUAN, allow_inf_nan=False)
    note: Text = Field(default="", max_length=2000)


class NoteCreate(Input):
    """A note in the case room."""

    text: Text = Field(min_length=1, max_length=5000)


class MemberRead(BaseModel):
    """A team member as shown."""

    unit_id: int
    unit_name: str
    officer_id: int | None
    officer_name: str | None
    role: Role
    role_label: str


class NoteRead(BaseModel):
    """A note as shown."""

    id: int
    at: dt.datetime
    text: str
    unit_name: str | None
    author_name: str


class LinkedIncident(BaseModel):
    """An incident of the case (those out of the caller's scope are counted, not named)."""

    id: int
    source_id: str
    received_at: dt.datetime
    subtype_label: str
    address: str
    status_label: str


class CaseRead(BaseModel):
    """A case as the caller sees it."""

    id: int
    number: str
    title: str
    category: str
    category_label: str
    subtype: str | None
    subtype_label: str
    unit_id: int
    unit_name: str
    opened_at: dt.datetime
    loss_yuan: float
    rapid: bool
    status: CaseStatus
    status_label: str
    cleared_at: dt.datetime | None
    hours_to_clear: float | None
    fast: bool | None = Field(description="cleared within the fast-clearance hours")
    fast_hours: int
    suspects_caught: int
    recovered_yuan: float
    suspended_at: dt.datetime | None
    incidents: list[LinkedIncident]
    incidents_elsewhere: int
    team: list[MemberRead]
    can_edit: bool
    synthetic: bool


class CasePage(BaseModel):
    """A page of cases."""

    items: list[CaseRead]
    total: int


class Interval(BaseModel):
    """A proportion with its 95% Wilson interval (null estimate: nothing to divide by)."""

    estimate: float | None
    low: float
    high: float


class RateLine(BaseModel):
    """The rates of one unit, category or the whole selection."""

    key: str
    label: str
    opened: int
    cleared: int
    cohort_cleared: int
    fast: int
    clearance: float | None = Field(description="cleared in the period / opened in it")
    cohort: Interval = Field(description="of those opened in the period, share cleared so far")
    fast_rate: Interval = Field(description="cleared within N hours / cleared, in the period")
    loss_yuan: float
    recovered_yuan: float


class Rates(BaseModel):
    """Rates over a period, with their definitions."""

    start: dt.date
    end: dt.date
    group_by: str
    fast_hours: int
    definitions: dict[str, str]
    total: RateLine
    lines: list[RateLine]
