"""The 督办 board over 10,000 tasks and the case rates over 5 years of cases (issue 18).

On the demo county's organisation (``load_demo``), ``--tasks`` tasks (default 10,000: owners
spread over the stations, every state, deadlines from 30 days ago to 30 days ahead, one in five
with a co-operating unit) and ``--years`` years of cases (default 5; 6,400 a year, the demo's
criminal calls; 84% cleared, 91% of those within 72 h) are written in bulk. Then, in process,
through the services the API calls, each query ``--reps`` times:

- the bureau's board (``tasks.service.board``: the first page of 50 with the counts by state,
  overdue and due soon), a station chief's, a central station's escalated board, the navigation's
  reminders, and ``GET /api/tasks`` through the application (JSON included);
- the rates over the whole 5 years by unit and by category (``cases.rates.compute``).

Beside each, the baseline of the same run (a bare ``SELECT … ORDER BY deadline LIMIT 50`` of
tasks; a bare ``count(*)`` of the cases) and the ratio. Targets of the issue: board p95 < 100 ms,
rates < 1 s. SQLite file always; PostgreSQL too with ``--pg URL`` (or QINGZHI_BENCH_DATABASE_URL
/ QINGZHI_TEST_DATABASE_URL), in a schema of its own, dropped afterwards.

    PYTHONPATH=src .venv/bin/python bench/tasks.py [--tasks 10000] [--years 5] [--reps 200]
        [--pg URL] [--skip sqlite,postgresql] [--explain]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from qingzhi.auth import tokens
from qingzhi.auth.context import system_actor
from qingzhi.auth.models import User
from qingzhi.auth.service import actor_for
from qingzhi.cases import rates
from qingzhi.cases.models import Case
from qingzhi.config import Settings
from qingzhi.demo.loader import load_demo
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Bureau, Unit
from qingzhi.store.base import table_of
from qingzhi.store.bulk import insert_rows
from qingzhi.store.db import Database, make_engine, migrate
from qingzhi.tasks import service as tasks
from qingzhi.tasks.lifecycle import SourceKind, TaskStatus
from qingzhi.tasks.models import Task, TaskUnit
from qingzhi.web.app import create_app

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
CASES_PER_YEAR = 6_400
STATES = [s for s in TaskStatus]
WEIGHTS = np.array([1, 3, 2, 4, 2, 1, 6, 1], dtype=float)  # draft … cancelled


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) in milliseconds of ``values`` in seconds."""
    return float(np.percentile(np.array(values) * 1000.0, q))


