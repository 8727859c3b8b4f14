"""Charts and maps: PNG at print size, the drawing shows what was asked, bad input is named."""

from __future__ import annotations

import datetime as dt
import io
import threading

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from shapely.geometry import Polygon, box

from qingzhi.errors import ValidationFailed
from qingzhi.reports.render import Cell, Spot, charts, echarts, map_png
from qingzhi.reports.render.charts import change_text
from tests.reports.samples import HOURS


def _image(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _colour_mask(img: np.ndarray, hex_colour: str, tol: int = 12) -> np.ndarray:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return np.all(np.abs(img - rgb) <= tol, axis=2)


def _largest(mask: np.ndarray) -> np.ndarray:
    """The largest connected region of ``mask`` (the drawing, not the colour bar's end)."""
    labels, n = ndimage.label(mask)
    assert n > 0
    sizes = ndimage.sum(mask, labels, range(1, n + 1))
    return np.asarray(labels == 1 + int(np.argmax(sizes)))


def test_png_at_print_size() -> None:
    png = charts.category_bars(["刑事", "治安"], [3, 5], [4, 5], width_mm=127, height_mm=50.8)
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == (1000, 400)  # 5 × 2 inches at 200 dpi
    png = charts.weekday_profile([1] * 7, dpi=100, width_mm=254, height_mm=127)
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == (1000, 500)


@pytest.mark.parametrize(
    ("current", "previous", "text"),
    [(110, 100, "+10.0%"), (90, 100, "-10.0%"), (5, 0, "新增"), (0, 0, "持平"), (100, 100, "持平"),
     (1, 3, "-66.7%")],
)  # fmt: skip
def test_change_text(current: float, previous: float, text: str) -> None:
    assert change_text(current, previous) == text


def test_bars_are_as_tall_as_their_counts() -> None:
    # One category, current only: the bar's pixel height is proportional to its count.
    heights = []
    for count in (10, 20):
        img = _image(charts.category_bars(["刑事"], [count], ylabel=None, dpi=100))
        rows = np.where(_colour_mask(img, charts.CURRENT).any(axis=1))[0]
        heights.append(rows.max() - rows.min())
    # Both axes end at 1.28 × the top count, so both bars are the same share of the axis.
    assert heights[0] == pytest.approx(heights[1], abs=2)


def test_hour_profile_baseline_is_a_step_per_hour() -> None:
    counts = [h * 1.5 for h in HOURS]
    img = _image(charts.hour_profile(counts, HOURS, dpi=100))
    red = _colour_mask(img, charts.BASELINE, tol=40)
    blue = _colour_mask(img, charts.CURRENT)
    assert red.sum() > 200 and blue.sum() > 2000
    # A step line is flat across each bar: its rows take few distinct values per column run.
    cols = np.where(red.any(axis=0))[0]
    flat = sum(1 for c in cols if np.ptp(np.where(red[:, c])[0]) <= 3)
    assert flat / len(cols) > 0.8
    with pytest.raises(ValidationFailed, match="counts"):
        charts.hour_profile([1] * 23)
    with pytest.raises(ValidationFailed, match="baseline"):
        charts.hour_profile([1] * 24, [-1] * 24)


def test_daily_line_needs_increasing_days() -> None:
    days = [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(14)]
    png = charts.daily_line(days, list(range(14)), [7] * 14)
    assert png.startswith(b"\x89PNG")
    with pytest.raises(ValidationFailed, match="days"):
        charts.daily_line(days[::-1], list(range(14)))
    option = echarts.daily_line_option(days, list(range(14)), [7] * 14)
    assert option["xAxis"]["data"][:2] == ["11月1日", "11月2日"]
    assert [s["name"] for s in option["series"]] == ["基线", "每日警情"]


def test_echarts_twins_carry_the_same_numbers() -> None:
    option = echarts.category_bars_option(["刑事", "治安"], [86, 312], [92, 290])
    assert option["xAxis"]["data"] == ["刑事\n-6.5%", "治安\n+7.6%"]
    assert [s["data"] for s in option["series"]] == [[92, 290], [86, 312]]
    week = echarts.weekday_profile_option([1.5] * 7, [1] * 7)
    assert week["xAxis"]["data"][0] == "周一" and week["series"][0]["data"] == [1.5] * 7


def test_map_cells_are_coloured_and_holes_stay_empty() -> None:
    outer = box(107.30, 30.30, 107.40, 30.40)
    hole = box(107.33, 30.33, 107.37, 30.37)  # 16% of the square's area
    low = box(107.50, 30.30, 107.51, 30.31)
    top_colour = "#800026"  # YlOrRd at its maximum

    def dark(cell_geometry: Polygon) -> int:
        png = map_png(cells=[Cell(cell_geometry, 10.0), Cell(low, 0.0)], dpi=100)
        return int(_largest(_colour_mask(_image(png), top_colour, tol=40)).sum())

    solid = dark(outer)
    holed = dark(Polygon(outer.exterior.coords, [hole.exterior.coords]))
    assert solid > 1000
    assert holed / solid == pytest.approx(0.84, abs=0.04)


def test_map_is_projected_not_stretched() -> None:
    # A 0.1° × 0.1° cell at 60°N is half as wide as it is tall on the ground (cos 60° = 0.5).
    png = map_png(cells=[Cell(box(10.0, 59.95, 10.1, 60.05), 1.0)], dpi=100)
    rows, cols = np.where(_largest(_colour_mask(_image(png), "#800026", tol=60)))
    width, height = np.ptp(cols) + 1, np.ptp(rows) + 1
    assert width / height == pytest.approx(0.5, abs=0.05)


def test_map_input_is_checked() -> None:
    with pytest.raises(ValidationFailed, match="boundary"):
        map_png()
    with pytest.raises(ValidationFailed, match=r"points\[0\]"):
        map_png(points=[Spot(500000.0, 3300000.0)])  # metres, not lon/lat
    with pytest.raises(ValidationFailed, match=r"cells\[0\]"):
        map_png(cells=[Cell(box(500000, 3300000, 501000, 3301000), 1.0)])


def test_charts_from_threads() -> None:
    results: list[bytes] = []

    def draw() -> None:
        results.append(charts.hour_profile(HOURS, HOURS, dpi=80))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1  # same picture each time
