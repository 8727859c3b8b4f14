"""The FastAPI application: routers, the error family's handler, request ids, security headers."""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qingzhi import __version__
from qingzhi.audit.views import router as audit_router
from qingzhi.auth.deps import request_id_of
from qingzhi.auth.views import router as auth_router
from qingzhi.basemap.views import router as basemap_router  # basemap (issue 15)
from qingzhi.cases.views import router as cases_router  # cases (快侦快办)
from qingzhi.community.views import router as community_router  # community (两队一室)
from qingzhi.config import Settings, get_settings
from qingzhi.dispatch.views import router as dispatch_router
from qingzhi.errors import (
    ERROR_RESPONSES,
    QingzhiError,
    Unauthenticated,
    ValidationFailed,
    error_schemas,
    validation_message,
)
from qingzhi.incidents.ogc import router as ogc_router
from qingzhi.incidents.views import router as incidents_router
from qingzhi.intel.views import router as intel_router
from qingzhi.jobs.views import router as jobs_router
from qingzhi.kpi.views import router as kpi_router
from qingzhi.live.views import router as live_router
from qingzhi.org.service.place import apply_place  # county (issue 16)
from qingzhi.org.views import router as org_router
from qingzhi.params import control_in_query

# planning (plans domain)
from qingzhi.plans.views import router as planning_router
from qingzhi.reports.views import router as briefs_router  # briefs
from qingzhi.store.db import Database
from qingzhi.tasks.views import router as tasks_router  # tasks (督办)
from qingzhi.web import briefs as brief_pages  # briefs
from qingzhi.web import (
    community_pages,  # community_pages: community (两队一室)
    docs,
    pages,
    work_pages,
)
from qingzhi.web.csp import policy_of

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"

_HTTP_CODES = {
    404: ("not_found", "请求的地址不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    400: ("bad_request", "请求体无法解析（须为 UTF-8 编码的 JSON）"),
    413: ("too_large", "请求内容过大"),
}
# Bodies of up to max_bulk_bytes from callers with a credential; task attachments (督办) have
# their own, smaller limit, checked by their route as the bytes arrive.
BULK_SUFFIXES = ("/bulk", "/import", "/attachments")


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        kind = err.get("type", "")
        field = "body" if kind == "json_invalid" else _field_of(tuple(err.get("loc", ())))
        out.append({"field": field, "message": validation_message(err), "type": kind})
    return out


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """The Allow header of a 405: every method some route takes on this path (Starlette names
    only the first route's, where GET and POST of one path are two routes)."""
    allowed = []
    for method in _METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    page = path == "/api/docs" or not path.startswith(("/api/", "/ogc"))
    return page and "text/html" in request.headers.get("accept", "")


class _BodyTooLarge(Exception):
    """Raised by the counting ``receive`` once a request body passes its limit."""


def _has_credential(request: Request, settings: Settings) -> bool:
    """Whether the request carries a bearer token or a session cookie (checked later)."""
    header = request.headers.get("authorization", "")
    return header.lower().startswith("bearer ") or settings.session_cookie in request.cookies


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": "too_large",
                "message": f"请求内容超过 {limit // 1024} KB",
                "details": {"limit_bytes": limit},
            }
        },
        status_code=413,
    )


