"""Briefs API (``/api/briefs``): make one, list them, read one, download a file, verify it.

Making needs ``brief.make`` (analysts, commanders, station chiefs); reading ``brief.read``
(viewers too). Everything is scoped: a brief of a unit the caller may not see is a 404. A make
computes in a read transaction and archives in one short write transaction; a PDF needs
LibreOffice (503 naming what is missing without it).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.errors import ValidationFailed
from qingzhi.params import Day, IdPath
from qingzhi.reports import service
from qingzhi.reports.enums import MEDIA_TYPES, BriefFormat, BriefKind, parse_formats
from qingzhi.reports.schemas import BriefCreate, BriefPage, BriefRead, to_read
from qingzhi.store.deps import settings_of, transaction

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/briefs", tags=["briefs"])


@router.post("", status_code=201)
def make(
    body: BriefCreate, request: Request, actor: Actor = Depends(require(Perm.brief_make))
) -> BriefRead:
    """Make a brief (a new version if one exists for the kind, scope and period)."""
    kind = service.parse_kind(body.kind)
    formats = parse_formats(body.formats, "formats")
    settings = settings_of(request)
    with transaction(request, write=False) as session:
        unit_id = (
            service.resolve_unit(session, actor, body.unit)
            if body.unit
            else service.default_unit(actor)
        )
        prepared = service.prepare(
            session=session,
            actor=actor,
            settings=settings,
            kind=kind,
            day=body.date,
            unit_id=unit_id,
            formats=formats,
        )
    with transaction(request, write=True) as session:
        brief = service.archive(session=session, actor=actor, settings=settings, prepared=prepared)
        return to_read(brief)


@router.get("")
def list_briefs(
    request: Request,
    kind: BriefKind | None = None,
    unit: str | None = Query(default=None, max_length=32, description="unit code, or 'bureau'"),
    start: Day | None = Query(default=None, description="periods starting on or after"),
    end: Day | None = Query(default=None, description="periods starting before"),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    actor: Actor = Depends(require(Perm.brief_read)),
) -> BriefPage:
    """Briefs in scope, newest period first, every version."""
    with transaction(request, write=False) as session:
        unit_id = None
        if unit and unit != "bureau":
            unit_id = service.resolve_unit(session, actor, unit)
        items, total = service.list_briefs(
            session=session,
            actor=actor,
            kind=kind,
            unit_id=unit_id,
            bureau_only=unit == "bureau",
            start=start,
            end=end,
            limit=limit,
            offset=offset,
        )
        return BriefPage(items=[to_read(b) for b in items], total=total)


@router.get("/newest")
def newest(request: Request, actor: Actor = Depends(require(Perm.brief_read))) -> dict[str, Any]:
    """The newest brief of each kind for the caller's own scope (the big screen's links)."""
    with transaction(request, write=False) as session:
        found = service.newest(session=session, actor=actor)
        return {k: to_read(b).model_dump(mode="json") for k, b in found.items()}


@router.get("/{brief_id}")
def get_brief(
    brief_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.brief_read))
) -> BriefRead:
    """One brief with its figures."""
    with transaction(request, write=False) as session:
        return to_read(
            service.get(session=session, actor=actor, brief_id=brief_id), with_content=True
        )


@router.get("/{brief_id}/verify")
def verify(
    brief_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.brief_read))
) -> dict[str, Any]:
    """Recompute the brief's file hashes and content hash."""
    with transaction(request, write=False) as session:
        brief = service.get(session=session, actor=actor, brief_id=brief_id)
        return service.verify(settings=settings_of(request), brief=brief)


@router.get("/{brief_id}/files/{fmt}")
def download(
    brief_id: IdPath, fmt: str, request: Request, actor: Actor = Depends(require(Perm.brief_read))
) -> Response:
    """An archived file of the brief (html, docx or pdf)."""
    if fmt not in BriefFormat.__members__:
        raise ValidationFailed.field("format", f"不支持的格式“{fmt}”，可选：html, docx, pdf")
    chosen = BriefFormat(fmt)
    with transaction(request, write=False) as session:
        brief = service.get(session=session, actor=actor, brief_id=brief_id)
    data = service.file_of(settings=settings_of(request), brief=brief, fmt=chosen)
    name = f"brief-{brief.id}-v{brief.version}.{fmt}"
    disposition = "inline" if chosen is BriefFormat.html else "attachment"
    return Response(
        data,
        media_type=MEDIA_TYPES[chosen],
        headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
    )
