"""API shapes of the evaluation: schemes, reforms."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from qingzhi.params import Day, Input, Text

REFORM_KINDS = ("bundling", "traffic_integration", "community", "staffing", "other")


class SchemeCreate(Input):
    """A scheme's TOML text (see ``docs/kpi.md``)."""

    toml: Text = Field(min_length=1, max_length=20_000)


class SchemeRead(BaseModel):
    """A stored scheme version."""

    id: int
    name: str
    version: str
    digest: str
    toml: str
    weights: dict[str, float]
    latest: bool
    created_at: dt.datetime


class ReformCreate(Input):
    """A reform to record: what, from when, in which stations (unit codes)."""

    name: Text = Field(min_length=1, max_length=100)
    kind: str = Field(pattern="^(" + "|".join(REFORM_KINDS) + ")$")
    effective: Day
    description: Text = Field(default="", max_length=2000)
    units: list[Text] = Field(min_length=1, max_length=200)


class ReformRead(BaseModel):
    """A recorded reform."""

    id: int
    name: str
    kind: str
    effective: dt.date
    description: str
    synthetic: bool
    units: list[dict[str, Any]]
