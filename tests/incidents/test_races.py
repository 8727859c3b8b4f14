"""Transitions, assignments and repeat counters under real concurrency (issue item 5).

Two uvicorn server processes serve one committed database (a SQLite file, or a PostgreSQL
schema); each trial sends two conflicting requests at the same moment, one to each process, from
two threads. Exactly one may win: the other gets a 409 naming the state it found, and the rows
show one outcome only (one lifecycle step, one assignment, one audit record).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import qingzhi
from qingzhi.audit import service as audit
from qingzhi.audit.models import AuditRecord
from qingzhi.incidents.models import Incident, IncidentAssignment, IncidentEvent
from qingzhi.live.models import OfficerLive
from qingzhi.store.db import Database
from tests.conftest import PG_URL, _backends
from tests.factories import add_incident, build_org
from tests.helpers import bearer, free_port
from tests.live.server import committed_database

# two server processes a backend and trials of every race (make test-quick leaves them out)
pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("QINGZHI_RACE_TRIALS", "8"))  # per test and backend
BASE = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)
SRC = str(Path(qingzhi.__file__).resolve().parents[1])


@contextmanager
def server_processes(db: Database, n: int, log: Path) -> Iterator[list[str]]:
    """``n`` uvicorn processes serving the app on ``db``'s database; yields their base URLs."""
    env = {
        **os.environ,
        "QINGZHI_DATABASE_URL": db.url,
        "PYTHONPATH": os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p),
    }
    procs: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        with log.open("ab") as out:
            for _ in range(n):
                port = free_port()
                procs.append(
                    subprocess.Popen(
                        [
                            *(sys.executable, "-m", "uvicorn", "qingzhi.web.asgi:app"),
                            *("--host", "127.0.0.1", "--port", str(port)),
                            *("--log-level", "warning", "--no-access-log"),
                        ],
                        env=env,
                        stdout=out,
                        stderr=out,
                    )
                )
                urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        for proc, url in zip(procs, urls, strict=True):
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"test server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Racing:
    """Two server processes on one committed database with the test org."""

    backend: str
    db: Database
    urls: list[str]
    headers: dict[str, str]
    officers: list[int]  # on duty (the dispatcher may send any)
    serial: list[int]

    def incident(self, **overrides: Any) -> int:
        """A new dispute in station A (committed), three hours after the last one, so that no
        call is a repeat of another; its id."""
        self.serial[0] += 1
        n = self.serial[0]
        fields = {"source_id": f"RACE-{n}", "at": BASE + dt.timedelta(hours=3 * n), **overrides}
        return add_incident(self.db, **fields)

    def race(self, *requests: tuple[str, dict[str, Any]]) -> list[httpx.Response]:
        """Send the requests at once, the i-th to server i (mod 2), each from its own thread."""
        barrier = threading.Barrier(len(requests))
        out: list[httpx.Response | None] = [None] * len(requests)
        clients = [
            httpx.Client(base_url=self.urls[i % len(self.urls)], headers=self.headers, timeout=60)
            for i in range(len(requests))
        ]
        for c in clients:  # connections open before the start line
            assert c.get("/healthz").status_code == 200

        def send(i: int) -> None:
            path, body = requests[i]
            barrier.wait()
            out[i] = clients[i].post(path, json=body)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in clients:
            c.close()
        assert all(r is not None for r in out)
        return [r for r in out if r is not None]


@pytest.fixture(scope="module", params=_backends())
def racing(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Racing]:
    """Two server processes on a committed database (SQLite file or PostgreSQL schema)."""
    tmp = tmp_path_factory.mktemp("races")
    with committed_database(str(request.param), tmp, PG_URL) as db:
        with db.session(write=True) as session:
            org = build_org(session)
        officers = [o.id for o in org.officers.values() if o.duty_status == "on_duty"]
        headers = bearer(db, "dispatcher")
        with server_processes(db, 2, tmp / "servers.log") as urls:
            yield Racing(str(request.param), db, urls, headers, officers, [0])
        with db.session() as session:
            assert audit.verify(session=session).ok  # the chain never forked


def _winner(responses: list[httpx.Response]) -> tuple[int, httpx.Response]:
    """The index of the one 200 among the responses, and the 409 of the other."""
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409], [r.text for r in responses]
    won = next(i for i, r in enumerate(responses) if r.status_code == 200)
    return won, responses[1 - won]


