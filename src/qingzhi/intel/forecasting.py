"""Tomorrow's hotspot forecast (预测) in scope, with long fits run as background jobs.

The forecast is the recommended method's (``analysis.methods.RECOMMENDED``, the log-linear
ensemble) on the grid of the jurisdictions in scope (``areas.study_grid``). Its model is fitted
on whole days before the eve of the forecast day, so one fit serves a whole day. A fit is
identified by ``key``: the scope, the grid, the fitted days and a digest of the incidents before
the eve (their count and times), so it is refitted exactly when those change.

Where the model comes from, in order: this process's cache; a finished job's stored result (the
``job`` table, so every server process finds it); a fit made in the request when its estimated
time (``budget.fit_seconds`` from the grid, the active cells and the fit days) is at most
``settings.forecast_inline_seconds``; else a background job (kind ``analysis.forecast_fit``) is
submitted or joined and the request answers 202 with the job (``/api/jobs/{id}`` shows its
progress); when it is done, the same request answers 200 from the stored model. Scoring the day
from a model is cheap (a tenth of a second on the demo county). A fit over ``MAX_FIT_ROWS``
rows, ``MAX_FORECAST_CELLS`` cells or about ten minutes is refused (422 naming the field).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from qingzhi.analysis.ensemble import LogLinearEnsemble
from qingzhi.analysis.evaluation import n_selected, rank_cells
from qingzhi.analysis.forecast import Forecaster, SeriesData, series_on_grid
from qingzhi.analysis.methods import RECOMMENDED, make_forecaster, prepare
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.errors import ValidationFailed
from qingzhi.incidents.enums import Category
from qingzhi.intel import budget
from qingzhi.intel.areas import study_grid
from qingzhi.intel.service import cell_features, empty_layer, load_events, local_midnight
from qingzhi.jobs import service as jobs
from qingzhi.jobs.models import Job
from qingzhi.jobs.runner import JobContext, JobResult, register

log = logging.getLogger(__name__)

KIND = "analysis.forecast_fit"
MIN_FIT_DAYS = 7
FITTED_KEPT = 16


@dataclass(frozen=True)
class FitInputs:
    """A forecast's data on its grid, the fit it needs, that fit's identity and cost."""

    series: SeriesData
    target: int  # the forecast day (days since 1970-01-01)
    fit_end: int  # the eve: the fit uses whole days before it
    fit: int  # days fitted (under MIN_FIT_DAYS: too little history, naive counts instead)
    key: str
    n_outside: int
    rows: int
    seconds: float


@dataclass(frozen=True)
class FitPending:
    """The model must be fitted in a background job: its parameters, key and estimated cost."""

    params: dict[str, Any]
    key: str
    seconds: float


def fit_params(
    *,
    day: dt.date,
    cell: float,
    history_days: int,
    fit_days: int,
    categories: Sequence[Category],
) -> dict[str, Any]:
    """The parameters a fit depends on (a job's parameters)."""
    return {
        "day": day.isoformat(),
        "cell": float(cell),
        "history_days": int(history_days),
        "fit_days": int(fit_days),
        "categories": sorted(str(c) for c in categories),
    }


def fit_inputs(
    *, session: Session, actor: Actor, settings: Settings, params: dict[str, Any]
) -> FitInputs | None:
    """Load the history, place it on the study grid and size the fit (None: no incidents).

    Refused with a 422 when the grid, the fit's rows or its estimated time is over budget."""
    day = dt.date.fromisoformat(params["day"])
    cell = float(params["cell"])
    categories = [Category(c) for c in params["categories"]]
    tz = settings.timezone
    begin = local_midnight(day - dt.timedelta(days=params["history_days"]), tz)
    stop = local_midnight(day, tz)
    ev = load_events(
        session=session,
        actor=actor,
        settings=settings,
        start=begin,
        end=stop,
        categories=categories,
    ).located()
    if len(ev) == 0:
        return None
    context = None
    if categories:
        context = load_events(
            session=session, actor=actor, settings=settings, start=begin, end=stop
        ).located()
    pts = context if context is not None else ev
    study = study_grid(
        session,
        actor,
        settings.projected_crs,
        cell,
        pts.x,
        pts.y,
        max_cells=budget.MAX_FORECAST_CELLS,
    )
    inside = study.keep(ev.x, ev.y)
    n_outside = int((~inside).sum())
    ev = ev.select(inside)
    if context is not None:
        context = context.select(study.keep(context.x, context.y))
    if len(ev) == 0:
        return None
    table = ev.table()
    series = series_on_grid(table, study.grid, None if context is None else context.table())
    target = int(np.datetime64(day, "D").astype(np.int64))
    # The model is fitted on whole days only (for tomorrow's forecast, today's calls are still
    # coming in), so one fit serves the whole day: it is kept while its data stay the same.
    fit_end = target - 1
    first_day = math.floor(float(series.t[0]))
    fit = min(int(params["fit_days"]), fit_end - first_day - 1)
    rows = 0
    if fit >= MIN_FIT_DAYS:
        rows = int((series.before(fit_end - fit).counts() > 0).sum()) * fit
    grid = series.grid
    seconds = budget.fit_seconds(grid.n_cells, rows, max(fit, 0))
    if rows > budget.MAX_FIT_ROWS:
        raise budget.over(
            "fit_days", "拟合的格日数", rows, budget.MAX_FIT_ROWS, "请减少 fit_days 或增大 cell"
        )
    if seconds > budget.MAX_FIT_SECONDS:
        raise ValidationFailed.field(
            "fit_days",
            f"拟合预计 {seconds / 60:.0f} 分钟，超过上限 {budget.MAX_FIT_SECONDS / 60:.0f} 分钟；"
            "请减少 fit_days 或增大 cell",
        )
    before = series.before(fit_end)
    ctx = before.context
    key = jobs.job_key(
        KIND,
        {
            "scope": actor.scope.key,
            "grid": [grid.x0, grid.y0, grid.cell, grid.nx, grid.ny],
            "fit_end": fit_end,
            "fit": fit,
            "categories": params["categories"],
            "events": [len(before), float(before.t.sum())],
            "context": None if ctx is None else [len(ctx), float(ctx.t.sum())],
        },
    )
    return FitInputs(series, target, fit_end, fit, key, n_outside, rows, seconds)


_FITTED: OrderedDict[tuple[str, str], LogLinearEnsemble] = OrderedDict()
_FITTED_LOCK = threading.Lock()


def _cached(store: str, key: str) -> LogLinearEnsemble | None:
    with _FITTED_LOCK:
        model = _FITTED.get((store, key))
        if model is not None:
            _FITTED.move_to_end((store, key))
        return model


def _keep(store: str, key: str, model: LogLinearEnsemble) -> None:
    with _FITTED_LOCK:
        _FITTED[(store, key)] = model
        while len(_FITTED) > FITTED_KEPT:
            _FITTED.popitem(last=False)


def fit_model(inputs: FitInputs, progress: Any = None) -> LogLinearEnsemble:
    """Fit the recommended model for ``inputs`` (in the request, or in a job with progress)."""
    model = make_forecaster(RECOMMENDED, None)
    assert isinstance(model, LogLinearEnsemble)
    prepare(model, inputs.series, inputs.fit_end, fit_days=inputs.fit, progress=progress)
    return model


def _stored(session: Session, key: str) -> tuple[LogLinearEnsemble, int] | None:
    job = jobs.find_done(session=session, kind=KIND, key=key)
    result = None if job is None else jobs.result_of(job)
    if job is None or result is None:
        return None
    return LogLinearEnsemble.from_state(result["model"]), job.id


def forecast_map(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    day: dt.date,
    cell: float = 150.0,
    top: int = 50,
    coverage: float | None = None,
    history_days: int = 730,
    fit_days: int = 90,
    categories: Sequence[Category] = (),
    inline_seconds: float | None = None,
) -> dict[str, Any] | FitPending:
    """The recommended method's forecast for ``day``: the top cells as WGS-84 GeoJSON, or a
    ``FitPending`` when its model must first be fitted in a background job.

    History is the ``history_days`` before ``day``; the model is fitted on its last ``fit_days``
    whole days before the eve of ``day`` (fewer when the history is short). With ``categories``
    all incidents in scope are the context series. The top cells are the ``top`` best, or
    ``coverage`` % of the active cells. ``inline_seconds`` (default the setting) is the longest
    estimated fit made in the request.
    """
    params = fit_params(
        day=day, cell=cell, history_days=history_days, fit_days=fit_days, categories=categories
    )
    inputs = fit_inputs(session=session, actor=actor, settings=settings, params=params)
    if inputs is None:
        return empty_layer(day=day.isoformat(), method=None, cell_m=cell, n_events=0)
    limit = settings.forecast_inline_seconds if inline_seconds is None else inline_seconds
    method, job_id = RECOMMENDED, None
    forecaster: Forecaster
    if inputs.fit < MIN_FIT_DAYS:  # too little history to fit: counts over all history
        method = "naive"
        forecaster = make_forecaster(method, None, {"window": 0.0})
    else:
        store = str(session.get_bind().engine.url)
        model = _cached(store, inputs.key)
        if model is None:
            stored = _stored(session, inputs.key)
            if stored is not None:
                model, job_id = stored
            elif inputs.seconds <= limit:
                model = fit_model(inputs)
            else:
                return FitPending(params, inputs.key, inputs.seconds)
            _keep(store, inputs.key, model)
        forecaster = model
    return _render(inputs, forecaster, method, job_id, day, cell, top, coverage, settings)


def _render(
    inputs: FitInputs,
    forecaster: Forecaster,
    method: str,
    job_id: int | None,
    day: dt.date,
    cell: float,
    top: int,
    coverage: float | None,
    settings: Settings,
) -> dict[str, Any]:
    series = inputs.series
    scores = forecaster.predict(series.before(inputs.target), inputs.target)
    counts = series.counts()
    active = np.flatnonzero(counts > 0).astype(np.int64)
    n = n_selected(coverage, len(active)) if coverage is not None else min(top, len(active))
    chosen = rank_cells(scores, active)[:n]
    features = cell_features(
        series.grid,
        [int(i) for i in chosen],
        settings.projected_crs,
        [
            {
                "cell": int(i),
                "rank": rank + 1,
                "score": round(float(scores[i]), 6),
                "history_count": int(counts[i]),
            }
            for rank, i in enumerate(chosen)
        ],
    )
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "day": day.isoformat(),
            "method": method,
            "params": forecaster.params(),
            "cell_m": cell,
            "n_events": len(series),
            "n_outside": inputs.n_outside,
            "n_active_cells": len(active),
            "fit_days": inputs.fit if method == RECOMMENDED else 0,
            "job_id": job_id,
        },
    }


