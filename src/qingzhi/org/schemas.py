"""Pydantic schemas of the organisation's API, and of the org bundle's rows (the same fields
and constraints, with the few the bundle adds: the bureau, a unit's central station, the
synthetic and active flags)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qingzhi.org.enums import DutyStatus, OfficerKind, Team, UnitKind
from qingzhi.params import Input


class _Strict(Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _not_null(value: Any) -> Any:
    """Refuse an explicit null for a field that may be left out but not cleared."""
    if value is None:
        raise ValueError("不能为空（不修改请省略该字段）")
    return value


Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")]
Population = Annotated[int | None, Field(ge=0, le=100_000_000)]


class UnitBase(_Strict):
    name: str = Field(min_length=1, max_length=100)
    kind: UnitKind
    population: Population = None
    jurisdiction: dict[str, Any] | None = None
    traffic_integrated: bool = False
    service_window: bool = True


class UnitCreate(UnitBase):
    code: Code


class UnitUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    population: Population = None
    jurisdiction: dict[str, Any] | None = None
    traffic_integrated: bool | None = None
    service_window: bool | None = None

    _present = field_validator("name", "traffic_integrated", "service_window", mode="before")(
        _not_null
    )


class BundleUpdate(_Strict):
    members: list[str] = Field(description="codes of the 2–3 member stations; empty to unbundle")


class UnitRead(BaseModel):
    id: int
    code: str
    name: str
    kind: UnitKind
    kind_label: str
    central_id: int | None
    member_ids: list[int]
    population: int | None
    traffic_integrated: bool
    service_window: bool
    synthetic: bool
    sworn: int
    auxiliary: int
    officers_per_10k: float | None


class ZoneBase(_Strict):
    name: str = Field(min_length=1, max_length=100)
    population: Population = None
    geometry: dict[str, Any] | None = None


class ZoneCreate(ZoneBase):
    code: Code
    station: str = Field(description="code of the station the zone belongs to")


class ZoneUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    population: Population = None
    geometry: dict[str, Any] | None = None

    _present = field_validator("name", mode="before")(_not_null)


class ZoneRead(BaseModel):
    id: int
    code: str
    name: str
    station_id: int
    population: int | None
    synthetic: bool


class OfficerCreate(_Strict):
    police_number: Code
    name: str = Field(min_length=1, max_length=50)
    kind: OfficerKind
    unit: str = Field(description="unit code")
    team: Team | None = None
    zone: str | None = Field(default=None, description="zone code")
    duty_status: DutyStatus = DutyStatus.off_duty


class OfficerUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=50)
    unit: str | None = None
    team: Team | None = None
    zone: str | None = None
    duty_status: DutyStatus | None = None
    active: bool | None = None

    _present = field_validator("name", "unit", "duty_status", "active", mode="before")(_not_null)


class BureauImport(_Strict):
    """The bureau as an org bundle's bureau.json states it (no API changes the bureau)."""

    code: Code
    name: str = Field(min_length=1, max_length=100)
    population: Population = None
    boundary: dict[str, Any] | None = None
    synthetic: bool = False


class UnitImport(UnitCreate):
    """A unit as an org bundle states it: the API's fields, its central station and a flag."""

    central: str | None = Field(default=None, description="code of its central station")
    synthetic: bool = False


class ZoneImport(ZoneCreate):
    """A zone as an org bundle states it."""

    synthetic: bool = False


class OfficerImport(OfficerCreate):
    """An officer as an org bundle's officers.csv states them."""

    active: bool = True
    synthetic: bool = False


class OfficerRead(BaseModel):
    id: int
    police_number: str
    name: str
    kind: OfficerKind
    unit_id: int
    unit_name: str
    team: Team | None
    zone_id: int | None
    duty_status: DutyStatus
    active: bool
    synthetic: bool


class OfficerPage(BaseModel):
    items: list[OfficerRead]
    total: int
    offset: int
    limit: int


class Staffing(BaseModel):
    """Officers per 10,000 residents (警力万人比) for a unit or the bureau."""

    code: str
    name: str
    population: int | None
    sworn: int
    auxiliary: int
    officers_per_10k: float | None


class OrgSummary(BaseModel):
    bureau: Staffing
    units: list[Staffing]
