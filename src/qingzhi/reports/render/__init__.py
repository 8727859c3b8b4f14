"""The rendering layer of reports: a small document model, Word/PDF/HTML renderers, charts, maps.

Pure (no SQLAlchemy, no FastAPI, no domain imports) and offline. Build a ``Document`` of blocks
and render it::

    doc = Document(title=..., issuer="垫江县公安局情报指挥中心", date=date(2026, 12, 1), blocks=[
        Heading("总体情况"), Paragraph("……"),
        Table(["派出所", "本期", "上期"], rows, caption="各派出所警情"),
        Figure(charts.hour_profile(counts, baseline), caption="警情时段分布",
               chart=echarts.hour_profile_option(counts, baseline)),
    ])
    docx = to_docx(doc)        # GB/T 9704-2012 layout (word, word_styles)
    pdf = to_pdf(docx)         # LibreOffice headless; PdfUnavailable (503) without it
    html = to_html(doc)        # print-friendly page; CHART_SCRIPT draws the ECharts options

Fonts (``fonts``): the .docx names the official faces (方正小标宋简体, 仿宋_GB2312, 楷体_GB2312,
黑体, 宋体); the Fandol fonts stand in for them in LibreOffice (a fontconfig file of our own) and
in charts (``font_file``). Charts (``charts``) and maps (``maps``) return PNG bytes.
"""

from qingzhi.reports.render import charts, echarts, maps
from qingzhi.reports.render.fonts import FACES, FontsMissing, font_dir, fonts_available
from qingzhi.reports.render.html import CHART_SCRIPT, ECHARTS_SRC, to_html
from qingzhi.reports.render.maps import Area, Cell, Spot, map_png
from qingzhi.reports.render.model import (
    Block,
    Document,
    Figure,
    Heading,
    Link,
    Note,
    PageBreak,
    Paragraph,
    Table,
    chinese_date,
    chinese_numeral,
)
from qingzhi.reports.render.pdf import PdfConversionFailed, PdfUnavailable, pdf_available, to_pdf
from qingzhi.reports.render.word import to_docx

__all__ = [
    "CHART_SCRIPT",
    "ECHARTS_SRC",
    "FACES",
    "Area",
    "Block",
    "Cell",
    "Document",
    "Figure",
    "FontsMissing",
    "Heading",
    "Link",
    "Note",
    "PageBreak",
    "Paragraph",
    "PdfConversionFailed",
    "PdfUnavailable",
    "Spot",
    "Table",
    "charts",
    "chinese_date",
    "chinese_numeral",
    "echarts",
    "font_dir",
    "fonts_available",
    "map_png",
    "maps",
    "pdf_available",
    "to_docx",
    "to_html",
    "to_pdf",
]
