"""Server-rendered pages (Simplified Chinese): login, the big screen, the incident desk, an
incident's page, units and officers, and the organisation overview.

Pages carry no data of their own beyond what the server renders into the template; the scripts
(static files: the CSP allows no inline script) fetch the same scoped JSON APIs as any client.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import Principal, principal, require_same_origin
from qingzhi.auth.permissions import Perm, Role
from qingzhi.auth.views import sign_in, sign_out
from qingzhi.errors import CsrfFailed, NotFound, QingzhiError
from qingzhi.incidents import assignments
from qingzhi.incidents import reads as incidents
from qingzhi.incidents import scope as incident_scope
from qingzhi.incidents.enums import SUBTYPES, Category, InvalidReason, Priority
from qingzhi.kpi import service as kpi
from qingzhi.kpi.records import OUTCOMES
from qingzhi.org import scope as org_scope
from qingzhi.org import service as org
from qingzhi.org.models import Unit
from qingzhi.params import IdPath, Text
from qingzhi.store.deps import settings_of, transaction

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


# The login form's own CSRF token (there is no session yet): a random value in a SameSite=Strict
# cookie that the form repeats; a post from another site carries no cookie and is refused.
LOGIN_CSRF_COOKIE = "qingzhi_login_csrf"
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")


def _login_form(
    request: Request,
    next_page: str,
    *,
    error: QingzhiError | None = None,
    username: str | None = None,
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not _TOKEN.match(token):
        token = secrets.token_urlsafe(24)
    context = {
        "next": next_page,
        "error": error.message if error is not None else None,
        "username": username,
        "login_csrf": token,
    }
    headers = {}
    if error is not None and isinstance(error.details, dict) and "retry_after" in error.details:
        headers["Retry-After"] = str(error.details["retry_after"])
    response = templates.TemplateResponse(
        request,
        "login.html",
        context,
        status_code=error.status if error is not None else 200,
        headers=headers,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings_of(request).cookie_secure,
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    """The login form."""
    return _login_form(request, _safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    username: Annotated[Text, Form(max_length=64)],
    password: Annotated[Text, Form(max_length=256)],
    next: str = Form(default="/"),
    login_csrf: str = Form(default="", max_length=64),
) -> Response:
    """Sign in from the form (refused from another site: Origin/Referer and the form's CSRF
    token); on failure, show the form again with the reason."""
    target = _safe_next(next)
    redirect = RedirectResponse("/start" if target == "/" else target, status_code=303)
    try:
        require_same_origin(request)
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not secrets.compare_digest(expected.encode(), login_csrf.encode()):
            raise CsrfFailed(details={"reason": "missing or wrong login form token"})
        sign_in(request, redirect, username, password)
    except QingzhiError as exc:
        return _login_form(request, _safe_next(next), error=exc, username=username)
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return redirect


@router.post("/logout")
def logout_submit(request: Request, who: Principal = Depends(principal)) -> Response:
    """Sign out from the page header."""
    redirect = RedirectResponse("/login", status_code=303)
    sign_out(request, redirect, who)
    return redirect


# --- the operator's loop (issue 15): where each role starts, and error pages ---

ERROR_TITLES = {403: "无权访问", 404: "页面不存在", 405: "不支持的操作", 500: "系统错误"}


def landing(actor: Actor) -> str:
    """Each role's working screen: operators the desk or the big screen, analysts the big
    screen's analysis layers, a station chief their station, administrators the overview."""
    if actor.role == Role.station_chief and actor.unit_id is not None:
        return f"/units/{actor.unit_id}"
    return {
        Role.commander: "/bigscreen",
        Role.dispatcher: "/desk",
        Role.analyst: "/bigscreen",
        Role.officer: "/desk",
        Role.auxiliary: "/desk",
        Role.viewer: "/bigscreen",
    }.get(actor.role, "/")


@router.get("/start")
def start(who: Principal = Depends(principal)) -> Response:
    """Go to the caller's working screen."""
    return RedirectResponse(landing(who.actor), status_code=303)


def error_page(
    request: Request, status: int, message: str, request_id: str | None = None
) -> Response:
    """An error as a page in Chinese, for a browser's request of a page (the API keeps JSON)."""
    context = {
        "who": None,
        "status": status,
        "title": ERROR_TITLES.get(status, "请求失败"),
        "message": message,
        "request_id": request_id,
    }
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, who: Principal = Depends(principal)) -> Response:
    """The overview: the bureau's or the caller's units and their staffing."""
    context: dict[str, Any] = {"who": who, "summary": None, "units": [], "active": "overview"}
    with transaction(request, write=False) as session:
        try:
            context["summary"] = org.summary(session=session, actor=who.actor)
            context["units"] = org.list_units(session=session, actor=who.actor)
        except NotFound:
            pass
    return templates.TemplateResponse(request, "overview.html", context)


def _common(request: Request, session: Session, who: Principal, active: str) -> dict[str, Any]:
    try:
        bureau_name = org.bureau(session).name
    except NotFound:
        bureau_name = "公安局"
    return {
        "who": who,
        "active": active,
        "bureau_name": bureau_name,
        "scope_label": org.scope_label(session=session, actor=who.actor),
        "tile_url": settings_of(request).tile_url,
    }


