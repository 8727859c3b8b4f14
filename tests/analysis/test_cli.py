"""The hotspot sub-commands on a small CSV."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from qingzhi.analysis.cli import hotspot_app

runner = CliRunner()


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


def test_evaluate_writes_json(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    out = tmp_path / "out" / "r.json"
    res = runner.invoke(
        hotspot_app,
        [
            "evaluate",
            "--events",
            str(path),
            "--x-col",
            "X",
            "--y-col",
            "Y",
            "--time-col",
            "YEAR,MONTH,DAY,HOUR,MINUTE",
            "--crs",
            "EPSG:26910",
            "--start",
            "2024-01-20",
            "--days",
            "5",
            "--methods",
            "naive,hindsight",
            "--category-col",
            "TYPE",
            "--categories",
            "A",
            "--json",
            str(out),
        ],
    )
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


def test_predict_writes_geojson(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    out = tmp_path / "p.geojson"
    res = runner.invoke(
        hotspot_app,
        [
            "predict",
            "--events",
            str(path),
            "--x-col",
            "X",
            "--y-col",
            "Y",
            "--time-col",
            "YEAR,MONTH,DAY,HOUR,MINUTE",
            "--crs",
            "EPSG:26910",
            "--method",
            "naive",
            "--coverage",
            "50",
            "--wgs84",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["properties"]["day"] == "2024-01-29"
    feats = doc["features"]
    assert len(feats) == 2  # 50% of the three active cells, rounded up
    lon, lat = feats[0]["geometry"]["coordinates"][0][0]
    assert -127.5 < lon < -126.5 and 0 < lat < 1  # UTM 10N near the false origin


def test_evaluate_rejects_unknown_method(tmp_path: Path) -> None:
    res = runner.invoke(
        hotspot_app,
        [
            "evaluate",
            "--events",
            str(_csv(tmp_path)),
            "--x-col",
            "X",
            "--y-col",
            "Y",
            "--time-col",
            "YEAR,MONTH,DAY,HOUR,MINUTE",
            "--crs",
            "EPSG:26910",
            "--start",
            "2024-01-20",
            "--days",
            "2",
            "--methods",
            "magic",
        ],
    )
    assert res.exit_code != 0