def _free(racing: Racing, incident_id: int) -> None:
    """Cancel a dispatched incident, which frees its officers for the next trial."""
    with httpx.Client(base_url=racing.urls[0], headers=racing.headers) as c:
        r = c.post(
            f"/api/incidents/{incident_id}/transitions", json={"to": "cancelled", "reason": "试验"}
        )
        assert r.status_code == 200, r.text


def _events(s: Any, iid: int, to: str) -> int:
    return int(
        s.execute(
            select(func.count())
            .select_from(IncidentEvent)
            .where(IncidentEvent.incident_id == iid, IncidentEvent.to_status == to)
        ).scalar_one()
    )


def _actions(s: Any, iid: int) -> list[str]:
    return sorted(
        s.execute(
            select(AuditRecord.action).where(
                AuditRecord.entity_kind == "incident", AuditRecord.entity_id == str(iid)
            )
        ).scalars()
    )


def test_two_dispatches_of_one_incident_one_moves_it_one_reinforces(racing: Racing) -> None:
    # With several units per incident both dispatches send their officer; exactly one moves
    # the incident (decided on its locked row), the other reinforces it.
    o1, o2 = racing.officers[:2]
    for _ in range(TRIALS):
        iid = racing.incident()
        responses = racing.race(
            (f"/api/dispatch/incidents/{iid}", {"officer_ids": [o1]}),
            (f"/api/dispatch/incidents/{iid}", {"officer_ids": [o2]}),
        )
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        with racing.db.session() as s:
            assigned = s.execute(
                select(IncidentAssignment.officer_id, IncidentAssignment.status).where(
                    IncidentAssignment.incident_id == iid
                )
            ).all()
            assert sorted(assigned) == sorted([(o1, "dispatched"), (o2, "dispatched")])
            assert _events(s, iid, "dispatched") == 1
            assert _actions(s, iid) == [
                "incident.create",
                "incident.dispatched",
                "incident.reinforced",
            ]
            states = dict(
                s.execute(
                    select(OfficerLive.officer_id, OfficerLive.incident_id).where(
                        OfficerLive.officer_id.in_([o1, o2])
                    )
                ).all()
            )
            assert states == {o1: iid, o2: iid}
        _free(racing, iid)


def test_one_officer_sent_twice_to_one_incident_once(racing: Racing) -> None:
    officer = racing.officers[0]
    for _ in range(TRIALS):
        iid = racing.incident()
        _, lost = _winner(
            racing.race(
                (f"/api/dispatch/incidents/{iid}", {"officer_ids": [officer]}),
                (f"/api/dispatch/incidents/{iid}", {"officer_ids": [officer]}),
            )
        )
        assert lost.json()["error"]["code"] == "conflict"
        with racing.db.session() as s:
            sent = s.execute(
                select(IncidentAssignment.officer_id).where(IncidentAssignment.incident_id == iid)
            ).scalars()
            assert list(sent) == [officer]
            assert _events(s, iid, "dispatched") == 1
        _free(racing, iid)


def _two_units(racing: Racing) -> tuple[int, list[int]]:
    """A new incident with two officers on the way; its id and their assignment ids."""
    iid = racing.incident()
    o1, o2 = racing.officers[:2]
    with httpx.Client(base_url=racing.urls[0], headers=racing.headers) as c:
        r = c.post(f"/api/dispatch/incidents/{iid}", json={"officer_ids": [o1, o2]})
        assert r.status_code == 200, r.text
        rows = c.get(f"/api/incidents/{iid}/assignments").json()
    return iid, [a["id"] for a in rows]


def test_two_units_arrive_at_once_the_incident_arrives_once(racing: Racing) -> None:
    for _ in range(TRIALS):
        iid, (first, second) = _two_units(racing)
        path = f"/api/incidents/{iid}/assignments/"
        responses = racing.race(
            (path + str(first), {"to": "arrived"}), (path + str(second), {"to": "arrived"})
        )
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        with racing.db.session() as s:
            inc = s.get(Incident, iid)
            assert inc is not None and inc.status == "arrived"
            assert _events(s, iid, "arrived") == 1
            rows = s.execute(
                select(IncidentAssignment).where(IncidentAssignment.incident_id == iid)
            ).scalars()
            arrivals = [a.arrived_at for a in rows]
            assert all(arrivals) and inc.arrived_at == min(a for a in arrivals if a)
        # Both last units clear at once: the incident is resolved exactly once.
        responses = racing.race(
            (path + str(first), {"to": "cleared"}), (path + str(second), {"to": "cleared"})
        )
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        with racing.db.session() as s:
            inc = s.get(Incident, iid)
            assert inc is not None and inc.status == "resolved"
            assert _events(s, iid, "resolved") == 1
            cleared = s.execute(
                select(IncidentAssignment.cleared_at).where(IncidentAssignment.incident_id == iid)
            ).scalars()
            assert inc.resolved_at == max(c for c in cleared if c)


