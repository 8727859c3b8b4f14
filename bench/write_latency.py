"""Single-call write latency while exports and bulk intakes run (the hardening issue, item 1).

No read, export or bulk may hold the writer longer than one short transaction. This measures
what single callers notice: ``POST /api/incidents`` from one client (a dispatcher: each call
sent when the last is answered, so its latency is the server's, not a queue of callers) and from
16 concurrent keep-alive clients (the saturating load of ``incident_intake.py``, whose latency is
mostly the queue: clients / throughput), with that bench's load generator, against a real
uvicorn server (one worker, a subprocess) on a store of ``--rows`` incidents (default 85,000: a
year of the demo county's calls, written by ``incident_intake.build_store``), p50/p95/p99/max,
in phases:

- idle: the POSTs alone (the baseline of the same run);
- while an unmasked bureau-wide export runs, again and again (``export.csv?unmask=true``, and
  ``export.xlsx?unmask=true``), read by a client at full speed;
- while 10,000-item bulk intakes (``POST /api/incidents/bulk``) run one after another;
- while both an unmasked bureau-wide CSV export and a 10,000-item bulk run.

The background clients run in processes of their own, so their work is not counted as the load
generator's latency; the POST phase starts once they have started. Beside each phase: how many
exports/bulks ran meanwhile and how long they took, and the disk's flush latency (every commit
waits for one; a stalled shared disk shows in both). The ratio of each phase's p99 to the idle
p99 is what to compare across runs: the machine is shared, absolute figures move with other jobs.

SQLite file always; PostgreSQL too when ``--pg URL`` is given (or QINGZHI_BENCH_DATABASE_URL /
QINGZHI_TEST_DATABASE_URL is set), in a schema of its own, dropped afterwards.

    PYTHONPATH=src .venv/bin/python bench/write_latency.py [--rows 85000] [--posts 1000]
        [--clients 1,16] [--pg URL] [--skip sqlite,postgresql] [--phases csv,xlsx,bulk,both]
        [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from incident_intake import (
    ACTOR,
    SEED,
    FlushProbe,
    Server,
    bodies,
    build_store,
    post_all,
    table,
    token_for,
)
from qingzhi.demo.loader import demo_window, load_demo
from qingzhi.demo.reference import LOCAL_TZ
from qingzhi.incidents.models import Incident
from qingzhi.org.models import Bureau
from qingzhi.runtime import tune_gc
from qingzhi.store.db import Database, make_engine, migrate

BULK = 10_000
PHASES = ("csv", "xlsx", "bulk", "both")
# The exports end before the days the POSTs and bulks write into (their bodies are the demo's
# last days), so every export of a run shows the same incidents however the store grows.
NEW_DAYS = math.ceil(BULK / 230) + 2


# ---------------------------------------------------------------- background clients


def _export_loop(base: str, token: str, stop: Any, out: Any, path: str) -> None:
    """Export ``path`` again and again until ``stop``; each run's (seconds, bytes, status)."""
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600
    ) as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            size = 0
            with c.stream("GET", path) as r:
                for chunk in r.iter_bytes(256 * 1024):
                    size += len(chunk)
            out.put(("export", time.perf_counter() - t0, size, r.status_code))


def _bulk_loop(base: str, token: str, stop: Any, out: Any, items: list[dict[str, Any]]) -> None:
    """10,000-item bulks one after another until ``stop`` (new source ids each time)."""
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600
    ) as c:
        k = 0
        while not stop.is_set():
            k += 1
            prefix = f"BLK{os.getpid()}-{k}-"
            data = json.dumps(
                {"items": [{**b, "source_id": prefix + b["source_id"]} for b in items]}
            )
            t0 = time.perf_counter()
            r = c.post(
                "/api/incidents/bulk", content=data, headers={"Content-Type": "application/json"}
            )
            created = r.json().get("created", 0) if r.status_code == 200 else 0
            out.put(("bulk", time.perf_counter() - t0, created, r.status_code))


Background = Callable[[str, str, Any, Any], None]


def phase(
    server: Server,
    token: str,
    work: list[dict[str, Any]],
    clients: int,
    folder: Path,
    background: list[Background],
) -> dict[str, Any]:
    """The POST load while ``background`` clients run (each in a process of its own)."""
    ctx = mp.get_context("fork")
    stop, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=b, args=(server.base, token, stop, out)) for b in background]
    for p in procs:
        p.start()
    if procs:
        time.sleep(1.5)  # the exports have started streaming, the bulks have begun to commit
    with FlushProbe(folder) as probe:
        t0 = time.perf_counter()
        lat, _acked, bad, broken = post_all(server.base, token, work, clients)
        wall = time.perf_counter() - t0
    stop.set()
    runs: list[tuple[str, float, int, int]] = []
    for p in procs:
        p.join(timeout=600)
    while True:
        try:
            runs.append(out.get(timeout=0.5))
        except Exception:  # queue.Empty
            break
    ms = np.array(lat) * 1000
    return {
        "n": len(lat),
        "errors": bad + broken,
        "rps": len(lat) / wall,
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "flush_p99": float(np.percentile(probe.times, 99)) if probe.times else None,
        "runs": runs,
    }


