"""Loading the demos into the store: the county's calls through intake; the Vancouver records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import func, select

from qingzhi.audit.models import AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo import vancouver
from qingzhi.demo.loader import check_city, demo_window, load_demo, load_incidents
from qingzhi.errors import ValidationFailed
from qingzhi.geo.geometry import load_geometry
from qingzhi.incidents.models import Incident
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Bureau, Unit
from qingzhi.store.db import Database
from tests.helpers import rows

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)  # a fixed "now" in the past: the same window
DAYS = 30
VPD_FILE = vancouver.DATA_DIR / "crimedata_csv_AllNeighbourhoods_2024.csv.gz"
VPD_ROWS = 3000  # the first rows of 2024: every one of the 24 neighbourhoods has located records


def test_window_ends_yesterday_in_shanghai() -> None:
    late = dt.datetime(2026, 6, 1, 17, tzinfo=dt.UTC)  # 01:00 on 2 June in Shanghai
    assert demo_window(30, now=late) == dt.date(2026, 5, 3)
    assert demo_window(365, now=NOW) == dt.date(2025, 6, 1)


def test_demo_incidents_load_through_intake_and_reload_adds_nothing(
    db: Database, settings: Settings
) -> None:
    actor = system_actor("demo")
    with db.session(write=True) as session:
        load_demo(session=session, actor=actor, seed=2026)
    report = load_incidents(db=db, actor=actor, settings=settings, days=DAYS, now=NOW, batch=2000)
    assert report.created == report.calls
    valid = rows(db, Incident, Incident.valid.is_(True))
    assert 55_000 / 365 <= valid / DAYS <= 65_000 / 365  # about 60,000 valid a year
    total = rows(db, Incident)
    assert total == report.calls
    assert (total - valid) / total == pytest.approx(0.30, abs=0.03)  # invalid calls about 30%
    with db.session() as session:
        first = session.execute(select(func.min(Incident.received_at))).scalar_one()
        last = session.execute(select(func.max(Incident.closed_at))).scalar_one()
        audited = session.execute(
            select(func.count(AuditRecord.seq)).where(AuditRecord.action == "incident.import")
        ).scalar_one()
    assert first is not None and last is not None
    assert first >= dt.datetime(2026, 5, 1, 16, tzinfo=dt.UTC)  # 2 May 00:00 in Shanghai
    assert last <= NOW
    assert audited == total
    # Routed to stations; repeat calls linked by intake itself.
    assert rows(db, Incident, Incident.station_id.is_(None)) == 0
    assert rows(db, Incident, Incident.repeat_of_id.is_not(None)) > 0.02 * total
    assert rows(db, Incident, Incident.synthetic.is_(False)) == 0

    again = load_incidents(db=db, actor=actor, settings=settings, days=DAYS, now=NOW)
    assert again.created == 0 and again.existing == report.calls
    assert rows(db, Incident) == total
    with db.session() as session:
        assert (
            session.execute(
                select(func.count(AuditRecord.seq)).where(AuditRecord.action == "incident.import")
            ).scalar_one()
            == audited
        )


def test_a_demo_refuses_the_other_citys_database(db: Database) -> None:
    with db.session(write=True) as session:
        session.add(Bureau(code="500231", name="垫江县公安局"))
        session.flush()
        check_city(session, code="500231", name="垫江县公安局")
        with pytest.raises(ValidationFailed) as exc:
            check_city(session, code=vancouver.BUREAU_CODE, name=vancouver.BUREAU_NAME)
    assert "垫江县公安局" in exc.value.message


@pytest.mark.skipif(not VPD_FILE.exists(), reason=f"shared Vancouver data missing: {VPD_FILE}")
def test_vancouver_sample_routes_records_to_their_neighbourhood(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    sample = tmp_path / VPD_FILE.name  # one year file of the sample, in a data dir of its own
    sample.symlink_to(VPD_FILE)
    report = vancouver.load_vancouver(
        db=db,
        actor=system_actor("demo"),
        settings=settings,
        data_dir=tmp_path,
        years=[2024],
        limit=VPD_ROWS,
    )
    ((_, summary),) = report.files
    assert summary.rows == VPD_ROWS and summary.errors == []
    assert summary.created + summary.existing == VPD_ROWS
    with db.session() as session:
        bureau = session.execute(select(Bureau)).scalar_one()
        units = session.execute(select(Unit)).scalars().all()
        stations = [u for u in units if u.kind == UnitKind.urban_station]
        names = {u.id: u.name for u in stations}
        rows = session.execute(
            select(Incident.address, Incident.station_id, Incident.routed_by).where(
                Incident.lon.is_not(None)
            )
        ).all()
    assert bureau.name == vancouver.BUREAU_NAME and bureau.synthetic
    assert len(stations) == 24
    assert [u.kind for u in units if u not in stations] == [UnitKind.command_centre]
    polys = [load_geometry(u.jurisdiction) for u in stations]
    assert all(p is not None and p.is_valid and p.geom_type == "Polygon" for p in polys)
    assert all(u.synthetic for u in stations)
    hull = shape(load_geometry(bureau.boundary))
    union = shapely.union_all(np.array(polys, dtype=object))
    assert union.area == pytest.approx(hull.area, rel=1e-3)  # the units tile the hull
    assert sum(p.area for p in polys if p is not None) == pytest.approx(union.area, rel=1e-3)
    # Most located records go to the unit of their own NEIGHBOURHOOD ("block, neighbourhood").
    own = sum(names.get(sid or -1) == address.rsplit(", ", 1)[-1] for address, sid, _ in rows)
    assert len(rows) > 0.9 * VPD_ROWS
    assert own / len(rows) >= 0.9

    again = vancouver.load_vancouver(
        db=db,
        actor=system_actor("demo"),
        settings=settings,
        data_dir=tmp_path,
        years=[2024],
        limit=VPD_ROWS,
    )
    assert again.created == 0
    assert sum(again.org.import_report.created.values()) == 0


def test_incidents_need_the_org_first(db: Database, settings: Settings) -> None:
    with pytest.raises(ValidationFailed):
        load_incidents(db=db, actor=system_actor("demo"), settings=settings, days=1, now=NOW)
    assert rows(db, Incident) == 0
