"""Analysis API (研判): trends, hotspots, forecast, near-repeat and early warnings, in scope.

Every route needs ``analysis.read`` and analyses only the incidents in the caller's scope. Dates
are the bureau's local dates; an end date is exclusive. Bad parameters give 422 naming the field,
and so does a request whose cost is over the budget of ``intel.budget`` (at most 1 GB and 30 s a
request: the limit is in the message). A forecast whose model needs a long fit answers 202 with
a background job (``/api/jobs/{id}``); once the job is done the same request answers 200.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.errors import ValidationFailed
from qingzhi.incidents.enums import Category
from qingzhi.intel import forecasting, maps, service
from qingzhi.jobs import service as jobs
from qingzhi.jobs.runner import runner_for
from qingzhi.params import Day
from qingzhi.store.deps import database, settings_of, transaction

router = APIRouter(prefix="/api/intel", tags=["intel"])


def _today(request: Request) -> dt.date:
    return dt.datetime.now(ZoneInfo(settings_of(request).timezone)).date()


def _range(
    request: Request, start: dt.date | None, end: dt.date | None, default_days: int
) -> tuple[dt.date, dt.date]:
    stop = end or _today(request) + dt.timedelta(days=1)
    begin = start or stop - dt.timedelta(days=default_days)
    if stop <= begin:
        raise ValidationFailed.field("end", "须晚于 start")
    if (stop - begin).days > 3660:
        raise ValidationFailed.field("start", "时间范围不得超过 10 年")
    return begin, stop


def _edges(value: str, field: str) -> list[float]:
    try:
        edges = [float(v) for v in value.split(",")]
    except ValueError:
        raise ValidationFailed.field(field, "须为以逗号分隔的数") from None
    if len(edges) < 2 or len(edges) > 21:
        raise ValidationFailed.field(field, "须为 2 到 21 个边界")
    if not all(math.isfinite(e) for e in edges):
        raise ValidationFailed.field(field, "须为有限的数（不接受 inf、nan）")
    if edges[0] < 0 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValidationFailed.field(field, "须为非负且严格递增")
    return edges


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


@router.get("/trends")
def trends(
    request: Request,
    start: Day | None = None,
    end: Day | None = Query(default=None, description="exclusive; default tomorrow"),
    freq: Literal["day", "week", "month"] = "day",
    group_by: Literal["category", "unit", "zone"] = "category",
    category: list[Category] = Query(default=[]),
    actor: Actor = Depends(require(Perm.analysis_read)),
) -> dict[str, Any]:
    """Counts by period and group, 环比/同比 with exact Poisson tests, CompStat, hour of week."""
    begin, stop = _range(request, start, end, 28)
    with transaction(request, write=False) as session:
        return service.trend_report(
            session=session,
            actor=actor,
            settings=settings_of(request),
            start=begin,
            end=stop,
            freq=freq,
            group_by=group_by,
            categories=category,
        )


@router.get("/hotspots")
def hotspots(
    request: Request,
    start: Day | None = None,
    end: Day | None = None,
    cell: float = Query(default=150.0, ge=50.0, le=2000.0, description="cell size, metres"),
    radius_cells: float = Query(default=1.5, ge=1.0, le=5.0),
    fdr: float = Query(default=0.05, gt=0.0, le=0.5),
    category: list[Category] = Query(default=[]),
    actor: Actor = Depends(require(Perm.analysis_read)),
) -> dict[str, Any]:
    """Gi* hotspots (治安乱点) with Benjamini-Hochberg FDR as GeoJSON polygons (WGS-84)."""
    begin, stop = _range(request, start, end, 90)
    with transaction(request, write=False) as session:
        return maps.hotspot_map(
            session=session,
            actor=actor,
            settings=settings_of(request),
            start=_midnight(begin),
            end=_midnight(stop),
            cell=cell,
            radius_cells=radius_cells,
            fdr=fdr,
            categories=category,
        )


@router.get("/forecast", response_model=None)
def forecast(
    request: Request,
    day: Day | None = Query(default=None, description="default tomorrow"),
    cell: float = Query(default=150.0, ge=50.0, le=2000.0),
    top: int = Query(default=50, ge=1, le=1000),
    coverage: float | None = Query(default=None, gt=0.0, le=100.0, description="% of cells"),
    history_days: int = Query(default=730, ge=28, le=3650),
    fit_days: int = Query(default=90, ge=7, le=365),
    category: list[Category] = Query(default=[]),
    actor: Actor = Depends(require(Perm.analysis_read)),
) -> dict[str, Any] | JSONResponse:
    """The recommended method's hotspot forecast for a day: top cells with scores (map layer);
    202 with the background job while its model is being fitted."""
    target = day or _today(request) + dt.timedelta(days=1)
    with transaction(request, write=False) as session:
        out = forecasting.forecast_map(
            session=session,
            actor=actor,
            settings=settings_of(request),
            day=target,
            cell=cell,
            top=top,
            coverage=coverage,
            history_days=history_days,
            fit_days=fit_days,
            categories=category,
        )
    if not isinstance(out, forecasting.FitPending):
        return out
    settings = settings_of(request)
    runner = runner_for(database(request), settings)
    with transaction(request, write=True) as session:
        job, created = forecasting.submit_fit(
            session=session, actor=actor, settings=settings, pending=out, worker=runner.worker
        )
        body = {
            "status": "pending",
            "message": f"预测模型拟合中（预计约 {max(1, round(out.seconds))} 秒），完成后再次请求",
            "job": jobs.to_read(job),
        }
    if created:
        runner.enqueue(job.id)
    headers = {"Location": f"/api/jobs/{job.id}", "Retry-After": "2"}
    return JSONResponse(body, status_code=202, headers=headers)


@router.get("/nearrepeat")
def near_repeat(
    request: Request,
    category: Category,
    subtype: list[str] = Query(default=[]),
    start: Day | None = None,
    end: Day | None = None,
    distance_edges: str = Query(default="0,100,200,300,400", max_length=200),
    time_edges: str = Query(default="0,7,14,21,28", max_length=200),
    permutations: int = Query(default=99, ge=19, le=999),
    actor: Actor = Depends(require(Perm.analysis_read)),
) -> dict[str, Any]:
    """Knox near-repeat table (距离 × 时间) with Monte Carlo p-values for a category."""
    begin, stop = _range(request, start, end, 365)
    d_edges = _edges(distance_edges, "distance_edges")
    t_edges = _edges(time_edges, "time_edges")
    with transaction(request, write=False) as session:
        return maps.near_repeat(
            session=session,
            actor=actor,
            settings=settings_of(request),
            start=_midnight(begin),
            end=_midnight(stop),
            category=category,
            subtypes=subtype,
            distance_edges=d_edges,
            time_edges=t_edges,
            permutations=permutations,
        )


@router.get("/warnings")
def warnings(
    request: Request,
    end: Day | None = Query(default=None, description="exclusive; default tomorrow"),
    days: int = Query(default=7, ge=1, le=28),
    history_days: int = Query(default=365, ge=28, le=1825),
    cell: float = Query(default=500.0, ge=100.0, le=5000.0),
    simulations: int = Query(default=99, ge=19, le=999),
    alpha: float = Query(default=0.05, gt=0.0, le=0.2),
    chart_weeks: int = Query(default=4, ge=1, le=26),
    baseline_weeks: int = Query(default=26, ge=4, le=104),
    category: list[Category] = Query(default=[]),
    actor: Actor = Depends(require(Perm.analysis_read)),
) -> dict[str, Any]:
    """Early warnings (预警): space-time scan of the last days and control-chart alarms."""
    stop = end or _today(request) + dt.timedelta(days=1)
    with transaction(request, write=False) as session:
        return maps.early_warnings(
            session=session,
            actor=actor,
            settings=settings_of(request),
            end=stop,
            days=days,
            history_days=history_days,
            cell=cell,
            simulations=simulations,
            alpha=alpha,
            chart_weeks=chart_weeks,
            baseline_weeks=baseline_weeks,
            categories=category,
        )
