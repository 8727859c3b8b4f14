"""Corrections of an incident's recorded facts (its time, category, place, text, priority and the
source system's call type, district and beat): never silent. Each correction is made on the
incident's locked row, raises its ``version`` and writes ``incident.corrected`` with the fields
before and after in the same transaction.

Two ways in: the desk's ``PATCH /api/incidents/{id}`` (``correct``: the caller must handle the
incident, and names the version it read, so that of two concurrent corrections the second is a
409 rather than a silent overwrite) and a re-import with ``--update`` (``apply_imports``: a row
whose source id exists and whose fields differ). A corrected place moves the incident's
territorial station and zone (who handles it stays: that is a transfer, a lifecycle step).
Lifecycle times are not corrected here: the lifecycle owns them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import Conflict, NotFound, PermissionDenied
from qingzhi.geo.datum import convert
from qingzhi.incidents.models import Incident
from qingzhi.incidents.reads import mask_phone
from qingzhi.incidents.routing import region_index
from qingzhi.incidents.schemas import IncidentCorrection, IncidentCreate
from qingzhi.incidents.scope import handles, in_scope
from qingzhi.incidents.search import search_text

log = logging.getLogger(__name__)

FIELDS = (
    "received_at",
    "category",
    "subtype",
    "description",
    "address",
    "caller_phone",
    "priority",
    "lon",
    "lat",
    "source_type",
    "source_district",
    "source_beat",
)
_LOCK = select(Incident).with_for_update(key_share=True).execution_options(populate_existing=True)


def _shown(name: str, value: Any) -> Any:
    if name == "caller_phone":
        return mask_phone(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value


def _apply(
    session: Session, actor: Actor, inc: Incident, new: dict[str, Any], reason: str
) -> audit.Change | None:
    """Set the changed fields on the locked row; the audit change, or None if nothing changed."""
    changed = {}
    for name, value in new.items():
        old = getattr(inc, name)
        if isinstance(old, dt.datetime) and isinstance(value, dt.datetime):
            same = old == value
        elif isinstance(old, float) and isinstance(value, float):
            same = abs(old - value) < 1e-7
        else:
            same = old == value
        if not same:
            changed[name] = (old, value)
    if not changed:
        return None
    for name, (_, value) in changed.items():
        setattr(inc, name, value)
    moved = "lon" in changed or "lat" in changed
    if moved and inc.lon is not None and inc.lat is not None:
        [route] = region_index(session).route_points(np.array([inc.lon]), np.array([inc.lat]))
        inc.station_id, inc.zone_id = route.station_id, route.zone_id
    if {"description", "address", "source_type", "source_district", "source_beat"} & set(changed):
        inc.search_text = search_text(
            inc.description, inc.address, inc.source_type, inc.source_district, inc.source_beat
        )
    before_version = inc.version
    inc.version = before_version + 1
    return audit.Change(
        "incident.corrected",
        "incident",
        inc.id,
        inc.unit_id,
        diff={
            "before": {
                "version": before_version,
                **{k: _shown(k, o) for k, (o, _) in changed.items()},
            },
            "after": {"version": inc.version, **{k: _shown(k, v) for k, (_, v) in changed.items()}},
            "reason": reason,
        },
        actor=actor,
    )


def _values(item: IncidentCreate) -> dict[str, Any]:
    """The correctable fields an intake item carries (its point in WGS-84)."""
    out: dict[str, Any] = {
        "received_at": item.received_at,
        "category": item.category,
        "subtype": item.subtype,
        "description": item.description,
        "address": item.address,
        "caller_phone": item.caller_phone,
        "priority": int(item.priority),
    }
    if item.location is not None:
        xs, ys = convert(
            [item.location.lon], [item.location.lat], source=item.location.datum, target="wgs84"
        )
        out["lon"], out["lat"] = float(xs[0]), float(ys[0])
    for name in ("source_type", "source_district", "source_beat"):
        if hasattr(item, name):
            out[name] = getattr(item, name)
    return out


def apply_imports(
    *, session: Session, actor: Actor, rows: Sequence[tuple[int, IncidentCreate]]
) -> int:
    """Apply re-imported rows to their existing incidents (by id, locked in id order); returns
    how many changed. Audited as ``incident.corrected`` (reason 导入更新)."""
    actor.require(Perm.incident_write)
    if not rows:
        return 0
    by_id = {iid: item for iid, item in rows}
    ids = sorted(by_id)
    changes = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = _LOCK.where(Incident.id.in_(chunk)).order_by(Incident.id)
        for inc in session.execute(stmt).scalars():
            change = _apply(session, actor, inc, _values(by_id[inc.id]), "导入更新")
            if change is not None:
                changes.append(change)
    session.flush()
    if changes:
        audit.record_many(session=session, actor=actor, changes=changes)
    return len(changes)


def correct(
    *, session: Session, actor: Actor, incident_id: int, data: IncidentCorrection
) -> Incident:
    """Correct an incident's fields (only its handling unit; the version read must be current)."""
    actor.require(Perm.incident_write)
    inc = session.execute(_LOCK.where(Incident.id == incident_id)).scalar_one_or_none()
    if inc is None or not in_scope(actor, inc):
        raise NotFound()
    if not handles(actor, inc):
        raise PermissionDenied("只有处置单位可以更正该警情")
    if data.version != inc.version:
        raise Conflict(
            f"该警情已被他人更正（当前版本 {inc.version}，提交所依据的版本 {data.version}）",
            details={"version": inc.version},
        )
    new = data.model_dump(exclude_unset=True, exclude={"version", "reason", "location"})
    if "priority" in new:
        new["priority"] = int(new["priority"])
    if data.location is not None:
        xs, ys = convert(
            [data.location.lon], [data.location.lat], source=data.location.datum, target="wgs84"
        )
        new["lon"], new["lat"] = float(xs[0]), float(ys[0])
    if "category" in new and "subtype" not in new and inc.subtype:
        new["subtype"] = None  # the old subtype belongs to the old category
    change = _apply(session, actor, inc, new, data.reason)
    if change is not None:
        session.flush()
        audit.record_many(session=session, actor=actor, changes=[change])
    return inc
