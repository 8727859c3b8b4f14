"""Command-centre load benchmark (issue 5): first render of the big screen, and live fan-out.

In a fresh temporary database (SQLite by default, or ``--database-url``), migrated like
production: the demo county (org only), 504 officers on duty with a position each, and 500 open
incidents of today. A real server runs in a subprocess (``qingzhi serve``); then

1. **first render**: headless Chromium (Debian's, via Playwright) signs in and opens ``/bigscreen``;
   the time from navigation to the page marking itself ready (base map, incidents, officers,
   figures drawn) is measured ``--renders`` times;
2. **a new call reaches the screens**: ``--calls`` new incidents are posted one at a time to
   ``POST /api/incidents`` (at random moments, so that they fall anywhere in the server's
   polling cycle); for each, the time from sending the POST to its event on an SSE stream and to
   the big screen having it (``window.__qz.seen``, set when the page takes the event, before it
   draws the marker and the feed line), against two baselines of the same run: the POST's own
   answer time and the server's polling interval (``QINGZHI_LIVE_POLL_SECONDS``, 0.5 s here);
3. **fan-out**: 20 SSE clients subscribe; a feeder posts 100 position updates a second to
   ``POST /api/live/positions`` (10 batches of 10) for ``--seconds``; every fix carries its send
   time, and each client's receive time gives the delivery latency of every (update, client) pair.

The server serves the demo's synthetic base map (``qingzhi.demo.basemap``, rendered first into
the temporary folder) unless ``--no-basemap``; the first render then also reports when the base
map's tiles are all drawn, and the officers show as badges per station (the county zoom).

The tests only check that a new call arrives at all (``tests/live/test_stream.py``,
``tests/web/test_browser.py``); how soon is measured here.

    .venv/bin/python bench/ui_load.py [--renders 5] [--calls 20] [--seconds 10] [--clients 20]
        [--rate 100] [--no-basemap] [--before OTHER_CHECKOUT/src]

``--before`` serves another checkout's sources too (same database, same base map) and measures
both first renders in turns, in the same run: a before/after figure under the same load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import select, update

from qingzhi.auth import tokens
from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo.basemap import write_demo_basemap
from qingzhi.demo.loader import DEMO_PASSWORD, generate_demo_incidents, load_demo
from qingzhi.incidents import intake as incidents
from qingzhi.incidents.schemas import IncidentCreate
from qingzhi.live import service as live
from qingzhi.live.schemas import PositionIn
from qingzhi.org.enums import DutyStatus
from qingzhi.org.models import Officer
from qingzhi.store.db import Database, migrate

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
N_OFFICERS = 504
N_INCIDENTS = 500
POLL_SECONDS = 0.5  # the server's QINGZHI_LIVE_POLL_SECONDS
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def prepare(url: str) -> tuple[list[int], list[dict[str, Any]]]:
    """Demo org, 504 officers on duty with positions, 500 open incidents; the officer ids, and
    intake bodies of further demo calls (for the new-call measurement)."""
    migrate(url)
    db = Database(url)
    settings = Settings(database_url=url)
    actor = system_actor("bench")
    with db.session(write=True) as session:
        load_demo(session=session, actor=actor)
    with db.session(write=True) as session:
        ids = list(
            session.execute(
                select(Officer.id).where(Officer.active.is_(True)).order_by(Officer.id)
            ).scalars()
        )[:N_OFFICERS]
        session.execute(
            update(Officer).where(Officer.id.in_(ids)).values(duty_status=DutyStatus.on_duty)
        )
        session.execute(
            update(Officer).where(Officer.id.not_in(ids)).values(duty_status=DutyStatus.off_duty)
        )
    valid = [s for s in generate_demo_incidents(days=4) if s.valid]
    specs = valid[:N_INCIDENTS]
    spare = []
    for s in valid[N_INCIDENTS:]:
        body = s.to_intake()
        for key in ("dispatched_at", "arrived_at", "resolved_at", "closed_at", "synthetic"):
            body.pop(key, None)
        spare.append(body)
    rng = np.random.default_rng(5)
    now = dt.datetime.now(dt.UTC)
    items = []
    for k, s in enumerate(specs):
        body = s.to_intake()
        for key in ("dispatched_at", "arrived_at", "resolved_at", "closed_at", "synthetic"):
            body.pop(key, None)
        body["source_id"] = f"BENCH-{k:04d}"
        body["received_at"] = (now - dt.timedelta(minutes=float(rng.uniform(1, 600)))).isoformat()
        items.append(IncidentCreate.model_validate(body))
    # in time order: intake links a repeat call to an earlier one of the same batch, and a batch
    # out of time order fails on the link's foreign key (a defect of intake_many, reported)
    items.sort(key=lambda item: item.received_at)
    with db.session(write=True) as session:
        incidents.intake_many(session=session, actor=actor, settings=settings, items=items)
        lons = [s.lon for s in specs]
        lats = [s.lat for s in specs]
        positions = [
            PositionIn(
                officer_id=oid,
                lon=float(lons[k % len(lons)]) + float(rng.normal(0, 0.003)),
                lat=float(lats[k % len(lats)]) + float(rng.normal(0, 0.003)),
            )
            for k, oid in enumerate(ids)
        ]
        live.record_positions(session=session, actor=actor, positions=positions)
    with db.session(write=True) as session:
        token, _ = tokens.create_token(session=session, actor=actor, username="commander")
    db.dispose()
    os.environ["QINGZHI_BENCH_TOKEN"] = token
    return ids, spare


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    url: str, port: int, basemap: Path | None = None, src: Path | None = None
) -> subprocess.Popen[bytes]:
    """``qingzhi serve`` on ``url``; from the sources at ``src`` (another checkout's ``src/``)
    when given."""
    env = {
        **os.environ,
        "QINGZHI_DATABASE_URL": url,
        "QINGZHI_LIVE_POLL_SECONDS": str(POLL_SECONDS),
    }
    if src is not None:
        env["PYTHONPATH"] = str(src)
    if basemap is not None:
        env["QINGZHI_BASEMAP"] = str(basemap)
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "qingzhi"),
            *("serve", "--port", str(port), "--allow-demo-passwords"),  # the demo's accounts
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120  # a loaded machine starts the server slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def first_render(bases: list[str], renders: int, basemap: bool = False) -> list[list[float]]:
    """Seconds from navigation to ready of ``renders`` loads of /bigscreen on each server of
    ``bases`` (one page each, the loads taken in turns so that the machine's load falls on all
    alike); the first load of each warms the server's caches and is not counted."""
    from playwright.sync_api import sync_playwright

    times: list[list[float]] = [[] for _ in bases]
    tiles: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = []
        for base in bases:
            context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
            page = context.new_page()
            page.goto(f"{base}/login?next=/")
            page.fill("input[name=username]", "commander")
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            pages.append(page)
        for k in range(renders + 1):
            for i, (base, page) in enumerate(zip(bases, pages, strict=True)):
                t0 = time.perf_counter()
                page.goto(f"{base}/bigscreen")
                page.wait_for_selector("body[data-ready]", timeout=30_000)
                elapsed = time.perf_counter() - t0
                if basemap:
                    page.wait_for_selector("body[data-basemap-loaded]", state="attached")
                if k:  # the first load warms the server's caches
                    times[i].append(elapsed)
                    if i == len(bases) - 1:
                        tiles.append(time.perf_counter() - t0)
        page = pages[-1]
        counts = page.evaluate(
            "() => [Object.keys(window.__qz.incidents.markers()).length,"
            " Object.keys(window.__qz.officers.markers).length]"
        )
        print(f"  map shows {counts[0]} incidents and {counts[1]} officers")
        if basemap:
            badges = page.get_attribute("body", "data-officer-badges")
            print(
                f"  base map tiles all drawn: median {statistics.median(tiles) * 1000:.0f} ms,"
                f" max {max(tiles) * 1000:.0f} ms after navigation; officers as {badges}"
                " station badges at county zoom"
            )
        time.sleep(1.5)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "bench-bigscreen.png"))
        browser.close()
    return times


