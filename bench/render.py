"""Rendering benchmark: a ~10-page brief to .docx, to PDF (LibreOffice), to HTML; charts; a map.

The baseline in the same run is a one-page document's PDF, so the 10-page figure reads as
LibreOffice's start-up plus a cost per page; two conversions at once show what the per-process
limit (QINGZHI_PDF_MAX_PARALLEL, default 2) buys on this machine.

    PYTHONPATH=src:. .venv/bin/python bench/render.py [--sections 5] [--repeat 3]

(``.`` on the path: the sample brief is the tests' one, ``tests/reports/samples.py``.)
"""

from __future__ import annotations

import argparse
import re
import statistics
import threading
import time
from collections.abc import Callable

from tests.reports.samples import HOURS, county_map, sample_document

from qingzhi.reports.render import (
    Document,
    Paragraph,
    charts,
    pdf_available,
    to_docx,
    to_html,
    to_pdf,
)

PAGE = re.compile(rb"/Type\s*/Page[^s]")


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median seconds of ``repeat`` calls and the last result."""
    times = []
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sections", type=int, default=5, help="extra sections (5: 10 pages)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t_map, _ = timed(lambda: county_map.__wrapped__(), 1)
    county_map()  # cached for the documents below
    t_chart, _ = timed(lambda: charts.hour_profile(HOURS, HOURS), args.repeat)
    doc = sample_document(sections=args.sections)
    small = Document(title=doc.title, issuer=doc.issuer, date=doc.date, blocks=[Paragraph("正文")])
    t_docx, docx_bytes = timed(lambda: to_docx(doc), args.repeat)
    t_html, html = timed(lambda: to_html(doc), args.repeat)
    assert isinstance(docx_bytes, bytes) and isinstance(html, str)
    kib = len(docx_bytes) / 1024, len(html) / 1024
    print(f"blocks: {len(doc.blocks)}; docx {kib[0]:.0f} KiB, html {kib[1]:.0f} KiB")
    print(
        f"chart (hour profile, 200 dpi): {t_chart * 1000:.0f} ms; county map: {t_map * 1000:.0f} ms"
    )
    print(f"to_docx: {t_docx * 1000:.0f} ms; to_html: {t_html * 1000:.0f} ms")
    if not pdf_available():
        print("PDF: skipped (LibreOffice or the Fandol fonts are missing)")
        return
    small_docx = to_docx(small)
    t_small, _ = timed(lambda: to_pdf(small_docx), args.repeat)
    t_pdf, pdf = timed(lambda: to_pdf(docx_bytes), args.repeat)
    assert isinstance(pdf, bytes)
    pages = len(PAGE.findall(pdf))
    print(f"to_pdf 1 page (baseline): {t_small:.2f} s")
    print(
        f"to_pdf {pages} pages: {t_pdf:.2f} s = {t_pdf / t_small:.2f} × baseline; "
        f"{(t_pdf - t_small) / max(pages - 1, 1) * 1000:.0f} ms per further page; "
        f"{len(pdf) / 1024:.0f} KiB"
    )
    start = time.perf_counter()
    threads = [threading.Thread(target=to_pdf, args=(docx_bytes,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    both = time.perf_counter() - start
    print(f"two {pages}-page conversions at once: {both:.2f} s = {both / t_pdf:.2f} × one")


if __name__ == "__main__":
    main()
