"""Server-rendered pages (Simplified Chinese): login, logout and the overview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from qingzhi.auth.views import sign_in, sign_out
from qingzhi.errors import NotFound, QingzhiError
from qingzhi.org import service as org
from qingzhi.web.deps import Principal, principal, transaction

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    """The login form."""
    return templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": None}
    )


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    username: str = Form(max_length=64),
    password: str = Form(max_length=256),
    next: str = Form(default="/"),
) -> Response:
    """Sign in from the form; on failure, show the form again with the reason."""
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    try:
        sign_in(request, redirect, username, password)
    except QingzhiError as exc:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"next": _safe_next(next), "error": exc.message, "username": username},
            status_code=exc.status,
        )
    return redirect


@router.post("/logout")
def logout_submit(request: Request, who: Principal = Depends(principal)) -> Response:
    """Sign out from the page header."""
    redirect = RedirectResponse("/login", status_code=303)
    sign_out(request, redirect, who)
    return redirect


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, who: Principal = Depends(principal)) -> Response:
    """The overview: the bureau's or the caller's units and their staffing."""
    context: dict[str, Any] = {"who": who, "summary": None, "units": []}
    with transaction(request, write=False) as session:
        try:
            context["summary"] = org.summary(session=session, actor=who.actor)
            context["units"] = org.list_units(session=session, actor=who.actor)
        except NotFound:
            pass
    return templates.TemplateResponse(request, "overview.html", context)
