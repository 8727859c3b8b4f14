"""``qingzhi basemap``: the offline base map's files (draw one from an OpenStreetMap extract)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from qingzhi.cli.common import console
from qingzhi.cli.common import fail as _fail
from qingzhi.errors import QingzhiError

log = logging.getLogger(__name__)

basemap_app = typer.Typer(help="离线底图（MBTiles）", no_args_is_help=True)


@basemap_app.command("osm")
def basemap_osm(
    extract: Path = typer.Argument(..., help="OpenStreetMap 数据（.osm、.osm.bz2 或 .osm.pbf）"),
    out: Path = typer.Option(..., "--out", help="输出的 MBTiles 文件"),
    minzoom: int = typer.Option(10, "--minzoom"),
    maxzoom: int = typer.Option(15, "--maxzoom"),
    name: str | None = typer.Option(None, "--name", help="底图名称"),
) -> None:
    """Draw a raster base map (MBTiles) of the roads of an OSM extract, offline."""
    from qingzhi.basemap.osm import render_osm

    try:
        made = render_osm(extract, out, minzoom=minzoom, maxzoom=maxzoom, name=name)
    except QingzhiError as exc:
        _fail(exc)
    console.print(
        f"底图已生成：{made.path}（{made.roads} 条道路，{made.tiles} 张瓦片，"
        f"缩放 {minzoom}–{maxzoom}）；启动时设置 QINGZHI_BASEMAP={made.path}"
    )
