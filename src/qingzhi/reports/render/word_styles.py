"""The GB/T 9704-2012 page and styles of the Word documents (python-docx).

Page: A4, margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm: a 156 × 225 mm text block.
Lines: exactly 28.95 pt apart, so 22 lines fill 225 mm (637.8 pt; 22 × 28.95 = 636.9 pt, 23 lines
would need 665.9 pt). Characters: 3号 (16 pt) with −0.25 pt spacing, a pitch of 15.75 pt, so 28
fit in 156 mm (442.2 pt; 28 × 15.75 = 441.0 pt, 28 × 16 = 448 pt would give 27). First lines
are indented two characters (also written as ``w:firstLineChars`` for Word).

Every style (and, in ``word``, every run) carries ``w:rFonts`` with ascii, hAnsi, eastAsia and cs
set to an official face (see ``fonts``): python-docx's ``font.name`` sets only ascii/hAnsi, and
the default template's theme fonts (``w:asciiTheme`` …) would win over explicit names, so they
are removed. The font table names each face's Fandol stand-in as ``w:altName``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.opc.oxml import serialize_part_xml
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from qingzhi.reports.render.fonts import FACES

log = logging.getLogger(__name__)

PAGE_MM = (210.0, 297.0)
MARGINS_MM = {"top": 37.0, "bottom": 35.0, "left": 28.0, "right": 26.0}
# The page number's dashes sit 7 mm below the text block (GB/T 9704 §7.5): footer distance.
FOOTER_MM = 25.1
HEADER_MM = 15.0
LINE_PT = 28.95  # exact line spacing: 22 lines per 225 mm
BODY_PT = 16.0  # 3号
TITLE_PT = 22.0  # 2号
NOTE_PT = 14.0  # 4号
PAGE_NUMBER_PT = 14.0  # 4号
TABLE_PT = 12.0  # 小四
CHAR_SPACING_PT = -0.25  # 16 pt − 0.25 pt = 15.75 pt pitch: 28 characters in 156 mm
CHAR_PITCH_PT = BODY_PT + CHAR_SPACING_PT
TEXT_WIDTH_PT = 156.0 / 25.4 * 72.0
LINE_CHARS = TEXT_WIDTH_PT / CHAR_PITCH_PT  # 28.08: 28 characters a line
THEME_ATTRS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")
FONT_ATTRS = ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs")

Align = WD_ALIGN_PARAGRAPH


@dataclass(frozen=True)
class StyleSpec:
    """One paragraph style: face, size, alignment, indent (characters), line spacing (pt)."""

    name: str
    face: str
    size: float
    align: Any = Align.JUSTIFY
    indent_chars: float = 0.0
    line_pt: float | None = LINE_PT  # exact spacing; None: single
    keep_next: bool = False
    spacing_pt: float = 0.0
    bold: bool = False
    autospace: bool = True  # the extra space Word and LibreOffice put between CJK and digits


STYLES: tuple[StyleSpec, ...] = (
    StyleSpec("Normal", "fang", BODY_PT, spacing_pt=CHAR_SPACING_PT),
    StyleSpec("Body Text", "fang", BODY_PT, indent_chars=2, spacing_pt=CHAR_SPACING_PT),
    StyleSpec("Title", "title", TITLE_PT, Align.CENTER),
    StyleSpec("Subtitle", "kai", BODY_PT, Align.CENTER, spacing_pt=CHAR_SPACING_PT),
    StyleSpec("Document Number", "fang", BODY_PT, Align.CENTER, spacing_pt=CHAR_SPACING_PT),
    StyleSpec("Marking", "hei", BODY_PT, Align.LEFT, spacing_pt=CHAR_SPACING_PT),
    StyleSpec(
        "Heading 1", "hei", BODY_PT, indent_chars=2, keep_next=True, spacing_pt=CHAR_SPACING_PT
    ),
    StyleSpec(
        "Heading 2", "kai", BODY_PT, indent_chars=2, keep_next=True, spacing_pt=CHAR_SPACING_PT
    ),
    StyleSpec(
        "Heading 3", "fang", BODY_PT, indent_chars=2, keep_next=True, spacing_pt=CHAR_SPACING_PT
    ),
    StyleSpec(
        "Heading 4", "fang", BODY_PT, indent_chars=2, keep_next=True, spacing_pt=CHAR_SPACING_PT
    ),
    StyleSpec("Caption", "hei", NOTE_PT, Align.CENTER),
    StyleSpec("Table Text", "fang", TABLE_PT, Align.CENTER, line_pt=18.0),
    StyleSpec("Table Header", "hei", TABLE_PT, Align.CENTER, line_pt=18.0),
    StyleSpec("Note", "fang", NOTE_PT, indent_chars=2, line_pt=22.0),
    StyleSpec(
        "Signature",
        "fang",
        BODY_PT,
        Align.RIGHT,
        keep_next=True,
        spacing_pt=CHAR_SPACING_PT,
        autospace=False,  # so that the date's measured width holds
    ),
    StyleSpec("Figure", "fang", BODY_PT, Align.CENTER, line_pt=None, keep_next=True),
    StyleSpec("Footer", "song", PAGE_NUMBER_PT, Align.RIGHT, line_pt=None),
)
STYLE_FACE = {s.name: s.face for s in STYLES}


def set_fonts(element: Any, face: str) -> None:
    """Set ``w:rFonts`` ascii/hAnsi/eastAsia/cs of a style or run element to ``face``."""
    name = FACES[face].official
    rfonts = element.get_or_add_rPr().get_or_add_rFonts()
    for attr in THEME_ATTRS:
        rfonts.attrib.pop(qn(attr), None)
    for attr in FONT_ATTRS:
        rfonts.set(qn(attr), name)
    rfonts.set(qn("w:hint"), "eastAsia")


# The schema order of w:pPr's children (ECMA-376 CT_PPr); python-docx knows only some of them.
PPR_SEQ = (
    "w:pStyle", "w:keepNext", "w:keepLines", "w:pageBreakBefore", "w:framePr", "w:widowControl",
    "w:numPr", "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs", "w:suppressAutoHyphens",
    "w:kinsoku", "w:wordWrap", "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE",
    "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind",
    "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection",
    "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr",
    "w:sectPr", "w:pPrChange",
)  # fmt: skip
# The schema order of w:rPr's children (ECMA-376 CT_RPr).
RPR_SEQ = (
    "w:rStyle", "w:rFonts", "w:b", "w:bCs", "w:i", "w:iCs", "w:caps", "w:smallCaps", "w:strike",
    "w:dstrike", "w:outline", "w:shadow", "w:emboss", "w:imprint", "w:noProof", "w:snapToGrid",
    "w:vanish", "w:webHidden", "w:color", "w:spacing", "w:w", "w:kern", "w:position", "w:sz",
    "w:szCs", "w:highlight", "w:u", "w:effect", "w:bdr", "w:shd", "w:fitText", "w:vertAlign",
    "w:rtl", "w:cs", "w:em", "w:lang", "w:eastAsianLayout", "w:specVanish", "w:oMath",
)  # fmt: skip


def child(parent: Any, tag: str) -> Any:
    """``parent``'s ``tag`` child, added in its schema position (Word rejects misordered XML)."""
    found = parent.find(qn(tag))
    if found is not None:
        return found
    element = OxmlElement(tag)
    seq = PPR_SEQ if parent.tag == qn("w:pPr") else RPR_SEQ
    parent.insert_element_before(element, *seq[seq.index(tag) + 1 :])
    return element


