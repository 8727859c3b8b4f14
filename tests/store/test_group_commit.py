"""Group commit (``Database.combine``): writers that arrive while another writes share its
transaction, same-key payloads go to one call, and a bad payload fails alone."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from qingzhi.store.db import Database


@pytest.fixture
def filedb(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'g.db'}")
    with db.session(write=True) as session:
        session.execute(text("CREATE TABLE t (x INTEGER UNIQUE)"))
    return db


def _commits(db: Database) -> list[int]:
    seen: list[int] = []
    event.listen(db.engine, "commit", lambda conn: seen.append(1))
    return seen


def write(db: Database, work: Any) -> Any:
    """A lone piece of work through the group commit."""
    return db.combine(None, lambda session, _: [work(session)], None)


def insert_all(session: Session, payloads: list[int]) -> list[int | Exception]:
    """Insert every payload; a negative one is refused (raising fails the whole call)."""
    if any(p < 0 for p in payloads):
        raise ValueError("negative")
    for p in payloads:
        session.execute(text("INSERT INTO t (x) VALUES (:x)"), {"x": p})
    return [p * 10 for p in payloads]


def _queue_behind_a_writer(db: Database, payloads: list[int]) -> dict[Any, Any]:
    """Start one writer that holds the lock, queue ``payloads`` from threads, then release."""
    release = threading.Event()
    started = threading.Event()
    calls: list[list[int]] = []

    def blocker(session: Session) -> None:
        started.set()
        release.wait(10)

    def run(session: Session, batch: list[int]) -> list[int | Exception]:
        calls.append(list(batch))
        return insert_all(session, batch)

    outcome: dict[Any, Any] = {}

    def post(p: int) -> None:
        try:
            outcome[p] = db.combine("t", run, p)
        except Exception as exc:
            outcome[p] = exc

    first = threading.Thread(target=write, args=(db, blocker))
    first.start()
    started.wait(10)
    threads = [threading.Thread(target=post, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(db._queue) < len(payloads) and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    first.join()
    for t in threads:
        t.join()
    outcome["calls"] = calls
    return outcome


def test_queued_writers_share_one_call_and_one_commit(filedb: Database) -> None:
    commits = _commits(filedb)
    outcome = _queue_behind_a_writer(filedb, list(range(1, 11)))
    assert [outcome[p] for p in range(1, 11)] == [p * 10 for p in range(1, 11)]
    # All ten queued while the first writer ran: one call, one transaction, one commit (the
    # first writer wrote nothing, so it committed nothing).
    assert len(outcome["calls"]) == 1
    assert sorted(outcome["calls"][0]) == list(range(1, 11))
    assert len(commits) == 1
    with filedb.session() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 10


def test_a_bad_payload_fails_alone(filedb: Database) -> None:
    outcome = _queue_behind_a_writer(filedb, [1, 2, -3, 4])
    assert isinstance(outcome[-3], ValueError)
    assert [outcome[p] for p in (1, 2, 4)] == [10, 20, 40]
    with filedb.session() as session:
        stored = session.execute(text("SELECT x FROM t ORDER BY x")).scalars().all()
    assert stored == [1, 2, 4]


def test_a_failed_commit_reaches_every_writer(filedb: Database) -> None:
    def fail_commit(conn: Any) -> None:
        raise RuntimeError("disk full")

    event.listen(filedb.engine, "commit", fail_commit)
    outcome = _queue_behind_a_writer(filedb, [1, 2])
    assert isinstance(outcome[1], RuntimeError)
    assert isinstance(outcome[2], RuntimeError)
    event.remove(filedb.engine, "commit", fail_commit)
    with filedb.session() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 0


def test_a_lone_write_returns_its_result_or_raises_its_error(filedb: Database) -> None:
    assert write(filedb, lambda s: insert_all(s, [5])) == [50]
    with pytest.raises(ValueError, match="negative"):
        write(filedb, lambda s: insert_all(s, [-1]))


def test_under_load_the_leader_waits_for_more_writers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gather_ms``: a lone writer commits at once; after a batch of several, the next leader
    first waits that long for more writers to join."""
    db = Database(f"sqlite:///{tmp_path / 'gather.db'}", gather_ms=5)
    with db.session(write=True) as session:
        session.execute(text("CREATE TABLE t (x INTEGER UNIQUE)"))
    waits: list[float] = []
    monkeypatch.setattr("qingzhi.store.writer.time.sleep", waits.append)
    write(db, lambda s: insert_all(s, [1]))
    assert waits == []
    _queue_behind_a_writer(db, [2, 3, 4])
    waits.clear()
    write(db, lambda s: insert_all(s, [5]))
    assert waits == [0.005]
    write(db, lambda s: insert_all(s, [6]))
    assert waits == [0.005]  # the last batch was a lone writer again


# ---------------------------------------------------------------- write_each


