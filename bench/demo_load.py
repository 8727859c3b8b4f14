"""Demo county benchmark (issue 3): build the org bundle, import it, load a year of 110 calls.

Times each step, in a fresh temporary SQLite database migrated like production:
1. ``qingzhi.demo.county.generate_county`` / ``build_county`` — geography and the org bundle;
2. ``qingzhi.demo.loader.load_demo`` — the bundle import plus the demo accounts, and a second,
   idempotent load;
3. ``qingzhi.demo.loader.generate_demo_incidents`` — the incident specs for the window;
4. ``qingzhi.demo.loader.load_incidents`` — every call through ``intake_many`` in batches of 5,000
   (routing, repeat linking, audit), with rows/s, then a second, idempotent load;
5. with ``--profile``: a cProfile of the incident load, the functions inside ``intake_many``.

    .venv/bin/python bench/demo_load.py [--seed 2026] [--days 365] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, event, func, select

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo import county as county_mod
from qingzhi.demo.loader import demo_window, generate_demo_incidents, load_demo, load_incidents
from qingzhi.incidents.models import Incident
from qingzhi.store.db import Database, migrate


def _line(label: str, seconds: float, extra: str = "") -> None:
    print(f"{label:<52} {seconds:8.2f} s  {extra}")


class StatementTimer:
    """Wall time of every SQL statement by kind (verb + table), via the engine's cursor events."""

    def __init__(self, engine: Engine) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: Counter[str] = Counter()
        self.rows: Counter[str] = Counter()
        self._t0 = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    @staticmethod
    def kind(statement: str) -> str:
        """ "INSERT incident", "SELECT incident", "UPDATE audit_head", …."""
        words = statement.replace("\n", " ").replace('"', "").split()
        if not words:
            return "?"
        verb = words[0].upper()
        up = [w.upper() for w in words]
        if verb == "UPDATE" and len(words) > 1:
            return f"UPDATE {words[1]}"
        key = {"INSERT": "INTO", "DELETE": "FROM", "SELECT": "FROM"}.get(verb)
        if key and key in up[1:]:
            at = up.index(key, 1)
            table = words[at + 1].split("(")[0] if at + 1 < len(words) else "?"
            return f"{verb} {table}"
        return verb

    def _before(self, conn: object, cursor: object, statement: str, *args: object) -> None:
        self._t0 = time.perf_counter()

    def _after(
        self,
        conn: object,
        cursor: object,
        statement: str,
        parameters: object,
        context: object,
        executemany: bool,
    ) -> None:
        k = self.kind(statement)
        self.seconds[k] = self.seconds.get(k, 0.0) + time.perf_counter() - self._t0
        self.calls[k] += 1
        self.rows[k] += len(parameters) if executemany and isinstance(parameters, list) else 1

    def report(self) -> str:
        lines = [f"{'statement':<32} {'calls':>7} {'rows':>9} {'seconds':>8}"]
        for k, sec in sorted(self.seconds.items(), key=lambda kv: -kv[1]):
            lines.append(f"{k:<32} {self.calls[k]:>7,} {self.rows[k]:>9,} {sec:>8.2f}")
        lines.append(
            f"{'all SQL (driver time)':<32} {'':>7} {'':>9} {sum(self.seconds.values()):>8.2f}"
        )
        return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--profile", action="store_true", help="cProfile the incident load")
    args = parser.parse_args()

    t0 = time.perf_counter()
    county_mod.generate_county(args.seed)
    t1 = time.perf_counter()
    files = county_mod.build_county(args.seed)
    t2 = time.perf_counter()
    size = sum(len(v) for v in files.values())
    _line("county geography (26 townships, bundles)", t1 - t0)
    _line(f"org bundle ({size / 1024:.0f} KiB)", t2 - t1)

    now = dt.datetime.now(dt.UTC)
    start = demo_window(args.days, now=now)
    actor = system_actor("demo")
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        db = Database(url)
        t3 = time.perf_counter()
        with db.session(write=True) as session:
            report = load_demo(session=session, actor=actor, seed=args.seed)
        t4 = time.perf_counter()
        with db.session(write=True) as session:
            load_demo(session=session, actor=actor, seed=args.seed)
        t5 = time.perf_counter()
        created = sum(report.import_report.created.values())
        _line(f"org import + accounts ({created} rows)", t4 - t3)
        _line("second org load (idempotent)", t5 - t4)

        t6 = time.perf_counter()
        specs = generate_demo_incidents(seed=args.seed, days=args.days, start=start)
        t7 = time.perf_counter()
        valid = sum(s.valid for s in specs)
        _line(f"incident specs, {args.days} days from {start}", t7 - t6)
        print(f"  {len(specs):,} calls, {valid:,} valid ({valid / args.days:.0f}/day)")
        cats = Counter(s.category for s in specs if s.valid)
        print("  valid by category: " + ", ".join(f"{k} {v:,}" for k, v in cats.most_common()))

        timer = StatementTimer(db.engine) if args.profile else None
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        first = load_incidents(
            db=db, actor=actor, settings=settings, days=args.days, start=start, specs=specs, now=now
        )
        if profiler is not None:
            profiler.disable()
        if timer is not None:
            event.remove(db.engine, "before_cursor_execute", timer._before)
            event.remove(db.engine, "after_cursor_execute", timer._after)
        _line(
            "incident load through intake_many",
            first.load_seconds,
            f"{first.rows_per_second:,.0f} rows/s",
        )
        print(
            f"  {first.created:,} new, {first.existing:,} existing, {len(first.errors)} errors, "
            f"{first.still_open} still open"
        )
        second = load_incidents(
            db=db, actor=actor, settings=settings, days=args.days, start=start, specs=specs, now=now
        )
        _line("second incident load (idempotent)", second.load_seconds, f"{second.created} new")
        with db.session() as session:
            stored = session.execute(select(func.count(Incident.id))).scalar_one()
            repeats = session.execute(
                select(func.count(Incident.id)).where(Incident.repeat_of_id.is_not(None))
            ).scalar_one()
        print(f"  stored incidents {stored:,}, linked as repeats by intake {repeats:,}")
        db.dispose()
    total = time.perf_counter() - t0
    print(f"total: {total:.2f} s")
    if timer is not None:
        print("\nSQL statements of the first incident load (cursor time, SQLAlchemy excluded):")
        print(timer.report())
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_callees("intake_many")
        stats.print_callees("record_many")
        stats.print_stats(40)
        print(out.getvalue())


if __name__ == "__main__":
    main()
