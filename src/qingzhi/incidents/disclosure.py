"""Reads of callers' personal data (unmasked phones): audited apart from the reading.

The data are read in read-only sessions and the audit record is written in a short write
transaction of its own, committed before any of the data is answered; no request holds the
writer (SQLite's write lock, PostgreSQL's lock on the audit chain's head) while it reads, renders
or streams. On SQLite the record is taken in by the process's writer thread together with the
writes queued meanwhile (``Database.combine``: one commit, one disk flush), so a burst of unmasked
reads costs the concurrent intake one commit, not one each.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import PermissionDenied
from qingzhi.incidents.reads import record_personal_read, to_read, unit_names, visible
from qingzhi.incidents.repeats import primaries_in_scope
from qingzhi.incidents.schemas import IncidentRead
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

# (actor, incident ids, purpose, the query's filters or None)
Disclosure = tuple[Actor, list[int], str, dict[str, Any] | None]


def require(actor: Actor) -> None:
    """Refuse a caller whose role may not see callers' phones (before anything is read)."""
    if not actor.can(Perm.personal_read):
        raise PermissionDenied("您的角色不能查看报警人完整电话")


def _record_all(session: Session, payloads: list[Disclosure]) -> list[Exception | None]:
    out: list[Exception | None] = []
    for actor, ids, purpose, filters in payloads:
        try:
            record_personal_read(
                session=session, actor=actor, incident_ids=ids, purpose=purpose, filters=filters
            )
            out.append(None)
        except PermissionDenied as exc:  # nothing was written for it
            out.append(exc)
    return out


def record(
    db: Database,
    actor: Actor,
    incident_ids: Sequence[int],
    purpose: str,
    filters: dict[str, Any] | None = None,
) -> None:
    """Audit that ``actor`` is shown these incidents' callers' phones, in one short write
    transaction (group-committed); returns once committed. Call it before answering."""
    db.combine(
        "incident.read_personal",
        _record_all,
        (actor, list(incident_ids), purpose, filters),
    )


def detail(db: Database, actor: Actor, incident_id: int) -> IncidentRead:
    """One incident with its caller's phone unmasked: read, then the read audited (when there
    is a phone to show)."""
    require(actor)
    with db.session() as session:
        inc = visible(session, actor, incident_id)
        primaries = primaries_in_scope(session, actor, [inc])
        shown = to_read(inc, unit_names(session), primaries=primaries, unmask=True)
    if shown.caller_phone:
        record(db, actor, [shown.id], "detail")
    return shown
