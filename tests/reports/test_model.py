"""The document model: GB/T 9704 numbering, dates, the signature's place, validation."""

from __future__ import annotations

import datetime as dt

import pytest

from qingzhi.errors import ValidationFailed
from qingzhi.reports.render import (
    Document,
    Figure,
    Heading,
    Link,
    Paragraph,
    Table,
    chinese_date,
    chinese_numeral,
)
from qingzhi.reports.render.model import labels, text_width
from qingzhi.reports.render.word import signature_layout
from qingzhi.reports.render.word_styles import LINE_CHARS

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest.mark.parametrize(
    ("n", "text"),
    [(1, "一"), (9, "九"), (10, "十"), (11, "十一"), (20, "二十"), (35, "三十五"), (99, "九十九"),
     (100, "一百"), (105, "一百零五"), (110, "一百一十"), (999, "九百九十九")],
)  # fmt: skip
def test_chinese_numerals(n: int, text: str) -> None:
    assert chinese_numeral(n) == text


def test_chinese_numeral_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        chinese_numeral(0)


def test_date_in_official_style() -> None:
    assert chinese_date(dt.date(2026, 12, 1)) == "2026年12月1日"
    assert chinese_date(dt.date(2027, 1, 9)) == "2027年1月9日"


def test_headings_and_captions_are_numbered_per_level() -> None:
    doc = Document(
        title="标题",
        issuer="垫江县公安局",
        date=dt.date(2026, 12, 1),
        blocks=[
            Heading("甲"),
            Heading("乙", 2),
            Heading("丙", 2),
            Heading("丁", 3),
            Heading("戊", 4),
            Table(["a"], [["1"]], caption="表甲"),
            Heading("己"),
            Heading("不编号", 2, numbered=False),
            Heading("庚", 2),
            Heading("辛", 3),
            Figure(PNG, caption="图甲"),
            Table(["a"], [["1"]], caption="表乙"),
            Table(["a"], [["1"]]),
            Paragraph("正文"),
        ],
    )
    assert labels(doc) == [
        "一、", "（一）", "（二）", "1.", "（1）", "表1",
        "二、", None, "（一）", "1.", "图1", "表2", None, None,
    ]  # fmt: skip


def test_signature_long_issuer_places_date_by_its_start() -> None:
    issuer, date = "垫江县公安局情报指挥中心", "2026年12月1日"
    assert text_width(issuer) == 12
    assert text_width(date) == 6.5
    layout = signature_layout(issuer, date)
    assert layout.issuer_right == 2  # two characters from the right edge
    # The date starts two characters right of the unit's first character.
    assert layout.date_left == pytest.approx(LINE_CHARS - 2 - 12 + 2)
    assert layout.date_right is None


def test_signature_short_issuer_moves_left_of_the_date() -> None:
    layout = signature_layout("垫江县公安局", "2026年12月1日")
    # The date keeps two characters on its right; the unit starts two characters before it.
    assert layout.date_right == 2
    assert layout.date_left is None
    assert layout.issuer_right == pytest.approx(4.5)
    assert layout.issuer_right + 6 == pytest.approx(2 + 6.5 + 2)


def test_table_rows_must_match_the_header() -> None:
    with pytest.raises(ValidationFailed) as err:
        Table(["派出所", "本期"], [["桂溪", 1], ["桂阳"]])
    assert err.value.details == [{"field": "table.rows[1]", "message": "应有 2 列，实际 1 列"}]


def test_table_widths_are_scaled_to_the_text_block() -> None:
    table = Table(["a", "b"], [["1", "2"]], widths_mm=[1, 3])
    assert table.column_widths_mm() == pytest.approx((39.0, 117.0))
    with pytest.raises(ValidationFailed, match=r"table\.widths_mm"):
        Table(["a", "b"], [], widths_mm=[1])
    with pytest.raises(ValidationFailed, match=r"table\.align"):
        Table(["a"], [], align=["middle"])  # type: ignore[list-item]


def test_links_must_stay_on_the_site_or_http() -> None:
    assert Link("桂溪", "/units/1").href == "/units/1"
    for bad in ("javascript:alert(1)", "//evil.example/x", "data:text/html,x"):
        with pytest.raises(ValidationFailed, match=r"link\.href"):
            Link("x", bad)


def test_bad_blocks_name_their_field() -> None:
    with pytest.raises(ValidationFailed, match=r"figure\.png"):
        Figure(b"GIF89a")
    with pytest.raises(ValidationFailed, match=r"heading\.level"):
        Heading("x", 5)
    with pytest.raises(ValidationFailed, match="title"):
        Document(title=" ", issuer="x", date=dt.date(2026, 1, 1))
    with pytest.raises(ValidationFailed, match=r"blocks\[0\]"):
        Document(title="t", issuer="x", date=dt.date(2026, 1, 1), blocks=["文本"])  # type: ignore[list-item]
