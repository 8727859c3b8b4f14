"""The FastAPI application: routers, the error family's handler, request ids, security headers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qingzhi import __version__
from qingzhi.audit.views import router as audit_router
from qingzhi.auth.views import router as auth_router
from qingzhi.config import Settings, get_settings
from qingzhi.dispatch.views import router as dispatch_router
from qingzhi.errors import QingzhiError, Unauthenticated
from qingzhi.incidents.ogc import router as ogc_router
from qingzhi.incidents.views import router as incidents_router
from qingzhi.intel.views import router as intel_router
from qingzhi.jobs.views import router as jobs_router
from qingzhi.live.views import router as live_router
from qingzhi.org.views import router as org_router
from qingzhi.store.db import Database
from qingzhi.web import pages
from qingzhi.web.deps import request_id_of

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
)

_HTTP_CODES = {
    404: ("not_found", "请求的地址不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    400: ("bad_request", "请求体无法解析（须为 UTF-8 编码的 JSON）"),
    413: ("too_large", "请求内容过大"),
}


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        kind = err.get("type", "")
        field = "body" if kind == "json_invalid" else _field_of(tuple(err.get("loc", ())))
        if kind == "json_invalid":
            message = "请求体不是合法的 JSON"
        elif kind == "missing":
            message = "缺少必填字段"
        elif kind == "extra_forbidden":
            message = "未知字段"
        else:
            message = str(err.get("msg", "取值无效")).removeprefix("Value error, ")
        out.append({"field": field, "message": message, "type": kind})
    return out


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(
        ("/api/", "/ogc")
    ) and "text/html" in request.headers.get("accept", "")


class EdgeMiddleware:
    """Every HTTP request: a body over the limit is refused (413) before it is read, and every
    answer carries the request id and the security headers. Plain ASGI (Starlette's
    ``BaseHTTPMiddleware`` streams each response through a task group, a large share of a small
    request's cost)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        rid = request_id_of(request)
        path: str = scope["path"]
        csp = not path.startswith("/api/docs")

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = rid
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                if csp:
                    headers["Content-Security-Policy"] = CSP
            await send(message)

        limit = (
            self.settings.max_bulk_bytes
            if path.endswith(("/bulk", "/import"))
            else self.settings.max_body_bytes
        )
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            refusal = JSONResponse(
                {
                    "error": {
                        "code": "too_large",
                        "message": f"请求内容超过 {limit // 1024} KB",
                        "details": {"limit_bytes": limit},
                    }
                },
                status_code=413,
            )
            await refusal(scope, receive, stamped)
            return
        await self.app(scope, receive, stamped)


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    """The web application on ``db`` (by default the configured database)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="qingzhi 情指",
        version=__version__,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        swagger_ui_parameters={"syntaxHighlight": False},
        # No OpenTelemetry: the police network has no collector, and FastAPI's default spans,
        # metrics and logs (to no-op providers) cost every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.db = db or Database.from_settings(settings)

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
        return JSONResponse(
            {"error": {"code": code, "message": message, "details": None}},
            status_code=exc.status_code,
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error in request %s", request_id_of(request))
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
        pages.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