def _set_lang(rpr: Any) -> None:
    lang = child(rpr, "w:lang")
    # Latin text stays en-US: with zh-CN LibreOffice breaks lines inside numbers ("8|6起").
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    lang.set(qn("w:bidi"), "ar-SA")


# Template leftovers that GB/T 9704 styles must not keep (Title's rule below, Subtitle's list
# numbering, theme colours' kerning and complex-script bold/italic).
STRIP_PPR = ("w:pBdr", "w:numPr", "w:contextualSpacing")
STRIP_RPR = ("w:kern", "w:bCs", "w:iCs")


def _strip(element: Any) -> None:
    for container, tags in ((element.pPr, STRIP_PPR), (element.rPr, STRIP_RPR)):
        if container is None:
            continue
        for tag in tags:
            for child in container.findall(qn(tag)):
                container.remove(child)


def _indent(pf: Any, chars: float, size: float, spacing: float) -> None:
    pf.first_line_indent = Pt(chars * (size + spacing)) if chars else Pt(0)
    ind = pf._element.get_or_add_pPr().get_or_add_ind()
    if chars:
        ind.set(qn("w:firstLineChars"), str(round(chars * 100)))
    else:
        ind.attrib.pop(qn("w:firstLineChars"), None)


def apply_styles(document: Any) -> None:
    """Configure the page-independent styles of ``document`` (python-docx ``Document``)."""
    styles = document.styles
    defaults = styles.element.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    rfonts = rpr_default.find(qn("w:rFonts"))
    for attr in THEME_ATTRS:
        rfonts.attrib.pop(qn(attr), None)
    for attr in FONT_ATTRS:
        rfonts.set(qn(attr), FACES["fang"].official)
    _set_lang(rpr_default)
    names = {s.name for s in styles}
    for spec in STYLES:
        if spec.name not in names:
            style = styles.add_style(spec.name, WD_STYLE_TYPE.PARAGRAPH)
            style.base_style = styles["Normal"]
            style.quick_style = True
        style = styles[spec.name]
        _strip(style.element)
        font = style.font
        font.size = Pt(spec.size)
        font.bold = spec.bold
        font.italic = False
        font.color.rgb = RGBColor(0, 0, 0)
        set_fonts(style.element, spec.face)
        child(style.element.get_or_add_rPr(), "w:spacing").set(
            qn("w:val"), str(round(spec.spacing_pt * 20))
        )
        pf = style.paragraph_format
        pf.alignment = spec.align
        pf.space_before = Pt(0)
        pf.space_after = Pt(0)
        if spec.line_pt is None:
            pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
        else:
            pf.line_spacing = Pt(spec.line_pt)
            pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.keep_with_next = spec.keep_next
        pf.widow_control = True
        _indent(pf, spec.indent_chars, spec.size, spec.spacing_pt)
        if not spec.autospace:
            ppr = style.element.get_or_add_pPr()
            for tag in ("w:autoSpaceDE", "w:autoSpaceDN"):
                child(ppr, tag).set(qn("w:val"), "0")
    # No style (nor a table style's conditional part) keeps a theme font: Word would prefer it
    # over the names set here.
    fang = FACES["fang"].official
    for rfonts in styles.element.iter(qn("w:rFonts")):
        if any(rfonts.get(qn(a)) is not None for a in THEME_ATTRS):
            for attr in THEME_ATTRS:
                rfonts.attrib.pop(qn(attr), None)
            for attr in FONT_ATTRS:
                rfonts.set(qn(attr), fang)


