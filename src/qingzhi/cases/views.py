"""Cases API (案件, 快侦快办): open from incidents, link, team, notes, outcome, rates."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.cases import rates, service
from qingzhi.cases.lifecycle import CaseStatus
from qingzhi.cases.schemas import (
    CaseCreate,
    CaseLink,
    CasePage,
    CaseRead,
    NoteCreate,
    NoteRead,
    Outcome,
    Rates,
    TeamSet,
)
from qingzhi.params import Day, IdPath, IdQuery, OffsetQuery, Text
from qingzhi.store.deps import settings_of, transaction

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/cases", tags=["cases"])


def _read(request: Request, actor: Actor, case_id: int) -> CaseRead:
    with transaction(request, write=False) as session:
        return service.get(
            session=session, actor=actor, settings=settings_of(request), case_id=case_id
        )


@router.get("")
def list_cases(
    request: Request,
    status: list[CaseStatus] = Query(default=[]),
    unit_id: IdQuery = None,
    q: Annotated[Text | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    offset: OffsetQuery = 0,
    actor: Actor = Depends(require(Perm.case_read)),
) -> CasePage:
    """The caller's cases (its unit or its team in scope), newest first."""
    with transaction(request, write=False) as session:
        return service.list_cases(
            session=session,
            actor=actor,
            settings=settings_of(request),
            status=status,
            unit_id=unit_id,
            q=q.strip() if q and q.strip() else None,
            limit=limit,
            offset=offset,
        )


@router.post("", status_code=201)
def open_case(
    body: CaseCreate, request: Request, actor: Actor = Depends(require(Perm.case_write))
) -> CaseRead:
    """Open a case (立案) from criminal incidents."""
    with transaction(request, write=True) as session:
        case = service.open_case(
            session=session, actor=actor, settings=settings_of(request), body=body
        )
        case_id = case.id
    return _read(request, actor, case_id)


@router.get("/rates")
def case_rates(
    request: Request,
    start: Day,
    end: Day,
    group_by: Literal["unit", "category", "none"] = "unit",
    unit_id: IdQuery = None,
    category: Annotated[Text | None, Query(max_length=32)] = None,
    actor: Actor = Depends(require(Perm.case_read)),
) -> Rates:
    """Clearance, cohort clearance and fast clearance (N hours printed) with Wilson intervals,
    and recovered loss, by unit or category, over local days ``start`` to ``end``."""
    with transaction(request, write=False) as session:
        return rates.compute(
            session=session,
            actor=actor,
            settings=settings_of(request),
            start=start,
            end=end,
            group_by=group_by,
            unit_id=unit_id,
            category=category,
        )


@router.get("/{case_id}")
def get(
    case_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.case_read))
) -> CaseRead:
    """One case: linked incidents, team, outcome."""
    return _read(request, actor, case_id)


@router.post("/{case_id}/incidents")
def link(
    case_id: IdPath,
    body: CaseLink,
    request: Request,
    actor: Actor = Depends(require(Perm.case_write)),
) -> CaseRead:
    """Link more criminal incidents to the case."""
    with transaction(request, write=True) as session:
        service.link(session=session, actor=actor, case_id=case_id, incident_ids=body.incident_ids)
    return _read(request, actor, case_id)


@router.put("/{case_id}/team")
def set_team(
    case_id: IdPath,
    body: TeamSet,
    request: Request,
    actor: Actor = Depends(require(Perm.case_write)),
) -> CaseRead:
    """Set the case's team (快侦快办): units and officers with roles, exactly one lead."""
    with transaction(request, write=True) as session:
        service.set_team(session=session, actor=actor, case_id=case_id, members=body.members)
    return _read(request, actor, case_id)


@router.post("/{case_id}/outcome")
def outcome(
    case_id: IdPath,
    body: Outcome,
    request: Request,
    actor: Actor = Depends(require(Perm.case_write)),
) -> CaseRead:
    """Clear, suspend or reopen the case (409 naming both states when not allowed)."""
    with transaction(request, write=True) as session:
        service.set_outcome(session=session, actor=actor, case_id=case_id, body=body)
    return _read(request, actor, case_id)


@router.get("/{case_id}/notes")
def notes(
    case_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.case_read))
) -> list[NoteRead]:
    """The case room's notes."""
    with transaction(request, write=False) as session:
        return service.notes(session=session, actor=actor, case_id=case_id)


@router.post("/{case_id}/notes", status_code=201)
def add_note(
    case_id: IdPath,
    body: NoteCreate,
    request: Request,
    actor: Actor = Depends(require(Perm.case_write)),
) -> NoteRead:
    """A note in the case room."""
    with transaction(request, write=True) as session:
        note = service.add_note(session=session, actor=actor, case_id=case_id, text=body.text)
        note_id = note.id
    with transaction(request, write=False) as session:
        found = service.notes(session=session, actor=actor, case_id=case_id)
    return next(n for n in found if n.id == note_id)
