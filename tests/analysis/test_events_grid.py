"""Event reading and the evaluation grid on small hand-made inputs."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from qingzhi.analysis.events import make_events, read_events, times_from_parts
from qingzhi.analysis.grid import counts, grid_for


def test_times_from_parts() -> None:
    t = times_from_parts(
        [
            np.array([2024.0, 2023.0]),
            np.array([2.0, 12.0]),
            np.array([29.0, 31.0]),
            np.array([23.0, 0.0]),
            np.array([59.0, np.nan]),
        ]
    )
    assert str(t[0]) == "2024-02-29T23:59:00"
    assert np.isnat(t[1])


def test_read_csv_multi_time_columns_gz_and_no_location(tmp_path: Path) -> None:
    text = (
        "TYPE,YEAR,MONTH,DAY,HOUR,MINUTE,X,Y\n"
        "Mischief,2024,1,2,3,4,491000.5,5458000.25\n"
        "Mischief,2024,1,1,0,0,0.0,0.0\n"
        "Theft,2023,12,31,23,30,491100,5458100\n"
        "Theft,2023,12,31,23,30,,\n"
    )
    path = tmp_path / "e.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    ev = read_events(
        [path],
        time_cols=["YEAR", "MONTH", "DAY", "HOUR", "MINUTE"],
        x_col="X",
        y_col="Y",
        category_col="TYPE",
    )[0]
    assert len(ev) == 2
    assert str(ev.t[0]) == "2023-12-31T23:30:00"  # sorted by time
    assert ev.category is not None and list(ev.category) == ["Theft", "Mischief"]
    only = ev.of_categories(["Mischief"])
    assert len(only) == 1 and only.x[0] == 491000.5


def test_read_csv_lonlat_projects(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("lon,lat,time\n107.35,30.33,2024-05-01 08:30:00\n", encoding="utf-8")
    ev = read_events([path], time_cols=["time"], lon_col="lon", lat_col="lat", crs="EPSG:32648")[0]
    assert str(ev.t[0]) == "2024-05-01T08:30:00"
    # UTM 48N: central meridian 105 E, so 107.35 E is about 226 km east of it.
    assert 720_000 < ev.x[0] < 730_000
    assert 3_350_000 < ev.y[0] < 3_370_000
    with pytest.raises(ValueError):
        read_events([path], time_cols=["time"], lon_col="lon", lat_col="lat")[0]


def test_grid_origin_and_flat_index() -> None:
    g = grid_for(np.array([310.0, 620.0]), np.array([-10.0, 290.0]), 150.0)
    assert (g.x0, g.y0, g.nx, g.ny) == (300.0, -150.0, 3, 3)
    idx = g.flat_index(np.array([310.0, 620.0, 10_000.0]), np.array([-10.0, 290.0, 0.0]))
    assert list(idx) == [0, 2 * 3 + 2, -1]
    c = counts(g, np.array([310.0, 320.0]), np.array([-10.0, -20.0]))
    assert c[0] == 2 and c.sum() == 2
    xc, yc = g.centres()
    assert (xc[0], yc[0]) == (375.0, -75.0)
    assert g.cell_polygon(4)[0] == (450.0, 0.0)


def test_make_events_validates_lengths() -> None:
    with pytest.raises(ValueError):
        make_events([1.0, 2.0], [1.0], ["2024-01-01", "2024-01-02"])


def test_extent_cells_counts_before_allocating() -> None:
    from qingzhi.analysis.grid import extent_cells, grid_for_extent

    # x 120..460 at 100 m: origin 100, columns 100..499 -> 4; y 0..99: one row
    assert extent_cells(120.0, 0.0, 460.0, 99.0, 100.0) == 4
    g = grid_for_extent(120.0, 0.0, 460.0, 99.0, 100.0)
    assert (g.x0, g.y0, g.nx, g.ny) == (100.0, 0.0, 4, 1)
    # a county and one point 1,500 km away at 50 m: counted, not allocated
    assert extent_cells(0.0, 0.0, 1.5e6, 1.5e6, 50.0) == 30_001 * 30_001
    assert grid_for(np.array([120.0, 460.0]), np.array([0.0, 99.0]), 100.0) == g
    with pytest.raises(ValueError):
        extent_cells(0.0, 0.0, float("inf"), 1.0, 50.0)


def test_a_geographic_or_feet_crs_is_refused_and_us_dates_read_with_a_format(
    tmp_path: Path,
) -> None:
    from qingzhi.analysis.events import read_events, require_projected

    require_projected("EPSG:32648")
    for crs, says in (
        ("EPSG:4326", "不是投影坐标系"),
        ("EPSG:2227", "须为米"),
        ("nope", "无法识别"),
    ):
        with pytest.raises(ValueError, match=says):
            require_projected(crs)
    path = tmp_path / "us.csv"
    path.write_text("T,X,Y\n03/15/2024 10:30,1,2\n13/45/2024 10:30,1,2\n,1,2\n", encoding="utf-8")
    _, report = read_events([path], time_cols=["T"], x_col="X", y_col="Y")
    assert (report.rows, report.kept, report.bad_time) == (3, 0, 3) and report.us_dates()
    table, report = read_events(
        [path], time_cols=["T"], x_col="X", y_col="Y", time_format="%m/%d/%Y %H:%M"
    )
    assert str(table.t[0]) == "2024-03-15T10:30:00"
    assert report.bad_time == 2 and report.time_examples[0] == ("第 3 行", "13/45/2024 10:30")