def _signed_in_page(browser: Any, base: str) -> Any:
    """A big-screen page signed in as the commander."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base}/login?next=/bigscreen")
    page.fill("input[name=username]", "commander")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready]", timeout=30_000)
    page.wait_for_selector("#live-state.on", timeout=30_000)
    return page


class IncidentReader(threading.Thread):
    """One SSE subscriber noting when each incident event arrives (wall clock, by id)."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{base}/api/live/stream"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.arrived: dict[int, float] = {}
        self.ready = threading.Event()
        self.client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))

    def run(self) -> None:
        event = ""
        try:
            with self.client.stream("GET", self.url, headers=self.headers) as r:
                self.ready.set()
                for line in r.iter_lines():
                    if not line:
                        event = ""
                    elif line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "incident":
                        self.arrived.setdefault(int(json.loads(line[6:])["id"]), time.time())
        except httpx.HTTPError:
            pass
        finally:
            self.ready.set()


def _summary(values_ms: list[float]) -> str:
    a = np.asarray(values_ms)
    return (
        f"p50 {np.percentile(a, 50):.0f} ms, p90 {np.percentile(a, 90):.0f} ms,"
        f" max {a.max():.0f} ms"
    )


def new_calls(base: str, token: str, bodies: list[dict[str, Any]], calls: int) -> None:
    """Post ``calls`` new incidents one at a time; when each reaches an SSE stream and the big
    screen, against the POST's own time and the polling interval."""
    reader = IncidentReader(base, token)
    reader.start()
    reader.ready.wait(10)
    pw = page = None
    if Path(CHROMIUM).exists():
        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _signed_in_page(browser, base)
    time.sleep(1.0)
    rng = np.random.default_rng(11)
    sent: dict[int, float] = {}
    post_ms: list[float] = []
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        for k in range(calls):
            time.sleep(float(rng.uniform(0.3, 0.3 + 2 * POLL_SECONDS)))
            body = {
                **bodies[k % len(bodies)],
                "source_id": f"BENCH-NEW-{k:04d}",
                "received_at": dt.datetime.now(dt.UTC).isoformat(),
            }
            t0 = time.time()
            r = client.post("/api/incidents", json=body)
            post_ms.append((time.time() - t0) * 1000)
            r.raise_for_status()
            sent[int(r.json()["incident"]["id"])] = t0
    deadline = time.monotonic() + 10
    while len(set(sent) & set(reader.arrived)) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.1)
    stream_ms = [(reader.arrived[i] - t0) * 1000 for i, t0 in sent.items() if i in reader.arrived]
    screen_ms: list[float] = []
    if page is not None:
        seen = page.evaluate("() => window.__qz.seen")
        screen_ms = [float(seen[str(i)]) - t0 * 1000 for i, t0 in sent.items() if str(i) in seen]
        assert pw is not None
        pw.stop()
    reader.client.close()
    post_median = statistics.median(post_ms)
    print(f"  {calls} calls posted one at a time; POST /api/incidents answered in median"
          f" {post_median:.0f} ms (max {max(post_ms):.0f} ms)")  # fmt: skip
    shown = [("on the SSE stream", stream_ms)]
    if page is None:
        print("  on the big screen: skipped (no /usr/bin/chromium)")
    else:
        shown.append(("on the big screen", screen_ms))
    for label, values in shown:
        if not values:
            print(f"  {label}: none of {calls} arrived")
            continue
        median = statistics.median(values)
        print(
            f"  {label}: {len(values)} of {calls} arrived; after sending, {_summary(values)};"
            f" median {median / post_median:.1f}x the POST's answer time,"
            f" {median / 1000 / POLL_SECONDS:.2f}x the polling interval"
        )


