"""The document model every report renders from: a title block, a list of blocks, a signature.

A ``Document`` holds the parts of a GB/T 9704-2012 official document that briefs, plan reports
and scorecards share: an optional security marking (密级/"内部资料") and document number (发文字号),
the title (标题) and an optional subtitle, the body as blocks, and the issuing unit (发文机关署名)
with the date (成文日期, written "2026年12月1日"). Blocks are headings (levels 1–4, numbered
"一、", "（一）", "1.", "（1）" as GB/T 9704 §7.3.3 prescribes), paragraphs (first line indented
two characters), tables (header row, rows, optional widths, alignments and links), figures (PNG
bytes and a caption, optionally an ECharts option for the web form), notes (small text) and page
breaks. Values are frozen; bad values raise ``ValidationFailed`` naming the field.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

Align = Literal["left", "center", "right"]
ALIGNS: tuple[Align, ...] = ("left", "center", "right")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_WIDTH_MM = 156.0  # the GB/T 9704 text block: 156 mm × 225 mm
MAX_HEADING_LEVEL = 4
LINK_PREFIXES = ("/", "#", "?", "http://", "https://")


@dataclass(frozen=True)
class Link:
    """A table cell's text that links to ``href`` in the web form (plain text in Word/PDF)."""

    text: str
    href: str

    def __post_init__(self) -> None:
        if not self.href.startswith(LINK_PREFIXES) or self.href.startswith("//"):
            raise ValidationFailed.field("link.href", "须为站内路径（/…）或 http(s) 地址")


Cell = str | int | Link


def cell_text(cell: Cell) -> str:
    """The text a cell shows."""
    if isinstance(cell, Link):
        return cell.text
    return str(cell)


@dataclass(frozen=True)
class Heading:
    """A structure heading: level 1 黑体 "一、", 2 楷体 "（一）", 3 仿宋 "1.", 4 仿宋 "（1）"."""

    text: str
    level: int = 1
    numbered: bool = True

    def __post_init__(self) -> None:
        _require_text("heading.text", self.text)
        if not 1 <= self.level <= MAX_HEADING_LEVEL:
            raise ValidationFailed.field("heading.level", f"须为 1 至 {MAX_HEADING_LEVEL}")


@dataclass(frozen=True)
class Paragraph:
    """Body text; ``lead`` is a bold run-in phrase before it ("一是……"); ``indent`` two chars."""

    text: str
    lead: str | None = None
    indent: bool = True

    def __post_init__(self) -> None:
        if not (self.text or self.lead):
            raise ValidationFailed.field("paragraph.text", "不能为空")


@dataclass(frozen=True)
class Table:
    """A table with a header row; widths in mm (scaled to the text width), one align per column."""

    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    caption: str | None = None
    widths_mm: Sequence[float] | None = None
    align: Sequence[Align] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "header", tuple(self.header))
        object.__setattr__(self, "rows", tuple(tuple(r) for r in self.rows))
        n = len(self.header)
        if n == 0:
            raise ValidationFailed.field("table.header", "至少需要一列")
        for i, row in enumerate(self.rows):
            if len(row) != n:
                raise ValidationFailed.field(f"table.rows[{i}]", f"应有 {n} 列，实际 {len(row)} 列")
        if self.widths_mm is not None:
            widths = tuple(float(w) for w in self.widths_mm)
            if len(widths) != n or any(w <= 0 for w in widths):
                raise ValidationFailed.field("table.widths_mm", f"须为 {n} 个正数")
            object.__setattr__(self, "widths_mm", widths)
        if self.align is not None:
            align = tuple(self.align)
            if len(align) != n or any(a not in ALIGNS for a in align):
                raise ValidationFailed.field("table.align", f"须为 {n} 个 left/center/right")
            object.__setattr__(self, "align", align)

    def column_widths_mm(self, total: float = TEXT_WIDTH_MM) -> tuple[float, ...]:
        """Column widths in mm, scaled so that they fill ``total``."""
        widths = self.widths_mm or (1.0,) * len(self.header)
        scale = total / sum(widths)
        return tuple(w * scale for w in widths)

    def column_align(self) -> tuple[Align, ...]:
        """One alignment per column (default: centred)."""
        if self.align:
            return tuple(self.align)
        center: Align = "center"
        return (center,) * len(self.header)


