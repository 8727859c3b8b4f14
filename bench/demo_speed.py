"""The live simulator at ``--speed``: response times are real at any speed (issue 15).

``--speed`` scales the arrival of calls, never the officers' travel, handling or the dispatch
delay. This bench loads the demo county's organisation (no history) into a fresh SQLite
database per run, then drives ``qingzhi.demo.live.Simulator`` on a virtual clock (ticks of
``--tick`` virtual seconds, no sleeping) for one simulated day of calls at each speed: at speed 1
that is 24 virtual hours, at speed 5 the day's calls arrive within 4.8 hours. It prints, per
speed, the calls released, dispatched and arrived, and the mean and median response time
(arrival − reception, from the stored incidents), dispatch delay and travel, with the ratio of
speed S's mean to speed 1's. Within noise the ratio is 1; the load per real hour is S times as
high, so where officers run short the queue (not the clock) can lengthen it.

    .venv/bin/python bench/demo_speed.py [--speeds 1 5] [--hours 24] [--tick 5] [--seed 2026]
        [--start-hour 0]   # local hour the simulated day starts (and the roster's clock)
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo.live import Simulator
from qingzhi.demo.loader import load_demo
from qingzhi.incidents.models import Incident
from qingzhi.store.db import Database, migrate

START = dt.datetime(2026, 6, 2, 16, 0, tzinfo=dt.UTC)  # 00:00 on Wednesday 3 June in Shanghai


class VirtualClock:
    """Monotonic seconds and the wall time that goes with them, advanced by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self.t = 0.0
        self.start = start

    def __call__(self) -> float:
        return self.t

    def wall(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.t)


def run(
    speed: float, *, hours: float, tick: float, seed: int, folder: Path, start: dt.datetime
) -> dict[str, float]:
    """One simulated ``hours`` of calls at ``speed`` from ``start``; the response figures."""
    url = f"sqlite:///{folder / f'speed-{speed:g}.db'}"
    migrate(url)
    settings = Settings(database_url=url)
    db = Database(url)
    with db.session(write=True) as session:
        load_demo(session=session, actor=system_actor("bench"), seed=seed, now=start)
    clock = VirtualClock(start)
    sim = Simulator(
        db=db,
        settings=settings,
        speed=speed,
        seed=seed,
        clock=clock,
        wall=clock.wall,
        ping_seconds=(60.0, 90.0),
    )
    sim.setup(catch_up=False)
    real = hours * 3600.0 / speed  # the virtual seconds in which the calls of `hours` arrive
    t0 = time.perf_counter()
    while clock.t < real:
        clock.t += tick
        sim.tick()
    end = clock.wall()
    sim.stop_calls()
    for _ in range(int(3 * 3600 / tick)):  # let the last calls' officers get there
        clock.t += tick
        sim.tick()
    with db.session() as session:
        rows = session.execute(
            select(Incident.received_at, Incident.dispatched_at, Incident.arrived_at).where(
                Incident.received_at >= start, Incident.received_at < end
            )
        ).all()
    arrived = [r for r in rows if r.arrived_at is not None and r.dispatched_at is not None]
    response = [(r.arrived_at - r.received_at).total_seconds() / 60 for r in arrived]
    delay = [(r.dispatched_at - r.received_at).total_seconds() / 60 for r in arrived]
    travel = [(r.arrived_at - r.dispatched_at).total_seconds() / 60 for r in arrived]
    return {
        "calls": len(rows),
        "arrived": len(arrived),
        "mean": statistics.fmean(response) if response else float("nan"),
        "median": statistics.median(response) if response else float("nan"),
        "delay": statistics.fmean(delay) if delay else float("nan"),
        "travel": statistics.fmean(travel) if travel else float("nan"),
        "officers": len(sim.officers),
        "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    """Run each speed and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speeds", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours of calls")
    parser.add_argument("--tick", type=float, default=5.0, help="virtual seconds per tick")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--start-hour", type=int, default=0, help="local hour the day starts")
    args = parser.parse_args()
    start = START + dt.timedelta(hours=args.start_hour)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for speed in args.speeds:
            results[speed] = run(
                speed,
                hours=args.hours,
                tick=args.tick,
                seed=args.seed,
                folder=Path(tmp),
                start=start,
            )
    base = results[args.speeds[0]]["mean"]
    print(f"simulated {args.hours:g} h of calls from {start.isoformat()}, ticks of {args.tick:g} s")
    print("speed  calls  arrived  mean min  median  dispatch  travel  ratio  street  run s")
    for speed, r in results.items():
        print(
            f"{speed:5g}  {r['calls']:5.0f}  {r['arrived']:7.0f}  {r['mean']:8.2f}  "
            f"{r['median']:6.2f}  {r['delay']:8.2f}  {r['travel']:6.2f}  "
            f"{r['mean'] / base:5.2f}  {r['officers']:6.0f}  {r['seconds']:5.0f}"
        )


if __name__ == "__main__":
    main()
