"""Calls for the planning tests: four weeks at every station of the factory organisation, with
dispatch, arrival and resolution times, spread so that none is a repeat call."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from sqlalchemy import update

from qingzhi.incidents.models import Incident
from qingzhi.store.db import Database
from tests.factories import CORNERS, SIDE, make_incident

START = dt.datetime(2026, 9, 7, tzinfo=dt.UTC)  # a Monday
PER_STATION = {"A": 60, "B": 40, "R1": 20, "R2": 16, "S": 12}


def load_calls(db: Database, seed: int = 7) -> int:
    """Counted calls over four weeks at every station; how many."""
    rng = np.random.default_rng(seed)
    cats = ("criminal", "public_order", "traffic", "dispute", "assistance")
    n = 0
    with db.session(write=True) as session:
        for code, count in PER_STATION.items():
            x0, y0 = CORNERS[code]
            hours = np.sort(rng.choice(28 * 24, size=count, replace=False))
            for k, h in enumerate(hours):
                at = START + dt.timedelta(hours=int(h), minutes=int(rng.integers(60)))
                inc = make_incident(
                    session,
                    at=at.isoformat(),
                    category=cats[(k + n) % 5],
                    unit=None,
                    location=(
                        x0 + SIDE * (0.1 + 0.8 * rng.random()),
                        y0 + SIDE * (0.1 + 0.8 * rng.random()),
                    ),
                )
                d = at + dt.timedelta(minutes=2)
                session.execute(
                    update(Incident)
                    .where(Incident.id == inc.id)
                    .values(
                        dispatched_at=d,
                        arrived_at=d + dt.timedelta(minutes=8 + int(rng.integers(10))),
                        resolved_at=d + dt.timedelta(minutes=40 + int(rng.integers(30))),
                    )
                )
                n += 1
    return n


def computed_plan(db: Database, settings: Any, body: dict[str, Any]) -> int:
    """A plan checked, saved and computed in this process (as the CLI does); its id."""
    from qingzhi.auth.context import system_actor
    from qingzhi.plans import service

    run = service.RUN.validate_python(body)
    actor = system_actor("test")
    with db.session() as session:
        service.check_run(session=session, actor=actor, settings=settings, run=run)
    with db.session(write=True) as session:
        plan_id = service.create(session=session, actor=actor, run=run).id
    service.run_compute(db=db, actor=actor, settings=settings, plan_id=plan_id)
    return plan_id
