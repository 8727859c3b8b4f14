"""Command-line interface of the hotspot tools: ``qingzhi hotspot evaluate`` and ``predict``.

``evaluate`` runs the daily evaluation protocol (``qingzhi.analysis.evaluation``) for the chosen
methods on events read from CSV and prints hit rate, PAI, mean daily hit rate and the time each
method took (its fit and tuning included), and writes the whole result, with per-day hits and
totals and the history each method used, as JSON. ``--tune`` is the documented procedure: every
method with settings is tuned on the three quarters before ``--start`` (rolling origin, hits
pooled; ``methods.validation_quarters`` and ``methods.tune``) and then frozen. The hindsight bound
is shown apart, labelled 上限（事后）: it is not a forecast. ``predict`` makes the live surface of
the recommended method (or another): the top cells for one day as GeoJSON in the projected CRS,
and optionally in WGS-84 lon/lat.

Input problems are told, not swallowed: a CRS that is not projected in metres is refused; rows
whose time or location cannot be read are counted with examples (and ``--time-format`` reads
other date layouts); an evaluation period past the data is a warning, and an error when it leaves
nothing to evaluate. Errors are one Chinese line on stderr and a non-zero exit.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, NoReturn

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from qingzhi.analysis.evaluation import (
    DEFAULT_COVERAGES,
    MethodResult,
    Period,
    n_selected,
    rank_cells,
    study_mask,
)
from qingzhi.analysis.events import EventTable, ReadReport, read_events, require_projected
from qingzhi.analysis.forecast import FloatArray, SeriesData, series_on_grid
from qingzhi.analysis.grid import grid_for
from qingzhi.analysis.methods import (
    HINDSIGHT_LABEL,
    RECOMMENDED,
    expand_methods,
    make_forecaster,
    prepare,
    run_method,
    validation_quarters,
)

log = logging.getLogger(__name__)

hotspot_app = typer.Typer(help="Hotspot forecasting (治安乱点预测): evaluate methods, predict.")

EventsOpt = Annotated[str, typer.Option(help="CSV file(s), comma separated; .gz accepted")]
XOpt = Annotated[str | None, typer.Option(help="projected x column (metres)")]
YOpt = Annotated[str | None, typer.Option(help="projected y column (metres)")]
LonOpt = Annotated[str | None, typer.Option(help="WGS-84 longitude column (needs --crs)")]
LatOpt = Annotated[str | None, typer.Option(help="WGS-84 latitude column (needs --crs)")]
TimeOpt = Annotated[str, typer.Option(help="time column, or several (YEAR,MONTH,DAY,HOUR,MINUTE)")]
TimeFormatOpt = Annotated[
    str | None,
    typer.Option(help="strptime layout of a single time column, e.g. '%m/%d/%Y %H:%M'"),
]
CrsOpt = Annotated[str, typer.Option(help="projected CRS in metres, e.g. EPSG:32648")]
CellOpt = Annotated[float, typer.Option(help="cell size in metres")]
CatColOpt = Annotated[str | None, typer.Option(help="category column to filter on")]
CatOpt = Annotated[str | None, typer.Option(help="keep only these categories (comma separated)")]
TrainOpt = Annotated[
    int,
    typer.Option(help="window of naive and SEPP, fit period of the ensembles (days)"),
]


def _fail(message: str, code: int = 2) -> NoReturn:
    Console(stderr=True, soft_wrap=True).print(f"[red]错误[/red]：{message}", highlight=False)
    raise typer.Exit(code=code)


def _warn(message: str) -> None:
    Console(stderr=True, soft_wrap=True).print(f"[yellow]注意[/yellow]：{message}", highlight=False)


def _load(
    events: str,
    x_col: str | None,
    y_col: str | None,
    lon_col: str | None,
    lat_col: str | None,
    time_col: str,
    time_format: str | None,
    crs: str,
    category_col: str | None,
    categories: str | None,
) -> tuple[EventTable, EventTable | None, ReadReport]:
    """The selected events, all events as context when a category filter is set, the report."""
    if not crs:
        _fail("须给出 --crs：以米为单位的投影坐标系，例如 EPSG:32648（UTM 48N）")
    cats = None
    if categories:
        if not category_col:
            _fail("--categories 需要 --category-col")
        cats = [c.strip() for c in categories.split(",") if c.strip()]
    try:
        require_projected(crs)
        table, report = read_events(
            [p.strip() for p in events.split(",") if p.strip()],
            time_cols=[c.strip() for c in time_col.split(",") if c.strip()],
            x_col=x_col,
            y_col=y_col,
            lon_col=lon_col,
            lat_col=lat_col,
            crs=crs,
            category_col=category_col,
            time_format=time_format,
        )
    except OSError as exc:
        _fail(f"无法读取输入文件：{exc}")
    except ValueError as exc:
        _fail(str(exc))
    if report.kept == 0:
        _fail(f"输入中没有可用的事件：{report.describe()}")
    if report.bad_time or report.bad_location:
        _warn(f"部分行未读入：{report.describe()}")
    if cats is None:
        return table, None, report
    chosen = table.of_categories(cats)
    if len(chosen) == 0:
        found = sorted({str(c) for c in (table.category if table.category is not None else [])})
        _fail(f"没有类别为 {', '.join(cats)} 的事件（有：{', '.join(found[:20])}）")
    return chosen, table, report


def _day(value: str, option: str) -> int:
    try:
        return int(np.datetime64(value, "D").astype(np.int64))
    except ValueError:
        _fail(f"{option} 须为日期 YYYY-MM-DD，收到 {value!r}")


def _coverage_of_data(series: SeriesData, period: Period) -> list[str]:
    """Warnings about an evaluation period that the data do not cover; fails when nothing is
    left to evaluate (the period past the data, or no events before it)."""
    first_day = int(np.floor(series.t[0]))
    last_day = int(np.floor(series.t[-1]))
    first, last = str(np.datetime64(first_day, "D")), str(np.datetime64(last_day, "D"))
    start = str(np.datetime64(period.start, "D"))
    if period.start > last_day:
        _fail(f"评估期从 {start} 开始，晚于数据的最后一天 {last}：没有可评估的事件", code=1)
    if period.start <= first_day:
        _fail(f"评估期 {start} 之前没有事件（数据从 {first} 开始），无从预测", code=1)
    in_period = series.before(period.start + period.days).since(period.start).counts()
    if float(in_period[study_mask(series, period.start)].sum()) == 0:
        _fail(
            f"评估期 {start} 起 {period.days} 天内没有落在研究区（此前有事件的格）内的事件："
            "没有可评估的内容",
            code=1,
        )
    out = []
    end = period.start + period.days - 1
    if end > last_day:
        missing = end - last_day
        out.append(
            f"评估期的最后 {missing} 天（{last} 之后）没有数据，计为 0 起；"
            f"实际评估 {period.days - missing} 天"
        )
    return out


def results_table(results: list[MethodResult], title: str) -> Table:
    """A rich table: per method, hit rate, PAI and mean daily hit rate per coverage, and the
    seconds it took (fit and tuning included); the hindsight bound apart and labelled."""
    table = Table(title=title, caption=None)
    table.add_column("method")
    table.add_column("measure")
    cov = results[0].coverages if results else DEFAULT_COVERAGES
    for k in cov:
        table.add_column(f"{k:g}%", justify="right")
    table.add_column("time s", justify="right")
    table.add_column("fit/tune", justify="right")
    forecasts = [r for r in results if not r.bound]
    bounds = [r for r in results if r.bound]
    for r in [*forecasts, *bounds]:
        name, second = (HINDSIGHT_LABEL, r.name) if r.bound else (r.name, "")
        spent = f"{r.fit_time:.1f}/{r.tune_time:.1f}" if r.fit_time or r.tune_time else ""
        table.add_row(
            name, "hit rate", *(f"{v:.3f}" for v in r.hit_rate), f"{r.total_time:.1f}", spent
        )
        table.add_row(second, "PAI", *(f"{v:.2f}" for v in r.pai), "", "")
        table.add_row(
            "",
            "mean daily",
            *(f"{v:.3f}" for v in r.mean_daily_hit_rate),
            "",
            "",
            end_section=True,
        )
    if bounds:
        table.caption = (
            f"{HINDSIGHT_LABEL}：按评估期自身的事件排序（事后），不是预测方法，"
            "只表示任何固定排序能达到的上限"
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
    time_format: TimeFormatOpt = None,
    crs: CrsOpt = "",
    cell: CellOpt = 150.0,
    days: Annotated[int, typer.Option(min=1, help="number of days evaluated")] = 91,
    train_days: TrainOpt = 365,
    methods: Annotated[str, typer.Option(help="comma list or 'all' (hindsight bound too)")] = "all",
    category_col: CatColOpt = None,
    categories: CatOpt = None,
    tune: Annotated[
        bool,
        typer.Option(help="tune settings on the three quarters before --start (documented)"),
    ] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results here")] = None,
) -> None:
    """Evaluate forecasting methods day by day (hit rate, PAI) and write JSON."""
    try:
        names = expand_methods(methods)
    except ValueError as exc:
        _fail(f"--methods：{exc}")
    table, context, report = _load(
        events, x_col, y_col, lon_col, lat_col, time_col, time_format, crs, category_col, categories
    )
    grid = grid_for(table.x, table.y, cell)
    series = series_on_grid(table, grid, context)
    period = Period(_day(start, "--start"), days)
    warnings = _coverage_of_data(series, period)
    for w in warnings:
        _warn(w)
    tuning = validation_quarters(period.start) if tune else []
    results = []
    for name in names:
        log.info("evaluating %s", name)
        run = run_method(name, series, period, train_days=float(train_days), tuning=tuning)
        results.append(run.result)
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
            "tuning": None
            if not tune
            else {
                "procedure": "methods.tune on the three quarters before start (rolling origin)",
                "periods": [{"start": p.labels()[0], "days": p.days} for p in tuning],
            },
            "read": {
                "rows": report.rows,
                "kept": report.kept,
                "bad_time": report.bad_time,
                "bad_location": report.bad_location,
            },
            "warnings": warnings,
            "results": [
                {**r.to_dict(), **({"label": HINDSIGHT_LABEL} if r.bound else {})} for r in results
            ],
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
    time_format: TimeFormatOpt = None,
    crs: CrsOpt = "",
    cell: CellOpt = 150.0,
    day: Annotated[str | None, typer.Option(help="day forecast; default after the last")] = None,
    method: Annotated[
        str, typer.Option(help=f"forecasting method (default the recommended {RECOMMENDED})")
    ] = RECOMMENDED,
    train_days: TrainOpt = 365,
    coverage: Annotated[float, typer.Option(help="percent of active cells to keep")] = 5.0,
    category_col: CatColOpt = None,
    categories: CatOpt = None,
    wgs84: Annotated[bool, typer.Option(help="write lon/lat (WGS-84) polygons")] = False,
) -> None:
    """Forecast one day's hotspot surface and write its top cells as GeoJSON."""
    try:
        forecaster = make_forecaster(method, train_days)
    except ValueError as exc:
        _fail(f"--method：{exc}")
    table, context, _ = _load(
        events, x_col, y_col, lon_col, lat_col, time_col, time_format, crs, category_col, categories
    )
    series = series_on_grid(table, grid_for(table.x, table.y, cell), context)
    last_day = int(np.floor(series.t[-1]))
    target = _day(day, "--day") if day else last_day + 1
    if target > last_day + 1:
        _warn(
            f"预测日 {np.datetime64(target, 'D')} 距数据的最后一天 "
            f"{np.datetime64(last_day, 'D')} 已 {target - last_day} 天，其间的事件不在数据中"
        )
    history = series.before(target)
    if len(history) == 0:
        _fail(f"预测日 {np.datetime64(target, 'D')} 之前没有事件", code=1)
    prepare(forecaster, series, target, fit_days=train_days)
    scores = forecaster.predict(history, target)
    n_mask = len(study_mask(series, target))
    n_top = n_selected(coverage, n_mask)
    doc = top_cells_geojson(history, scores, n_top, crs, wgs84)
    doc["properties"] = {
        "method": method,
        "day": str(np.datetime64(target, "D")),
        "coverage_percent": coverage,
        "cell_m": cell,
        "history": forecaster.history(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    Console().print(f"wrote {n_top} cells to {out}")


if __name__ == "__main__":
    hotspot_app()
