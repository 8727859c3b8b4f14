"""Officers' positions and states reach only those who may see officers: the viewer's stream
carries the incidents and none of the officer events (its big screen shows no positions)."""

from __future__ import annotations

import time

from sqlalchemy import select

from qingzhi.auth.context import system_actor
from qingzhi.live import service as live
from qingzhi.live.schemas import PositionIn
from qingzhi.org.models import Officer
from qingzhi.store.db import Database
from tests.factories import add_incident
from tests.helpers import bearer
from tests.live.server import SSEReader


def test_the_viewer_stream_has_incidents_and_no_officers(
    committed: Database, live_server: str
) -> None:
    viewer = SSEReader(f"{live_server}/api/live/stream", bearer(committed, "viewer"))
    commander = SSEReader(f"{live_server}/api/live/stream", bearer(committed, "commander"))
    try:
        time.sleep(0.3)
        with committed.session() as s:
            officer = s.execute(select(Officer.id).limit(1)).scalar_one()
        with committed.session(write=True) as s:
            live.record_positions(
                session=s,
                actor=system_actor(),
                positions=[PositionIn(officer_id=officer, lon=107.05, lat=30.05)],
            )
        iid = add_incident(committed, source_id="V-1", location=(107.05, 30.05))
        assert commander.next("officer.positions").data["items"][0]["id"] == officer
        assert commander.next("incident").data["id"] == iid
        first = viewer.next(timeout=10)  # the very next message of any kind
        assert (first.event, first.data["id"]) == ("incident", iid)
    finally:
        viewer.close()
        commander.close()
