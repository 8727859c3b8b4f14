"""A messy CAD export imported as it comes (issue 16 figures).

A plain CSV of N rows (default 700,000) in the shape of the US city export of issue 16
(``qingzhi.demo.cad_export``: Date + 12-hour Time, 72 % without AM/PM, resolved by the epoch-ms
ResponseDate; unordered; a few empty ids and placeholder points) over two years of America/Chicago
time, in parts of 100,000 rows (each part's rows shuffled, the parts in shuffled order), is
written once; then, each in a child process of its own (so that its peak memory is its own):

- ``read``: the baseline, the file's rows through ``csv.reader`` and nothing else;
- ``check``: ``importer.check_file`` (``qingzhi import incidents --check``: every row parsed,
  its times, point and record validated, nothing written);
- ``import``: ``importer.import_file`` into a fresh migrated SQLite file with a four-station
  organisation over the points' box (the check, then the good rows sorted by time through the
  intake: routing, repeat linking, lifecycle events, audit).

Each prints rows/s (wall clock, and per second of its own CPU: on a shared machine the wall
clock mostly measures the other jobs), its ratio to the baseline's and its peak resident memory
(ru_maxrss). The machine is shared: absolute figures move with other jobs; the ratios move less.

    PYTHONPATH=src .venv/bin/python bench/import_cad.py [--rows 700000] [--skip read,check]
        [--dir DIR] [--workers N]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PART = 100_000
BOX = (107.0, 30.0, 107.4, 30.4)


def generate(path: Path, rows: int) -> None:
    """The messy export, written part by part (memory stays that of one part)."""
    from qingzhi.demo import cad_export

    days = 730
    parts = list(range(-(-rows // PART)))
    random.Random(16).shuffle(parts)
    first = True
    for p in parts:
        n = min(PART, rows - p * PART)
        span = days / len(parts)
        shape = cad_export.Shape(
            *BOX, start=dt.date(2024, 10, 1) + dt.timedelta(days=int(p * span)), days=int(span)
        )
        table = cad_export.rows(n, shape, seed=p, first=p * PART)
        cad_export.write(path, table, append=not first)
        first = False


def setup_db(url: str) -> None:
    """A migrated store with a bureau over the box and four stations, one a quadrant."""
    from qingzhi.org.enums import UnitKind
    from qingzhi.org.models import Bureau, Unit
    from qingzhi.store.db import Database, migrate

    def square(x0: float, y0: float, x1: float, y1: float) -> str:
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        return json.dumps({"type": "Polygon", "coordinates": [ring]})

    migrate(url)
    db = Database(url)
    x0, y0, x1, y1 = BOX
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    with db.session(write=True) as s:
        bureau = Bureau(code="BENCH", name="基准县公安局", boundary=square(*BOX))
        s.add(bureau)
        s.flush()
        quads = [(x0, y0, xm, ym), (xm, y0, x1, ym), (x0, ym, xm, y1), (xm, ym, x1, y1)]
        for i, q in enumerate(quads):
            s.add(
                Unit(
                    bureau_id=bureau.id,
                    code=f"S{i}",
                    name=f"第{i + 1}派出所",
                    kind=UnitKind.urban_station,
                    jurisdiction=square(*q),
                )
            )
        s.add(Unit(bureau_id=bureau.id, code="CMD", name="情指中心", kind=UnitKind.command_centre))
    db.dispose()


def phase(name: str, path: Path, mapping_path: Path, url: str, workers: int) -> dict[str, float]:
    """Run one phase in this process; its rows, seconds and peak memory."""
    from qingzhi.runtime import tune_gc

    tune_gc()
    start = time.perf_counter()
    out: dict[str, float] = {}
    if name == "read":
        with path.open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
            n = sum(1 for _ in csv.reader(fh)) - 1
        out["rows"] = n
    else:
        from qingzhi.auth.context import system_actor
        from qingzhi.config import Settings
        from qingzhi.incidents.importer import Mapping, check_file, import_file, load_place
        from qingzhi.store.db import Database

        mapping = Mapping.load(mapping_path)
        if name == "check":
            summary = check_file(path=path, mapping=mapping, workers=workers)
        else:
            db = Database(url)
            summary = import_file(
                db=db,
                actor=system_actor("bench"),
                settings=Settings(database_url=url),
                path=path,
                mapping=mapping,
                place=load_place(db, mapping),
                workers=workers,
            )
            db.dispose()
            out["created"] = summary.created
        out["rows"] = summary.rows
        out["bad"] = summary.bad_rows
        out["clock12"] = summary.flags["clock12"]
    out["seconds"] = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # check workers, when any
    out["cpu"] = usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime
    out["peak_mb"] = usage.ru_maxrss / 1024
    return out


def main() -> None:
    """Generate the file, run the phases in child processes, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=700_000)
    parser.add_argument("--skip", default="", help="phases to skip: read,check,import")
    parser.add_argument("--dir", type=Path, default=None, help="keep the files here")
    parser.add_argument("--workers", type=int, default=1, help="check processes (check_file)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="qingzhi-bench-cad-"))
    work.mkdir(parents=True, exist_ok=True)
    path, mapping_path = work / f"cad_{args.rows}.csv", work / "cad.toml"
    url = f"sqlite:///{work / 'bench.db'}"
    if args.phase:
        print(json.dumps(phase(args.phase, path, mapping_path, url, args.workers)))
        return
    from qingzhi.demo import cad_export

    mapping_path.write_text(cad_export.MAPPING, encoding="utf-8")
    if not path.exists():
        t = time.perf_counter()
        generate(path, args.rows)
        print(
            f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - t:.0f} s: {path}"
        )
    skip = set(filter(None, args.skip.split(",")))
    results: dict[str, dict[str, float]] = {}
    for name in ("read", "check", "import"):
        if name in skip:
            continue
        if name == "import":
            (work / "bench.db").unlink(missing_ok=True)
            setup_db(url)
        cmd = [sys.executable, __file__, "--rows", str(args.rows), "--dir", str(work)]
        cmd += ["--workers", str(args.workers)]
        done = subprocess.run([*cmd, "--phase", name], check=True, capture_output=True, text=True)
        results[name] = r = json.loads(done.stdout.strip().splitlines()[-1])
        rate = r["rows"] / r["seconds"]
        ratio = ""
        if "read" in results and name != "read":
            base = results["read"]["rows"] / results["read"]["seconds"]
            ratio = f", {base / rate:.1f}× the time of the bare read"
        extra = f", {int(r['bad'])} bad rows" if "bad" in r else ""
        if "created" in r:
            extra += f", {int(r['created']):,} created"
        cpu_rate = r["rows"] / r["cpu"] if r.get("cpu") else 0.0
        print(
            f"{name:>6}: {int(r['rows']):,} rows in {r['seconds']:.1f} s = {rate:,.0f} rows/s"
            f" ({r.get('cpu', 0):.1f} s of CPU: {cpu_rate:,.0f} rows per CPU second)"
            f"{ratio}; peak {r['peak_mb']:.0f} MB{extra}"
        )


if __name__ == "__main__":
    main()
