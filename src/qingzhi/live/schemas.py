"""Pydantic schemas of the live API: position reports, status changes, map snapshots."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from qingzhi.geo.datum import Datum
from qingzhi.live.enums import LiveStatus
from qingzhi.params import DbId, Input, Instant


class PositionIn(Input):
    """One GPS fix of one officer (by id or police number)."""

    officer_id: DbId | None = None
    police_number: str | None = Field(default=None, max_length=32)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    datum: Datum = Datum.wgs84
    at: Instant | None = None
    speed_kmh: float | None = Field(default=None, ge=0, le=400)
    heading: float | None = Field(default=None, ge=0, le=360)

    @field_validator("at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("时间须带时区（如 2026-11-01T10:00:00+08:00）")
        return value

    @model_validator(mode="after")
    def _who(self) -> PositionIn:
        if self.officer_id is None and not self.police_number:
            raise ValueError("须提供 officer_id 或 police_number")
        return self


class PositionBatch(Input):
    """Positions from one device or gateway."""

    positions: list[PositionIn] = Field(min_length=1, max_length=5_000)


class PositionResult(BaseModel):
    accepted: int
    event_id: int


class OfficerLiveUpdate(Input):
    """A change of an officer's live status or body-camera stream."""

    status: LiveStatus | None = None
    camera_url: str | None = Field(default=None, max_length=500, pattern=r"^(https?://|/)\S+$")
    clear_camera: bool = False


class Snapshot(BaseModel):
    """A map layer's features and the bus head they are current to (stream from there)."""

    event_id: int
    items: list[dict[str, Any]]
