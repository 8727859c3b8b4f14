"""PDF by LibreOffice from the .docx: pages, text, embedded Fandol fonts, the layout on the page.

Page images are saved under ``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from qingzhi.reports.render import (
    Document,
    FontsMissing,
    Paragraph,
    PdfConversionFailed,
    PdfUnavailable,
    pdf_available,
    to_docx,
    to_pdf,
)
from qingzhi.reports.render.fonts import FACES
from tests.reports.samples import GRID_LINE, ISSUER, TITLE, sample_document

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
XHTML = "{http://www.w3.org/1999/xhtml}"
MM = 72 / 25.4  # points per millimetre
POPPLER = all(shutil.which(t) for t in ("pdftoppm", "pdftotext", "pdffonts", "pdfinfo"))

needs_pdf = pytest.mark.skipif(
    not (pdf_available() and POPPLER),
    reason="PDF needs LibreOffice (libreoffice-writer-nogui), the Fandol fonts "
    "(texlive-lang-chinese) and poppler-utils; .ci/run installs them",
)


def _tool(*args: str | Path, data: bytes | None = None) -> str:
    return subprocess.run(
        [str(a) for a in args], input=data, capture_output=True, check=True
    ).stdout.decode()


@pytest.fixture(scope="module")
def pdf_file(sample_docx: bytes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "brief.pdf"
    path.write_bytes(to_pdf(sample_docx))
    return path


def _pages(pdf: Path) -> int:
    info = _tool("pdfinfo", pdf)
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def _page_text(pdf: Path, page: int) -> str:
    return _tool("pdftotext", "-layout", "-f", str(page), "-l", str(page), pdf, "-")


def _lines(pdf: Path, page: int) -> list[tuple[str, float, float, float, float]]:
    """Text lines of a page: (text, xMin, yMin, xMax, yMax) in points."""
    xml = _tool("pdftotext", "-bbox-layout", "-f", str(page), "-l", str(page), pdf, "-")
    root = ET.fromstring(xml)  # noqa: S314 - our own PDF through poppler
    out = []
    for line in root.iter(f"{XHTML}line"):
        text = "".join(w.text or "" for w in line.iter(f"{XHTML}word"))
        x0, y0, x1, y1 = (float(line.get(k, "0")) for k in ("xMin", "yMin", "xMax", "yMax"))
        out.append((text, x0, y0, x1, y1))
    return out


@needs_pdf
def test_pdf_has_the_text_and_page_numbers(pdf_file: Path) -> None:
    pages = _pages(pdf_file)
    assert pages == 4  # the map fills page 3; the page break starts page 4 (none blank)
    text = "".join(_page_text(pdf_file, p) for p in range(1, pages + 1))
    compact = "".join(text.split())
    assert "垫江县" in compact
    assert TITLE in compact
    assert ISSUER + "2026年12月1日" in compact
    for page in range(1, pages + 1):
        last = _page_text(pdf_file, page).strip().splitlines()[-1]
        assert "".join(last.split()) == f"—{page}—"


@needs_pdf
def test_pdf_embeds_only_fandol_fonts(pdf_file: Path) -> None:
    rows = _tool("pdffonts", pdf_file).splitlines()[2:]
    names = {row.split()[0].split("+")[-1] for row in rows}
    # No fallback face (Noto, DejaVu): every glyph came from the Fandol stand-ins, so no tofu.
    assert names == {"FandolSong-Regular", "FandolFang-Regular", "FandolKai-Regular",
                     "FandolHei-Regular"}  # fmt: skip
    assert all(row.split()[-5] == "yes" for row in rows)  # embedded
    assert {f.fandol for f in FACES.values()} == {
        "FandolSong",
        "FandolFang",
        "FandolKai",
        "FandolHei",
    }


@needs_pdf
def test_pdf_layout_follows_gb_t_9704(pdf_file: Path) -> None:
    lines = _lines(pdf_file, 1)
    body = [ln for ln in lines if ln[0] and not ln[0].startswith("—")]
    left = min(ln[1] for ln in body)
    # A closing 。or ，may hang into the margin (CJK hanging punctuation, as in Word).
    right = max(ln[3] - (16 if ln[0][-1] in "。，、；：" else 0) for ln in body)
    top = min(ln[2] for ln in body)
    assert left >= 28 * MM - 1 and right <= (210 - 26) * MM + 1  # inside the 156 mm block
    assert top >= 37 * MM - 1
    assert right - left > 150 * MM  # justified lines fill it
    # The 54-character paragraph takes two lines: 26 after the indent, then 28.
    grid = [ln for ln in body if set(ln[0]) <= set(GRID_LINE)]
    assert [len(ln[0]) for ln in grid] == [26, 28]
    assert grid[0][1] - grid[1][1] == pytest.approx(2 * 15.75, abs=1.5)  # two-character indent
    # Consecutive body lines are 28.95 pt apart: 22 lines in the 225 mm block.
    pitch = grid[1][2] - grid[0][2]
    assert pitch == pytest.approx(28.95, abs=0.3)
    # The odd page number sits right, one character in; its dashes 7 mm below the block.
    number = next(ln for ln in lines if ln[0].startswith("—"))
    assert number[3] == pytest.approx((210 - 26) * MM - 14, abs=3)
    middle = (number[2] + number[4]) / 2
    assert middle - (297 - 35) * MM == pytest.approx(7 * MM, abs=1.5 * MM)
    even = next(ln for ln in _lines(pdf_file, 2) if ln[0].startswith("—"))
    assert even[1] == pytest.approx(28 * MM + 14, abs=3)


@needs_pdf
def test_page_break_starts_a_page(pdf_file: Path) -> None:
    first = [ln[0] for ln in _lines(pdf_file, 4) if ln[0]]
    assert first[0] == "三、工作建议"


@needs_pdf
def test_pages_rendered_for_a_person(pdf_file: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for page in (1, 2, 3, 4):
        stem = ARTIFACTS / f"report-brief-page{page}"
        _tool("pdftoppm", "-png", "-r", "110", "-f", str(page), "-l", str(page), "-singlefile",
              pdf_file, stem)  # fmt: skip
        png = stem.with_suffix(".png")
        assert png.read_bytes().startswith(b"\x89PNG")
    shutil.copy(pdf_file, ARTIFACTS / "report-brief.pdf")


@needs_pdf
def test_concurrent_conversions_do_not_collide() -> None:
    docs = [
        Document(title=f"第{i}号报告", issuer=ISSUER, date=sample_document().date,
                 blocks=[Paragraph(f"垫江县第{i}号报告正文。")])
        for i in (1, 2)
    ]  # fmt: skip
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []

    def convert(i: int) -> None:
        try:
            results[i] = to_pdf(to_docx(docs[i - 1]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=convert, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in (1, 2):
        text = _tool("pdftotext", "-", "-", data=results[i])
        assert f"第{i}号报告" in "".join(text.split())


@needs_pdf
def test_timeout_kills_the_conversion(sample_docx: bytes) -> None:
    with pytest.raises(PdfConversionFailed) as err:
        to_pdf(sample_docx, timeout=0.2)
    assert err.value.message == "PDF 转换超时（超过 0.2 秒）"


def test_missing_libreoffice_is_a_clear_503(
    setenv: Callable[[str, str], None], sample_docx: bytes, tmp_path: Path
) -> None:
    setenv("QINGZHI_SOFFICE", str(tmp_path / "no-soffice"))
    with pytest.raises(PdfUnavailable) as err:
        to_pdf(sample_docx)
    assert err.value.status == 503
    assert "QINGZHI_SOFFICE" in err.value.message
    setenv("QINGZHI_SOFFICE", "")
    setenv("PATH", str(tmp_path))
    with pytest.raises(PdfUnavailable) as err:
        to_pdf(sample_docx)
    assert err.value.message == "PDF 转换不可用：未安装 LibreOffice（libreoffice-writer-nogui）"
    assert not pdf_available()


def test_missing_fonts_are_a_clear_503(
    setenv: Callable[[str, str], None], sample_docx: bytes, tmp_path: Path
) -> None:
    setenv("QINGZHI_FONT_DIR", str(tmp_path))
    setenv("QINGZHI_SOFFICE", shutil.which("true") or "/bin/true")
    with pytest.raises(FontsMissing) as err:
        to_pdf(sample_docx)
    assert err.value.status == 503
    assert "FandolFang-Regular.otf" in err.value.message
