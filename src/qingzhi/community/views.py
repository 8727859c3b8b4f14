"""Community API (/api/community): teams, officers' community settings, posts, partners, visits,
disputes (parties masked unless unmasked: audited, never cached), mediation sessions, the
dispute lifecycle, the zone board and the measures."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from qingzhi.audit.service import AuditEntry
from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.community import board, disputes, measures, mediation, people, visits
from qingzhi.community.enums import DisputeKind, DisputeStatus, Risk, VisitStatus
from qingzhi.community.schemas import (
    DisputeCreate,
    DisputePage,
    DisputeRead,
    DisputeTransition,
    DisputeUpdate,
    Measures,
    OfficerCommunity,
    OfficerSetting,
    PartnerCreate,
    PartnerRead,
    PostCreate,
    PostRead,
    SessionCreate,
    TeamRead,
    VisitCreate,
    VisitDone,
    VisitRead,
    VisitTask,
)
from qingzhi.params import Day, IdPath, IdQuery, OffsetQuery
from qingzhi.store.deps import database, settings_of, transaction

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/community", tags=["community"])
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/units/{unit_id}/teams", response_model=list[TeamRead])
def unit_teams(
    unit_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.community_read))
) -> list[TeamRead]:
    """A station's three parts (两队一室) and their officers."""
    with transaction(request, write=False) as session:
        return people.teams(session=session, actor=actor, unit_id=unit_id)


@router.patch("/officers/{officer_id}", response_model=OfficerCommunity)
def set_officer(
    officer_id: IdPath,
    body: OfficerSetting,
    request: Request,
    actor: Actor = Depends(require(Perm.community_manage)),
) -> OfficerCommunity:
    """An officer's team, zone, community role and dispatch rota."""
    with transaction(request, write=True) as session:
        return people.set_officer(session=session, actor=actor, officer_id=officer_id, data=body)


@router.get("/posts", response_model=list[PostRead])
def list_posts(
    request: Request,
    zone_id: IdQuery = None,
    actor: Actor = Depends(require(Perm.community_read)),
) -> list[PostRead]:
    """Community posts (社区警务室) in scope."""
    with transaction(request, write=False) as session:
        return people.list_posts(session=session, actor=actor, zone_id=zone_id)


@router.post("/posts", response_model=PostRead, status_code=201)
def create_post(
    body: PostCreate, request: Request, actor: Actor = Depends(require(Perm.community_manage))
) -> PostRead:
    """Open a community post in a zone."""
    with transaction(request, write=True) as session:
        return people.create_post(session=session, actor=actor, data=body)


@router.get("/partners", response_model=list[PartnerRead])
def list_partners(
    request: Request,
    zone_id: IdQuery = None,
    actor: Actor = Depends(require(Perm.community_read)),
) -> list[PartnerRead]:
    """Community partners (secretaries, grid workers, lawyers) in scope."""
    with transaction(request, write=False) as session:
        return people.list_partners(session=session, actor=actor, zone_id=zone_id)


@router.post("/partners", response_model=PartnerRead, status_code=201)
def create_partner(
    body: PartnerCreate, request: Request, actor: Actor = Depends(require(Perm.community_manage))
) -> PartnerRead:
    """Record a community partner."""
    with transaction(request, write=True) as session:
        return people.create_partner(session=session, actor=actor, data=body)


@router.get("/visits")
def list_visits(
    request: Request,
    zone_id: IdQuery = None,
    unit_id: IdQuery = None,
    status: VisitStatus | None = None,
    since: Day | None = Query(default=None, alias="from"),
    until: Day | None = Query(default=None, alias="to"),
    limit: int = Query(default=50, ge=1, le=500),
    offset: OffsetQuery = 0,
    actor: Actor = Depends(require(Perm.community_read)),
) -> dict[str, Any]:
    """Visits in scope (done ones by visit time; ``from``/``to`` local days)."""
    start = _day_start(since)
    end = _day_start(until + dt.timedelta(days=1)) if until else None
    with transaction(request, write=False) as session:
        items, total = visits.list_visits(
            session=session,
            actor=actor,
            zone_id=zone_id,
            unit_id=unit_id,
            status=status,
            start=start,
            end=end,
            limit=limit,
            offset=offset,
        )
    return {"items": [v.model_dump(mode="json") for v in items], "total": total}


def _day_start(day: dt.date | None) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time(), tzinfo=disputes.LOCAL)


@router.post("/visits", response_model=VisitRead, status_code=201)
def create_visit(
    body: VisitCreate, request: Request, actor: Actor = Depends(require(Perm.community_write))
) -> VisitRead:
    """Log a visit (or plan one); outside the officer's zone it needs ``outside_reason``."""
    with transaction(request, write=True) as session:
        return visits.create(session=session, actor=actor, data=body)


@router.get("/visits/{visit_id}", response_model=VisitRead)
def get_visit(
    visit_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.community_read))
) -> VisitRead:
    """One visit."""
    with transaction(request, write=False) as session:
        return visits.get(session=session, actor=actor, visit_id=visit_id)


@router.post("/visits/{visit_id}/transitions", response_model=VisitRead)
def finish_visit(
    visit_id: IdPath,
    body: VisitDone,
    request: Request,
    actor: Actor = Depends(require(Perm.community_write)),
) -> VisitRead:
    """A planned visit made or cancelled."""
    with transaction(request, write=True) as session:
        return visits.finish(session=session, actor=actor, visit_id=visit_id, data=body)