def timed(fn: Callable[[], Any], reps: int) -> list[float]:
    """``fn`` run ``reps`` times (after one warm-up): each run's seconds."""
    fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def build(db: Database, n_tasks: int, years: int, seed: int = 18) -> dict[str, Any]:
    """The demo organisation, ``n_tasks`` tasks and ``years`` years of cases, in bulk."""
    rng = np.random.default_rng(seed)
    actor = system_actor("bench")
    with db.session(write=True) as session:
        load_demo(session=session, actor=actor, seed=2026)
    with db.session(write=True) as session:
        stations = list(
            session.scalars(
                select(Unit.id).where(
                    Unit.kind.in_(
                        [UnitKind.urban_station, UnitKind.rural_station, UnitKind.central_station]
                    )
                )
            )
        )
        bureau = session.scalars(select(Bureau.id)).one()
        conn = session.connection()
        t0 = time.perf_counter()
        states = rng.choice(len(STATES), n_tasks, p=WEIGHTS / WEIGHTS.sum())
        owners = rng.choice(stations, n_tasks)
        offsets = rng.uniform(-30, 30, n_tasks)
        rows = []
        for i in range(n_tasks):
            deadline = NOW + dt.timedelta(days=float(offsets[i]))
            rows.append(
                {
                    "id": i + 1,
                    "title": f"督办任务 {i + 1}：辖区治安乱点整治",
                    "instructions": "加强巡逻，每日反馈",
                    "source_kind": SourceKind.none,
                    "source_ref": None,
                    "issuer_unit_id": None,
                    "issuer_user_id": None,
                    "issuer_name": "bench",
                    "owner_unit_id": int(owners[i]),
                    "owner_officer_id": None,
                    "deadline": deadline,
                    "priority": int(rng.integers(1, 5)),
                    "feedback_hours": 24,
                    "status": STATES[int(states[i])],
                    "issued_at": deadline - dt.timedelta(days=7),
                    "accepted_at": None,
                    "submitted_at": None,
                    "closed_at": None,
                    "last_report_at": None,
                    "feedback_due_at": deadline - dt.timedelta(days=6),
                    "synthetic": True,
                    "created_at": deadline - dt.timedelta(days=7),
                    "updated_at": deadline - dt.timedelta(days=7),
                }
            )
        insert_rows(conn, table_of(Task), rows)
        helpers = [
            {"task_id": i + 1, "unit_id": int(rng.choice(stations))}
            for i in range(n_tasks)
            if rng.random() < 0.2
        ]
        insert_rows(
            conn,
            table_of(TaskUnit),
            [h for h in helpers if h["unit_id"] != owners[h["task_id"] - 1]],
        )
        t_tasks = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_cases = CASES_PER_YEAR * years
        start = NOW - dt.timedelta(days=365 * years)
        opened = [
            start + dt.timedelta(seconds=float(s))
            for s in np.sort(rng.uniform(0, 365 * years * 86400, n_cases))
        ]
        cleared = rng.random(n_cases) < 0.84
        fast = rng.random(n_cases) < 0.912
        hours = np.where(
            fast, rng.uniform(2, 72, n_cases), 72 + rng.lognormal(np.log(288), 0.8, n_cases)
        )
        cats = rng.choice(
            ["theft", "fraud", "violent", "drugs", "other"],
            n_cases,
            p=[0.6, 0.17, 0.15, 0.04, 0.04],
        )
        units = rng.choice(stations, n_cases)
        crows = []
        for i in range(n_cases):
            at = opened[i] + dt.timedelta(hours=float(hours[i]))
            done = bool(cleared[i]) and at < NOW
            crows.append(
                {
                    "id": i + 1,
                    "bureau_id": bureau,
                    "number": f"B-{i + 1:06d}",
                    "title": "案件",
                    "category": str(cats[i]),
                    "subtype": None,
                    "unit_id": int(units[i]),
                    "opened_at": opened[i],
                    "loss_yuan": Decimal("5000.00"),
                    "rapid": False,
                    "status": "cleared" if done else "open",
                    "cleared_at": at if done else None,
                    "hours_to_clear": round(float(hours[i]), 3) if done else None,
                    "suspects_caught": 1 if done else 0,
                    "recovered_yuan": Decimal("3000.00") if done else Decimal("0"),
                    "suspended_at": None,
                    "synthetic": True,
                    "created_at": opened[i],
                    "updated_at": opened[i],
                }
            )
        for first in range(0, n_cases, 5000):
            insert_rows(conn, table_of(Case), crows[first : first + 5000])
        t_cases = time.perf_counter() - t0
        if session.get_bind().dialect.name == "postgresql":
            for table in ("task", "task_unit", "criminal_case"):
                session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    db.analyze()
    return {"tasks": n_tasks, "cases": n_cases, "write_tasks_s": t_tasks, "write_cases_s": t_cases}


