"""What the incident service calls when incidents are created or change (one line each).

Publishes the incident's map feature on the bus and sets the live status of the officers whose
assignments moved (the incident service says which: sent → ``dispatched``, arrived →
``on_scene``, cleared → ``available``); before anything moves, ``officers_held`` locks those
officers' rows and checks that the ones about to be sent are free. Runs in the caller's
transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from qingzhi.incidents.enums import Category, subtype_label
from qingzhi.live import bus
from qingzhi.live.enums import EventKind, LiveStatus
from qingzhi.live.models import OfficerLive
from qingzhi.live.service import (
    claim_officers,
    feature_of,
    incident_feature,
    live_rows,
    set_officer_states,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from qingzhi.auth.context import Actor
    from qingzhi.incidents.models import Incident

log = logging.getLogger(__name__)

MAX_SINGLE_EVENTS = 200  # a larger intake batch (an import) sends one summary per unit


def incidents_created(session: Session, ids: Sequence[int], rows: Sequence[dict[str, Any]]) -> None:
    """New incidents (``rows`` are the inserted column values, ``ids`` their ids)."""

    if not ids:
        return
    if len(ids) > MAX_SINGLE_EVENTS:
        counts: dict[tuple[int | None, int | None], int] = defaultdict(int)
        for row in rows:
            counts[(row["unit_id"], row["station_id"])] += 1
        bus.publish(
            session,
            [
                bus.EventIn(EventKind.incidents_bulk, {"count": n}, unit_id=u, station_id=s)
                for (u, s), n in counts.items()
            ],
        )
        return
    events = []
    for iid, row in zip(ids, rows, strict=True):
        feature = incident_feature(
            id=iid,
            category=row["category"],
            subtype_label=subtype_label(Category(row["category"]), row["subtype"]),
            status=row["status"],
            valid=row["valid"],
            lon=row["lon"],
            lat=row["lat"],
            received_at=row["received_at"],
            priority=row["priority"],
            address=row["address"],
            unit_id=row["unit_id"],
            station_id=row["station_id"],
        )
        feature["new"] = True
        events.append(
            bus.EventIn(
                EventKind.incident, feature, unit_id=row["unit_id"], station_id=row["station_id"]
            )
        )
    bus.publish(session, events)


def officers_held(
    session: Session, incident_id: int, sending: Sequence[int] = (), attached: Sequence[int] = ()
) -> None:
    """Before an incident moves: lock the live rows of the officers on it (``attached``: those
    of its active assignments, with any whose live row names it) and of those about to be sent
    to it, in one pass by id, and refuse (409) one about to be sent who is not available.

    Every writer takes its locks in one order — the incident, then officers' live rows by id,
    then the audit chain's head and the bus — so concurrent transitions, dispatches and status
    changes queue rather than deadlock."""

    named = session.execute(
        select(OfficerLive.officer_id).where(OfficerLive.incident_id == incident_id)
    ).scalars()
    on_it = (set(named) | set(attached)) - set(sending)
    if sending:
        claim_officers(session, sending, also=on_it)
    elif on_it:
        live_rows(session, on_it, lock=True)


def incident_changed(
    session: Session,
    actor: Actor,
    incident: Incident,
    changes: Sequence[tuple[int, LiveStatus, int | None]] = (),
) -> None:
    """An incident moved or its units did: set the officers' live states (``changes``: officer,
    new live status, the incident they are on or None) and publish the incident's feature."""

    set_officer_states(
        session, actor, list(changes), reason=f"incident {incident.id} {incident.status}"
    )
    bus.publish(
        session,
        [
            bus.EventIn(
                EventKind.incident,
                feature_of(incident),
                unit_id=incident.unit_id,
                station_id=incident.station_id,
            )
        ],
    )