@router.post("/visits/{visit_id}/task", response_model=VisitRead, status_code=201)
def open_visit_task(
    visit_id: IdPath,
    body: VisitTask,
    request: Request,
    actor: Actor = Depends(require(Perm.task_issue)),
) -> VisitRead:
    """Open a task (督办任务) from the visit's finding; the visit with its tasks."""
    with transaction(request, write=True) as session:
        return visits.open_task(session=session, actor=actor, visit_id=visit_id, data=body)


@router.get("/disputes", response_model=DisputePage)
def list_disputes(
    request: Request,
    status: DisputeStatus | None = None,
    kind: DisputeKind | None = None,
    risk: Risk | None = None,
    zone_id: IdQuery = None,
    unit_id: IdQuery = None,
    open_only: bool = False,
    attention: bool | None = None,
    follow_up_due: bool = False,
    q: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=50, ge=1, le=500),
    offset: OffsetQuery = 0,
    actor: Actor = Depends(require(Perm.community_read)),
) -> DisputePage:
    """The dispute desk's list, newest first."""
    with transaction(request, write=False) as session:
        return disputes.list_disputes(
            session=session,
            actor=actor,
            settings=settings_of(request),
            status=status,
            kind=kind,
            risk=risk,
            zone_id=zone_id,
            unit_id=unit_id,
            open_only=open_only,
            attention=attention,
            follow_up_due=follow_up_due,
            q=q,
            limit=limit,
            offset=offset,
        )


@router.post("/disputes", response_model=DisputeRead, status_code=201)
def create_dispute(
    body: DisputeCreate, request: Request, actor: Actor = Depends(require(Perm.community_write))
) -> DisputeRead:
    """Open a dispute (from a dispute incident, a visit's finding, or a zone)."""
    with transaction(request, write=True) as session:
        return disputes.create(
            session=session, actor=actor, settings=settings_of(request), data=body
        )


@router.get("/disputes/{dispute_id}", response_model=DisputeRead)
def get_dispute(
    dispute_id: IdPath,
    request: Request,
    response: Response,
    unmask: bool = False,
    actor: Actor = Depends(require(Perm.community_read)),
) -> DisputeRead:
    """One dispute with parties (masked; ``unmask=true`` in full, audited), sessions, calls."""
    if unmask:
        shown = disputes.reveal(
            db=database(request), actor=actor, settings=settings_of(request), dispute_id=dispute_id
        )
        response.headers.update(NO_STORE)
        return shown
    with transaction(request, write=False) as session:
        return disputes.get(
            session=session, actor=actor, settings=settings_of(request), dispute_id=dispute_id
        )


@router.patch("/disputes/{dispute_id}", response_model=DisputeRead)
def update_dispute(
    dispute_id: IdPath,
    body: DisputeUpdate,
    request: Request,
    actor: Actor = Depends(require(Perm.community_write)),
) -> DisputeRead:
    """Change type, risk or summary, add parties, clear the attention flag."""
    with transaction(request, write=True) as session:
        return disputes.update(
            session=session,
            actor=actor,
            settings=settings_of(request),
            dispute_id=dispute_id,
            data=body,
        )


@router.post("/disputes/{dispute_id}/sessions", response_model=DisputeRead, status_code=201)
def add_session(
    dispute_id: IdPath,
    body: SessionCreate,
    request: Request,
    actor: Actor = Depends(require(Perm.community_write)),
) -> DisputeRead:
    """Record a mediation session (the dispute moves to mediating)."""
    with transaction(request, write=True) as session:
        return mediation.add_session(
            session=session,
            actor=actor,
            settings=settings_of(request),
            dispute_id=dispute_id,
            data=body,
        )


@router.post("/disputes/{dispute_id}/transitions", response_model=DisputeRead)
def move_dispute(
    dispute_id: IdPath,
    body: DisputeTransition,
    request: Request,
    actor: Actor = Depends(require(Perm.community_write)),
) -> DisputeRead:
    """A step of the dispute's lifecycle (409 naming both states when not allowed)."""
    with transaction(request, write=True) as session:
        return mediation.transition(
            session=session,
            actor=actor,
            settings=settings_of(request),
            dispute_id=dispute_id,
            data=body,
        )


@router.get("/disputes/{dispute_id}/timeline", response_model=list[AuditEntry])
def dispute_timeline(
    dispute_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.community_read))
) -> list[AuditEntry]:
    """The dispute's audit trail, oldest first."""
    with transaction(request, write=False) as session:
        return disputes.timeline(session=session, actor=actor, dispute_id=dispute_id)


@router.get("/packages")
def packages(
    request: Request, actor: Actor = Depends(require(Perm.community_read))
) -> list[dict[str, str]]:
    """The mediation packages (调解套餐, configured by QINGZHI_COMMUNITY_PACKAGES)."""
    del actor
    return [{"code": k, "label": v} for k, v in settings_of(request).community_packages.items()]


@router.get("/units/{unit_id}/board")
def zone_board(
    unit_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.community_read))
) -> dict[str, Any]:
    """The zone board of a station: zones, posts, embedded officers, this month's visits and
    open disputes, follow-ups due."""
    with transaction(request, write=False) as session:
        return board.board(
            session=session, actor=actor, settings=settings_of(request), unit_id=unit_id
        )


@router.get("/measures", response_model=Measures)
def get_measures(
    request: Request,
    since: Day = Query(alias="from"),
    until: Day = Query(alias="to"),
    unit_id: IdQuery = None,
    actor: Actor = Depends(require(Perm.community_read)),
) -> Measures:
    """The measures by zone, station and scope for local days ``from``..``to``."""
    with transaction(request, write=False) as session:
        return measures.compute(
            session=session,
            actor=actor,
            settings=settings_of(request),
            start=since,
            end=until,
            unit_id=unit_id,
        )
