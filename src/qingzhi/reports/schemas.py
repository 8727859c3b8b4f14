"""API schemas of briefs: the make request, a brief as read, a page of briefs."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qingzhi.reports.enums import BriefKind
from qingzhi.reports.models import Brief
from qingzhi.store.rows import read_of

log = logging.getLogger(__name__)


class BriefCreate(BaseModel):
    """Make a brief: its kind, a date inside its period, its unit (default: the caller's)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="daily | weekly | monthly", max_length=16)
    date: dt.date = Field(description="any local date inside the period")
    unit: str | None = Field(default=None, max_length=32, description="unit code; none: bureau")
    formats: list[str] = Field(default_factory=lambda: ["html", "docx"], max_length=3)


class BriefRead(BaseModel):
    """An archived brief: what, for whom, when, its files and hash (with its figures on get)."""

    id: int
    kind: BriefKind
    kind_label: str
    unit_id: int | None
    period_start: dt.date
    period_end: dt.date
    version: int
    title: str
    as_of: dt.datetime
    created_at: dt.datetime
    trigger: str
    content_hash: str
    formats: list[str]
    files: dict[str, Any]
    downloads: dict[str, str]
    params: dict[str, Any]
    content: dict[str, Any] | None = None


class BriefPage(BaseModel):
    """A page of briefs."""

    items: list[BriefRead]
    total: int


def to_read(brief: Brief, *, with_content: bool = False) -> BriefRead:
    """A brief row as the API shows it."""
    files = json.loads(brief.files)
    return read_of(
        BriefRead,
        brief,
        kind_label=brief.kind.label,
        formats=sorted(files),
        files={k: {"sha256": v["sha256"], "bytes": v["bytes"]} for k, v in files.items()},
        downloads={k: f"/api/briefs/{brief.id}/files/{k}" for k in sorted(files)},
        params=json.loads(brief.params),
        content=json.loads(brief.content) if with_content else None,
    )
