"""The API documentation page (/api/docs): vendored Swagger UI, behind login, under the CSP.

Swagger UI 5.35.0 is served from ``static/vendor/`` (no CDN) and started by a static script
(the CSP allows no inline script). A browser without a session is sent to the login page.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from qingzhi.auth.deps import Principal, principal
from qingzhi.web.pages import templates

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/api/docs")
def api_docs(request: Request, who: Principal = Depends(principal)) -> Response:
    """The browsable API description for a signed-in user."""
    spec_url = request.app.openapi_url or "/api/openapi.json"
    return templates.TemplateResponse(request, "apidocs.html", {"who": who, "spec_url": spec_url})
