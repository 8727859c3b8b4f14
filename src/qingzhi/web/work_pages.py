"""Server-rendered pages of tasks and cases (督办, 快侦快办): the board, a task's page, the cases
and their rates, a case room. Data comes from the same scoped services as the API; the scripts
(``tasks.js``, ``cases.js``) call the API for every action."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from qingzhi.auth.deps import Principal, principal
from qingzhi.auth.permissions import Perm
from qingzhi.cases import rates as case_rates
from qingzhi.cases import service as cases
from qingzhi.cases.lifecycle import CASE, CATEGORY_LABELS, CaseStatus
from qingzhi.incidents import reads as incidents
from qingzhi.org import service as org
from qingzhi.org.models import Unit
from qingzhi.params import IdPath
from qingzhi.store.deps import settings_of, transaction
from qingzhi.tasks import history
from qingzhi.tasks import service as tasks
from qingzhi.tasks.lifecycle import TASK, SourceKind, TaskStatus
from qingzhi.web.pages import _common, templates

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/tasks", response_class=HTMLResponse)
def board_page(request: Request, who: Principal = Depends(principal)) -> Response:
    """The 督办 board: my units' tasks by state and deadline (overdue in red, filters), and
    the overdue tasks escalated to my board."""
    who.actor.require(Perm.task_read)
    settings = settings_of(request)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "tasks")
        context["units"] = org.list_units(session=session, actor=who.actor)
        context["escalated"] = tasks.board(
            session=session,
            actor=who.actor,
            settings=settings,
            flt=tasks.BoardFilter(escalated=True),
        )
        context["all_units"] = [
            {"id": u.id, "name": u.name} for u in session.scalars(select(Unit).order_by(Unit.code))
        ]
    context["statuses"] = [(s.value, s.label) for s in TaskStatus]
    context["can_issue"] = who.actor.can(Perm.task_issue)
    context["default_deadline"] = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    return templates.TemplateResponse(request, "tasks.html", context)


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(task_id: IdPath, request: Request, who: Principal = Depends(principal)) -> Response:
    """One task: instructions, source, reports with attachments, timeline, the caller's steps."""
    settings = settings_of(request)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "tasks")
        task = tasks.get(
            session=session, actor=who.actor, settings=settings, task_id=task_id, now=None
        )
        context["task"] = task
        context["reports"] = history.reports(session=session, actor=who.actor, task_id=task_id)
        context["timeline"] = history.timeline(session=session, actor=who.actor, task_id=task_id)
    context["labels"] = {s.value: s.label for s in TaskStatus}
    context["final"] = TASK.is_final(task.status)
    context["max_mb"] = settings.task_attachment_max_bytes // (1024 * 1024)
    return templates.TemplateResponse(request, "task.html", context)


def _period(request: Request) -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(dt.UTC).date()
    start, end = today - dt.timedelta(days=365), today
    for name in ("start", "end"):
        raw = request.query_params.get(name)
        if raw:
            try:
                value = dt.date.fromisoformat(raw)
            except ValueError:
                continue
            if name == "start":
                start = value
            else:
                end = value
    return start, end


@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request, who: Principal = Depends(principal)) -> Response:
    """Cases in scope and their rates (definitions and N printed), by unit and category."""
    who.actor.require(Perm.case_read)
    settings = settings_of(request)
    start, end = _period(request)
    context: dict[str, Any]
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "cases")
        context["page"] = cases.list_cases(
            session=session, actor=who.actor, settings=settings, limit=50
        )
        for group in ("unit", "category"):
            context[f"by_{group}"] = case_rates.compute(
                session=session,
                actor=who.actor,
                settings=settings,
                start=start,
                end=end,
                group_by=group,
            )
    context["start"], context["end"] = start, end
    return templates.TemplateResponse(request, "cases.html", context)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: IdPath, request: Request, who: Principal = Depends(principal)) -> Response:
    """The case room: linked incidents and their timelines, the team, tasks issued for the
    case, notes, the outcome."""
    settings = settings_of(request)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "cases")
        case = cases.get(session=session, actor=who.actor, settings=settings, case_id=case_id)
        context["case"] = case
        context["notes"] = cases.notes(session=session, actor=who.actor, case_id=case_id)
        context["tasks"] = tasks.board(
            session=session,
            actor=who.actor,
            settings=settings,
            flt=tasks.BoardFilter(source_kind=SourceKind.case, source_ref=str(case_id)),
        ).items
        context["timelines"] = {
            i.id: incidents.timeline(session=session, actor=who.actor, incident_id=i.id)
            for i in case.incidents
        }
        context["all_units"] = [
            {"id": u.id, "name": u.name} for u in session.scalars(select(Unit).order_by(Unit.code))
        ]
    context["categories"] = CATEGORY_LABELS
    context["next_states"] = [(s.value, s.label) for s in sorted(CASE.allowed(case.status))]
    context["open_state"] = CaseStatus.open
    context["can_issue"] = who.actor.can(Perm.task_issue)
    return templates.TemplateResponse(request, "case.html", context)
