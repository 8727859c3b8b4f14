"""The .docx read back with python-docx: the GB/T 9704 page, fonts per style and run, footers."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import docx
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Pt

from qingzhi.reports.render import FACES, Block, Document, PageBreak, Paragraph, Table, to_docx
from qingzhi.reports.render.word_styles import LINE_CHARS, PPR_SEQ, RPR_SEQ
from tests.reports.samples import DATE, GRID_LINE, ISSUER, TITLE, sample_document

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MM_PER_PT = 25.4 / 72
# The face each style must name (GB/T 9704: title 小标宋, body 仿宋, 黑体, 楷体; numbers 宋体).
EXPECTED_FACES = {
    "Normal": "仿宋_GB2312",
    "Marking": "黑体",
    "Document Number": "仿宋_GB2312",
    "Body Text": "仿宋_GB2312",
    "Title": "方正小标宋简体",
    "Subtitle": "楷体_GB2312",
    "Heading 1": "黑体",
    "Heading 2": "楷体_GB2312",
    "Heading 3": "仿宋_GB2312",
    "Caption": "黑体",
    "Table Text": "仿宋_GB2312",
    "Table Header": "黑体",
    "Note": "仿宋_GB2312",
    "Signature": "仿宋_GB2312",
    "Footer": "宋体",
}


@pytest.fixture(scope="module")
def doc(sample_docx: bytes) -> Any:
    return docx.Document(io.BytesIO(sample_docx))


def _fonts(element: Any) -> dict[str, str | None]:
    rfonts = element.find(f"{W}rPr/{W}rFonts")
    assert rfonts is not None, "no w:rFonts"
    return {a: rfonts.get(qn(f"w:{a}")) for a in ("ascii", "hAnsi", "eastAsia", "cs")}


def _style_fonts(style: Any) -> dict[str, str | None]:
    return _fonts(style.element)


def test_page_is_a4_with_the_official_margins(doc: Any) -> None:
    section = doc.sections[0]
    assert section.page_width.mm == pytest.approx(210, abs=0.05)
    assert section.page_height.mm == pytest.approx(297, abs=0.05)
    assert section.top_margin.mm == pytest.approx(37, abs=0.05)
    assert section.bottom_margin.mm == pytest.approx(35, abs=0.05)
    assert section.left_margin.mm == pytest.approx(28, abs=0.05)
    assert section.right_margin.mm == pytest.approx(26, abs=0.05)
    text_w = section.page_width.mm - section.left_margin.mm - section.right_margin.mm
    text_h = section.page_height.mm - section.top_margin.mm - section.bottom_margin.mm
    assert (text_w, text_h) == pytest.approx((156, 225), abs=0.1)


def test_22_lines_of_28_characters(doc: Any) -> None:
    normal = doc.styles["Normal"]
    pf = normal.paragraph_format
    assert pf.line_spacing_rule == WD_LINE_SPACING.EXACTLY
    assert pf.line_spacing.pt == pytest.approx(28.95, abs=0.03)
    assert int(225 / (pf.line_spacing.pt * MM_PER_PT)) == 22
    assert normal.font.size.pt == 16
    spacing = normal.element.find(f"{W}rPr/{W}spacing")
    pitch_pt = 16 + int(spacing.get(qn("w:val"))) / 20
    assert int(156 / (pitch_pt * MM_PER_PT)) == 28
    assert pytest.approx(156 / (pitch_pt * MM_PER_PT)) == LINE_CHARS
    body = doc.styles["Body Text"].paragraph_format
    assert body.first_line_indent.pt == pytest.approx(2 * pitch_pt, abs=0.1)
    ind = doc.styles["Body Text"].element.find(f"{W}pPr/{W}ind")
    assert ind.get(qn("w:firstLineChars")) == "200"


@pytest.mark.parametrize(("style", "face"), EXPECTED_FACES.items())
def test_every_style_names_its_face_for_all_scripts(doc: Any, style: str, face: str) -> None:
    assert _style_fonts(doc.styles[style]) == dict.fromkeys(
        ("ascii", "hAnsi", "eastAsia", "cs"), face
    )


def test_sizes_and_heading_faces(doc: Any) -> None:
    sizes = {s: doc.styles[s].font.size.pt for s in ("Title", "Normal", "Heading 1", "Heading 2")}
    assert sizes == {"Title": 22, "Normal": 16, "Heading 1": 16, "Heading 2": 16}
    assert doc.styles["Footer"].font.size.pt == 14
    for name in ("Heading 1", "Heading 2", "Title"):
        font = doc.styles[name].font
        assert font.bold is False and font.italic is False
        assert str(font.color.rgb) == "000000"


def test_no_style_keeps_a_theme_font(doc: Any) -> None:
    for element in doc.styles.element.iter(f"{W}rFonts"):
        assert not {a for a in element.attrib if "Theme" in a or "theme" in a}
    defaults = doc.styles.element.find(f"{W}docDefaults/{W}rPrDefault")
    assert _fonts(defaults)["eastAsia"] == "仿宋_GB2312"


def test_every_run_names_the_face_of_its_paragraph(doc: Any) -> None:
    paragraphs = list(doc.paragraphs)
    for table in doc.tables:
        paragraphs += [p for row in table.rows for cell in row.cells for p in cell.paragraphs]
    section = doc.sections[0]
    paragraphs += section.footer.paragraphs + section.even_page_footer.paragraphs
    runs = 0
    for paragraph in paragraphs:
        expected = EXPECTED_FACES.get(paragraph.style.name, "仿宋_GB2312")
        for run in paragraph._p.iter(f"{W}r"):
            assert _fonts(run)["eastAsia"] == expected, paragraph.text
            assert _fonts(run)["ascii"] == expected
            runs += 1
    assert runs > 40


def test_title_block_headings_and_signature(doc: Any) -> None:
    texts = [(p.style.name, p.text) for p in doc.paragraphs if p.text]
    assert texts[0] == ("Marking", "内部资料　注意保存")
    assert texts[1] == ("Document Number", "垫公情〔2026〕48号")
    assert texts[2] == ("Title", TITLE)
    headings = [(s, t) for s, t in texts if s.startswith("Heading")]
    assert headings == [
        ("Heading 1", "一、总体情况"),
        ("Heading 2", "（一）分类分析"),
        ("Heading 3", "1.各派出所警情"),
        ("Heading 1", "二、时空分布"),
        ("Heading 1", "三、工作建议"),
    ]
    assert ("Body Text", GRID_LINE) in texts
    assert texts[-2:] == [("Signature", ISSUER), ("Signature", "2026年12月1日")]
    assert DATE.day == 1
    issuer, date = [p for p in doc.paragraphs if p.style.name == "Signature"]
    assert issuer.paragraph_format.right_indent.pt == pytest.approx(2 * 15.75)
    assert date.alignment == WD_ALIGN_PARAGRAPH.LEFT
    # The date starts two characters right of the unit's first character.
    unit_start = 442.205 - 2 * 15.75 - 12 * 15.75
    assert date.paragraph_format.left_indent.pt == pytest.approx(unit_start + 2 * 15.75, abs=0.1)


def test_lead_phrase_is_bold(doc: Any) -> None:
    lead = next(p for p in doc.paragraphs if p.text.startswith("一是"))
    assert lead.runs[0].text == "一是刑事警情下降。" and lead.runs[0].bold
    assert not lead.runs[1].bold


def test_table_with_header_widths_and_alignment(doc: Any) -> None:
    assert len(doc.tables) == 1
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["派出所", "本期", "上期", "环比"]
    assert [c.text for c in table.rows[1].cells] == ["桂溪派出所", "120", "110", "+9.1%"]
    assert len(table.rows) == 4
    assert table.rows[0]._tr.find(f"{W}trPr/{W}tblHeader") is not None  # repeats on each page
    widths = [col.width.mm for col in table.columns]
    assert sum(widths) == pytest.approx(156, abs=0.2)
    assert widths[0] == pytest.approx(60, abs=0.1)
    cell = table.rows[1].cells
    assert cell[0].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.LEFT
    assert cell[1].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert cell[0].paragraphs[0].style.name == "Table Text"
    assert doc.styles["Table Text"].font.size.pt == 12
    caption = [p.text for p in doc.paragraphs if p.style.name == "Caption"]
    assert caption == ["表1　各派出所警情", "图1　警情时段分布", "图2　垫江县警情热点分布"]


def test_images_present_and_not_clipped(doc: Any) -> None:
    shapes = doc.inline_shapes
    assert len(shapes) == 2
    for shape in shapes:
        assert shape.width.mm <= 156 and shape.height.mm <= 200
    blobs = [rel.target_part.blob for rel in doc.part.rels.values() if "image" in rel.reltype]
    assert len(blobs) == 2 and all(b.startswith(b"\x89PNG") for b in blobs)
    holders = [p for p in doc.paragraphs if p._p.xpath(".//w:drawing")]
    for paragraph in holders:  # exact line spacing would cut the picture to one line
        assert paragraph.style.paragraph_format.line_spacing_rule == WD_LINE_SPACING.SINGLE
    map_doc = holders[1]._p.xpath(".//wp:docPr")[0]
    assert map_doc.get("descr") == "热点地图"


def _field_text(paragraph: Any) -> tuple[str, str]:
    instr = "".join(t.text for t in paragraph._p.iter(f"{W}instrText"))
    return paragraph.text, instr


def test_page_numbers_right_on_odd_left_on_even(doc: Any) -> None:
    assert doc.settings.odd_and_even_pages_header_footer is True
    section = doc.sections[0]
    odd, even = section.footer, section.even_page_footer
    assert not odd.is_linked_to_previous and not even.is_linked_to_previous
    (odd_p,) = odd.paragraphs
    (even_p,) = even.paragraphs
    for paragraph in (odd_p, even_p):
        text, instr = _field_text(paragraph)
        assert text == "— 1 —"  # the PAGE field's cached value between em dashes
        assert instr.strip() == "PAGE"
        kinds = [c.get(qn("w:fldCharType")) for c in paragraph._p.iter(f"{W}fldChar")]
        assert kinds == ["begin", "separate", "end"]
        assert paragraph.style.name == "Footer"
    assert odd_p.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert odd_p.paragraph_format.right_indent == Pt(14)  # one character in
    assert even_p.alignment == WD_ALIGN_PARAGRAPH.LEFT
    assert even_p.paragraph_format.left_indent == Pt(14)


def test_font_table_names_the_fandol_stand_ins(doc: Any) -> None:
    part = next(p for p in doc.part.package.parts if p.partname == "/word/fontTable.xml")
    root = docx.oxml.parse_xml(part.blob)
    alt = {
        f.get(qn("w:name")): f.find(qn("w:altName")).get(qn("w:val"))
        for f in root.findall(qn("w:font"))
        if f.find(qn("w:altName")) is not None
    }
    for face in FACES.values():
        assert alt[face.official] == face.fandol


def test_core_properties(doc: Any) -> None:
    assert doc.core_properties.title == TITLE
    assert doc.core_properties.author == ISSUER
    assert doc.core_properties.language == "zh-CN"


def test_page_break_block_breaks_the_page(doc: Any) -> None:
    breaks = [p.text for p in doc.paragraphs if p.paragraph_format.page_break_before]
    assert breaks == ["三、工作建议"]


def test_page_break_before_a_table_or_at_the_end() -> None:
    doc = sample_document(with_map=False)
    blocks: list[Block] = [Paragraph("甲"), PageBreak(), Table(["a"], [["1"]]), PageBreak()]
    odd = Document(title=doc.title, issuer=doc.issuer, date=doc.date, blocks=blocks)
    back = docx.Document(io.BytesIO(to_docx(odd)))
    body = [el.tag.split("}")[1] for el in back.element.body]
    breaking = [p for p in back.paragraphs if p.paragraph_format.page_break_before]
    assert len(breaking) == 2
    # The first carries the table onto a new page, the second the signature.
    assert body[body.index("tbl") - 1] == "p" and breaking[0].text == ""
    assert breaking[1]._p.getnext() is not None and breaking[1].text == ""


def test_characters_fandol_lacks_are_replaced() -> None:
    doc = sample_document(with_map=False)
    odd = Document(
        title=doc.title, issuer=doc.issuer, date=doc.date, blocks=[Paragraph("下降−3.0%")]
    )
    back = docx.Document(io.BytesIO(to_docx(odd)))
    assert "下降-3.0%" in [p.text for p in back.paragraphs]


def test_property_elements_in_schema_order(sample_docx: bytes) -> None:
    # Word refuses a file whose w:pPr / w:rPr children are out of the schema's order.
    with zipfile.ZipFile(io.BytesIO(sample_docx)) as z:
        parts = [n for n in z.namelist() if n.startswith("word/") and n.endswith(".xml")]
        roots = [docx.oxml.parse_xml(z.read(n)) for n in parts]
    checked = 0
    for root in roots:
        for tag, seq in (("pPr", PPR_SEQ), ("rPr", RPR_SEQ)):
            for props in root.iter(f"{W}{tag}"):
                names = [f"w:{c.tag.split('}')[1]}" for c in props if c.tag.startswith(W)]
                known = [n for n in names if n in seq]
                assert known == sorted(known, key=seq.index), names
                checked += 1
    assert checked > 100