def _values(db: Database) -> list[int]:
    with db.session() as session:
        return [r[0] for r in session.execute(text("SELECT x FROM t ORDER BY x"))]


def test_write_each_commits_each_job_before_yielding_it(filedb: Database, tmp_path: Path) -> None:
    outside = sqlite3.connect(tmp_path / "g.db")  # another reader, not through the engine
    jobs = (lambda session, x=x: insert_all(session, [x])[0] for x in (1, 2, 3))
    results = []
    for result in filedb.write_each(jobs):
        results.append(result)
        seen = [r[0] for r in outside.execute("SELECT x FROM t ORDER BY x")]
        assert seen[-1] * 10 == result
    outside.close()
    assert results == [10, 20, 30]


def test_write_each_makes_the_next_job_while_the_last_commits(filedb: Database) -> None:
    drawn = threading.Event()
    # Each commit waits (up to 2 s) until the job after it has been made.
    waited: list[bool] = []
    event.listen(filedb.engine, "commit", lambda conn: waited.append(drawn.wait(2)))

    def jobs() -> Any:
        yield lambda session: insert_all(session, [1])
        drawn.set()
        yield lambda session: insert_all(session, [2])

    assert list(filedb.write_each(jobs())) == [[10], [20]]
    assert waited == [True, True]


def test_write_each_rolls_back_a_failing_job_and_stops(filedb: Database) -> None:
    ran: list[int] = []

    def jobs() -> Any:
        for x in (1, -2, 3):
            ran.append(x)
            yield lambda session, x=x: insert_all(session, [x])

    with pytest.raises(ValueError, match="negative"):
        list(filedb.write_each(jobs()))
    assert _values(filedb) == [1]
    assert ran == [1, -2]  # the job after the failure is never made


def test_write_each_keeps_a_committed_job_when_making_the_next_fails(filedb: Database) -> None:
    def jobs() -> Any:
        yield lambda session: insert_all(session, [7])
        raise RuntimeError("bad row in the file")

    with pytest.raises(RuntimeError, match="bad row"):
        list(filedb.write_each(jobs()))
    assert _values(filedb) == [7]
    # The write lock is free again.
    assert write(filedb, lambda session: insert_all(session, [8])) == [80]


# ---------------------------------------------------------------- combine_async


def test_coroutines_queued_behind_a_write_share_one_commit(filedb: Database) -> None:
    """``combine_async`` (the POST view's path): payloads of many coroutines that arrive while
    the writer thread is busy go to one call and one commit; each coroutine gets its own
    result, and a bad payload's error reaches only its coroutine."""
    commits = _commits(filedb)
    release = threading.Event()
    calls: list[list[int]] = []

    def run(session: Session, batch: list[int]) -> list[int | Exception]:
        calls.append(list(batch))
        return insert_all(session, batch)

    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        blocker = loop.run_in_executor(
            None, write, filedb, lambda session: release.wait(10) and [None]
        )
        while not filedb._thread or filedb._queue:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)  # the blocker is running in the writer thread
        tasks = [asyncio.ensure_future(filedb.combine_async("t", run, p)) for p in (1, 2, -3, 4)]
        await asyncio.sleep(0.05)
        assert len(filedb._queue) == 4
        release.set()
        await blocker
        return await asyncio.gather(*tasks, return_exceptions=True)

    one, two, bad, four = asyncio.run(main())
    # The four were one call, which failed and was rolled back; then one by one in savepoints
    # of a single transaction: one commit (the blocker wrote nothing, so committed nothing).
    assert len(commits) == 1
    assert calls[0] == [1, 2, -3, 4]
    assert (one, two, four) == (10, 20, 40)
    assert isinstance(bad, ValueError)
    assert sorted(_values(filedb)) == [1, 2, 4]
    filedb.dispose()
    assert filedb._thread is None  # the writer thread stops with the database


# ---------------------------------------------------------------- make_way


def test_background_work_makes_way_while_a_single_write_is_in_flight(filedb: Database) -> None:
    """``make_way`` (an export or a bulk calls it between steps) waits while a single write
    is queued or running, and goes on at once when none is."""
    filedb.make_way(limit=30)  # nothing in flight: returns (a hang here fails the test run)
    release, started = threading.Event(), threading.Event()

    def blocker(session: Session) -> None:
        started.set()
        release.wait(10)

    writer = threading.Thread(target=write, args=(filedb, blocker))
    writer.start()
    assert started.wait(5)
    order: list[str] = []

    def background() -> None:
        filedb.make_way(limit=30)
        order.append("background went on")

    step = threading.Thread(target=background)
    step.start()
    time.sleep(0.3)  # room for the background step to go on, were it not waiting
    order.append("write finished")
    release.set()
    writer.join(10)
    step.join(10)
    assert order == ["write finished", "background went on"]
