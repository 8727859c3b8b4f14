"""Pydantic schemas of the incidents API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from qingzhi.errors import ValidationFailed
from qingzhi.geo.datum import Datum
from qingzhi.incidents import lifecycle
from qingzhi.incidents.enums import SUBTYPES, Category, InvalidReason, Priority
from qingzhi.incidents.lifecycle import TIME_FIELDS, AssignmentStatus, Status, Step
from qingzhi.params import EARLIEST, DbId, Input, Instant

FUTURE_SLACK = dt.timedelta(minutes=5)
MAX_DESCRIPTION = 4000


def _check_time(value: dt.datetime | None, now: dt.datetime | None = None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("时间须带时区（如 2026-11-01T10:00:00+08:00）")
    if value < EARLIEST:
        raise ValueError("时间早于 2000 年")
    if value > (now or dt.datetime.now(dt.UTC)) + FUTURE_SLACK:
        raise ValueError("时间晚于当前时间")
    return value.astimezone(dt.UTC)


class Location(Input):
    """A point with its declared datum."""

    lon: float = Field(description="longitude")
    lat: float = Field(description="latitude")
    datum: Datum = Datum.wgs84

    @field_validator("lon")
    @classmethod
    def _lon(cls, value: float) -> float:
        if not -180 <= value <= 180:
            raise ValueError("经度须在 -180 到 180 之间")
        return value

    @field_validator("lat")
    @classmethod
    def _lat(cls, value: float, info: ValidationInfo) -> float:
        if not -90 <= value <= 90:
            lon = info.data.get("lon")
            if lon is not None and -90 <= lon <= 90:
                raise ValueError(
                    "纬度须在 -90 到 90 之间（经纬度疑似颠倒：lon 为经度，lat 为纬度）"
                )
            raise ValueError("纬度须在 -90 到 90 之间")
        return value


class IncidentCreate(Input):
    """A new 110 incident."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source_id: str = Field(min_length=1, max_length=64, pattern=r"^[\w\-.:/]+$")
    received_at: Instant
    category: Category
    subtype: str | None = Field(default=None, max_length=32, validate_default=True)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    address: str = Field(default="", max_length=500)
    caller_phone: str | None = Field(default=None, max_length=20, pattern=r"^\+?[0-9 \-]{3,20}$")
    location: Location | None = None
    priority: Priority = Priority.yellow
    valid: bool = True
    invalid_reason: InvalidReason | None = Field(default=None, validate_default=True)

    @field_validator("caller_phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and sum(c in "0123456789" for c in value) < 3:
            raise ValueError("电话号码至少含 3 位数字")
        return value

    @field_validator("received_at")
    @classmethod
    def _received(cls, value: dt.datetime) -> dt.datetime:
        checked = _check_time(value)
        assert checked is not None
        return checked

    @field_validator("subtype")
    @classmethod
    def _subtype(cls, value: str | None, info: ValidationInfo) -> str | None:
        category = info.data.get("category")
        if value and category is not None and value not in SUBTYPES[category]:
            known = ", ".join(SUBTYPES[category])
            raise ValueError(f"{value} 不是“{category.label}”类警情的子类（可选：{known}）")
        return value or None

    @field_validator("invalid_reason")
    @classmethod
    def _invalid_reason(
        cls, value: InvalidReason | None, info: ValidationInfo
    ) -> InvalidReason | None:
        valid = info.data.get("valid", True)
        if not valid and value is None:
            raise ValueError("无效警情须说明原因")
        if valid and value is not None:
            raise ValueError("有效警情不应填写无效原因")
        return value


class IncidentImport(IncidentCreate):
    """A historical incident from a CAD export or the demo: may carry its lifecycle times."""

    dispatched_at: Instant | None = None
    arrived_at: Instant | None = None
    resolved_at: Instant | None = None
    closed_at: Instant | None = None
    cancelled: bool = False
    closed: bool = False  # the record says it is closed (a status column), not when
    synthetic: bool = False
    # The source system's own call type, district and beat (kept beside the mapped category).
    source_type: str | None = Field(default=None, max_length=100)
    source_district: str | None = Field(default=None, max_length=64)
    source_beat: str | None = Field(default=None, max_length=64)

    @field_validator(*TIME_FIELDS)
    @classmethod
    def _times(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _check_time(value)

    @model_validator(mode="after")
    def _history(self) -> IncidentImport:
        """Its times and cancel replayed through the lifecycle table (``lifecycle.history``); a
        refused step is an error on the field that carries it."""
        try:
            self.history()
        except ValidationFailed as exc:
            [detail] = exc.details
            name = detail["field"]
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type="value_error",
                        loc=(name,),
                        input=getattr(self, name),
                        ctx={"error": ValueError(detail["message"])},
                    )
                ],
            ) from None
        return self

    def history(self) -> list[Step]:
        """Its lifecycle steps, received first (ValidationFailed naming the field if refused)."""
        return lifecycle.history(
            self.received_at,
            {name: getattr(self, name) for name in TIME_FIELDS},
            cancelled=self.cancelled,
            closed=self.closed,
        )

    @property
    def final_status(self) -> Status:
        """The status its history ends in."""
        return self.history()[-1].status


