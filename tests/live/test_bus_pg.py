"""Several server processes on PostgreSQL share events through LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from qingzhi.auth.scope import Scope
from qingzhi.live import bus
from qingzhi.store.db import Database
from tests.conftest import PG_URL
from tests.live.server import committed_database

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="QINGZHI_TEST_DATABASE_URL is not set (PostgreSQL tests skip)"
)


def test_notify_wakes_hubs_of_other_processes(tmp_path: Path) -> None:
    with committed_database("postgresql", tmp_path, PG_URL) as writer:
        # Each hub has its own engine, as each server process would; polling is slowed to
        # 60 s, so only a NOTIFY can deliver within the deadline. The deadline leaves room for
        # the shared disk's flush stalls on the publishing commit (seen at over 1 s).
        readers = [Database(writer.url) for _ in range(2)]

        async def scenario() -> list[float]:
            hubs = [bus.Hub(db, poll_seconds=60.0) for db in readers]
            subs = [await hub.subscribe(Scope.bureau()) for hub in hubs]
            deadline = time.monotonic() + 10
            while not all(h.listening for h in hubs):
                assert time.monotonic() < deadline, "LISTEN did not start"
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)

            def publish() -> None:
                with writer.session(write=True) as session:
                    bus.publish(session, [bus.EventIn("incident", {"n": 1}, unit_id=1)])

            t0 = time.monotonic()
            await asyncio.to_thread(publish)
            delays = []
            for sub in subs:
                ev = await asyncio.wait_for(sub.queue.get(), timeout=15.0)
                assert ev.kind == "incident"
                delays.append(time.monotonic() - t0)
            for hub in hubs:
                await hub.stop()
            return delays

        try:
            delays = asyncio.run(scenario())
        finally:
            for db in readers:
                db.dispose()
        assert max(delays) < 10.0


def test_a_rolled_back_change_publishes_nothing(tmp_path: Path) -> None:
    with committed_database("postgresql", tmp_path, PG_URL) as db:
        with db.session() as session:
            head = bus.head(session)
        with pytest.raises(RuntimeError), db.session(write=True) as session:
            bus.publish(session, [bus.EventIn("incident", {"n": 1})])
            raise RuntimeError("the change failed")
        with db.session() as session:
            assert bus.read_since(session, last=head) == []
