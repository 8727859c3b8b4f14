"""The base map's look: colours and widths of the road classes and the background, shared by the
demo's synthetic map and maps rendered from an OpenStreetMap extract (dark, like the command
centre's theme; ``qingzhi.planning.roads.CLASSES`` are the classes)."""

from __future__ import annotations

import logging
from pathlib import Path

from qingzhi.basemap.render import Style

log = logging.getLogger(__name__)

BACKGROUND = "#061226"  # the map's own background (app.css .map): the tiles' edge is unseen
LAND = "#13283f"
ROAD_LABELS: dict[str, str] = {
    "national": "国道",
    "provincial": "省道",
    "county": "县道",
    "township": "乡道",
    "village": "村道",
    "other": "其他道路",
}
ROAD_STYLES: dict[str, Style] = {
    "other": Style(line="#3f4a58", width=(0.5, 1.6), minzoom=12),
    "village": Style(line="#56606d", width=(0.6, 2.0), minzoom=11),
    "township": Style(line="#7d8a99", width=(1.0, 3.0), minzoom=9),
    "county": Style(line="#c9c3a6", casing=BACKGROUND, width=(1.5, 4.5)),
    "provincial": Style(
        line="#e3c25a", casing="#2a2208", width=(2.2, 6.0), label_minzoom=12, label_color="#f3dc8a"
    ),
    "national": Style(
        line="#f08c3a", casing="#3a1e08", width=(3.0, 8.0), label_minzoom=12, label_color="#ffc08a"
    ),
}
DRAW_ORDER = ("other", "village", "township", "county", "provincial", "national")


def label_font() -> Path | None:
    """A CJK font for labels: Fandol Hei (Debian's texlive-lang-chinese), else Noto Sans CJK."""
    from qingzhi.reports.render.fonts import FontsMissing, font_dir

    try:
        return font_dir() / "FandolHei-Regular.otf"
    except FontsMissing:
        noto = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
        if noto.is_file():
            return noto
    log.warning("base map: no CJK font found, tiles are drawn without labels")
    return None
