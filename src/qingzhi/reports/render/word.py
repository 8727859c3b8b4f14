"""Render a ``Document`` to Word (.docx) in the GB/T 9704-2012 layout, with python-docx.

The page and styles are in ``word_styles``. This module lays out the title block (marking,
document number, title, subtitle), the blocks, the signature and the page numbers:

* Signature (GB/T 9704 §7.3.5.2, unsealed documents): one blank line after the body, the issuing
  unit with two characters of space on its right, the date on the next line starting two
  characters right of the unit's first character; when the date is the longer, the date keeps
  two characters on its right and the unit moves left accordingly.
* Page numbers (§7.5): 4号 宋体 "— N —" (a PAGE field between em dashes), odd pages on the right
  and even pages on the left, each one character in from the edge of the text block; the two
  footers differ (``w:evenAndOddHeaders`` in settings plus an even-page footer).
* A page break block makes the next paragraph start a page (``w:pageBreakBefore``).
* Pictures sit in paragraphs of single line spacing (exact spacing would clip them), no higher
  than the text block; captions number tables above them and figures below them.

Every run gets its fonts set (``w:rFonts`` ascii/hAnsi/eastAsia/cs), like every style.
"""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass
from typing import Any

import docx
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.text.paragraph import Paragraph as DocxParagraph

from qingzhi.reports.render.fonts import FANDOL_REPLACEMENTS
from qingzhi.reports.render.model import (
    TEXT_WIDTH_MM,
    Document,
    Figure,
    Heading,
    Note,
    PageBreak,
    Paragraph,
    Table,
    caption_text,
    cell_text,
    labels,
    text_width,
)
from qingzhi.reports.render.word_styles import (
    CHAR_PITCH_PT,
    LINE_CHARS,
    PAGE_NUMBER_PT,
    STYLE_FACE,
    Align,
    add_font_table_entries,
    apply_page,
    apply_styles,
    set_fonts,
)

log = logging.getLogger(__name__)

MAX_FIGURE_HEIGHT_MM = 200.0  # the text block is 225 mm high; leave room for the caption
ALIGN = {"left": Align.LEFT, "center": Align.CENTER, "right": Align.RIGHT}
EM_DASH = "\u2014"


def to_docx(doc: Document) -> bytes:
    """The document as .docx bytes in the GB/T 9704-2012 layout."""
    out = docx.Document()
    _clear_body(out)
    apply_styles(out)
    apply_page(out.sections[0])
    add_font_table_entries(out)
    props = out.core_properties
    props.title = doc.title
    props.author = doc.issuer
    props.subject = doc.subtitle or ""
    props.language = "zh-CN"
    props.comments = (
        "GB/T 9704-2012; Fandol fonts stand in for 方正小标宋简体/仿宋_GB2312/楷体_GB2312/黑体"
    )

    _title_block(out, doc)
    page_break = False
    for block, label in zip(doc.blocks, labels(doc), strict=True):
        if isinstance(block, PageBreak):
            page_break = True
            continue
        last = out.element.body[-2]
        _block(out, block, label)
        if page_break:
            _break_before(out, last)
            page_break = False
    last = out.element.body[-2]
    _signature(out, doc)
    if page_break:
        _break_before(out, last)
    _page_numbers(out)
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- paragraphs and runs


def _clear_body(out: Any) -> None:
    body = out.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)


def _paragraph(out: Any, style: str, text: str = "", *, bold: bool = False) -> Any:
    paragraph = out.add_paragraph(style=style)
    if text:
        _run(paragraph, text, STYLE_FACE[style], bold=bold)
    return paragraph


def _run(paragraph: Any, text: str, face: str, *, bold: bool = False) -> Any:
    run = paragraph.add_run(text.translate(FANDOL_REPLACEMENTS))
    set_fonts(run._r, face)
    if bold:
        run.bold = True
    return run


def _title_block(out: Any, doc: Document) -> None:
    if doc.marking:
        _paragraph(out, "Marking", doc.marking)
    if doc.doc_number:
        _paragraph(out, "Document Number", doc.doc_number)
        _paragraph(out, "Normal")
    _paragraph(out, "Title", doc.title)
    if doc.subtitle:
        _paragraph(out, "Subtitle", doc.subtitle)
    _paragraph(out, "Normal")


def _block(out: Any, block: object, label: str | None) -> None:
    if isinstance(block, Heading):
        _paragraph(out, f"Heading {block.level}", (label or "") + block.text)
    elif isinstance(block, Paragraph):
        paragraph = out.add_paragraph(style="Body Text" if block.indent else "Normal")
        if block.lead:
            _run(paragraph, block.lead, "fang", bold=True)
        if block.text:
            _run(paragraph, block.text, "fang")
    elif isinstance(block, Table):
        _table(out, block, label)
    elif isinstance(block, Figure):
        _figure(out, block, label)
    elif isinstance(block, Note):
        _paragraph(out, "Note", block.text)
    else:  # pragma: no cover - Document validates its blocks
        raise TypeError(f"unsupported block {type(block).__name__}")


def _break_before(out: Any, last: Any) -> None:
    """Start what was added after ``last`` on a new page.

    A page break is a property of the next paragraph, not a paragraph of its own: a break
    paragraph falling at the foot of a full page would leave the following page blank.
    """
    first = last.getnext()
    if first.tag != qn("w:p"):  # a table: a paragraph must carry the break
        first.addprevious(OxmlElement("w:p"))
        first = first.getprevious()
    DocxParagraph(first, out._body).paragraph_format.page_break_before = True


