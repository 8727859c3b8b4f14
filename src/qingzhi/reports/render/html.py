"""Render a ``Document`` as a print-friendly HTML page or fragment (Jinja2, autoescaped).

The page follows the Word layout (A4 margins in ``@page``, 3号 仿宋 text on 28.95 pt lines, the
heading faces, "— N —" page numbers where the browser supports page-margin boxes) and names the
official faces first in each font stack, then the Fandol and Noto stand-ins. There is no inline
script (the app's CSP allows none): a figure that carries an ECharts option keeps it in a
``data-echarts`` attribute, and ``CHART_SCRIPT`` (``static/doc-charts.js``, served by the app)
draws it when ``to_html`` is given the script URLs; the PNG stays for print and without script.
Figures are ``data:`` URIs unless ``figure_src`` gives a URL for them; table cells may be links.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from qingzhi.reports.render.fonts import FACES
from qingzhi.reports.render.model import (
    Document,
    Figure,
    Heading,
    Link,
    Note,
    PageBreak,
    Paragraph,
    Table,
    caption_text,
    cell_text,
    labels,
)
from qingzhi.reports.render.word import signature_layout

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
CHART_SCRIPT = HERE / "static" / "doc-charts.js"
ECHARTS_SRC = "/static/vendor/echarts-5.6.0/echarts.min.js"
TEXT_WIDTH_MM = 156.0

# Font stacks: the official face and its other names, the Fandol stand-in, then Noto CJK.
_NOTO = {"hei": ('"Noto Sans CJK SC"', "sans-serif")}


def _stack(key: str) -> Markup:
    face = FACES[key]
    names = [f'"{n}"' for n in (face.official, *face.aliases, face.fandol)]
    names += _NOTO.get(key, ('"Noto Serif CJK SC"', "serif"))
    return Markup(", ".join(names))  # noqa: S704 - fixed names, no user input


FONT_STACKS = {key: _stack(key) for key in FACES}

FigureSrc = Callable[[int, Figure], str]


@dataclass(frozen=True)
class _Cell:
    text: str
    href: str | None
    align: str


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )


def _data_uri(_: int, figure: Figure) -> str:
    return "data:image/png;base64," + base64.b64encode(figure.png).decode("ascii")


def _item(block: object, label: str | None, index: int, figure_src: FigureSrc) -> dict[str, Any]:
    if isinstance(block, Heading):
        return {"kind": "heading", "block": block, "label": label}
    if isinstance(block, Paragraph):
        return {"kind": "paragraph", "block": block}
    if isinstance(block, Table):
        aligns = block.column_align()
        rows = [
            [
                _Cell(cell_text(c), c.href if isinstance(c, Link) else None, aligns[i])
                for i, c in enumerate(row)
            ]
            for row in block.rows
        ]
        widths = [100.0 * w / TEXT_WIDTH_MM for w in block.column_widths_mm()]
        caption = caption_text(label, block.caption) if block.caption else ""
        return {"kind": "table", "block": block, "rows": rows, "widths": widths, "caption": caption}
    if isinstance(block, Figure):
        return {
            "kind": "figure",
            "block": block,
            "src": figure_src(index, block),
            "alt": block.alt or block.caption or "图",
            "width": 100.0 * block.width_mm / TEXT_WIDTH_MM,
            "chart": json.dumps(block.chart, ensure_ascii=False) if block.chart else None,
            "caption": caption_text(label, block.caption) if block.caption else "",
        }
    if isinstance(block, Note):
        return {"kind": "note", "block": block}
    if isinstance(block, PageBreak):
        return {"kind": "pagebreak", "block": block}
    raise TypeError(f"unsupported block {type(block).__name__}")  # pragma: no cover


def to_html(
    doc: Document,
    *,
    page: bool = True,
    scripts: Sequence[str] = (),
    figure_src: FigureSrc | None = None,
) -> str:
    """The document as HTML: a whole page, or (``page=False``) an ``<article>`` fragment.

    ``scripts`` are script URLs to load at the end, e.g. ECHARTS_SRC and the URL the app serves
    CHART_SCRIPT at, to draw the figures' ECharts options; ``figure_src(index, figure)`` gives
    an image URL instead of a ``data:`` URI.
    """
    src = figure_src or _data_uri
    figures = 0
    items = []
    for block, label in zip(doc.blocks, labels(doc), strict=True):
        items.append(_item(block, label, figures, src))
        if isinstance(block, Figure):
            figures += 1
    template = _environment().get_template("document.html")
    return template.render(
        doc=doc,
        items=items,
        page=page,
        scripts=list(scripts),
        fonts=FONT_STACKS,
        signature=signature_layout(doc.issuer, doc.date_text),
    )
