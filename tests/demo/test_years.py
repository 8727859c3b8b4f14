"""The two-year demo: the pre-reform year under the pre-reform organisation, then the reformed
year, so that 同比 for the last month compares two real months."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from qingzhi.auth.context import Actor, system_actor
from qingzhi.auth.permissions import Role
from qingzhi.auth.scope import Scope
from qingzhi.config import Settings
from qingzhi.demo.county import generate_county
from qingzhi.demo.incident_spec import IncidentSpec
from qingzhi.demo.reform import CENTRAL_CODES, DISSOLVED_SUFFIX, FALL_IN_BUNDLED
from qingzhi.demo.years import load_two_years, reform_date, year_before
from qingzhi.errors import ValidationFailed
from qingzhi.incidents.models import Incident
from qingzhi.intel.service import trend_report
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Officer, Unit
from qingzhi.store.db import Database

NOW = dt.datetime(2026, 6, 1, 4, tzinfo=dt.UTC)  # 12:00 on 1 June in Shanghai
TODAY = dt.date(2026, 6, 1)
DAYS = 35  # the last 35 days of each year: the last month and the same month a year before


def test_reform_date_defaults_to_twelve_months_ago(settings: Settings) -> None:
    assert reform_date(settings, now=NOW) == dt.date(2025, 6, 1)
    assert year_before(dt.date(2028, 2, 29)) == dt.date(2027, 2, 28)
    fixed = settings.model_copy(update={"demo_reform_date": dt.date(2025, 9, 1)})
    assert reform_date(fixed, now=NOW) == dt.date(2025, 9, 1)


def test_reform_date_must_lie_in_the_last_year(db: Database, settings: Settings) -> None:
    with pytest.raises(ValidationFailed) as exc:
        load_two_years(
            db=db, actor=system_actor("demo"), settings=settings, now=NOW, reform_on=TODAY
        )
    assert exc.value.details[0]["field"] == "demo_reform_date"


def _yoy(db: Database, settings: Settings, actor: Actor, category: str) -> dict[str, float]:
    with db.session() as session:
        report = trend_report(
            session=session,
            actor=actor,
            settings=settings,
            start=TODAY - dt.timedelta(days=30),
            end=TODAY,
            categories=[category],  # type: ignore[list-item]
        )
    out: dict[str, float] = report["totals"]["year_on_year"]
    return out


def test_two_years_across_the_reform(db: Database, settings: Settings) -> None:
    actor = system_actor("demo")
    reform_on = reform_date(settings, now=NOW)
    report = load_two_years(db=db, actor=actor, settings=settings, now=NOW, days=DAYS)
    assert report.pre is not None and report.post is not None
    assert report.pre.created > 0 and report.post.created > 0
    cut = dt.datetime.combine(reform_on, dt.time(), dt.timezone(dt.timedelta(hours=8)))
    county = generate_county(2026)
    bundled = {m for b in county.bundles for m in b}
    with db.session() as session:
        units = {u.id: u for u in session.execute(select(Unit)).scalars()}
        code = {uid: u.code for uid, u in units.items()}
        rows = session.execute(
            select(Incident.received_at, Incident.unit_id, Incident.station_id)
        ).all()
        # The squads the reform dissolved: kept, without area or people.
        squads = [u for u in units.values() if u.name.endswith(DISSOLVED_SUFFIX)]
        assert len(squads) == 5 and all(u.jurisdiction is None for u in squads)
        assert all(u.kind == UnitKind.traffic_squad for u in squads)
        staffed = session.execute(
            select(func.count(Officer.id)).where(Officer.unit_id.in_([u.id for u in squads]))
        ).scalar_one()
        assert staffed == 0
    before = [(u, s) for at, u, s in rows if at < cut]
    after = [(u, s) for at, u, s in rows if at >= cut]
    assert before and after
    # Before the reform a bundled station handled its own calls; after it, its central station.
    pre_bundled = [(u, s) for u, s in before if code.get(s or -1) in bundled]
    post_bundled = [(u, s) for u, s in after if code.get(s or -1) in bundled]
    assert pre_bundled and post_bundled
    assert all(u == s for u, s in pre_bundled)
    assert all(code.get(u or -1) in CENTRAL_CODES for u, s in post_bundled if u != s)
    assert sum(code.get(u or -1) in CENTRAL_CODES for u, _ in post_bundled) > 0.95 * len(
        post_bundled
    )
    assert not any(code.get(u or -1) in CENTRAL_CODES for u, _ in before)

    # 同比 for the last month compares two real months: a year earlier has data too.
    total = _yoy(db, settings, actor, "dispute")
    assert total["current"] > 300 and total["previous"] > 300
    assert abs(total["change"]) < 0.25  # disputes: no reform effect in the demo's rates
    # A central station's chief sees its bundle's year on year: the seed's falls.
    with db.session() as session:
        central = session.execute(select(Unit).where(Unit.code == CENTRAL_CODES[0])).scalar_one()
        members = [m.id for m in central.members]
    chief = Actor(
        user_id=None,
        name="chief",
        role=Role.station_chief,
        scope=Scope.of_unit(central.id, members),
        unit_id=central.id,
    )
    seen = _yoy(db, settings, chief, "public_order")
    assert seen["current"] > 0 and seen["previous"] > seen["current"]
    bureau_crime = _yoy(db, settings, actor, "criminal")
    assert bureau_crime["change"] < -0.2  # the bundled stations' fall shows county-wide


def test_the_seeds_falls_in_the_bundled_stations() -> None:
    # Generated (no store): the reformed month against the same month before, bundled stations.
    from qingzhi.demo.loader import generate_demo_incidents

    county = generate_county(2026)
    bundled = {m for b in county.bundles for m in b}
    start = dt.date(2026, 1, 1)
    post = generate_demo_incidents(days=120, start=start)
    pre = generate_demo_incidents(days=120, start=year_before(start), pre_reform=True)
    for category, fall in FALL_IN_BUNDLED.items():

        def count(specs: list[IncidentSpec], cat: str = category, inside: bool = True) -> int:
            return sum(
                s.valid and s.category == cat and (s.station_code in bundled) == inside
                for s in specs
            )

        change = count(post) / count(pre) - 1
        assert change == pytest.approx(-fall, abs=0.06)
        elsewhere = count(post, inside=False) / count(pre, inside=False) - 1
        assert abs(elsewhere) < 0.12
    disputes = [s for s in pre if s.mediated]
    assert len(disputes) > 100
    median = sorted(s.mediation_minutes or 0 for s in disputes)[len(disputes) // 2]
    assert median > 60  # "disputes that took over an hour" before the reform
