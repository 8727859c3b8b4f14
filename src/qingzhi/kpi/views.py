"""Evaluation API (/api/kpi): schemes, station scores, reforms and their impact.

Scores need ``kpi.read`` (a station's own; the ranking with ``kpi.rank``); the impact of a
reform needs ``kpi.impact``; recording schemes and reforms ``kpi.manage``. Bad input answers
422 naming the field: an unknown indicator or weights that do not sum to 1 (``scheme``), a
period without data or not over (``period``), a reform month outside the data (``reform``), too
few control stations for a method (in the report's notes, or 422 for the DiD itself).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from qingzhi.analysis.indicators import INDICATORS
from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.kpi import report, service, trend
from qingzhi.kpi.records import OUTCOMES
from qingzhi.kpi.schemas import ReformCreate, ReformRead, SchemeCreate, SchemeRead
from qingzhi.org import service as org
from qingzhi.params import IdPath, IdQuery
from qingzhi.reports.enums import MEDIA_TYPES, BriefFormat
from qingzhi.store.deps import settings_of, transaction

router = APIRouter(prefix="/api/kpi", tags=["kpi"])


def jsonable(value: Any) -> Any:
    """Dataclasses, numpy values and non-finite floats as JSON (nan and inf as null)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@router.get("/indicators")
def indicators(actor: Actor = Depends(require(Perm.kpi_read))) -> list[dict[str, Any]]:
    """Every indicator with its definition, direction and whether its data exist."""
    return [jsonable(i) for i in INDICATORS]


@router.get("/schemes", response_model=list[SchemeRead])
def list_schemes(
    request: Request, actor: Actor = Depends(require(Perm.kpi_read))
) -> list[SchemeRead]:
    """Stored scheme versions, newest first."""
    with transaction(request, write=False) as session:
        return service.list_schemes(session=session, actor=actor)


@router.post("/schemes", response_model=SchemeRead, status_code=201)
def create_scheme(
    body: SchemeCreate, request: Request, actor: Actor = Depends(require(Perm.kpi_manage))
) -> SchemeRead:
    """Store a new scheme version (TOML); old versions stay and keep their scores."""
    with transaction(request, write=True) as session:
        return service.create_scheme(session=session, actor=actor, toml=body.toml)


@router.get("/scores")
def scores(
    request: Request,
    period: str = Query(max_length=10, description="YYYY, YYYY-H1, YYYY-Q3 or YYYY-MM"),
    scheme_id: IdQuery = None,
    draws: int = Query(default=1000, ge=1, le=service.MAX_DRAWS_API),
    actor: Actor = Depends(require(Perm.kpi_read)),
) -> dict[str, Any]:
    """Station scores and ranks for a period with bootstrap intervals (tied when they overlap)."""
    with transaction(request, write=False) as session:
        board = service.scores(
            session=session,
            actor=actor,
            settings=settings_of(request),
            period=period,
            scheme_id=scheme_id,
            draws=draws,
        )
    return jsonable(board)  # type: ignore[no-any-return]


@router.get("/scores.{fmt}")
def scores_report(
    request: Request,
    fmt: Literal["docx", "pdf"],
    period: str = Query(max_length=10, description="YYYY, YYYY-H1, YYYY-Q3 or YYYY-MM"),
    scheme_id: IdQuery = None,
    draws: int = Query(default=1000, ge=1, le=service.MAX_DRAWS_API),
    actor: Actor = Depends(require(Perm.kpi_read)),
) -> Response:
    """The scorecard as a report in the briefs' Word layout (公文), or PDF from it."""
    with transaction(request, write=False) as session:
        board = service.scores(
            session=session,
            actor=actor,
            settings=settings_of(request),
            period=period,
            scheme_id=scheme_id,
            draws=draws,
        )
        issuer = org.bureau(session).name
        station_trend = None
        if len(board["stations"]) == 1:  # one station's report: its trend too
            station_trend = trend.station_trend(
                session=session,
                actor=actor,
                settings=settings_of(request),
                unit_id=board["stations"][0]["unit_id"],
                period=period,
                scheme_id=board["scheme"]["id"],
                draws=draws,
            )
    today = dt.datetime.now(ZoneInfo(settings_of(request).timezone)).date()
    data = report.render(
        jsonable(board), issuer=issuer, today=today, fmt=fmt, trend=jsonable(station_trend)
    )
    return Response(
        data,
        media_type=MEDIA_TYPES[BriefFormat(fmt)],
        headers={
            "Content-Disposition": f'attachment; filename="kpi-{period}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/stations/{unit_id}/trend")
def station_trend(
    unit_id: IdPath,
    request: Request,
    period: str | None = Query(
        default=None, max_length=10, description="the last period (default: the last quarter)"
    ),
    periods: int | None = Query(
        default=None, ge=1, le=trend.MAX_PERIODS, description="default: 12 months, 8 quarters…"
    ),
    scheme_id: IdQuery = None,
    draws: int = Query(default=500, ge=1, le=service.MAX_DRAWS_API),
    actor: Actor = Depends(require(Perm.kpi_read)),
) -> dict[str, Any]:
    """One station's score, interval and rank range over consecutive periods (one scheme)."""
    settings = settings_of(request)
    with transaction(request, write=False) as session:
        found = trend.station_trend(
            session=session,
            actor=actor,
            settings=settings,
            unit_id=unit_id,
            period=period or service.last_quarter(settings.timezone),
            periods=periods,
            scheme_id=scheme_id,
            draws=draws,
        )
    return jsonable(found)  # type: ignore[no-any-return]


@router.get("/reforms", response_model=list[ReformRead])
def list_reforms(
    request: Request, actor: Actor = Depends(require(Perm.kpi_read))
) -> list[ReformRead]:
    """Recorded reforms."""
    with transaction(request, write=False) as session:
        return service.list_reforms(session=session, actor=actor)


@router.get("/reforms/{reform_id}", response_model=ReformRead)
def get_reform(
    reform_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.kpi_read))
) -> ReformRead:
    """One reform with its stations."""
    with transaction(request, write=False) as session:
        return service.get_reform(session=session, actor=actor, reform_id=reform_id)


@router.post("/reforms", response_model=ReformRead, status_code=201)
def create_reform(
    body: ReformCreate, request: Request, actor: Actor = Depends(require(Perm.kpi_manage))
) -> ReformRead:
    """Record a reform: its date and the stations it changed."""
    with transaction(request, write=True) as session:
        return service.create_reform(session=session, actor=actor, data=body)


@router.get("/impact")
def impact(
    request: Request,
    reform_id: int = Query(ge=1, le=2**31 - 1),
    outcome: Literal[tuple(OUTCOMES)] = "prevention",  # type: ignore[valid-type]
    family: Literal["poisson", "negbin"] = "poisson",
    draws: int = Query(default=999, ge=99, le=service.MAX_DRAWS_API),
    actor: Actor = Depends(require(Perm.kpi_impact)),
) -> dict[str, Any]:
    """The reform's impact on an outcome: year-on-year (treated, controls), DiD rate ratio,
    event study, placebo, synthetic control, displacement, and what the design cannot show."""
    with transaction(request, write=False) as session:
        reform, report = service.impact(
            session=session,
            actor=actor,
            settings=settings_of(request),
            reform_id=reform_id,
            outcome=outcome,
            family=family,
            draws=draws,
        )
    return {"reform": reform.model_dump(mode="json"), "outcome": outcome, **jsonable(report)}
