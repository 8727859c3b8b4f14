"""Command-centre load benchmark (issue 5): first render of the big screen, and live fan-out.

In a fresh temporary database (SQLite by default, or ``--database-url``), migrated like
production: the demo county (org only), 504 officers on duty with a position each, and 500 open
incidents of today. A real server runs in a subprocess (``qingzhi serve``); then

1. **first render**: headless Chromium (Debian's, via Playwright) signs in and opens ``/bigscreen``;
   the time from navigation to the page marking itself ready (base map, incidents, officers,
   figures drawn) is measured ``--renders`` times;
2. **fan-out**: 20 SSE clients subscribe; a feeder posts 100 position updates a second to
   ``POST /api/live/positions`` (10 batches of 10) for ``--seconds``; every fix carries its send
   time, and each client's receive time gives the delivery latency of every (update, client) pair.

    .venv/bin/python bench/ui_load.py [--renders 5] [--seconds 10] [--clients 20] [--rate 100]
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

import httpx
import numpy as np
from sqlalchemy import select, update

from qingzhi.auth import tokens
from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
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
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def prepare(url: str) -> list[int]:
    """Demo org, 504 officers on duty with positions, 500 open incidents; the officer ids."""
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
    specs = [s for s in generate_demo_incidents(days=4) if s.valid][:N_INCIDENTS]
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
    return ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QINGZHI_DATABASE_URL": url, "QINGZHI_LIVE_POLL_SECONDS": "0.5"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "qingzhi"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def first_render(base: str, renders: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    times: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{base}/login?next=/")
        page.fill("input[name=username]", "commander")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
        for k in range(renders + 1):
            t0 = time.perf_counter()
            page.goto(f"{base}/bigscreen")
            page.wait_for_selector("body[data-ready]", timeout=30_000)
            elapsed = time.perf_counter() - t0
            if k:  # the first load warms the server's caches
                times.append(elapsed)
        counts = page.evaluate(
            "() => [Object.keys(window.__qz.incidents.markers()).length,"
            " Object.keys(window.__qz.officers.markers).length]"
        )
        print(f"  map shows {counts[0]} incidents and {counts[1]} officers")
        time.sleep(1.5)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "bench-bigscreen.png"))
        browser.close()
    return times


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
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rate", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        t = time.perf_counter()
        ids = prepare(url)
        token = os.environ["QINGZHI_BENCH_TOKEN"]
        print(
            f"prepared {len(ids)} officers on duty, {N_INCIDENTS} open incidents"
            f" ({url.split(':')[0]}) in {time.perf_counter() - t:.1f} s"
        )
        port = free_port()
        server = start_server(url, port)
        base = f"http://127.0.0.1:{port}"
        try:
            if Path(CHROMIUM).exists():
                times = first_render(base, args.renders)
                print(
                    f"first render of /bigscreen (1920x1080, to ready), {len(times)} runs:"
                    f" median {statistics.median(times) * 1000:.0f} ms,"
                    f" max {max(times) * 1000:.0f} ms"
                )
            else:
                print("first render: skipped (no /usr/bin/chromium)")
            print(f"fan-out: {args.rate} position updates/s to {args.clients} SSE clients")
            fan_out(base, token, ids, args.clients, args.rate, args.seconds)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