def _operator(request: Request, session: Session, who: Principal) -> dict[str, Any]:
    """What the operator's screens need besides the data they fetch: the call form's choices,
    the waiting targets, the units an incident may be transferred to, and what the caller may
    do (the API decides again on every request)."""
    settings = settings_of(request)
    actor = who.actor
    units = session.execute(select(Unit.id, Unit.code, Unit.name).order_by(Unit.id)).all()
    return {
        "categories": [(str(c), c.label) for c in Category],
        "subtypes_json": json.dumps({str(c): SUBTYPES[c] for c in Category}, ensure_ascii=False),
        "priorities": [(int(p), p.label) for p in Priority],
        "invalid_reasons": [(str(r), r.label) for r in InvalidReason],
        "targets_json": json.dumps(
            {
                "targets": {str(k): v for k, v in settings.handover_target_seconds.items()},
                "warn": settings.attention_warn_fraction,
            }
        ),
        "transfer_units": [(uid, code, name) for uid, code, name in units],
        "can_write": actor.can(Perm.incident_write),
        "can_dispatch": actor.can(Perm.incident_dispatch),
        "can_officers": actor.can(Perm.officer_read),
    }


@router.get("/bigscreen", response_class=HTMLResponse)
def bigscreen(request: Request, who: Principal = Depends(principal)) -> Response:
    """The command centre's big screen (大屏): live map, tiles, charts, incident feed."""
    who.actor.require(Perm.incident_read)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "bigscreen")
        context.update(_operator(request, session, who))
    return templates.TemplateResponse(request, "bigscreen.html", context)


@router.get("/desk", response_class=HTMLResponse)
def desk(request: Request, who: Principal = Depends(principal)) -> Response:
    """The incident desk: the one-click query with facets, results and map in step, exports."""
    who.actor.require(Perm.incident_read)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "desk")
        context.update(_operator(request, session, who))
        context["units"] = org.list_units(session=session, actor=who.actor)
        context["unit_names_json"] = json.dumps(
            {u.id: u.name for u in context["units"]}, ensure_ascii=False
        )
    return templates.TemplateResponse(request, "desk.html", context)


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    incident_id: IdPath, request: Request, who: Principal = Depends(principal)
) -> Response:
    """One incident: details, timeline (lifecycle, audit, linked calls) and dispatch."""
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "desk")
        context.update(_operator(request, session, who))
        context["incident"] = incidents.get(
            session=session, actor=who.actor, incident_id=incident_id
        )
        context["timeline"] = incidents.timeline(
            session=session, actor=who.actor, incident_id=incident_id
        )
        # Only the handling unit moves an incident (the territorial station may only read it).
        context["handles"] = handles = incident_scope.handles(who.actor, context["incident"])
        context["can_dispatch"] = handles and who.actor.can(Perm.incident_dispatch)
        context["can_write"] = handles and who.actor.can(Perm.incident_write)
        # tasks and cases (督办, 快侦快办): issue a task or open a case from here
        context["can_issue_task"] = who.actor.can(Perm.task_issue)
        context["can_open_case"] = who.actor.can(Perm.case_write)
        context["assignments"] = assignments.of_incident(session, incident_id)
    return templates.TemplateResponse(request, "incident.html", context)


@router.get("/units", response_class=HTMLResponse)
def units_page(request: Request, who: Principal = Depends(principal)) -> Response:
    """Units and officers: who is on duty, where, and their live status."""
    who.actor.require(Perm.officer_read)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "units")
        context["units"] = org.list_units(session=session, actor=who.actor)
    return templates.TemplateResponse(request, "units.html", context)


@router.get("/units/{unit_id}", response_class=HTMLResponse)
def unit_page(unit_id: IdPath, request: Request, who: Principal = Depends(principal)) -> Response:
    """One unit (a central station with its member stations) and its officers."""
    who.actor.require(Perm.officer_read)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "units")
        unit = org.get_unit(session=session, actor=who.actor, unit_id=unit_id)
        context["unit"] = unit
        members = [
            org.get_unit(session=session, actor=who.actor, unit_id=m) for m in unit.member_ids
        ]
        context["members"] = members
        central = None
        if unit.central_id is not None and org_scope.admits_unit(who.actor, unit.central_id):
            central = org.get_unit(session=session, actor=who.actor, unit_id=unit.central_id)
        context["central"] = central
    return templates.TemplateResponse(request, "unit.html", context)


@router.get("/kpi", response_class=HTMLResponse)
def kpi_page(request: Request, who: Principal = Depends(principal)) -> Response:
    """The scorecard (station scores with intervals) and, for the bureau, reform impact."""
    who.actor.require(Perm.kpi_read)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "kpi")
        context["can_rank"] = who.actor.can(Perm.kpi_rank)
        context["can_impact"] = who.actor.can(Perm.kpi_impact)
        context["reforms"] = (
            kpi.list_reforms(session=session, actor=who.actor) if context["can_impact"] else []
        )
    context["outcomes"] = [(k, name) for k, (name, _) in OUTCOMES.items()]
    context["default_period"] = kpi.last_quarter(settings_of(request).timezone)
    return templates.TemplateResponse(request, "kpi.html", context)


# ---------------------------------------------------------------- planning (plans domain)


@router.get("/planning", response_class=HTMLResponse)
def planning_page(request: Request, who: Principal = Depends(principal)) -> Response:
    """Planning (规划): saved plans in scope side by side (maps, moves, response-time
    distributions, road km); runs and an admin's decision through the planning API."""
    who.actor.require(Perm.plan_read)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "planning")
    context["can_run"] = who.actor.can(Perm.plan_run)
    context["can_apply"] = who.actor.can(Perm.plan_apply)
    return templates.TemplateResponse(request, "planning.html", context)
