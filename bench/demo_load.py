"""Demo county benchmark (issue 3): build the org bundle, import it, load a year of 110 calls.

Times each step, in a fresh temporary SQLite database migrated like production:
1. ``qingzhi.demo.county.generate_county`` / ``qingzhi.demo.orgbundle.build_county`` —
   geography and the org bundle;
2. ``qingzhi.demo.loader.load_demo`` — the bundle import plus the demo accounts, and a second,
   idempotent load;
3. ``qingzhi.demo.loader.generate_demo_incidents`` — the incident specs for the window;
4. ``qingzhi.demo.loader.load_incidents`` — every call through ``intake_many`` in batches of 5,000
   (routing, repeat linking, audit), with rows/s, then a second, idempotent load;
5. with ``--phases``: where the time of the incident load goes, without a profiler's distortion:
   the steps of ``intake_many`` wrapped with timers (their SQL counted apart), every statement's
   time split into the driver's (SQLite itself) and SQLAlchemy's (compiling, binding parameters);
6. with ``--profile``: a cProfile of the incident load (Python-heavy parts look bigger than
   they are), callees of ``intake_many`` and ``record_many``.

    .venv/bin/python bench/demo_load.py [--seed 2026] [--days 365] [--phases] [--profile]
        [--two-years]   # then the two-year demo (pre-reform + reformed year) and its ratio
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
from typing import Any

from sqlalchemy import Engine, event, func, select

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo.county import generate_county
from qingzhi.demo.loader import demo_window, generate_demo_incidents, load_demo, load_incidents
from qingzhi.demo.orgbundle import build_county
from qingzhi.demo.years import load_two_years
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


class Phases:
    """Inclusive wall time of named steps, with the SQL run inside each step counted apart."""

    TARGETS = (
        ("qingzhi.incidents.intake", "_intake", "intake (all)"),
        ("qingzhi.incidents.intake", "_ids_by_source", "source-id look-ups (_ids_by_source)"),
        ("qingzhi.incidents.intake", "convert", "datum conversion (convert)"),
        ("qingzhi.incidents.routing.RegionIndex", "route_points", "routing (route_points)"),
        ("qingzhi.incidents.intake", "region_index", "routing index check (region_index)"),
        ("qingzhi.incidents.repeats", "link_repeats", "repeat linking (link_repeats)"),
        ("qingzhi.incidents.intake", "search_text", "search tokens (search_text)"),
        ("qingzhi.incidents.intake", "_snapshot", "audit snapshots (_snapshot)"),
        ("qingzhi.incidents.intake", "insert_rows", "bulk inserts (insert_rows)"),
        ("qingzhi.incidents.search", "index_new", "free-text index (index_new)"),
        ("qingzhi.audit.service", "record_many", "audit chain (record_many)"),
        ("qingzhi.demo.loader", "to_import", "pydantic validation (outside intake_many)"),
    )

    def __init__(self, engine: Engine) -> None:
        self.total: dict[str, float] = {}
        self.sql: dict[str, float] = {}
        self.stack: list[str] = []
        self._saved: list[tuple[Any, str, Any]] = []
        self._t_exec: list[float] = []
        self.engine = engine
        for mod_name, attr, label in self.TARGETS:
            owner = self._resolve(mod_name)
            original = getattr(owner, attr)
            self._saved.append((owner, attr, original))
            setattr(owner, attr, self._wrap(original, label))
        event.listen(engine, "before_execute", self._before)
        event.listen(engine, "after_execute", self._after)

    @staticmethod
    def _resolve(name: str) -> Any:
        import importlib

        parts = name.split(".")
        for k in range(len(parts), 0, -1):
            try:
                obj: Any = importlib.import_module(".".join(parts[:k]))
            except ModuleNotFoundError:
                continue
            for rest in parts[k:]:
                obj = getattr(obj, rest)
            return obj
        raise ModuleNotFoundError(name)

    def _wrap(self, fn: Any, label: str) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.stack.append(label)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total[label] = self.total.get(label, 0.0) + time.perf_counter() - t0
                self.stack.pop()

        return timed

    def _before(self, *args: Any, **kwargs: Any) -> None:
        self._t_exec.append(time.perf_counter())

    def _after(self, *args: Any, **kwargs: Any) -> None:
        spent = time.perf_counter() - self._t_exec.pop()
        for label in set(self.stack):
            self.sql[label] = self.sql.get(label, 0.0) + spent

    def close(self) -> None:
        for owner, attr, original in self._saved:
            setattr(owner, attr, original)
        event.remove(self.engine, "before_execute", self._before)
        event.remove(self.engine, "after_execute", self._after)

    def report(self, driver_seconds: float) -> str:
        whole = self.total.get("intake_many (all)", 0.0)
        sql_all = self.sql.get("intake_many (all)", 0.0)
        lines = [f"{'step':<44} {'total s':>8} {'its SQL s':>9} {'rest s':>7} {'% intake':>8}"]
        for _, _, label in self.TARGETS:
            if label not in self.total:
                continue
            tot, sql = self.total[label], self.sql.get(label, 0.0)
            share = f"{100 * tot / whole:7.1f}%" if whole and "outside" not in label else ""
            lines.append(f"{label:<44} {tot:8.2f} {sql:9.2f} {tot - sql:7.2f} {share:>8}")
        lines.append(
            f"SQL inside intake_many: {sql_all:.2f} s = driver (SQLite) {driver_seconds:.2f} s "
            f"+ SQLAlchemy (compile, bind parameters, results) {sql_all - driver_seconds:.2f} s"
        )
        return "\n".join(lines)


def two_years(seed: int, *, baseline: float) -> None:
    """The two-year demo as ``qingzhi demo load`` does it, then again (idempotent), against the
    one-year load of the same run."""
    actor = system_actor("demo")
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'two-years.db'}"
        migrate(url)
        db = Database(url)
        t0 = time.perf_counter()
        r = load_two_years(db=db, actor=actor, settings=settings, seed=seed)
        t1 = time.perf_counter()
        again = load_two_years(db=db, actor=actor, settings=settings, seed=seed)
        t2 = time.perf_counter()
        assert r.pre is not None and r.post is not None and again.post is not None
        for name, part in (("pre-reform", r.pre), ("reformed", r.post)):
            _line(
                f"  {name} year from {part.start} ({part.days} days, {part.calls:,} calls)",
                part.generate_seconds + part.load_seconds,
                f"{part.rows_per_second:,.0f} rows/s",
            )
        _line(f"two-year demo load (reform {r.reform_on})", t1 - t0)
        _line("second two-year load (idempotent)", t2 - t1, f"{again.post.created} new")
        print(f"  two-year load / one-year run above: {(t1 - t0) / baseline:.2f}x")
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--profile", action="store_true", help="cProfile the incident load")
    parser.add_argument("--phases", action="store_true", help="time the steps of intake_many")
    parser.add_argument(
        "--two-years",
        action="store_true",
        help="after the one-year load, the two-year demo (qingzhi demo load) and its ratio",
    )
    args = parser.parse_args()

    t0 = time.perf_counter()
    generate_county(args.seed)
    t1 = time.perf_counter()
    files = build_county(args.seed)
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

        timer = StatementTimer(db.engine) if args.profile or args.phases else None
        phases = Phases(db.engine) if args.phases else None
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        first = load_incidents(
            db=db, actor=actor, settings=settings, days=args.days, start=start, specs=specs, now=now
        )
        if profiler is not None:
            profiler.disable()
        if phases is not None:
            phases.close()
        if timer is not None:
            event.remove(db.engine, "before_cursor_execute", timer._before)
            event.remove(db.engine, "after_cursor_execute", timer._after)
        _line(
            "incident load through intake_many",
            first.load_seconds,
            f"{first.rows_per_second:,.0f} rows/s",
        )
        print(
            f"  {first.created:,} new, {first.existing:,} existing, {first.still_open} still open"
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
    if args.two_years:
        two_years(args.seed, baseline=total)
    if phases is not None and timer is not None:
        print("\nWhere the first incident load's time goes (wall time, one run):")
        print(phases.report(sum(timer.seconds.values())))
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