def measure(db: Database, reps: int, years: int) -> list[tuple[str, list[float], list[float]]]:
    """Each query's times with its baseline's."""
    settings = Settings(database_url="sqlite://")
    out: list[tuple[str, list[float], list[float]]] = []
    with db.session() as session:
        users = {u.username: u for u in session.scalars(select(User))}
        bureau = actor_for(session, users["commander"], request_id=None, via="bench")
        chief = actor_for(session, users["chief_guiyang"], request_id=None, via="bench")
        central = actor_for(session, users["chief_central"], request_id=None, via="bench")

    def bare_tasks() -> None:
        with db.session() as s:
            list(s.execute(select(Task.id).order_by(Task.deadline).limit(50)))

    def board(actor: Any, flt: tasks.BoardFilter) -> Callable[[], None]:
        def run() -> None:
            with db.session() as s:
                tasks.board(session=s, actor=actor, settings=settings, flt=flt, now=NOW)

        return run

    def reminders(actor: Any) -> Callable[[], None]:
        def run() -> None:
            with db.session() as s:
                tasks.reminders(session=s, actor=actor, settings=settings, now=NOW)

        return run

    base = timed(bare_tasks, reps)
    out.append(
        (
            "board: bureau, first page + counts",
            timed(board(bureau, tasks.BoardFilter()), reps),
            base,
        )
    )
    out.append(("board: a station chief", timed(board(chief, tasks.BoardFilter()), reps), base))
    out.append(
        (
            "board: bureau, overdue only",
            timed(board(bureau, tasks.BoardFilter(overdue=True)), reps),
            base,
        )
    )
    out.append(
        (
            "board: central station, escalated",
            timed(board(central, tasks.BoardFilter(escalated=True)), reps),
            base,
        )
    )
    out.append(("reminders (nav count): central station", timed(reminders(central), reps), base))
    out.append(("reminders (nav count): bureau", timed(reminders(bureau), reps), base))

    app = create_app(Settings(database_url="sqlite://"), db)
    with db.session(write=True) as s:
        token, _ = tokens.create_token(
            session=s, actor=system_actor("bench"), username="commander", name="bench"
        )
    with TestClient(app, base_url="http://testserver") as client:
        headers = {"Authorization": f"Bearer {token}"}

        def http() -> None:
            r = client.get("/api/tasks", headers=headers)
            assert r.status_code == 200, r.text

        out.append(("GET /api/tasks (bureau, JSON)", timed(http, reps), base))

    def bare_cases() -> None:
        with db.session() as s:
            s.execute(select(func.count()).select_from(Case)).scalar_one()

    def case_rates(group: str) -> Callable[[], None]:
        def run() -> None:
            with db.session() as s:
                rates.compute(
                    session=s,
                    actor=bureau,
                    settings=settings,
                    start=(NOW - dt.timedelta(days=365 * years)).date(),
                    end=NOW.date(),
                    group_by=group,  # type: ignore[arg-type]
                )

        return run

    n = max(5, reps // 10)
    cbase = timed(bare_cases, n)
    out.append((f"rates over {years} years by unit", timed(case_rates("unit"), n), cbase))
    out.append((f"rates over {years} years by category", timed(case_rates("category"), n), cbase))
    out.append(
        (
            f"rates over {years} years, chief's scope",
            timed(lambda: _chief_rates(db, chief, settings, years), n),
            cbase,
        )
    )
    return out


def _chief_rates(db: Database, actor: Any, settings: Settings, years: int) -> None:
    with db.session() as s:
        rates.compute(
            session=s,
            actor=actor,
            settings=settings,
            start=(NOW - dt.timedelta(days=365 * years)).date(),
            end=NOW.date(),
        )


def explain(db: Database) -> None:
    """PostgreSQL's plans (EXPLAIN ANALYZE, BUFFERS) of the bureau's board: the page's ids and
    the counts by state (``tasks.service.board_queries``, the statements ``board`` runs)."""
    settings = Settings(database_url="sqlite://")
    with db.session() as session:
        user = session.scalars(select(User).where(User.username == "commander")).one()
        actor = actor_for(session, user, request_id=None, via="bench")
        queries = tasks.board_queries(
            actor, tasks.BoardFilter(), NOW, settings.task_escalate_bureau_hours, 50, 0
        )
        conn = session.connection()
        for name, stmt in (("page ids", queries.page), ("counts by state", queries.counts)):
            compiled = stmt.compile(
                dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
            )
            plan = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + compiled.string, compiled.params
            ).scalars()
            print(f"\n-- plan of the bureau's board, {name}:")
            for line in plan:
                print("   ", line)


def report(
    name: str, built: dict[str, Any], rows: list[tuple[str, list[float], list[float]]]
) -> None:
    print(
        f"\n== {name}: {built['tasks']:,} tasks (written in {built['write_tasks_s']:.1f} s), "
        f"{built['cases']:,} cases (in {built['write_cases_s']:.1f} s)"
    )
    print(
        f"{'query':45s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s} {'base p95':>9s} {'ratio':>7s}"
    )
    for label, times, base in rows:
        b95 = pct(base, 95)
        print(
            f"{label:45s} {pct(times, 50):8.1f} {pct(times, 95):8.1f} "
            f"{max(times) * 1000:8.1f} {b95:9.2f} {pct(times, 95) / b95:7.1f}"
        )


def main() -> None:
    """Build the stores, measure, print."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument(
        "--pg",
        default=os.environ.get("QINGZHI_BENCH_DATABASE_URL")
        or os.environ.get("QINGZHI_TEST_DATABASE_URL"),
    )
    ap.add_argument("--skip", default="")
    ap.add_argument("--explain", action="store_true", help="print the board's plans (PostgreSQL)")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", file=sys.stderr)
    if "sqlite" not in skip:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            migrate(url)
            db = Database(url)
            built = build(db, args.tasks, args.years)
            report("SQLite", built, measure(db, args.reps, args.years))
            db.dispose()
    if args.pg and "postgresql" not in skip:
        schema = f"qingzhi_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.pg)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = (
            make_url(args.pg)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        try:
            migrate(url)
            db = Database(url)
            built = build(db, args.tasks, args.years)
            if args.explain:
                explain(db)
            report("PostgreSQL", built, measure(db, args.reps, args.years))
            db.dispose()
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    print(f"load average {os.getloadavg()[0]:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