@dataclass(frozen=True)
class Figure:
    """A PNG image with a caption; ``chart`` is an optional ECharts option for the web form."""

    png: bytes
    caption: str | None = None
    width_mm: float = 150.0
    chart: Mapping[str, Any] | None = None
    alt: str | None = None

    def __post_init__(self) -> None:
        if not self.png.startswith(PNG_SIGNATURE):
            raise ValidationFailed.field("figure.png", "不是 PNG 图像")
        if not 10.0 <= self.width_mm <= TEXT_WIDTH_MM:
            raise ValidationFailed.field(
                "figure.width_mm", f"须在 10 至 {TEXT_WIDTH_MM:g} 毫米之间"
            )


@dataclass(frozen=True)
class Note:
    """Small text (4号): remarks, data sources, "注：…"."""

    text: str

    def __post_init__(self) -> None:
        _require_text("note.text", self.text)


@dataclass(frozen=True)
class PageBreak:
    """Start the next block on a new page."""


Block = Heading | Paragraph | Table | Figure | Note | PageBreak


@dataclass(frozen=True)
class Document:
    """A report: title block, body blocks, issuing unit and date."""

    title: str
    issuer: str
    date: dt.date
    blocks: Sequence[Block] = field(default_factory=tuple)
    subtitle: str | None = None
    doc_number: str | None = None  # 发文字号, e.g. 垫公情〔2026〕12号
    marking: str | None = None  # top-left marking, e.g. 内部资料　注意保存
    number_captions: bool = True  # prefix captions with 表1 / 图1

    def __post_init__(self) -> None:
        _require_text("title", self.title)
        _require_text("issuer", self.issuer)
        if not isinstance(self.date, dt.date):
            raise ValidationFailed.field("date", "须为日期")
        blocks = tuple(self.blocks)
        for i, b in enumerate(blocks):
            if not isinstance(b, Heading | Paragraph | Table | Figure | Note | PageBreak):
                raise ValidationFailed.field(f"blocks[{i}]", f"不支持的内容类型 {type(b).__name__}")
        object.__setattr__(self, "blocks", blocks)

    @property
    def date_text(self) -> str:
        """The date as 公文 writes it: 2026年12月1日."""
        return chinese_date(self.date)


def _require_text(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed.field(name, "不能为空")


# ---------------------------------------------------------------- numbering and text helpers

_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 105 → 一百零五 (1–999)."""
    if not 1 <= n <= 999:
        raise ValueError(f"chinese_numeral: {n} is outside 1..999")
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += _DIGITS[hundreds] + "百"
        if rest and tens == 0:
            out += "零"
    if tens:
        out += ("" if tens == 1 and not hundreds else _DIGITS[tens]) + "十"
    if ones:
        out += _DIGITS[ones]
    return out


def chinese_date(d: dt.date) -> str:
    """The date in 公文 style (Arabic numerals, GB/T 9704 §7.3.5): 2026年12月1日."""
    return f"{d.year}年{d.month}月{d.day}日"


def heading_prefix(level: int, n: int) -> str:
    """The GB/T 9704 ordinal of the ``n``-th heading of ``level``: 一、 （一） 1. （1）."""
    if level == 1:
        return f"{chinese_numeral(n)}、"
    if level == 2:
        return f"（{chinese_numeral(n)}）"
    if level == 3:
        return f"{n}."
    return f"（{n}）"


def labels(doc: Document) -> list[str | None]:
    """Per block, its number: headings "一、"…, captions "表1"/"图1"; None where unnumbered."""
    counters = [0] * (MAX_HEADING_LEVEL + 1)
    tables = figures = 0
    out: list[str | None] = []
    for b in doc.blocks:
        label: str | None = None
        if isinstance(b, Heading) and b.numbered:
            counters[b.level] += 1
            for deeper in range(b.level + 1, MAX_HEADING_LEVEL + 1):
                counters[deeper] = 0
            label = heading_prefix(b.level, counters[b.level])
        elif isinstance(b, Table) and b.caption and doc.number_captions:
            tables += 1
            label = f"表{tables}"
        elif isinstance(b, Figure) and b.caption and doc.number_captions:
            figures += 1
            label = f"图{figures}"
        out.append(label)
    return out


def caption_text(label: str | None, caption: str) -> str:
    """A caption with its number: 表1　各派出所警情."""
    return f"{label}　{caption}" if label else caption


def text_width(text: str) -> float:
    """The width of ``text`` in em (CJK and full-width characters 1, others ½)."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WFA" else 0.5 for c in text)
