"""Drawing a base map from an OpenStreetMap extract (``qingzhi basemap osm``)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from qingzhi.basemap import osm
from qingzhi.basemap.osm import count_tiles, render_osm
from qingzhi.basemap.render import tile_range
from qingzhi.basemap.styles import BACKGROUND
from qingzhi.basemap.tiles import open_basemap
from qingzhi.cli.main import app
from qingzhi.config import shared_data_dir
from qingzhi.errors import ValidationFailed

OAKLAND = shared_data_dir("osm", "west_oakland.osm.bz2")
pytestmark = pytest.mark.skipif(not OAKLAND.exists(), reason="shared/data/osm is missing")


def test_the_roads_of_an_extract_are_drawn_into_served_tiles(tmp_path: Path) -> None:
    out = tmp_path / "oakland.mbtiles"
    made = render_osm(OAKLAND, out, minzoom=14, maxzoom=16)
    assert made.roads > 10
    assert made.tiles == count_tiles(made.bounds, 14, 16)
    src = open_basemap(out)
    info = src.info
    assert (info.format, info.minzoom, info.maxzoom, info.datum) == ("png", 14, 16, "wgs84")
    assert "OpenStreetMap" in info.attribution
    assert not info.synthetic
    # some tile has road pixels (not background)
    bg = np.array([int(BACKGROUND[i : i + 2], 16) for i in (1, 3, 5)])
    drawn = 0
    cols, rows = tile_range(made.bounds, 16)
    for x in cols:
        for y in rows:
            tile = src.tile(16, x, y)
            assert tile is not None
            px = np.asarray(Image.open(io.BytesIO(tile.data)).convert("RGB")).reshape(-1, 3)
            drawn += int((np.abs(px.astype(int) - bg).sum(axis=1) > 60).sum())
    assert drawn > 1000


def test_bad_input_is_refused_with_the_field_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationFailed) as missing:
        render_osm(tmp_path / "none.osm.pbf", tmp_path / "x.mbtiles")
    assert missing.value.details[0]["field"] == "extract"
    with pytest.raises(ValidationFailed) as zooms:
        render_osm(OAKLAND, tmp_path / "x.mbtiles", minzoom=12, maxzoom=10)
    assert zooms.value.details[0]["field"] == "maxzoom"
    monkeypatch.setattr(osm, "MAX_TILES", count_tiles((-122.3, 37.8, -122.29, 37.81), 16, 17))
    with pytest.raises(ValidationFailed, match="超过上限"):
        render_osm(OAKLAND, tmp_path / "x.mbtiles", minzoom=10, maxzoom=18)
    assert not (tmp_path / "x.mbtiles").exists()


def test_the_command_writes_the_file_or_fails_in_chinese(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "o.mbtiles"
    ok = runner.invoke(app, ["basemap", "osm", str(OAKLAND), "--out", str(out), "--maxzoom", "14"])
    assert ok.exit_code == 0, ok.output
    assert "底图已生成" in ok.output and out.exists()
    bad = runner.invoke(app, ["basemap", "osm", str(tmp_path / "none.pbf"), "--out", str(out)])
    assert bad.exit_code == 2
    assert "找不到" in bad.output
