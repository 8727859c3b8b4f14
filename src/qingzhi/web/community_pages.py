"""Community pages (社区警务): the zone board of a station, the dispute desk and one dispute,
and the phone-sized visit form. Rendered from the same community services as /api/community;
the scripts (``static/js/community.js``) post to that API."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from qingzhi.auth.deps import Principal, principal
from qingzhi.auth.permissions import Perm
from qingzhi.community import board, disputes, people, visits
from qingzhi.community.enums import (
    ACTION_LABELS,
    DISPUTE,
    LABELS,
    DisputeKind,
    DisputeStatus,
    Risk,
    VisitPurpose,
)
from qingzhi.community.scope import view_of
from qingzhi.errors import NotFound
from qingzhi.org import scope as org_scope
from qingzhi.org.models import Officer, Unit, Zone
from qingzhi.params import IdPath, IdQuery
from qingzhi.store.deps import settings_of, transaction
from qingzhi.web.pages import _common, templates

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


def _stations(session: Any, who: Principal) -> list[Unit]:
    """Stations in scope that have zones (what the board can show)."""
    query = select(Unit).where(Unit.id.in_(select(Zone.station_id))).order_by(Unit.code)
    return list(session.scalars(org_scope.units(query, who.actor)))


@router.get("/community", response_class=HTMLResponse)
def zone_board(
    request: Request, unit_id: IdQuery = None, who: Principal = Depends(principal)
) -> Response:
    """The zone board (片区看板): map of the station's zones, posts, embedded officers, this
    month's visits and open disputes, follow-ups due."""
    who.actor.require(Perm.community_read)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "community")
        stations = _stations(session, who)
        chosen = unit_id or who.actor.unit_id or (stations[0].id if stations else None)
        context["stations"] = stations
        context["board"] = (
            board.board(
                session=session, actor=who.actor, settings=settings_of(request), unit_id=chosen
            )
            if chosen is not None
            else None
        )
    return templates.TemplateResponse(request, "community_board.html", context)


@router.get("/community/disputes", response_class=HTMLResponse)
def dispute_desk(
    request: Request,
    status: DisputeStatus | None = None,
    kind: DisputeKind | None = None,
    risk: Risk | None = None,
    zone_id: IdQuery = None,
    attention: bool | None = None,
    follow_up_due: bool = False,
    q: str | None = Query(default=None, max_length=100),
    who: Principal = Depends(principal),
) -> Response:
    """The dispute desk: the list with its filters."""
    who.actor.require(Perm.community_read)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "community")
        context["page"] = disputes.list_disputes(
            session=session,
            actor=who.actor,
            settings=settings_of(request),
            status=status,
            kind=kind,
            risk=risk,
            zone_id=zone_id,
            attention=attention,
            follow_up_due=follow_up_due,
            q=q,
            limit=200,
        )
        view = view_of(session, who.actor)
        context["zones"] = list(
            session.scalars(
                select(Zone).where(view.where(Zone.station_id, Zone.id)).order_by(Zone.code)
            )
        )
    context.update(
        filters={
            "status": status,
            "kind": kind,
            "risk": risk,
            "zone_id": zone_id,
            "attention": attention,
            "follow_up_due": follow_up_due,
            "q": q or "",
        },
        statuses=[(s, DISPUTE.label(s)) for s in DisputeStatus],
        kinds=[(k, LABELS[k]) for k in DisputeKind],
        risks=[(r, LABELS[r]) for r in Risk],
    )
    return templates.TemplateResponse(request, "community_desk.html", context)


@router.get("/community/disputes/{dispute_id}", response_class=HTMLResponse)
def dispute_page(
    dispute_id: IdPath, request: Request, who: Principal = Depends(principal)
) -> Response:
    """One dispute: parties (masked), sessions, linked calls, timeline, the next steps."""
    settings = settings_of(request)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "community")
        d = disputes.get(session=session, actor=who.actor, settings=settings, dispute_id=dispute_id)
        context["dispute"] = d
        context["timeline"] = disputes.timeline(
            session=session, actor=who.actor, dispute_id=dispute_id
        )
        context["partners"] = people.list_partners(session=session, actor=who.actor, zone_id=None)
    context.update(
        packages=list(settings.community_packages.items()),
        can_write=who.actor.can(Perm.community_write),
        can_unmask=who.actor.can(Perm.personal_read),
        allowed=[(s, DISPUTE.label(s)) for s in d.allowed if s != DisputeStatus.mediating],
        action_labels=ACTION_LABELS,
        outcomes=[
            ("agreed", "达成协议"),
            ("partial", "部分达成"),
            ("failed", "未达成"),
            ("adjourned", "择期再调"),
        ],
    )
    return templates.TemplateResponse(request, "community_dispute.html", context)


@router.get("/community/visit", response_class=HTMLResponse)
def visit_form(request: Request, who: Principal = Depends(principal)) -> Response:
    """The phone-sized visit form: a zone (the officer's own preselected), a purpose, text."""
    who.actor.require(Perm.community_write)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "community")
        own = visits._own_officer(session, who.actor)
        zones = list(session.scalars(org_scope.zones(select(Zone), who.actor).order_by(Zone.code)))
        own_zone = own.zone_id if isinstance(own, Officer) else None
    context.update(
        zones=zones,
        own_zone=own_zone,
        purposes=[(p, LABELS[p]) for p in VisitPurpose],
        task_days=visits.VISIT_TASK_DAYS,
    )
    if not zones:
        raise NotFound("您的权限范围内没有片区")
    return templates.TemplateResponse(request, "community_visit.html", context)
