"""Pydantic schemas of the tasks API (督办)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from qingzhi.incidents.enums import Category
from qingzhi.params import DbId, Input, Instant, Text
from qingzhi.tasks.lifecycle import SourceKind, TaskStatus

MAX_HELPERS = 20


class TaskCreate(Input):
    """A task to issue (or to keep as a draft)."""

    title: Text = Field(min_length=1, max_length=200)
    instructions: Text = Field(default="", max_length=10_000)
    source_kind: SourceKind = SourceKind.none
    source_ref: Text | None = Field(default=None, max_length=64)
    owner_unit_id: DbId
    owner_officer_id: DbId | None = None
    helper_unit_ids: list[DbId] = Field(default_factory=list, max_length=MAX_HELPERS)
    deadline: Instant
    priority: int = Field(default=3, ge=1, le=4)
    feedback_hours: int | None = Field(default=None, ge=1, le=24 * 30)
    draft: bool = False


class TaskMove(Input):
    """A step of a task's lifecycle, with an optional note (a return's reason, a verdict)."""

    to: TaskStatus
    note: Text = Field(default="", max_length=2000)


class ReportCreate(Input):
    """A progress report."""

    text: Text = Field(min_length=1, max_length=5000)


class UnitRef(BaseModel):
    """A unit named by id and name."""

    id: int
    name: str


class AttachmentRead(BaseModel):
    """A file attached to a task (downloaded at ``url``)."""

    id: int
    report_id: int | None
    sha256: str
    size: int
    media_type: str
    filename: str
    uploaded_at: dt.datetime
    uploader_name: str
    url: str


class ReportRead(BaseModel):
    """A report on a task."""

    id: int
    at: dt.datetime
    kind: str
    kind_label: str
    text: str
    unit_name: str | None
    author_name: str
    attachments: list[AttachmentRead] = Field(default_factory=list)


class TaskRead(BaseModel):
    """A task as the caller sees it, with what is derived from the clock (overdue, due soon,
    a missed feedback cadence, where it is escalated) and what the caller may do."""

    id: int
    title: str
    instructions: str
    source_kind: SourceKind
    source_label: str
    source_ref: str | None
    source_url: str | None
    issuer_unit: UnitRef | None
    issuer_name: str
    owner_unit: UnitRef
    owner_officer_id: int | None
    owner_officer_name: str | None
    helper_units: list[UnitRef]
    deadline: dt.datetime
    priority: int
    priority_label: str
    feedback_hours: int | None
    status: TaskStatus
    status_label: str
    issued_at: dt.datetime | None
    accepted_at: dt.datetime | None
    submitted_at: dt.datetime | None
    closed_at: dt.datetime | None
    last_report_at: dt.datetime | None
    overdue: bool
    due_soon: bool
    feedback_missed: bool
    escalated_to: list[str] = Field(description="boards the overdue task is escalated to")
    actions: list[TaskStatus] = Field(description="the steps the caller may take now")
    can_report: bool
    operation: bool = Field(default=False, description="a special operation (专项行动)")
    synthetic: bool


class TaskPage(BaseModel):
    """One page of a board, with the counts of the whole selection."""

    items: list[TaskRead]
    total: int
    by_status: dict[str, int]
    overdue: int
    due_soon: int


class Reminders(BaseModel):
    """What the navigation counts: the caller's units' tasks due within 24 h, overdue, with a
    missed feedback cadence, and overdue tasks escalated to the caller's board."""

    due_soon: int
    overdue: int
    feedback_missed: int
    escalated: int
    total: int


class TimelineEntry(BaseModel):
    """One entry of a task's timeline (a lifecycle step, a report, an attachment)."""

    at: dt.datetime
    action: str
    title: str
    actor: str
    detail: dict[str, object] = Field(default_factory=dict)


class OperationCreate(TaskCreate):
    """A special operation (专项行动): a task over an area and a period. The area is ``area``
    (a GeoJSON Polygon/MultiPolygon, or WKT text) or ``cells`` (a hotspot's cells, GeoJSON
    polygons, joined into one area); the period is local days ``starts_on`` to ``ends_on``
    inclusive; ``ring_m`` is the width of the ring around the area checked for displacement."""

    area: Any = None
    cells: list[Any] | None = Field(default=None, max_length=400)
    starts_on: dt.date
    ends_on: dt.date
    ring_m: int = Field(default=500, ge=50, le=5000)
    categories: list[Category] = Field(default_factory=list, max_length=5)


class PeriodCount(BaseModel):
    """Incidents in the area and in the ring over one period (before, during or after)."""

    name: str
    label: str
    start: dt.date
    end: dt.date = Field(description="exclusive")
    days: float = Field(description="days of the period observed so far")
    state: str = Field(description="complete, partial (still running) or future")
    area: int
    ring: int


class Comparison(BaseModel):
    """Two periods' counts compared by the trends module's exact Poisson test (rates per day)."""

    name: str
    label: str
    current: int
    previous: int
    change: float | None = Field(
        description="relative change of the daily rate; null if none before"
    )
    p_value: float
    verdict: str


class OperationRead(BaseModel):
    """A special operation's page: the area and ring, counts before/during/after, the tests
    and what they say of displacement."""

    task_id: int
    area: dict[str, Any]
    ring: dict[str, Any]
    ring_m: int
    area_km2: float
    starts_on: dt.date
    ends_on: dt.date
    categories: list[Category]
    periods: list[PeriodCount]
    comparisons: list[Comparison]
    displacement: str
    points: list[tuple[float, float, str, str]] = Field(
        description="located incidents: lon, lat, period (before/during/after), where (area/ring)"
    )
    points_truncated: bool