def submit_fit(
    *, session: Session, actor: Actor, settings: Settings, pending: FitPending, worker: str
) -> tuple[Job, bool]:
    """Queue the fit as a job (or join the one queued or running for the same key), after
    failing the jobs of stopped processes so a dead job is not joined."""
    jobs.sweep_stale(session=session, stale_seconds=settings.jobs_stale_seconds)
    return jobs.submit(
        session=session,
        actor=actor,
        kind=KIND,
        params=pending.params,
        key=pending.key,
        worker=worker,
        max_active=settings.jobs_max_active,
    )


def run_fit(ctx: JobContext) -> JobResult:
    """The job: load the data as the submitting user, fit with progress, store the model."""
    ctx.progress(0.0, "读取警情")
    with ctx.db.session() as session:
        inputs = fit_inputs(
            session=session, actor=ctx.actor, settings=ctx.settings, params=ctx.params
        )
    if inputs is None or inputs.fit < MIN_FIT_DAYS:
        raise ValidationFailed.field("day", "所选范围内已没有可拟合的警情")
    log.info(
        "forecast fit job %d: %d rows, %d cells, about %.0f s",
        ctx.job_id,
        inputs.rows,
        inputs.series.grid.n_cells,
        inputs.seconds,
    )
    model = fit_model(inputs, ctx.progress)
    result = {
        "model": model.state(),
        "fit_end": str(np.datetime64(inputs.fit_end, "D")),
        "fit_days": inputs.fit,
        "rows": inputs.rows,
        "n_events": len(inputs.series),
    }
    return JobResult(result, key=inputs.key)


register(KIND, run_fit, Perm.analysis_read)
