"""Brief pages (研判简报): the archive list with downloads and a make form, one brief's page (its
archived HTML with a toolbar), and the chart script the brief's HTML loads.

The list goes through ``reports.service.list_briefs`` (scoped); a brief's page serves the archived
HTML file as it was made (the record is immutable), with a toolbar added to the response only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markupsafe import escape

from qingzhi.auth.deps import Principal, principal
from qingzhi.auth.permissions import Perm
from qingzhi.org import service as org
from qingzhi.params import IdPath
from qingzhi.reports import service as briefs
from qingzhi.reports.enums import BriefFormat, BriefKind
from qingzhi.reports.render.html import CHART_SCRIPT
from qingzhi.reports.schemas import to_read
from qingzhi.store.deps import settings_of, transaction
from qingzhi.web.pages import _common, templates

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/briefs/doc-charts.js")
def chart_script() -> Response:
    """The script that draws a brief's ECharts options (the CSP allows no inline script)."""
    return FileResponse(CHART_SCRIPT, media_type="text/javascript")


@router.get("/briefs", response_class=HTMLResponse)
def briefs_page(
    request: Request,
    kind: BriefKind | None = None,
    unit: str | None = Query(default=None, max_length=32),
    who: Principal = Depends(principal),
) -> Response:
    """The archive: briefs by kind, scope and period, with downloads; a make form."""
    who.actor.require(Perm.brief_read)
    with transaction(request, write=False) as session:
        context = _common(request, session, who, "briefs")
        unit_id = None
        if unit and unit != "bureau":
            unit_id = briefs.resolve_unit(session, who.actor, unit)
        items, total = briefs.list_briefs(
            session=session,
            actor=who.actor,
            kind=kind,
            unit_id=unit_id,
            bureau_only=unit == "bureau",
            limit=200,
        )
        context["units"] = org.list_units(session=session, actor=who.actor)
        names = {u.id: u.name for u in context["units"]}
        context["items"] = [(to_read(b), names.get(b.unit_id, "全局")) for b in items]
        context["total"] = total
        context["kinds"] = list(BriefKind)
        context["kind"] = kind
        context["unit"] = unit or ""
        context["can_make"] = who.actor.can(Perm.brief_make)
        context["yesterday"] = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    return templates.TemplateResponse(request, "briefs.html", context)


@router.get("/briefs/latest/{kind}")
def latest(kind: BriefKind, request: Request, who: Principal = Depends(principal)) -> Response:
    """The newest brief of a kind for the caller's own scope (the big screen's links); the
    archive list when there is none yet."""
    who.actor.require(Perm.brief_read)
    with transaction(request, write=False) as session:
        found = briefs.newest(session=session, actor=who.actor).get(str(kind))
    target = f"/briefs/{found.id}" if found is not None else f"/briefs?kind={kind}"
    return RedirectResponse(target, status_code=303)


@router.get("/briefs/{brief_id}", response_class=HTMLResponse)
def brief_page(brief_id: IdPath, request: Request, who: Principal = Depends(principal)) -> Response:
    """One brief as archived (HTML), with a toolbar: back, downloads, print."""
    with transaction(request, write=False) as session:
        brief = briefs.get(session=session, actor=who.actor, brief_id=brief_id)
        units = (
            org.list_units(session=session, actor=who.actor)
            if who.actor.can(Perm.task_issue)
            else []
        )
    read = to_read(brief)
    html = briefs.file_of(settings=settings_of(request), brief=brief, fmt=BriefFormat.html)
    links = " ".join(
        f'<a href="{escape(url)}">下载 {escape(fmt)}</a>'
        for fmt, url in read.downloads.items()
        if fmt != "html"
    )
    bar = (
        '<nav class="brief-toolbar" style="font:14px sans-serif;padding:6px 12px;'
        'background:#eef2f7;border-bottom:1px solid #ccd" data-print="hide">'
        f'<a href="/briefs">← 研判简报</a> · {escape(read.title)}（第 {read.version} 版，'
        f"数据截至 {escape(read.as_of.isoformat(timespec='minutes'))}，哈希 "
        f"{escape(read.content_hash[:12])}） {links}</nav>"
    )
    text = html.decode("utf-8")
    at = text.find(">", text.find("<body")) + 1 if "<body" in text else 0
    page = text[:at] + bar + _issue_panel(who, brief, units) + text[at:]
    return HTMLResponse(page)


def _issue_panel(who: Principal, brief: Any, units: list[Any]) -> str:
    """The brief's draft actions, each with an owner unit and a button that issues it as a
    督办 task (for those who may issue; the archived brief itself is unchanged)."""
    actions = json.loads(brief.content).get("actions") or []
    if not units or not actions:
        return ""
    default = brief.unit_id
    options = "".join(
        f'<option value="{u.id}"{" selected" if u.id == default else ""}>{escape(u.name)}</option>'
        for u in units
    )
    rows = "".join(
        f'<li data-title="{escape(a["action"])}" data-finding="{escape(a["finding"])}">'
        f"{escape(a['finding'])} → {escape(a['action'])}（建议：{escape(a['owner'])}） "
        f'<select aria-label="责任单位">{options}</select> '
        f'<button type="button" data-action="{n}">下发督办</button> <span class="msg"></span></li>'
        for n, a in enumerate(actions, 1)
    )
    return (
        f'<meta name="csrf-token" content="{escape(who.csrf_token or "")}">'
        '<section id="brief-actions" data-print="hide" data-days="7" '
        f'data-brief="{brief.id}" style="font:14px sans-serif;padding:6px 12px;'
        'background:#f7f9fb;border-bottom:1px solid #ccd"><strong>建议措施下发督办</strong>'
        f"（期限 7 天）<ol>{rows}</ol></section>"
        '<script src="/static/js/qz.js"></script>'
        '<script src="/static/js/brief_actions.js"></script>'
    )