class Client(threading.Thread):
    """One SSE subscriber recording the delivery latency of every fix it receives."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{base}/api/live/stream"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.latencies: list[float] = []
        self.ready = threading.Event()
        self.client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))

    def run(self) -> None:
        try:
            with self.client.stream("GET", self.url, headers=self.headers) as r:
                self.ready.set()
                for line in r.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    now = time.time()
                    data = json.loads(line[6:])
                    for item in data.get("items", ()):
                        sent = dt.datetime.fromisoformat(item["at"].replace("Z", "+00:00"))
                        self.latencies.append(now - sent.timestamp())
        except httpx.HTTPError:
            pass
        finally:
            self.ready.set()


def fan_out(base: str, token: str, ids: list[int], clients: int, rate: int, seconds: float) -> None:
    subs = [Client(base, token) for _ in range(clients)]
    for c in subs:
        c.start()
    for c in subs:
        c.ready.wait(10)
    time.sleep(1.0)
    batches_per_s = 10
    per_batch = max(1, rate // batches_per_s)
    rng = np.random.default_rng(7)
    headers = {"Authorization": f"Bearer {token}"}
    sent = 0
    post_ms: list[float] = []
    with httpx.Client(base_url=base, headers=headers, timeout=10) as feeder:
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < seconds:
            target = t0 + k / batches_per_s
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            chosen = rng.choice(len(ids), size=per_batch, replace=False)
            at = dt.datetime.now(dt.UTC).isoformat()
            body = {
                "positions": [
                    {
                        "officer_id": ids[int(i)],
                        "lon": 107.35 + float(rng.normal(0, 0.05)),
                        "lat": 30.33 + float(rng.normal(0, 0.05)),
                        "at": at,
                    }
                    for i in chosen
                ]
            }
            s = time.perf_counter()
            r = feeder.post("/api/live/positions", json=body)
            post_ms.append((time.perf_counter() - s) * 1000)
            r.raise_for_status()
            sent += per_batch
            k += 1
        elapsed = time.monotonic() - t0
    time.sleep(2.0)
    for c in subs:
        c.client.close()
    lat = np.array([x for c in subs for x in c.latencies]) * 1000
    expected = sent * clients
    print(
        f"  sent {sent} updates in {elapsed:.1f} s ({sent / elapsed:.0f}/s) to {clients} clients;"
        f" delivered {len(lat)} of {expected} (update, client) pairs"
    )
    print(
        f"  POST /api/live/positions: median {statistics.median(post_ms):.1f} ms,"
        f" p99 {np.percentile(post_ms, 99):.1f} ms"
    )
    if len(lat):
        print(
            f"  delivery latency: p50 {np.percentile(lat, 50):.0f} ms, p90"
            f" {np.percentile(lat, 90):.0f} ms, p99 {np.percentile(lat, 99):.0f} ms,"
            f" max {lat.max():.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--renders", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument(
        "--no-basemap", action="store_true", help="without the demo's synthetic base map tiles"
    )
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="another checkout's src/ (e.g. from `git archive`): its server's first render is"
        " measured in the same run, in turns with this one's, for a before/after figure",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        t = time.perf_counter()
        ids, spare = prepare(url)
        token = os.environ["QINGZHI_BENCH_TOKEN"]
        print(
            f"prepared {len(ids)} officers on duty, {N_INCIDENTS} open incidents"
            f" ({url.split(':')[0]}) in {time.perf_counter() - t:.1f} s"
        )
        basemap = None
        if not args.no_basemap:
            t = time.perf_counter()
            basemap = write_demo_basemap(Path(tmp) / "demo-basemap.mbtiles").path
            print(f"demo base map rendered in {time.perf_counter() - t:.1f} s ({basemap.name})")
        port = free_port()
        server = start_server(url, port, basemap)
        base = f"http://127.0.0.1:{port}"
        before = None
        try:
            bases = [base]
            if args.before is not None:
                before_port = free_port()
                before = start_server(url, before_port, basemap, src=args.before.resolve())
                bases.insert(0, f"http://127.0.0.1:{before_port}")
            if Path(CHROMIUM).exists():
                runs = first_render(bases, args.renders, basemap is not None)
                for name, times in zip(["before", "this"][-len(bases) :], runs, strict=True):
                    label = f" ({name}: {args.before})" if name == "before" else ""
                    print(
                        f"first render of /bigscreen (1920x1080, to ready){label},"
                        f" {len(times)} runs: median {statistics.median(times) * 1000:.0f} ms,"
                        f" max {max(times) * 1000:.0f} ms"
                    )
            else:
                print("first render: skipped (no /usr/bin/chromium)")
            print("a new call reaches the screens:")
            new_calls(base, token, spare, args.calls)
            print(f"fan-out: {args.rate} position updates/s to {args.clients} SSE clients")
            fan_out(base, token, ids, args.clients, args.rate, args.seconds)
        finally:
            if before is not None:
                before.terminate()
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
