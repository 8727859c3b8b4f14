"""Command-line interface of the hotspot tools: ``qingzhi hotspot evaluate`` and ``predict``.

``evaluate`` runs the daily evaluation protocol (``qingzhi.analysis.evaluation``) for the chosen
methods on events read from CSV and prints hit rate, PAI, mean daily hit rate and wall time, and
writes the whole result, with per-day hits and totals, as JSON. ``predict`` makes the live surface:
the top cells for one day as GeoJSON in the projected CRS, and optionally in WGS-84 lon/lat.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from qingzhi.analysis.evaluation import (
    DEFAULT_COVERAGES,
    MethodResult,
    Period,
    evaluate,
    evaluate_hindsight,
    n_selected,
    rank_cells,
    study_mask,
)
from qingzhi.analysis.events import EventTable, read_events_csv
from qingzhi.analysis.forecast import FloatArray, SeriesData, series_on_grid
from qingzhi.analysis.grid import grid_for
from qingzhi.analysis.methods import expand_methods, make_forecaster, prepare, tune

log = logging.getLogger(__name__)

hotspot_app = typer.Typer(help="Hotspot forecasting (治安乱点预测): evaluate methods, predict.")

EventsOpt = Annotated[str, typer.Option(help="CSV file(s), comma separated; .gz accepted")]
XOpt = Annotated[str | None, typer.Option(help="projected x column (metres)")]
YOpt = Annotated[str | None, typer.Option(help="projected y column (metres)")]
LonOpt = Annotated[str | None, typer.Option(help="WGS-84 longitude column (needs --crs)")]
LatOpt = Annotated[str | None, typer.Option(help="WGS-84 latitude column (needs --crs)")]
TimeOpt = Annotated[str, typer.Option(help="time column, or several (YEAR,MONTH,DAY,HOUR,MINUTE)")]
CrsOpt = Annotated[str, typer.Option(help="projected CRS of the analysis, e.g. EPSG:32648")]
CellOpt = Annotated[float, typer.Option(help="cell size in metres")]
CatColOpt = Annotated[str | None, typer.Option(help="category column to filter on")]
CatOpt = Annotated[str | None, typer.Option(help="keep only these categories (comma separated)")]


def _load(
    events: str,
    x_col: str | None,
    y_col: str | None,
    lon_col: str | None,
    lat_col: str | None,
    time_col: str,
    crs: str,
    category_col: str | None,
    categories: str | None,
) -> tuple[EventTable, EventTable | None]:
    """The selected events, and all located events as context when a category filter is set."""
    cats = None
    if categories:
        if not category_col:
            raise typer.BadParameter("--categories needs --category-col")
        cats = [c.strip() for c in categories.split(",") if c.strip()]
    try:
        table = read_events_csv(
            [p.strip() for p in events.split(",") if p.strip()],
            time_cols=[c.strip() for c in time_col.split(",") if c.strip()],
            x_col=x_col,
            y_col=y_col,
            lon_col=lon_col,
            lat_col=lat_col,
            crs=crs,
            category_col=category_col,
        )
        if cats is None:
            return table, None
        return table.of_categories(cats), table
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc


def results_table(results: list[MethodResult], title: str) -> Table:
    """A rich table: per method, hit rate, PAI and mean daily hit rate per coverage; wall time."""
    table = Table(title=title)
    table.add_column("method")
    table.add_column("measure")
    cov = results[0].coverages if results else DEFAULT_COVERAGES
    for k in cov:
        table.add_column(f"{k:g}%", justify="right")
    table.add_column("time s", justify="right")
    for r in results:
        table.add_row(r.name, "hit rate", *(f"{v:.3f}" for v in r.hit_rate), f"{r.wall_time:.1f}")
        table.add_row("", "PAI", *(f"{v:.2f}" for v in r.pai), "")
        table.add_row(
            "", "mean daily", *(f"{v:.3f}" for v in r.mean_daily_hit_rate), "", end_section=True
        )
    return table


@hotspot_app.command("evaluate")
def evaluate_cmd(
    events: EventsOpt,
    time_col: TimeOpt,
    start: Annotated[str, typer.Option(help="first day of the evaluation period, YYYY-MM-DD")],
    x_col: XOpt = None,
    y_col: YOpt = None,
    lon_col: LonOpt = None,
    lat_col: LatOpt = None,
    crs: CrsOpt = "",
    cell: CellOpt = 150.0,
    days: Annotated[int, typer.Option(help="number of days evaluated")] = 91,
    train_days: Annotated[int, typer.Option(help="training window in days")] = 365,
    methods: Annotated[str, typer.Option(help="comma list or 'all'")] = "all",
    category_col: CatColOpt = None,
    categories: CatOpt = None,
    tune_days: Annotated[
        int, typer.Option(help="tune settings on this many days before --start (0: defaults)")
    ] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results here")] = None,
) -> None:
    """Evaluate forecasting methods day by day (hit rate, PAI) and write JSON."""
    if not crs:
        raise typer.BadParameter("--crs is required (a projected CRS such as EPSG:26910)")
    table, context = _load(
        events, x_col, y_col, lon_col, lat_col, time_col, crs, category_col, categories
    )
    if len(table) == 0:
        raise typer.BadParameter("no located events in the input")
    grid = grid_for(table.x, table.y, cell)
    series = series_on_grid(table, grid, context)
    period = Period.of(start, days)
    try:
        names = expand_methods(methods)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    results = []
    for name in names:
        if name == "hindsight":
            results.append(evaluate_hindsight(series, period))
        else:
            params = None
            if tune_days > 0:
                params, _ = tune(name, series, Period(period.start - tune_days, tune_days))
            forecaster = make_forecaster(name, train_days, params)
            prepare(forecaster, series, period.start)
            results.append(evaluate(series, forecaster, period))
    console = Console()
    console.print(results_table(results, f"{len(table)} events, {start} + {days} days"))
    if json_out is not None:
        payload = {
            "events": events,
            "crs": crs,
            "cell_m": cell,
            "grid": {"x0": grid.x0, "y0": grid.y0, "nx": grid.nx, "ny": grid.ny},
            "start": start,
            "days": days,
            "train_days": train_days,
            "tune_days": tune_days,
            "results": [r.to_dict() for r in results],
        }
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        console.print(f"wrote {json_out}")


def top_cells_geojson(
    series: SeriesData,
    scores: FloatArray,
    n_top: int,
    crs: str,
    wgs84: bool,
) -> dict[str, object]:
    """GeoJSON FeatureCollection of the ``n_top`` best-scored cells with rank and score."""
    mask = np.flatnonzero(series.counts() > 0).astype(np.int64)
    order = rank_cells(scores, mask)[:n_top]
    transform = None
    if wgs84:
        from pyproj import Transformer

        transform = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    features = []
    for rank, idx in enumerate(order, start=1):
        ring = series.grid.cell_polygon(int(idx))
        if transform is not None:
            lon, lat = transform.transform([p[0] for p in ring], [p[1] for p in ring])
            ring = [(round(a, 7), round(b, 7)) for a, b in zip(lon, lat, strict=True)]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"cell": int(idx), "rank": rank, "score": float(scores[idx])},
            }
        )
    out: dict[str, object] = {"type": "FeatureCollection", "features": features}
    if transform is None:
        out["crs"] = {"type": "name", "properties": {"name": crs}}
    return out


@hotspot_app.command("predict")
def predict_cmd(
    events: EventsOpt,
    time_col: TimeOpt,
    out: Annotated[Path, typer.Option(help="GeoJSON file to write")],
    x_col: XOpt = None,
    y_col: YOpt = None,
    lon_col: LonOpt = None,
    lat_col: LatOpt = None,
    crs: CrsOpt = "",
    cell: CellOpt = 150.0,
    day: Annotated[str | None, typer.Option(help="day forecast; default after the last")] = None,
    method: Annotated[str, typer.Option(help="forecasting method")] = "kde",
    train_days: Annotated[int, typer.Option(help="training window in days")] = 365,
    coverage: Annotated[float, typer.Option(help="percent of active cells to keep")] = 5.0,
    category_col: CatColOpt = None,
    categories: CatOpt = None,
    wgs84: Annotated[bool, typer.Option(help="write lon/lat (WGS-84) polygons")] = False,
) -> None:
    """Forecast one day's hotspot surface and write its top cells as GeoJSON."""
    if not crs:
        raise typer.BadParameter("--crs is required (a projected CRS such as EPSG:26910)")
    table, context = _load(
        events, x_col, y_col, lon_col, lat_col, time_col, crs, category_col, categories
    )
    if len(table) == 0:
        raise typer.BadParameter("no located events in the input")
    series = series_on_grid(table, grid_for(table.x, table.y, cell), context)
    target = (
        int(np.datetime64(day, "D").astype(np.int64)) if day else int(np.floor(series.t[-1])) + 1
    )
    history = series.before(target)
    try:
        forecaster = make_forecaster(method, train_days)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    prepare(forecaster, series, target)
    scores = forecaster.predict(history, target)
    n_mask = len(study_mask(series, target))
    n_top = n_selected(coverage, n_mask)
    doc = top_cells_geojson(history, scores, n_top, crs, wgs84)
    doc["properties"] = {
        "method": method,
        "day": str(np.datetime64(target, "D")),
        "coverage_percent": coverage,
        "cell_m": cell,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    Console().print(f"wrote {n_top} cells to {out}")


if __name__ == "__main__":
    hotspot_app()