class IncidentCorrection(Input):
    """A correction of an incident's recorded facts by its handling unit (``corrections``): the
    fields to change, the version the desk read, and why."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(ge=1, description="the incident's version the correction is based on")
    reason: str = Field(min_length=2, max_length=500)
    received_at: Instant | None = None
    category: Category | None = None
    subtype: str | None = Field(default=None, max_length=32)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    address: str | None = Field(default=None, max_length=500)
    location: Location | None = None
    priority: Priority | None = None
    source_type: str | None = Field(default=None, max_length=100)
    source_district: str | None = Field(default=None, max_length=64)
    source_beat: str | None = Field(default=None, max_length=64)

    @field_validator("received_at")
    @classmethod
    def _received(cls, value: dt.datetime | None) -> dt.datetime | None:
        return _check_time(value)

    @model_validator(mode="after")
    def _subtype(self) -> IncidentCorrection:
        if (
            self.subtype
            and self.category is not None
            and self.subtype not in SUBTYPES[self.category]
        ):
            raise ValueError(f"{self.subtype} 不是“{self.category.label}”类警情的子类")
        return self


class IncidentRead(BaseModel):
    """An incident as the API shows it (the caller's phone masked unless unmasked)."""

    id: int
    source_id: str
    received_at: Instant
    category: Category
    category_label: str
    subtype: str | None
    subtype_label: str
    description: str
    address: str
    caller_phone: str | None
    location: dict[str, float] | None
    priority: int
    priority_label: str
    valid: bool
    invalid_reason: str | None
    status: Status
    status_label: str
    unit_id: int | None
    unit_name: str | None
    station_id: int | None
    zone_id: int | None
    routed_by: str
    needs_review: bool
    review_reason: str | None
    # A repeat call (重复报警) names its first call only when the caller may see that one;
    # otherwise repeat_of_id is None and repeat_elsewhere says 此前有跨所报警 (no id).
    repeat_of_id: int | None
    repeat_elsewhere: bool = False
    repeat_elsewhere_label: str | None = None
    repeat_count: int  # calls linked to this one, bureau-wide (a count names no call)
    dispatched_at: dt.datetime | None
    arrived_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    response_seconds: float | None
    handling_seconds: float | None
    synthetic: bool
    result: str | None = None  # 处理结果, given at 结警
    # What may be done next (the lifecycle's allowed targets, plus "reinforce" while units
    # are out), for the screens' buttons.
    next_steps: list[str] = Field(default_factory=list)
    source_type: str | None = None
    source_district: str | None = None
    source_beat: str | None = None
    version: int = 1


class IntakeResult(BaseModel):
    """The answer to an intake: the incident and whether it already existed."""

    created: bool
    incident: IncidentRead


class BulkIntake(Input):
    items: list[dict[str, Any]] = Field(max_length=10_000)


class BulkResult(BaseModel):
    created: int
    existing: int
    errors: list[dict[str, Any]]
    ids: list[int | None]


class Transition(Input):
    """A lifecycle step requested by a user."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    to: Status
    reason: str = Field(default="", max_length=500)
    unit: str | None = Field(
        default=None, max_length=32, description="target unit code, for a transfer"
    )
    officer_ids: list[DbId] = Field(default_factory=list, max_length=20)
    # at 结警: the result (处理结果), and the validity when the call turned out otherwise
    result: str | None = Field(default=None, max_length=500)
    valid: bool | None = None
    invalid_reason: InvalidReason | None = None


class AssignmentStep(Input):
    """One unit of an incident arrives or clears (撤离)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    to: AssignmentStatus
    reason: str = Field(default="", max_length=500)


class AssignmentRead(BaseModel):
    """An officer sent to an incident, with the assignment's own times."""

    id: int
    officer_id: int
    name: str
    police_number: str
    kind: str
    kind_label: str
    unit_id: int
    status: AssignmentStatus
    status_label: str
    active: bool
    dispatched_at: dt.datetime
    arrived_at: dt.datetime | None
    cleared_at: dt.datetime | None
    note: str
    actor: str


class IncidentPage(BaseModel):
    items: list[IncidentRead]
    next_cursor: str | None
    total: int | None
    facets: dict[str, dict[str, int]] | None


class TimelineEntry(BaseModel):
    at: dt.datetime
    kind: str
    title: str
    actor: str | None
    detail: dict[str, Any]