def apply_page(section: Any) -> None:
    """A4 with the GB/T 9704 margins."""
    section.page_width = Mm(PAGE_MM[0])
    section.page_height = Mm(PAGE_MM[1])
    section.top_margin = Mm(MARGINS_MM["top"])
    section.bottom_margin = Mm(MARGINS_MM["bottom"])
    section.left_margin = Mm(MARGINS_MM["left"])
    section.right_margin = Mm(MARGINS_MM["right"])
    section.header_distance = Mm(HEADER_MM)
    section.footer_distance = Mm(FOOTER_MM)
    section.gutter = Mm(0)


def add_font_table_entries(document: Any) -> None:
    """Name each official face in the font table with its Fandol stand-in as ``w:altName``."""
    part = next(p for p in document.part.package.parts if p.partname == "/word/fontTable.xml")
    root = parse_xml(part.blob)
    present = {f.get(qn("w:name")) for f in root.findall(qn("w:font"))}
    for face in FACES.values():
        if face.official in present:
            continue
        present.add(face.official)
        font = OxmlElement("w:font")
        font.set(qn("w:name"), face.official)
        for tag, value in (
            ("w:altName", face.fandol),
            ("w:charset", "86"),  # GB2312
            ("w:family", "roman" if face.key in ("song", "title", "fang") else "modern"),
            ("w:pitch", "variable"),
        ):
            child = OxmlElement(tag)
            child.set(qn("w:val"), value)
            font.append(child)
        root.append(font)
    part._blob = serialize_part_xml(root)
