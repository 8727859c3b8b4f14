"""Brief benchmark: the bureau's monthly plan over the demo year (to .docx, and to PDF) and a
daily brief, with the time split between queries, analysis and rendering, and peak memory.

Targets (issue 17): monthly under 10 s to .docx and under 20 s to PDF, under 500 MB; daily under
3 s. Each brief is made in a fresh child process (its peak resident memory is the child's
``ru_maxrss``, the import of the libraries included); the baseline in the same run is the bare
``to_docx`` of a one-paragraph document, so the rendering figure reads against it.

    PYTHONPATH=src .venv/bin/python bench/briefs.py --db var/qingzhi.db [--month 2026-10]
                                                    [--day 2026-11-28]

(``--db``: a database with the demo year loaded: ``qingzhi demo load`` then its incidents.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

NOW = dt.datetime(2026, 12, 1, 1, tzinfo=dt.UTC)  # 09:00 on 1 December in Shanghai


def make(db_path: str, kind: str, day: str, formats: list[str], queue: Any) -> None:
    """Make one bureau brief in this (child) process and report its timings."""
    import qingzhi.models  # noqa: F401 - every table for the session
    from qingzhi.auth.context import system_actor
    from qingzhi.config import Settings
    from qingzhi.reports import service
    from qingzhi.reports.content import Timings
    from qingzhi.reports.enums import BriefFormat, BriefKind
    from qingzhi.store.db import Database

    settings = Settings(
        database_url=f"sqlite:///{db_path}", briefs_dir=Path(tempfile.mkdtemp()) / "archive"
    )
    db = Database.from_settings(settings)
    timings = Timings()
    start = time.perf_counter()
    with db.session() as session:
        prepared = service.prepare(
            session=session,
            actor=system_actor("bench"),
            settings=settings,
            kind=BriefKind(kind),
            day=dt.date.fromisoformat(day),
            unit_id=None,
            formats=[BriefFormat(f) for f in formats],
            now=NOW,
            timings=timings,
        )
    total = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        {
            "total": total,
            "queries": timings.queries,
            "analysis": timings.analysis,
            "rendering": timings.rendering,
            "marks": timings.marks,
            "peak_mb": peak_mb,
            "incidents": prepared.content["headline"]["total"],
            "bytes": {str(k): len(v) for k, v in prepared.files.items()},
        }
    )


def baseline(queue: Any) -> None:
    """The bare renderer: a one-paragraph document to .docx."""
    from qingzhi.reports.render import Document, Paragraph, to_docx

    doc = Document(
        title="基线", issuer="情指中心", date=dt.date(2026, 12, 1), blocks=[Paragraph("正文")]
    )
    to_docx(doc)
    start = time.perf_counter()
    to_docx(doc)
    queue.put({"total": time.perf_counter() - start})


def child(target: Any, *args: Any) -> dict[str, Any]:
    """Run ``target`` in a fresh process; its result."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"{target.__name__}{args} failed (exit {proc.exitcode})")
    out: dict[str, Any] = queue.get()
    return out


def show(name: str, r: dict[str, Any], target: float, base: float) -> None:
    """Print one measurement (and its ratio to the baseline of the same run)."""
    print(
        f"{name}: {r['total']:.2f} s = {r['total'] / base:.0f} × baseline "
        f"(target < {target:g} s) = queries {r['queries']:.2f} + "
        f"analysis {r['analysis']:.2f} + rendering {r['rendering']:.2f}; "
        f"peak {r['peak_mb']:.0f} MB; {r['incidents']} incidents; files {r['bytes']}"
    )
    print("   stages: " + ", ".join(f"{k} {v:.2f}" for k, v in r["marks"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--month", default="2026-10", help="a whole month of the demo year")
    parser.add_argument("--day", default="2026-11-28")
    args = parser.parse_args()
    month_day = f"{args.month}-01"
    base = child(baseline)
    print(f"baseline to_docx (one paragraph): {base['total'] * 1000:.0f} ms")
    b = base["total"]
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    show("monthly → docx", child(make, args.db, "monthly", month_day, ["docx"]), 10, b)
    show("monthly → docx+pdf", child(make, args.db, "monthly", month_day, ["docx", "pdf"]), 20, b)
    show("daily → docx", child(make, args.db, "daily", args.day, ["docx"]), 3, b)


if __name__ == "__main__":
    main()