def test_one_officer_sent_to_two_incidents_once(racing: Racing) -> None:
    # Each trial takes an officer never sent before (while there are), so the trial also races
    # the creation of the officer's live-state row.
    for trial in range(TRIALS):
        officer = racing.officers[2 + trial % (len(racing.officers) - 2)]
        first, second = racing.incident(), racing.incident()
        won, lost = _winner(
            racing.race(
                (f"/api/dispatch/incidents/{first}", {"officer_ids": [officer]}),
                (f"/api/dispatch/incidents/{second}", {"officer_ids": [officer]}),
            )
        )
        assert lost.status_code == 409
        assert "出警中" in lost.json()["error"]["message"]
        winner, loser = (first, second) if won == 0 else (second, first)
        with racing.db.session() as s:
            sent_to = s.execute(
                select(IncidentAssignment.incident_id).where(
                    IncidentAssignment.officer_id == officer
                )
            ).scalars()
            assert list(sent_to) == [winner]
            live = s.get(OfficerLive, officer)
            assert live is not None and (live.status, live.incident_id) == ("dispatched", winner)
            loser_inc = s.get(Incident, loser)
            assert loser_inc is not None and loser_inc.status == "received"
        _free(racing, winner)


def test_resolved_and_cancelled_from_received_one_applies(racing: Racing) -> None:
    for _ in range(TRIALS):
        iid = racing.incident()
        path = f"/api/incidents/{iid}/transitions"
        won, lost = _winner(
            racing.race(
                (path, {"to": "resolved", "reason": "电话处置"}),
                (path, {"to": "cancelled", "reason": "报警人撤回"}),
            )
        )
        applied, refused = ("resolved", "cancelled") if won == 0 else ("cancelled", "resolved")
        details = lost.json()["error"]["details"]
        assert (details["from"], details["to"]) == (applied, refused)
        with racing.db.session() as s:
            inc = s.get(Incident, iid)
            assert inc is not None and inc.status == applied
            steps = (
                s.execute(
                    select(IncidentEvent.to_status)
                    .where(IncidentEvent.incident_id == iid)
                    .order_by(IncidentEvent.id)
                )
                .scalars()
                .all()
            )
            assert steps == ["received", applied]
            actions = (
                s.execute(
                    select(AuditRecord.action).where(
                        AuditRecord.entity_kind == "incident", AuditRecord.entity_id == str(iid)
                    )
                )
                .scalars()
                .all()
            )
            assert sorted(actions) == sorted(["incident.create", f"incident.{applied}"])


def test_concurrent_repeat_calls_count_every_one(racing: Racing) -> None:
    callers = 4
    for trial in range(max(2, TRIALS // 4)):
        phone = f"1370000{trial:04d}"
        at = dt.datetime(2026, 10, 1 + trial, 2, 0, tzinfo=dt.UTC)
        primary = racing.incident(caller_phone=phone, at=at)
        responses = racing.race(
            *(
                (
                    "/api/incidents",
                    {
                        "source_id": f"RACE-REPEAT-{trial}-{k}",
                        "received_at": (at + dt.timedelta(minutes=30)).isoformat(),
                        "category": "dispute",
                        "caller_phone": phone,
                    },
                )
                for k in range(callers)
            )
        )
        assert [r.status_code for r in responses] == [201] * callers, [r.text for r in responses]
        assert {r.json()["incident"]["repeat_of_id"] for r in responses} == {primary}
        with racing.db.session() as s:
            inc = s.get(Incident, primary)
            assert inc is not None and inc.repeat_count == callers
            linked = [
                (e.diff["before"]["repeat_count"], e.diff["after"]["repeat_count"])
                for e in audit.trail_of(session=s, entity_kind="incident", entity_id=primary)
                if e.action == "incident.repeat_linked"
            ]
        # Every bump is recorded, read on the locked row: the counts follow one another.
        steps = sorted(linked)
        assert steps[0][0] == 0 and steps[-1][1] == callers
        assert all(a[1] == b[0] for a, b in itertools.pairwise(steps))
