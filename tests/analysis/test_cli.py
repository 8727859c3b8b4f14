"""The hotspot sub-commands on small CSVs: results, and every input problem told, not swallowed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qingzhi.analysis import methods
from qingzhi.analysis.evaluation import Period
from qingzhi.cli.hotspot import hotspot_app

runner = CliRunner(env={"COLUMNS": "160"})
PARTS = ["--time-col", "YEAR,MONTH,DAY,HOUR,MINUTE"]
XY = ["--x-col", "X", "--y-col", "Y", "--crs", "EPSG:26910"]


def _csv(tmp_path: Path) -> Path:
    lines = ["TYPE,YEAR,MONTH,DAY,HOUR,MINUTE,X,Y"]
    for d in range(1, 29):
        lines.append(f"A,2024,1,{d},10,0,1010,2010")
        lines.append(f"B,2024,1,{d},11,0,1310,2310")
        if d % 3 == 0:
            lines.append(f"A,2024,1,{d},12,0,1160,2160")
    lines.append("A,2024,1,5,12,0,0,0")
    path = tmp_path / "events.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _year_csv(tmp_path: Path, layout: str = "iso") -> Path:
    """Fifteen months of calls: one a day in a busy cell, every third day in two others."""
    lines = ["WHEN,X,Y"]
    day = dt.date(2023, 1, 1)
    while day < dt.date(2024, 4, 1):
        n = day.toordinal()
        spots = [(1010.0, 2010.0)] + [(1160.0 + 150 * (n % 2), 2160.0)] * (n % 3 == 0)
        for x, y in spots:
            moment = dt.datetime.combine(day, dt.time(10, 0))
            text = moment.strftime("%m/%d/%Y %H:%M" if layout == "us" else "%Y-%m-%d %H:%M")
            lines.append(f"{text},{x},{y}")
        day += dt.timedelta(days=1)
    path = tmp_path / f"year-{layout}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _evaluate(*args: str) -> Any:
    return runner.invoke(hotspot_app, ["evaluate", *args])


def test_evaluate_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "out" / "r.json"
    res = _evaluate(
        "--events", str(_csv(tmp_path)), *XY, *PARTS, "--start", "2024-01-20", "--days", "5",
        "--methods", "naive,hindsight", "--category-col", "TYPE", "--categories", "A",
        "--json", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    names = [r["method"] for r in doc["results"]]
    assert names == ["naive", "hindsight"]
    naive = doc["results"][0]
    assert naive["n_masked_cells"] == 2
    # Days 20..24: A at (1010,2010) daily, (1160,2160) on day 21 and 24; 1% -> one cell,
    # naive ranks the daily cell first: hits 5 of 7.
    assert [d["total"] for d in naive["daily"]] == [1, 2, 1, 1, 2]
    assert naive["hit_rate"][0] == round(5 / 7, 6)
    # the one row at (0, 0) has no location: counted, not silently gone
    assert doc["read"] == {"rows": 66, "kept": 65, "bad_time": 0, "bad_location": 1}
    assert "无坐标" in res.stderr and "第 67 行" in res.stderr


def test_predict_writes_geojson(tmp_path: Path) -> None:
    out = tmp_path / "p.geojson"
    res = runner.invoke(
        hotspot_app,
        ["predict", "--events", str(_csv(tmp_path)), *XY, *PARTS, "--method", "naive",
         "--coverage", "50", "--wgs84", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["properties"]["day"] == "2024-01-29"
    feats = doc["features"]
    assert len(feats) == 2  # 50% of the three active cells, rounded up
    lon, lat = feats[0]["geometry"]["coordinates"][0][0]
    assert -127.5 < lon < -126.5 and 0 < lat < 1  # UTM 10N near the false origin


def test_predict_defaults_to_the_recommended_method(tmp_path: Path) -> None:
    out = tmp_path / "p.geojson"
    res = runner.invoke(
        hotspot_app,
        ["predict", "--events", str(_year_csv(tmp_path)), "--x-col", "X", "--y-col", "Y",
         "--time-col", "WHEN", "--crs", "EPSG:26910", "--train-days", "60", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    props = json.loads(out.read_text(encoding="utf-8"))["properties"]
    assert props["method"] == methods.RECOMMENDED == "ensemble"
    assert props["history"] == {"window_days": "all", "fit_days": 60}


def test_evaluate_rejects_unknown_method(tmp_path: Path) -> None:
    res = _evaluate(
        "--events", str(_csv(tmp_path)), *XY, *PARTS, "--start", "2024-01-20", "--days", "2",
        "--methods", "magic",
    )  # fmt: skip
    assert res.exit_code != 0
    assert "magic" in res.stderr and "Traceback" not in res.output


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_geographic_crs_is_refused(tmp_path: Path, command: str) -> None:
    # Degrees as metres put a whole city in one "150 m" cell: hit rate 1, PAI 100.
    path = tmp_path / "lonlat.csv"
    path.write_text("WHEN,LON,LAT\n2024-01-01 10:00,107.05,30.05\n", encoding="utf-8")
    extra = ["--start", "2024-01-01"] if command == "evaluate" else ["--out", str(tmp_path / "o")]
    for columns in (["--lon-col", "LON", "--lat-col", "LAT"], ["--x-col", "LON", "--y-col", "LAT"]):
        res = runner.invoke(
            hotspot_app,
            [command, "--events", str(path), *columns, "--time-col", "WHEN",
             "--crs", "EPSG:4326", *extra],
        )  # fmt: skip
        assert res.exit_code == 2, res.output
        assert "不是投影坐标系" in res.stderr and "EPSG:4326" in res.stderr
    # a projected CRS in feet is refused too: the cell size is in metres
    res = runner.invoke(
        hotspot_app,
        [command, "--events", str(path), "--x-col", "LON", "--y-col", "LAT",
         "--time-col", "WHEN", "--crs", "EPSG:2227", *extra],
    )  # fmt: skip
    assert res.exit_code == 2 and "须为米" in res.stderr


def test_us_dates_are_counted_and_read_with_a_time_format(tmp_path: Path) -> None:
    us = _year_csv(tmp_path, "us")
    args = ["--x-col", "X", "--y-col", "Y", "--time-col", "WHEN", "--crs", "EPSG:26910",
            "--start", "2024-02-01", "--days", "28", "--methods", "naive"]  # fmt: skip
    res = _evaluate("--events", str(us), *args)
    assert res.exit_code == 2
    rows = len(us.read_text(encoding="utf-8").splitlines()) - 1
    # every row failed, and the message says how many, why, an example and the fix
    assert f"时间无法解析 {rows} 行" in res.stderr
    assert "第 2 行 '01/01/2023 10:00'" in res.stderr
    assert "--time-format" in res.stderr and "月/日/年" in res.stderr
    iso_out, us_out = tmp_path / "iso.json", tmp_path / "us.json"
    ok = _evaluate("--events", str(us), *args, "--time-format", "%m/%d/%Y %H:%M", "--json",
                   str(us_out))  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert (
        _evaluate("--events", str(_year_csv(tmp_path)), *args, "--json", str(iso_out)).exit_code
        == 0
    )
    us_doc, iso_doc = (json.loads(p.read_text(encoding="utf-8")) for p in (us_out, iso_out))
    assert us_doc["read"]["kept"] == rows
    assert us_doc["results"][0]["daily"] == iso_doc["results"][0]["daily"]


def test_each_record_says_the_history_it_used(tmp_path: Path) -> None:
    out = tmp_path / "h.json"
    res = _evaluate(
        "--events", str(_year_csv(tmp_path)), "--x-col", "X", "--y-col", "Y", "--time-col",
        "WHEN", "--crs", "EPSG:26910", "--start", "2024-02-01", "--days", "14",
        "--train-days", "60", "--methods", "all", "--json", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    history = {r["method"]: r["history"] for r in json.loads(out.read_text())["results"]}
    assert history["naive"] == {"window_days": 60.0}
    assert history["sepp"] == {"window_days": 60.0, "refit_days": 28}
    assert history["kde"] == {"window_days": "all"}  # its own setting, not --train-days
    assert history["prospective"] == {"window_days": 365.0}
    assert history["ensemble"] == {"window_days": "all", "fit_days": 60}
    assert history["mixture"] == {"window_days": "all", "fit_days": 60}
    assert history["hindsight"]["window_days"] == 0


def test_reported_time_includes_the_fit(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    res = _evaluate(
        "--events", str(_year_csv(tmp_path)), "--x-col", "X", "--y-col", "Y", "--time-col",
        "WHEN", "--crs", "EPSG:26910", "--start", "2024-02-01", "--days", "7",
        "--train-days", "60", "--methods", "naive,ensemble", "--json", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    naive, ensemble = json.loads(out.read_text())["results"]
    assert naive["fit_time_s"] == 0.0
    assert ensemble["fit_time_s"] > 0.0
    parts = ensemble["fit_time_s"] + ensemble["forecast_time_s"] + ensemble["tune_time_s"]
    assert ensemble["wall_time_s"] == pytest.approx(parts, abs=0.002)


def test_validation_quarters_are_the_three_before_the_start() -> None:
    quarters = methods.validation_quarters(Period.of("2024-01-01", 1).start)
    assert [(q.labels()[0], q.days) for q in quarters] == [
        ("2023-04-01", 91),
        ("2023-07-01", 92),
        ("2023-10-01", 92),
    ]
    mid = methods.validation_quarters(Period.of("2024-05-31", 1).start)
    assert [q.labels()[0] for q in mid] == ["2023-08-31", "2023-11-30", "2024-02-29"]
    assert mid[-1].start + mid[-1].days == Period.of("2024-05-31", 1).start


def test_tune_runs_the_documented_procedure_and_refits_nothing_untunable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits: list[tuple[str, int]] = []
    tuned: list[tuple[str, list[Period]]] = []
    real_prepare, real_tune = methods.prepare, methods.tune

    def counted_prepare(forecaster: Any, series: Any, start: int, *a: Any, **k: Any) -> None:
        if methods.learns(forecaster):
            fits.append((forecaster.name, start))
        real_prepare(forecaster, series, start, *a, **k)

    def counted_tune(name: str, series: Any, periods: Any, *a: Any, **k: Any) -> Any:
        tuned.append((name, list(periods)))
        return real_tune(name, series, periods, *a, **k)

    monkeypatch.setattr(methods, "prepare", counted_prepare)
    monkeypatch.setattr(methods, "tune", counted_tune)
    out = tmp_path / "tune.json"
    res = _evaluate(
        "--events", str(_year_csv(tmp_path)), "--x-col", "X", "--y-col", "Y", "--time-col",
        "WHEN", "--crs", "EPSG:26910", "--start", "2024-01-01", "--days", "14",
        "--train-days", "60", "--methods", "naive,ensemble", "--tune", "--json", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    quarters = methods.validation_quarters(Period.of("2024-01-01", 1).start)
    assert tuned == [("naive", quarters)]  # the ensemble has nothing to tune
    assert fits == [("ensemble", Period.of("2024-01-01", 1).start)]  # fitted once, for 2024
    doc = json.loads(out.read_text())
    assert [p["start"] for p in doc["tuning"]["periods"]] == [
        "2023-04-01",
        "2023-07-01",
        "2023-10-01",
    ]
    naive = doc["results"][0]
    assert naive["tune_time_s"] > 0 and "window_days" in naive["params"]


def test_hindsight_is_labelled_apart(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    res = _evaluate(
        "--events", str(_csv(tmp_path)), *XY, *PARTS, "--start", "2024-01-20", "--days", "5",
        "--methods", "hindsight,naive", "--json", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    label_row = next(i for i, line in enumerate(lines) if "上限（事后）" in line)
    naive_row = next(i for i, line in enumerate(lines) if "naive" in line)
    assert "hindsight" in lines[label_row + 1] and naive_row < label_row  # last, and labelled
    assert "不是预测方法" in res.stdout
    records = {r["method"]: r for r in json.loads(out.read_text())["results"]}
    assert records["hindsight"]["bound"] is True and records["hindsight"]["label"] == "上限（事后）"
    assert records["naive"]["bound"] is False


def test_a_period_past_the_data_is_told(tmp_path: Path) -> None:
    path = str(_csv(tmp_path))
    past = _evaluate("--events", path, *XY, *PARTS, "--start", "2024-03-01", "--methods", "naive")
    assert past.exit_code == 1
    assert "晚于数据的最后一天 2024-01-28" in past.stderr
    # half in the data: evaluated, with a warning for the days without data
    half = _evaluate(
        "--events", path, *XY, *PARTS, "--start", "2024-01-25", "--days", "8", "--methods", "naive"
    )
    assert half.exit_code == 0, half.output
    assert "最后 4 天（2024-01-28 之后）没有数据" in half.stderr
    before = _evaluate("--events", path, *XY, *PARTS, "--start", "2023-12-01", "--methods", "naive")
    assert before.exit_code == 1 and "之前没有事件" in before.stderr