def _runs_text(runs: list[tuple[str, float, int, int]]) -> str:
    parts = []
    for kind in ("export", "bulk"):
        mine = [r for r in runs if r[0] == kind]
        if not mine:
            continue
        bad = sum(1 for r in mine if r[3] != 200)
        secs = [r[1] for r in mine]
        size = (
            f"{np.mean([r[2] for r in mine]) / 1e6:.1f} MB"
            if kind == "export"
            else f"{int(np.mean([r[2] for r in mine])):,} created"
        )
        parts.append(
            f"{len(mine)} {kind}{'s' if len(mine) > 1 else ''} "
            f"{min(secs):.1f}–{max(secs):.1f} s, {size}" + (f", {bad} not 200" if bad else "")
        )
    return "; ".join(parts) or "—"


def bench(
    name: str,
    url: str,
    rows: int,
    posts: int,
    clients: list[int],
    folder: Path,
    only: set[str],
) -> None:
    """Build the store at ``url`` (unless it has the incidents), serve it, run the phases,
    print the table."""
    migrate(url)
    db = Database(url)
    with db.session() as session:
        fresh = session.execute(select(func.count(Bureau.id))).scalar_one() == 0
    if fresh:
        with db.session(write=True) as session:
            load_demo(session=session, actor=ACTOR, seed=SEED)
    t0 = time.perf_counter()
    n = build_store(db, rows)
    db.analyze()
    print(f"  {name}: {n:,} incidents written in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    token = token_for(url, "dispatcher")  # bureau-wide, may read personal data
    end = dt.datetime.combine(demo_window(NEW_DAYS), dt.time(), tzinfo=LOCAL_TZ)
    with db.session() as session:
        shown = session.execute(
            select(func.count(Incident.id)).where(Incident.received_at < end)
        ).scalar_one()
    db.dispose()
    until = f"unmask=true&end={end.replace(tzinfo=None).isoformat()}"
    csv_export: Background = partial(_export_loop, path=f"/api/incidents/export.csv?{until}")
    xlsx_export: Background = partial(_export_loop, path=f"/api/incidents/export.xlsx?{until}")
    bulks: Background = partial(_bulk_loop, items=bodies(BULK, ""))  # made before the fork
    phases: list[tuple[str, list[Background]]] = [
        (title, background)
        for key, title, background in (
            ("idle", "idle", []),
            ("csv", f"unmasked export.csv of {shown:,} (bureau-wide)", [csv_export]),
            ("xlsx", f"unmasked export.xlsx of {shown:,} (bureau-wide)", [xlsx_export]),
            ("bulk", f"bulk of {BULK:,}", [bulks]),
            ("both", f"unmasked export.csv of {shown:,} + bulk of {BULK:,}", [csv_export, bulks]),
        )
        if key == "idle" or key in only
    ]
    server = Server(url, folder / f"{name}-server.log", workers=1)
    server.start()
    results: dict[int, list[tuple[str, dict[str, Any]]]] = {c: [] for c in clients}
    try:
        post_all(server.base, token, bodies(50, f"WARM-{name}-"), 4)
        for c in clients:
            for k, (title, background) in enumerate(phases):
                print(f"  {name}: {c} client(s), {title} …", file=sys.stderr)
                work = bodies(posts, f"P{c}-{k}-{name}-")
                results[c].append((title, phase(server, token, work, c, folder, background)))
    finally:
        server.stop()
    for c, rows_of in results.items():
        idle = rows_of[0][1]["p99"]
        who = (
            "one client (each POST sent when the last is answered)"
            if c == 1
            else (f"{c} concurrent clients")
        )
        table(
            f"{name}: POST /api/incidents, {who}, 1 worker, {n:,} incidents",
            (
                "while",
                "requests",
                "errors",
                "req/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
                "p99 / idle",
                "disk flush p99 ms",
                "ran meanwhile",
            ),
            [
                (
                    title,
                    r["n"],
                    r["errors"],
                    r["rps"],
                    r["p50"],
                    r["p95"],
                    r["p99"],
                    r["max"],
                    f"{r['p99'] / idle:.1f}×",
                    r["flush_p99"] if r["flush_p99"] is not None else "—",
                    _runs_text(r["runs"]),
                )
                for title, r in rows_of
            ],
        )


def main() -> None:
    tune_gc()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=85_000, help="incidents in the store")
    parser.add_argument("--posts", type=int, default=1000, help="POSTs per phase")
    parser.add_argument(
        "--clients", default="1,16", help="comma list of concurrent POST clients, a table each"
    )
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (a schema is made in it)")
    parser.add_argument("--skip", default="", help="comma list of sqlite,postgresql")
    parser.add_argument(
        "--phases", default=",".join(PHASES), help="comma list of csv,xlsx,bulk,both (idle always)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder (kept)")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    pg_url = (
        args.pg
        or os.environ.get("QINGZHI_BENCH_DATABASE_URL")
        or os.environ.get("QINGZHI_TEST_DATABASE_URL")
    )
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f} (shared machine)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if "sqlite" not in skip:
            bench("SQLite", f"sqlite:///{folder / 'latency.db'}", **_common(args, folder))
        if pg_url and "postgresql" not in skip:
            schema = f"qingzhi_bench_latency_{os.getpid()}"
            admin = make_engine(pg_url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                pg = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
                bench(
                    "PostgreSQL", pg.render_as_string(hide_password=False), **_common(args, folder)
                )
            finally:
                with admin.begin() as conn, suppress(Exception):
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                admin.dispose()


def _common(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    return {
        "rows": args.rows,
        "posts": args.posts,
        "clients": [int(c) for c in args.clients.split(",")],
        "folder": folder,
        "only": {p.strip() for p in args.phases.split(",") if p.strip()},
    }


if __name__ == "__main__":
    main()
