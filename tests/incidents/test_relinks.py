"""An earlier period imported after a later one: the stored later calls about the same matter are
relinked so that the earliest call is the first (``incidents.relinks``), audited."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from qingzhi.audit.service import trail_of
from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo import cad_export
from qingzhi.incidents import intake
from qingzhi.incidents.importer import Mapping, import_file
from qingzhi.incidents.models import Incident
from qingzhi.store.db import Database
from tests.factories import Org, incident_item, inside

DAY = "2026-10-01T"
HERE = inside("A")
FAR = inside("B")  # about 9.6 km east: another place


def _take(db: Database, *calls: tuple[str, str, tuple[float, float]]) -> None:
    """One intake batch (one import transaction) of (source id, local time, point) calls."""
    items = [
        incident_item(at=f"{DAY}{at}:00+08:00", location=point, source_id=sid)
        for sid, at, point in calls
    ]
    with db.session(write=True) as s:
        intake.intake_many(session=s, actor=system_actor(), settings=Settings(), items=items)


def _links(db: Database) -> dict[str, tuple[str | None, int]]:
    """Each call's first call (its source id) and repeat count."""
    with db.session() as s:
        rows = s.execute(select(Incident.id, Incident.source_id, Incident.repeat_of_id,
                                Incident.repeat_count)).all()  # fmt: skip
    sid = {r.id: r.source_id for r in rows}
    return {r.source_id: (sid.get(r.repeat_of_id), r.repeat_count) for r in rows}


def _relinked(db: Database, source_id: str) -> list[dict[str, object]]:
    with db.session() as s:
        iid = s.execute(select(Incident.id).where(Incident.source_id == source_id)).scalar_one()
        trail = trail_of(session=s, entity_kind="incident", entity_id=iid)
        return [e.diff for e in trail if e.action == "incident.repeat_relinked"]


def _id(db: Database, source_id: str) -> int:
    with db.session() as s:
        return s.execute(select(Incident.id).where(Incident.source_id == source_id)).scalar_one()


def test_a_call_imported_after_a_later_one_becomes_its_first(db: Database, org: Org) -> None:
    _take(db, ("L1030", "10:30", HERE))
    assert _links(db)["L1030"] == (None, 0)
    _take(db, ("E1020", "10:20", HERE))
    assert _links(db) == {"L1030": ("E1020", 0), "E1020": (None, 1)}
    [moved] = _relinked(db, "L1030")
    assert moved == {"before": {"repeat_of_id": None}, "after": {"repeat_of_id": _id(db, "E1020")}}


def test_a_chain_moves_whole_to_the_earlier_call(db: Database, org: Org) -> None:
    # 10:30 first; 10:40 and 12:25 repeat it (12:25 is within 2 h of 10:40); 14:00 repeats it
    # through 12:25 — beyond the window of the late call, found as a follower of 10:30
    _take(db, ("L1030", "10:30", HERE), ("L1040", "10:40", HERE))
    _take(db, ("L1225", "12:25", HERE), ("L1400", "14:00", HERE))
    assert _links(db)["L1400"] == ("L1030", 0) and _links(db)["L1030"] == (None, 3)
    _take(db, ("E1020", "10:20", HERE))
    assert _links(db) == {
        "E1020": (None, 4),
        "L1030": ("E1020", 0),
        "L1040": ("E1020", 0),
        "L1225": ("E1020", 0),
        "L1400": ("E1020", 0),
    }
    [old_first] = [d for d in _relinked(db, "L1030") if "moved_ids" in d]
    assert old_first["before"] == {"repeat_count": 3} and old_first["after"] == {"repeat_count": 0}
    moved = old_first["moved_ids"]
    assert isinstance(moved, list)
    assert sorted(moved) == sorted(_id(db, s) for s in ("L1040", "L1225", "L1400"))


def test_new_calls_of_the_batch_follow_the_moved_chain(db: Database, org: Org) -> None:
    _take(db, ("L1030", "10:30", HERE))
    # one batch: 10:20 (earlier than the stored call) and 10:50 (after it)
    _take(db, ("E1020", "10:20", HERE), ("N1050", "10:50", HERE))
    assert _links(db) == {"E1020": (None, 2), "L1030": ("E1020", 0), "N1050": ("E1020", 0)}


def test_calls_elsewhere_or_outside_the_window_are_not_relinked(db: Database, org: Org) -> None:
    _take(db, ("L1030", "10:30", HERE), ("F1030", "10:30", FAR))
    _take(db, ("E0800", "08:00", HERE), ("E1025", "10:25", FAR))
    # 08:00 is 2½ hours before 10:30 (window 2 h); 10:25 far away precedes only the far call
    assert _links(db) == {
        "L1030": (None, 0),
        "F1030": ("E1025", 0),
        "E0800": (None, 0),
        "E1025": (None, 1),
    }
    assert _relinked(db, "L1030") == []


def test_importing_the_earlier_file_after_the_later_one(
    db: Database, org: Org, tmp_path: Path
) -> None:
    """The importer as a bureau runs it: November's export, then October's."""
    mapping_path = tmp_path / "cad.toml"
    mapping_path.write_text(cad_export.MAPPING, encoding="utf-8")
    mapping = Mapping.load(mapping_path)
    lon, lat = HERE

    def export(name: str, sid: str, clock: str) -> Path:
        path = tmp_path / name
        cells = [
            *("10/21/2026", clock, "100 MAIN ST", "78201", "Property Crime", "Theft"),
            *("NORTH", "N1", sid, str(lat), str(lon), "1792596000000"),
        ]
        cad_export.write(path, [cells])
        return path

    later = export("later.csv", "LATE", "10:30:00 AM")
    earlier = export("earlier.csv", "EARLY", "10:20:00 AM")
    for path in (later, earlier):
        summary = import_file(
            db=db, actor=system_actor(), settings=Settings(), path=path, mapping=mapping
        )
        assert summary.created == 1
    assert _links(db) == {"SA-LATE": ("SA-EARLY", 0), "SA-EARLY": (None, 1)}
