"""The one lifecycle pattern: a declared table, checked on a locked row, audited with the move."""

from __future__ import annotations

from enum import StrEnum

import pytest

from qingzhi.auth.context import system_actor
from qingzhi.errors import InvalidTransition
from qingzhi.incidents.lifecycle import INCIDENT, Status
from qingzhi.incidents.models import Incident
from qingzhi.lifecycle import Lifecycle, locked, move
from qingzhi.store.db import Database
from tests.factories import Org, add_incident
from tests.helpers import last_audit


class Light(StrEnum):
    """A toy lifecycle."""

    off = "off"
    on = "on"
    broken = "broken"


LIGHT = Lifecycle(
    noun="灯",
    labels={Light.off: "关", Light.on: "开", Light.broken: "坏"},
    transitions={Light.off: {Light.on, Light.broken}, Light.on: {Light.off}, Light.broken: ()},
)


def test_allowed_and_refused_steps() -> None:
    """Every pair of states: allowed exactly when the table says so; a refusal names both
    states and what was allowed."""
    for current in Light:
        for target in Light:
            if target in LIGHT.allowed(current):
                LIGHT.check(current, target)
                continue
            with pytest.raises(InvalidTransition) as refused:
                LIGHT.check(current, target)
            assert LIGHT.label(current) in refused.value.message
            assert LIGHT.label(target) in refused.value.message
            assert refused.value.details["allowed"] == sorted(LIGHT.allowed(current))
    assert LIGHT.is_final(Light.broken) and not LIGHT.is_final(Light.on)


def test_a_table_with_a_hole_is_refused_when_declared() -> None:
    """A state without a row, or a target without a label, is a programming error at import."""
    with pytest.raises(ValueError, match="missing rows"):
        Lifecycle(noun="灯", labels={Light.off: "关", Light.on: "开"}, transitions={Light.off: {}})
    with pytest.raises(ValueError, match="unknown targets"):
        Lifecycle(
            noun="灯",
            labels={Light.off: "关"},
            transitions={Light.off: {Light.on}},
        )


def test_move_on_a_locked_row_is_audited(db: Database, org: Org) -> None:
    """``move`` sets the status of the row ``locked`` read and appends ``<kind>.<target>`` with
    the before and after; a refused move changes nothing and writes nothing."""
    iid = add_incident(db)
    with db.session(write=True) as session:
        row = locked(session, Incident, iid)
        assert row is not None
        left = move(
            session=session,
            actor=system_actor(),
            lifecycle=INCIDENT,
            row=row,
            target=Status.cancelled,
            entity_kind="incident",
            unit_id=row.unit_id,
            detail={"reason": "重复录入"},
        )
        assert left == Status.received
    record = last_audit(db)
    assert record.action == "incident.cancelled"
    assert '"reason": "重复录入"' in record.diff or "重复录入" in record.diff
    with db.session(write=True) as session:
        row = locked(session, Incident, iid)
        assert row is not None and row.status == Status.cancelled
        with pytest.raises(InvalidTransition):
            move(
                session=session,
                actor=system_actor(),
                lifecycle=INCIDENT,
                row=row,
                target=Status.dispatched,
                entity_kind="incident",
                unit_id=row.unit_id,
            )
    assert last_audit(db).seq == record.seq
    with db.session() as session:
        assert locked(session, Incident, 10**9) is None