class EdgeMiddleware:
    """Every HTTP request: a query parameter with a control character (NUL) is refused (422
    naming it); a body over the limit is refused (413) — before it is read when its declared
    length says so, and once the bytes actually received pass the limit otherwise (chunked
    bodies too), so no body costs more memory than its limit. Only a request with a credential
    (checked by the route before it reads the body) may send a bulk body; any other gets the
    ordinary limit. Every answer carries the request id and the security headers, the API
    documentation included. Plain ASGI (Starlette's ``BaseHTTPMiddleware`` streams each
    response through a task group, a large share of a small request's cost)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.csp = policy_of(settings)

    def limit_for(self, request: Request) -> int:
        """The body limit of this request: bulk intake and imports with a credential, or not."""
        bulk = str(request.scope["path"]).endswith(BULK_SUFFIXES)
        if bulk and _has_credential(request, self.settings):
            return self.settings.max_bulk_bytes
        return self.settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        rid = request_id_of(request)
        started = False
        refused = False

        async def stamped(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the app's answer to a body cut short: the 413 goes instead
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = rid
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                headers["Content-Security-Policy"] = self.csp
            await send(message)

        query: bytes = scope.get("query_string", b"")
        bad = control_in_query(parse_qsl(query.decode("latin-1"), True)) if query else None
        if bad is not None:
            error = ValidationFailed.field(bad, "含有控制字符（如 NUL）")
            await JSONResponse(error.to_dict(), status_code=422)(scope, receive, stamped)
            return
        limit = self.limit_for(request)
        length = request.headers.get("content-length")
        if length is not None and (not length.isascii() or not length.isdigit()):
            length = str(limit + 1)
        if length is not None and int(length) > limit:
            await _too_large(limit)(scope, receive, stamped)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted, stamped)
        except Exception:
            if not refused:
                raise
        if refused and not started:
            refused = False
            log.info("request %s: body over %d bytes refused", rid, limit)
            await _too_large(limit)(scope, receive, stamped)


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    """The web application on ``db`` (by default the configured database)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="qingzhi 情指",
        version=__version__,
        docs_url=None,  # web/docs.py serves the vendored Swagger UI, behind login
        openapi_url="/api/openapi.json",
        redoc_url=None,
        # No OpenTelemetry: the police network has no collector, and FastAPI's default spans,
        # metrics and logs (to no-op providers) cost every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.db = db or Database.from_settings(settings)
    settings = apply_place(settings, app.state.db)  # county: the place's zone and CRS (issue 16)
    app.state.settings = settings

    app.add_middleware(EdgeMiddleware, settings=settings)

    @app.exception_handler(QingzhiError)
    async def on_domain_error(request: Request, exc: QingzhiError) -> Response:
        if isinstance(exc, Unauthenticated) and _wants_html(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if exc.status >= 500:
            log.error("request %s failed: %s", request_id_of(request), exc)
        headers = {}
        if isinstance(exc.details, dict) and "retry_after" in exc.details:
            headers["Retry-After"] = str(exc.details["retry_after"])
        if _wants_html(request):  # operator's loop: errors of pages are pages
            return pages.error_page(request, exc.status, exc.message)
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = _validation_details(exc)
        first = details[0] if details else {"field": "body", "message": "输入有误"}
        body = {
            "error": {
                "code": "validation_failed",
                "message": f"{first['field']}：{first['message']}",
                "details": details,
            }
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code, message = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        if _wants_html(request) and exc.status_code in (403, 404):
            return pages.error_page(request, exc.status_code, message)
        return JSONResponse(
            {"error": {"code": code, "message": message, "details": None}},
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error in request %s", request_id_of(request))
        if _wants_html(request):
            return pages.error_page(
                request, 500, "系统内部错误，请联系管理员", request_id_of(request)
            )
        return JSONResponse(
            {
                "error": {
                    "code": "internal_error",
                    "message": "系统内部错误，请联系管理员",
                    "details": {"request_id": request_id_of(request)},
                }
            },
            status_code=500,
        )

    for router in (
        auth_router,
        org_router,
        audit_router,
        incidents_router,
        ogc_router,
        intel_router,
        jobs_router,
        live_router,
        dispatch_router,
        kpi_router,  # evaluation
        planning_router,  # planning (plans domain)
        tasks_router,  # tasks (督办)
        cases_router,  # cases (快侦快办)
        basemap_router,  # basemap (issue 15): /api/basemap, /tiles/{z}/{x}/{y}.{ext}
        community_router,  # community (两队一室)
        briefs_router,  # briefs
    ):
        app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(docs.router)
    describe = app.openapi

    def openapi() -> dict[str, Any]:
        """The OpenAPI description, with the error body's schema."""
        if app.openapi_schema is None:
            schema = describe()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(error_schemas())
        return app.openapi_schema or describe()

    app.openapi = openapi  # type: ignore[method-assign]
    app.include_router(pages.router)
    app.include_router(work_pages.router)  # tasks and cases (督办, 快侦快办)
    app.include_router(community_pages.router)  # community (两队一室)
    app.include_router(brief_pages.router)  # briefs
    mimetypes.add_type("text/javascript", ".mjs")  # MapLibre GL's ES modules (vector base map)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
