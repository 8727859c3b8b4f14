"""Incident intake and query speed on the demo county scaled up (issue 4 figures).

The county's year of calls (85,000) is generated as many times as needed (other seeds, source ids
prefixed) over at most five years, so N incidents keep the county's places, hours and mix.

(a) bulk: N calls through ``intake_batches`` (the importer's and demo loader's path: routing,
    repeat linking, a lifecycle event, audit; each batch of 5,000 one transaction, the next batch
    prepared while one commits) into a fresh SQLite file; the same calls as imports carrying their
    whole history (every lifecycle step an event); and as the baseline, batch for batch, the same
    rows alone through the same ``Database.write_each`` (ids drawn, one ``executemany``, the batch
    added to the FTS5 index): no routing, no repeats, no events, no audit. Each path has a file
    of its own.
(b) http: ``POST /api/incidents`` from 16 concurrent keep-alive clients (an asyncio load
    generator costing about 0.1 ms of CPU a request) against a real uvicorn server on 127.0.0.1
    (a subprocess on a temp SQLite file with the demo org and a token from ``qingzhi token
    create``), with 1 and with 2 workers: requests/s and p50/p95/p99/max latency, and beside
    them the disk's own flush latency during the run (a thread writing 4 KiB + fsync every
    20 ms): every commit waits for one, and on a shared machine a stalled flush shows up in the
    p99 whatever the server does.
(c) kill: the same under load, the server killed with SIGKILL mid-way, restarted; every incident
    that got a 2xx answer must be there (read back through the restarted server) and
    ``qingzhi audit verify`` must pass.
(d) query (``--query N``): N incidents written straight into the table (routed with the same
    region index, repeats from the generator, added to the text index), ANALYZE as qingzhi runs
    after bulk loads, then the ten most common one-click queries through
    ``qingzhi.incidents.query`` timed on SQLite and, when QINGZHI_BENCH_DATABASE_URL is set, on
    PostgreSQL (in a schema of its own). With ``--keep DIR`` the stores stay and a second run only
    times the queries. Each query's first run is shown apart (pages not yet in memory: the first
    query after a restart) from the p50/p95 of the ``--repeat`` runs after it.

The process applies ``qingzhi.runtime.tune_gc`` as every qingzhi process does. The machine is
shared: absolute figures move with other jobs; ratios in one run move less.

    .venv/bin/python bench/incident_intake.py [--bulk 200000] [--http 3000] [--clients 16]
        [--workers 1,2] [--query [N]] [--repeat 20] [--skip bulk,http,kill] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo.county import generate_county
from qingzhi.demo.incidents import IncidentSpec, generate_incidents
from qingzhi.demo.loader import demo_window, load_demo, to_import
from qingzhi.incidents import query as iq
from qingzhi.incidents.enums import Category
from qingzhi.incidents.intake import intake_batches
from qingzhi.incidents.lifecycle import Status
from qingzhi.incidents.models import Incident, IncidentEvent
from qingzhi.incidents.routing import RegionIndex
from qingzhi.incidents.schemas import IncidentCreate, IncidentImport
from qingzhi.incidents.search import index_new, search_text
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Unit
from qingzhi.runtime import tune_gc
from qingzhi.store.base import table_of, utcnow
from qingzhi.store.bulk import allocate_ids, insert_rows
from qingzhi.store.db import Database, make_engine, migrate

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BATCH = 5000
SEED = 2026
ACTOR = system_actor("bench")
TABLE = table_of(Incident)
_CREATE_FIELDS = tuple(IncidentCreate.model_fields)  # what POST /api/incidents takes


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a plain text table."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for k, r in enumerate(cells):
        print(
            "  "
            + "  ".join(
                c.rjust(w) if j else c.ljust(w)
                for j, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if k == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 100 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def fresh_db(folder: Path, name: str) -> tuple[str, Database]:
    """A migrated SQLite file with the demo org and accounts."""
    url = f"sqlite:///{folder / name}"
    migrate(url)
    db = Database(url)
    with db.session(write=True) as session:
        load_demo(session=session, actor=ACTOR, seed=SEED)
    return url, db


def spec_chunks(total: int, *, max_years: int = 5) -> Iterator[list[IncidentSpec]]:
    """About ``total`` calls of the demo county scaled up: at most ``max_years`` years ending
    yesterday, each year's calls generated as many times as needed (other seeds, source ids
    prefixed), a year at a time."""
    county = generate_county(SEED)
    per_year = 85_000
    chunks = max(1, math.ceil(total / per_year))
    years = min(max_years, chunks)
    first = demo_window(365 * years)
    left = total
    for k in range(chunks):
        year, copy = k % years, k // years
        specs = generate_incidents(
            county, days=365, seed=SEED + k, start=first + dt.timedelta(days=365 * year)
        )
        if copy:
            tag = f"X{copy}-"
            specs = [
                replace(
                    s,
                    source_id=tag + s.source_id,
                    repeat_of=tag + s.repeat_of if s.repeat_of else None,
                )
                for s in specs
            ]
        if len(specs) > left:
            specs = specs[:left]
        left -= len(specs)
        yield specs
        if left <= 0:
            return


def row_of(item: IncidentImport, now: dt.datetime) -> dict[str, Any]:
    """The incident row of an item as a plain insert writes it (no routing, repeats or audit)."""
    loc = item.location
    return {
        "source_id": item.source_id,
        "received_at": item.received_at,
        "category": item.category,
        "subtype": item.subtype,
        "description": item.description,
        "address": item.address,
        "caller_phone": item.caller_phone,
        "lon": loc.lon if loc else None,
        "lat": loc.lat if loc else None,
        "source_datum": str(loc.datum) if loc else None,
        "priority": item.priority,
        "valid": item.valid,
        "invalid_reason": str(item.invalid_reason) if item.invalid_reason else None,
        "status": item.final_status,
        "unit_id": None,
        "station_id": None,
        "zone_id": None,
        "routed_by": "queue",
        "needs_review": False,
        "review_reason": None,
        "repeat_of_id": None,
        "repeat_count": 0,
        "dispatched_at": item.dispatched_at,
        "arrived_at": item.arrived_at,
        "resolved_at": item.resolved_at,
        "closed_at": item.closed_at,
        "search_text": search_text(item.description, item.address),
        "synthetic": True,
        "created_at": now,
        "updated_at": now,
    }


# ---------------------------------------------------------------- (a) bulk


def bench_bulk(folder: Path, total: int) -> None:
    settings = Settings()
    dbs = {name: fresh_db(folder, f"{name}.db")[1] for name in ("calls", "import", "raw")}
    now = dt.datetime.now(dt.UTC)
    spent = dict.fromkeys(("calls", "import", "raw", "validate"), 0.0)
    n = 0
    created = dict.fromkeys(("calls", "import"), 0)

    def timed(key: str, work: Any, *args: Any) -> Any:
        t0 = time.perf_counter()
        out = work(*args)
        spent[key] += time.perf_counter() - t0
        return out

    def parts(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
        return (items[first : first + BATCH] for first in range(0, len(items), BATCH))

    def intake(key: str, items: Sequence[IncidentCreate]) -> None:
        for results in intake_batches(
            db=dbs[key], actor=ACTOR, settings=settings, batches=parts(items)
        ):
            created[key] += sum(r.created for r in results)

    def raw(items: Sequence[IncidentImport]) -> None:
        def job(batch: Sequence[IncidentImport]) -> Any:
            rows = [row_of(item, now) for item in batch]

            def write(session: Any) -> None:
                ids = allocate_ids(session.connection(), TABLE, len(rows))
                insert_rows(
                    session.connection(),
                    TABLE,
                    [{"id": iid, **row} for iid, row in zip(ids, rows, strict=True)],
                )
                index_new(session.connection(), ids)

            return write

        for _ in dbs["raw"].write_each(job(batch) for batch in parts(items)):
            pass

    for specs in spec_chunks(total):
        imports = timed("validate", lambda batch: [to_import(s, now)[0] for s in batch], specs)
        calls = [IncidentCreate(**{k: getattr(i, k) for k in _CREATE_FIELDS}) for i in imports]
        timed("calls", intake, "calls", calls)
        timed("import", intake, "import", imports)
        timed("raw", raw, imports)
        n += len(specs)
        print(f"  … {n:,} calls", file=sys.stderr)
    with dbs["calls"].session() as session:
        repeats = session.execute(
            select(func.count(Incident.id)).where(Incident.repeat_of_id.is_not(None))
        ).scalar_one()
    with dbs["import"].session() as session:
        events = session.execute(select(func.count(IncidentEvent.id))).scalar_one()
    for db in dbs.values():
        db.dispose()
    base = spent["raw"]
    table(
        f"(a) bulk intake, {n:,} demo calls in batches of {BATCH:,} (SQLite file)",
        ("path", "seconds", "incidents/s", "vs baseline"),
        [
            (
                "intake_batches, new calls: routing + repeats + event + audit",
                spent["calls"],
                n / spent["calls"],
                f"{spent['calls'] / base:.1f}×",
            ),
            (
                "intake_batches, import with history (all lifecycle events)",
                spent["import"],
                n / spent["import"],
                f"{spent['import'] / base:.1f}×",
            ),
            ("baseline: the rows alone (insert + text index)", base, n / base, "1.0×"),
            (
                "(pydantic validation, in none of them)",
                spent["validate"],
                n / spent["validate"],
                "",
            ),
        ],
    )
    print(
        f"  created {created['calls']:,} calls ({repeats:,} linked as repeats) and "
        f"{created['import']:,} imports ({events:,} lifecycle events); spec generation excluded"
    )


# ---------------------------------------------------------------- (b), (c) http


class FlushProbe:
    """The disk's flush latency while a run goes on: a thread writes 4 KiB and fsyncs it every
    20 ms. Every commit on SQLite (``synchronous=FULL``) waits for such a flush, so when the
    shared disk stalls, the stall shows here and in the POST latencies alike."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "flush-probe.bin"
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            block = os.urandom(4096)
            while not self._stop.wait(0.02):
                t0 = time.perf_counter()
                os.pwrite(fd, block, 0)
                os.fsync(fd)
                self.times.append((time.perf_counter() - t0) * 1000)
        finally:
            os.close(fd)

    def __enter__(self) -> FlushProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.path.unlink(missing_ok=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """uvicorn serving qingzhi on a free port of 127.0.0.1, as a subprocess."""

    def __init__(self, url: str, log: Path, workers: int = 1) -> None:
        self.env = {**os.environ, "QINGZHI_DATABASE_URL": url}
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [
                    str(BIN / "uvicorn"),
                    "qingzhi.web.asgi:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                    "--workers",
                    str(self.workers),
                ],
                env=self.env,
                cwd=ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: see {self.log}")
            time.sleep(0.2)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def token_for(url: str, username: str) -> str:
    """An API token issued by ``qingzhi token create`` (the token is its last line)."""
    env = {**os.environ, "QINGZHI_DATABASE_URL": url}
    out = subprocess.run(
        [str(BIN / "qingzhi"), "token", "create", "--username", username, "--name", "bench"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def bodies(total: int, prefix: str) -> list[dict[str, Any]]:
    """``total`` intake bodies (the API's fields) from the last days of the demo."""
    days = max(2, math.ceil(total / 230) + 1)
    specs = generate_incidents(
        generate_county(SEED), days=days, seed=SEED + 99, start=demo_window(days)
    )[-total:]
    out = []
    for s in specs:
        body = {k: v for k, v in s.to_intake().items() if k in _CREATE_FIELDS}
        body["source_id"] = prefix + s.source_id
        out.append(body)
    return out


async def _post_all(
    base: str, token: str, work: list[dict[str, Any]], clients: int
) -> tuple[list[float], list[tuple[str, int]], int, int]:
    """POST every body over ``clients`` keep-alive connections, each sending its next request
    when the answer to the last has arrived; latencies, 2xx (source id, incident id), non-2xx
    answers and cut connections.

    A load generator on the same 2 cores must cost far less than the server: httpx spends
    about 1 ms (threads) to 2 ms (asyncio) of CPU a request, as much as the server itself, and
    its threads' GIL waits count as latency. This one writes HTTP/1.1 requests on asyncio
    streams and reads the status line, the headers and a Content-Length body (what uvicorn
    answers), about 0.1 ms a request.
    """
    url = httpx.URL(base)
    latencies: list[float] = []
    acked: list[tuple[str, int]] = []
    failures = [0, 0]  # non-2xx answers, cut connections
    queue = iter(work)
    head = (
        f"POST /api/incidents HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    )

    async def client() -> None:
        try:
            reader, writer = await asyncio.open_connection(url.host, url.port)
        except OSError:
            failures[1] += 1
            return
        try:
            for body in queue:
                data = json.dumps(body).encode()
                request = f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data
                t0 = time.perf_counter()
                writer.write(request)
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                answer = await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                if 200 <= status < 300:
                    acked.append((body["source_id"], int(json.loads(answer)["incident"]["id"])))
                else:
                    failures[0] += 1
        except (OSError, IndexError, ValueError, asyncio.IncompleteReadError):
            failures[1] += 1  # the server went away mid-answer
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, acked, failures[0], failures[1]


def post_all(
    base: str, token: str, work: list[dict[str, Any]], clients: int
) -> tuple[list[float], list[tuple[str, int]], int, int]:
    """``_post_all`` run to the end (or until the server dies). The generator's own garbage
    collections are held off meanwhile: after part (a) its heap is large, and a full collection
    in the client would count as the server's latency."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        return asyncio.run(_post_all(base, token, work, clients))
    finally:
        gc.enable()
        gc.unfreeze()


def http_row(
    workers: int, lat: list[float], acked: list[Any], errors: int, wall: float
) -> tuple[Any, ...]:
    ms = np.array(lat) * 1000
    return (
        workers,
        len(lat),
        len(acked),
        errors,
        wall,
        len(lat) / wall,
        float(np.percentile(ms, 50)),
        float(np.percentile(ms, 95)),
        float(np.percentile(ms, 99)),
        float(ms.max()),
    )


def bench_http(
    folder: Path, total: int, clients: int, kill: bool, run_http: bool, workers: Sequence[int]
) -> None:
    url, db = fresh_db(folder, "http.db")
    db.dispose()
    token = token_for(url, "dispatcher")
    if run_http:
        rows = []
        for n in workers:
            server = Server(url, folder / "server.log", workers=n)
            server.start()
            try:
                work = bodies(total + 50, f"HTTP{n}-")
                post_all(server.base, token, work[:50], 4)  # warm up
                with FlushProbe(folder) as probe:
                    t0 = time.perf_counter()
                    lat, acked, bad, broken = post_all(server.base, token, work[50:], clients)
                    wall = time.perf_counter() - t0
                rows.append(
                    (
                        *http_row(n, lat, acked, bad + broken, wall),
                        float(np.percentile(probe.times, 99)) if probe.times else None,
                        max(probe.times, default=None),
                    )
                )
            finally:
                server.stop()
        table(
            f"(b) POST /api/incidents, {clients} concurrent keep-alive clients, SQLite file",
            (
                "uvicorn workers",
                "requests",
                "2xx",
                "errors",
                "wall s",
                "req/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
                "disk flush p99 ms",
                "disk flush max ms",
            ),
            rows,
        )
    server = Server(url, folder / "server.log", workers=1)
    server.start()
    try:
        if kill:
            work = bodies(max(total, 3000), "KILL-")
            result: dict[str, Any] = {}

            def run() -> None:
                result["r"] = post_all(server.base, token, work, clients)

            runner = threading.Thread(target=run)
            runner.start()
            time.sleep(3.0)
            server.kill()
            killed_at = time.perf_counter()
            runner.join()
            lat, acked, bad, broken = result["r"]
            server.start()
            restart = time.perf_counter() - killed_at
            missing = 0
            with httpx.Client(
                base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as c:
                for sid, iid in acked:
                    r = c.get(f"/api/incidents/{iid}")
                    if r.status_code != 200 or r.json()["source_id"] != sid:
                        missing += 1
            server.stop()
            check = make_engine(url)
            with check.connect() as conn:
                stored = conn.execute(
                    select(func.count(Incident.id)).where(Incident.source_id.like("KILL-%"))
                ).scalar_one()
            check.dispose()
            env = {**os.environ, "QINGZHI_DATABASE_URL": url}
            verify = subprocess.run(
                [str(BIN / "qingzhi"), "audit", "verify"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            table(
                "(c) SIGKILL during concurrent intake, restart, check",
                (
                    "2xx before kill",
                    "stored",
                    "2xx missing",
                    "cut off",
                    "restart s",
                    "audit verify",
                ),
                [
                    (
                        len(acked),
                        stored,
                        missing,
                        broken,
                        restart,
                        "ok"
                        if verify.returncode == 0
                        else f"FAILED: {verify.stdout.strip()[-200:]}",
                    )
                ],
            )
    finally:
        server.stop()


# ---------------------------------------------------------------- (d) query


def build_store(db: Database, total: int) -> int:
    """``total`` demo calls written straight into the incident table (routed, repeats linked)."""
    with db.session() as session:
        index = RegionIndex(session)
        have = session.execute(select(func.count(Incident.id))).scalar_one()
    if have >= total:
        return int(have)
    now = utcnow()
    next_id = 1
    for specs in spec_chunks(total):
        id_of: dict[str, int] = {}
        for s in specs:
            id_of[s.source_id] = next_id
            next_id += 1
        routes = index.route_points(
            np.array([s.lon for s in specs]), np.array([s.lat for s in specs])
        )
        for first in range(0, len(specs), 20_000):
            rows: list[dict[str, Any]] = []
            for s, route in zip(
                specs[first : first + 20_000], routes[first : first + 20_000], strict=True
            ):
                status = Status.closed if s.closed_at and s.closed_at < now else Status.arrived
                rows.append(
                    {
                        "id": id_of[s.source_id],
                        "source_id": s.source_id,
                        "received_at": s.received_at,
                        "category": Category(s.category),
                        "subtype": s.subtype,
                        "description": s.description,
                        "address": s.address,
                        "caller_phone": s.caller_phone,
                        "lon": s.lon,
                        "lat": s.lat,
                        "source_datum": "wgs84",
                        "priority": s.priority,
                        "valid": s.valid,
                        "invalid_reason": s.invalid_reason,
                        "status": status,
                        "unit_id": route.unit_id,
                        "station_id": route.station_id,
                        "zone_id": route.zone_id,
                        "routed_by": str(route.routed_by),
                        "needs_review": route.needs_review,
                        "review_reason": route.review_reason,
                        "repeat_of_id": id_of.get(s.repeat_of) if s.repeat_of else None,
                        "repeat_count": 0,
                        "dispatched_at": s.dispatched_at,
                        "arrived_at": s.arrived_at,
                        "resolved_at": s.resolved_at,
                        "closed_at": s.closed_at if status == Status.closed else None,
                        "search_text": search_text(s.description, s.address),
                        "synthetic": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            with db.session(write=True) as session:
                insert_rows(session.connection(), TABLE, rows)
                index_new(session.connection(), [r["id"] for r in rows])
        print(f"  … {next_id - 1:,} incidents", file=sys.stderr)
    with db.session(write=True) as session:
        if db.dialect == "postgresql":
            session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('incident', 'id'), "
                    "(SELECT max(id) FROM incident))"
                )
            )
    return next_id - 1


def query_cases(db: Database) -> list[tuple[str, Any]]:
    """The ten common queries: (name, function of a session)."""
    with db.session() as session:
        last = session.execute(select(func.max(Incident.received_at))).scalar_one()
        central = session.execute(
            select(Unit.id).where(Unit.kind == UnitKind.central_station).order_by(Unit.id).limit(1)
        ).scalar_one()
        seat = session.execute(select(Unit.id).where(Unit.code == "500231002")).scalar_one()
        cursor = None
        for _ in range(9):
            page = iq.page(session=session, actor=ACTOR, query=iq.IncidentQuery(), cursor=cursor)
            cursor = page.next_cursor
    day = dt.timedelta(days=1)
    month_ago = last - 30 * day
    lon, lat = 107.35, 30.33  # the county seat

    def pg(query: iq.IncidentQuery, cur: str | None = None) -> Any:
        return lambda s: iq.page(session=s, actor=ACTOR, query=query, cursor=cur)

    return [
        (
            "time range (7 days, a month ago)",
            pg(iq.IncidentQuery(start=month_ago, end=month_ago + 7 * day)),
        ),
        (
            "unit + time (central station, 30 d)",
            pg(iq.IncidentQuery(unit_id=central, start=month_ago)),
        ),
        (
            "category + time (criminal, 30 d)",
            pg(iq.IncidentQuery(categories=[Category.criminal], start=month_ago)),
        ),
        (
            "open incidents",
            pg(iq.IncidentQuery(statuses=[Status.received, Status.dispatched, Status.arrived])),
        ),
        ("free text 盗窃", pg(iq.IncidentQuery(q="盗窃"))),
        ("free text 盗窃 + unit (桂阳)", pg(iq.IncidentQuery(q="盗窃", unit_id=seat))),
        ("radius 500 m (county seat)", pg(iq.IncidentQuery(near=(lon, lat), radius_m=500))),
        ("repeat calls only", pg(iq.IncidentQuery(repeat_only=True))),
        (
            "facets, last day of data",
            lambda s: iq.facet_counts(
                session=s, actor=ACTOR, query=iq.IncidentQuery(start=last - day)
            ),
        ),
        ("page 10 via cursor", pg(iq.IncidentQuery(), cursor)),
    ]


def time_queries(db: Database, repeat: int) -> list[tuple[str, float, float, float]]:
    """Per query: its first run's ms, then the p50 and p95 of ``repeat`` runs after it."""
    out = []
    for name, fn in query_cases(db):
        times = []
        for _ in range(1 + repeat):
            with db.session() as session:
                t0 = time.perf_counter()
                fn(session)
                times.append((time.perf_counter() - t0) * 1000)
        first, rest = times[0], times[1:]
        out.append((name, first, float(np.percentile(rest, 50)), float(np.percentile(rest, 95))))
    return out


def bench_query(folder: Path, total: int, repeat: int, keep: bool) -> None:
    """With ``keep`` the stores stay (the SQLite file in the folder, the PostgreSQL schema
    ``qingzhi_bench_kept``) and a later run with as many incidents only times the queries."""
    targets: list[tuple[str, str]] = [("SQLite", f"sqlite:///{folder / 'query.db'}")]
    pg_url = os.environ.get("QINGZHI_BENCH_DATABASE_URL")
    schema = "qingzhi_bench_kept" if keep else f"qingzhi_bench_{os.getpid()}"
    if pg_url:
        admin = make_engine(pg_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        admin.dispose()
        pg = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
        targets.append(("PostgreSQL", pg.render_as_string(hide_password=False)))
    results: dict[str, list[tuple[str, float, float, float]]] = {}
    try:
        for name, url in targets:
            migrate(url)
            db = Database(url)
            with db.session(write=True) as session:
                load_demo(session=session, actor=ACTOR, seed=SEED)
            t0 = time.perf_counter()
            n = build_store(db, total)
            print(
                f"  {name}: {n:,} incidents in the store, written in "
                f"{time.perf_counter() - t0:.0f} s (none written when a kept store had them)",
                file=sys.stderr,
            )
            db.analyze()  # as qingzhi does after a bulk load or an import
            results[name] = time_queries(db, repeat)
            db.dispose()
    finally:
        if pg_url and not keep:
            admin = make_engine(pg_url)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    names = [r[0] for r in next(iter(results.values()))]
    stats = ("first ms", "p50 ms", "p95 ms")
    header = ["query (page of 50)"] + [f"{b} {s}" for b in results for s in stats]
    rows = []
    for i, qname in enumerate(names):
        row: list[Any] = [qname]
        for b in results:
            row += list(results[b][i][1:])
        rows.append(row)
    table(
        f"(d) one-click queries on {total:,} incidents: the first run, then {repeat} more",
        header,
        rows,
    )


def main() -> None:
    tune_gc()  # as every qingzhi process does at start (the CLI and the server)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bulk", type=int, default=200_000, help="calls for (a)")
    parser.add_argument("--http", type=int, default=3000, help="requests for (b)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--workers", default="1,2", help="uvicorn worker counts to run (b) with, comma list"
    )
    parser.add_argument(
        "--query",
        type=int,
        nargs="?",
        const=5_000_000,
        default=0,
        help="incidents for (d) (alone: 5,000,000, long); 0 or absent skips it",
    )
    parser.add_argument(
        "--repeat", type=int, default=20, help="timed runs of each query in (d) after its first"
    )
    parser.add_argument("--skip", default="", help="comma list of bulk,http,kill")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder (kept)")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f} (shared machine)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if "bulk" not in skip:
            bench_bulk(folder, args.bulk)
        if "http" not in skip or "kill" not in skip:
            bench_http(
                folder,
                args.http,
                args.clients,
                "kill" not in skip,
                "http" not in skip,
                [int(w) for w in args.workers.split(",")],
            )
        if args.query:
            bench_query(folder, args.query, args.repeat, keep=args.keep is not None)


if __name__ == "__main__":
    main()