def _table(out: Any, table: Table, label: str | None) -> None:
    if table.caption:
        caption = _paragraph(out, "Caption", caption_text(label, table.caption))
        caption.paragraph_format.keep_with_next = True
    widths = [Mm(w) for w in table.column_widths_mm()]
    aligns = [ALIGN[a] for a in table.column_align()]
    grid = out.add_table(rows=1 + len(table.rows), cols=len(table.header))
    grid.style = out.styles["Table Grid"]
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    grid.autofit = False
    for i, width in enumerate(widths):
        grid.columns[i].width = width
    # the style ids once: python-docx's style setter scans every style per cell
    header_id, text_id = out.styles["Table Header"].style_id, out.styles["Table Text"].style_id
    for r, row in enumerate(grid.rows):
        values = table.header if r == 0 else tuple(cell_text(c) for c in table.rows[r - 1])
        tr_pr = row._tr.get_or_add_trPr()
        tr_pr.append(OxmlElement("w:cantSplit"))
        if r == 0:
            tr_pr.append(OxmlElement("w:tblHeader"))  # repeated on every page
        for c, cell in enumerate(row.cells):
            cell.width = widths[c]
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            paragraph = cell.paragraphs[0]
            paragraph._p.get_or_add_pPr().style = header_id if r == 0 else text_id
            paragraph.alignment = Align.CENTER if r == 0 else aligns[c]
            _run(paragraph, str(values[c]), "hei" if r == 0 else "fang")
    _paragraph(out, "Normal")  # GB/T 9704 tables stand apart from the text


def _png_size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _figure(out: Any, figure: Figure, label: str | None) -> None:
    width_px, height_px = _png_size(figure.png)
    width_mm = min(figure.width_mm, TEXT_WIDTH_MM)
    paragraph = out.add_paragraph(style="Figure")
    paragraph.paragraph_format.keep_with_next = bool(figure.caption)
    run = paragraph.add_run()
    set_fonts(run._r, "fang")
    if width_mm * height_px / width_px > MAX_FIGURE_HEIGHT_MM:
        run.add_picture(io.BytesIO(figure.png), height=Mm(MAX_FIGURE_HEIGHT_MM))
    else:
        run.add_picture(io.BytesIO(figure.png), width=Mm(width_mm))
    if figure.alt:
        run._r.xpath(".//wp:docPr")[0].set("descr", figure.alt)
    if figure.caption:
        _paragraph(out, "Caption", caption_text(label, figure.caption))


# ---------------------------------------------------------------- signature and page numbers


@dataclass(frozen=True)
class SignatureLayout:
    """Where the issuing unit and the date go, in characters of the text block (28 a line)."""

    issuer_right: float  # the unit: right-aligned, this far from the right edge
    date_left: float | None  # the date: left-aligned this far from the left edge, or
    date_right: float | None  # right-aligned this far from the right edge


def signature_layout(issuer: str, date: str) -> SignatureLayout:
    """GB/T 9704 §7.3.5.2: unit 2 characters from the right, date 2 right of the unit's start.

    The date is placed by its start where it can be: LibreOffice adds space between digits and
    hanzi that it cannot be told to leave out, so its width is only an estimate.
    """
    w_issuer, w_date = text_width(issuer), text_width(date)
    if w_issuer - w_date >= 2:  # the date ends at least 2 characters from the edge
        return SignatureLayout(2.0, LINE_CHARS - w_issuer, None)
    # The date is the longer: it keeps 2 characters on its right, the unit moves left.
    return SignatureLayout(w_date + 4.0 - w_issuer, None, 2.0)


def _signature(out: Any, doc: Document) -> None:
    _paragraph(out, "Normal").paragraph_format.keep_with_next = True
    layout = signature_layout(doc.issuer, doc.date_text)
    issuer = _paragraph(out, "Signature", doc.issuer)
    issuer.paragraph_format.right_indent = Pt(layout.issuer_right * CHAR_PITCH_PT)
    date = _paragraph(out, "Signature", doc.date_text)
    if layout.date_left is not None:
        date.paragraph_format.alignment = Align.LEFT
        date.paragraph_format.left_indent = Pt(layout.date_left * CHAR_PITCH_PT)
    else:
        date.paragraph_format.right_indent = Pt((layout.date_right or 0) * CHAR_PITCH_PT)


def _field_run(paragraph: Any, face: str, kind: str, text: str | None = None) -> None:
    run = paragraph.add_run()
    set_fonts(run._r, face)
    if kind == "instr":
        instr = OxmlElement("w:instrText")
        instr.set(qn("xml:space"), "preserve")
        instr.text = text
        run._r.append(instr)
    elif kind == "text":
        run.text = text
    else:
        char = OxmlElement("w:fldChar")
        char.set(qn("w:fldCharType"), kind)
        run._r.append(char)


def _page_number(paragraph: Any, *, odd: bool) -> None:
    pf = paragraph.paragraph_format
    pf.alignment = Align.RIGHT if odd else Align.LEFT
    inset = Pt(PAGE_NUMBER_PT)  # one character in from the text block's edge
    pf.right_indent, pf.left_indent = (inset, Pt(0)) if odd else (Pt(0), inset)
    _run(paragraph, f"{EM_DASH} ", "song")
    _field_run(paragraph, "song", "begin")
    _field_run(paragraph, "song", "instr", " PAGE ")
    _field_run(paragraph, "song", "separate")
    _field_run(paragraph, "song", "text", "1")
    _field_run(paragraph, "song", "end")
    _run(paragraph, f" {EM_DASH}", "song")


def _page_numbers(out: Any) -> None:
    out.settings.odd_and_even_pages_header_footer = True
    section = out.sections[0]
    for footer, odd in ((section.footer, True), (section.even_page_footer, False)):
        footer.is_linked_to_previous = False
        paragraph = footer.paragraphs[0]
        paragraph.style = out.styles["Footer"]
        _page_number(paragraph, odd=odd)
