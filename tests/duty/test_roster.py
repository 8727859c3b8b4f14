"""Duty rosters: shifts kept as data, on-duty counts by hour that follow them, and only street
duty among dispatch candidates."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import select

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo.loader import load_demo
from qingzhi.dispatch import service as dispatch
from qingzhi.duty import service as duty
from qingzhi.duty.models import DutyRoster, DutyShift
from qingzhi.duty.rota import Pattern
from qingzhi.org.enums import DutyStatus, Team
from qingzhi.org.models import Officer, Unit
from qingzhi.store.db import Database
from tests.factories import make_incident

TZ = "Asia/Shanghai"
NOW = dt.datetime(2026, 6, 3, 4, tzinfo=dt.UTC)  # Wednesday 12:00 in Shanghai


def _local(day: dt.date, hour: int, minute: int = 30) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(TZ))


def test_rota_rule_by_hand() -> None:
    night = Pattern(20 * 60, 8 * 60, cycle_days=2, on_days=1)
    fri = dt.date(2026, 6, 5)
    phase = next(p for p in (0, 1) if night.works_day(fri, p))
    assert night.on_duty(dt.datetime(2026, 6, 5, 21, 0), phase)
    assert night.on_duty(dt.datetime(2026, 6, 6, 7, 59), phase)  # Saturday morning: Friday's
    assert not night.on_duty(dt.datetime(2026, 6, 6, 8, 0), phase)
    assert not night.on_duty(dt.datetime(2026, 6, 6, 21, 0), phase)  # one night on, one off
    office = Pattern(8 * 60 + 30, 17 * 60 + 30, cycle_days=7, on_days=5)
    week = [dt.datetime(2026, 6, d, 10, 0) for d in range(1, 8)]  # Monday 1 June … Sunday
    assert [office.on_duty(t, 6) for t in week] == [True] * 5 + [False] * 2
    assert not office.on_duty(dt.datetime(2026, 6, 1, 8, 29), 6)
    assert night.hours == 12.0 and office.hours == 9.0


def _load(db: Database) -> None:
    with db.session(write=True) as session:
        load_demo(session=session, actor=system_actor("demo"), seed=2026, now=NOW)


def test_on_duty_counts_by_hour_follow_the_shifts(db: Database) -> None:
    _load(db)
    actor = system_actor("demo")
    day = NOW.astimezone(ZoneInfo(TZ)).date()
    with db.session() as session:
        street = duty.on_duty_by_hour(session=session, actor=actor, day=day, tz=TZ, street=True)
        office = duty.on_duty_by_hour(session=session, actor=actor, day=day, tz=TZ, street=False)
        units = {u.id: u for u in session.execute(select(Unit)).scalars()}
        n_shifts = len(session.execute(select(DutyShift.id)).all())
        n_rostered = len(session.execute(select(DutyRoster.officer_id)).all())
        n_officers = len(session.execute(select(Officer.id)).all())
    assert n_shifts > 50 and n_rostered == n_officers  # everyone has a shift
    day_street = sum(c[14] for c in street.values())
    night_street = sum(c[3] for c in street.values())
    assert 0.25 < night_street / day_street < 0.45  # night roughly a third of day
    stations = [uid for uid, u in units.items() if u.kind.is_station]

    # Someone out at night in every station or, for a bundled one, in its bundle.
    def bundle(uid: int) -> set[int]:
        top = units[uid].central_id or uid
        return {top} | {m for m, u in units.items() if u.central_id == top}

    def night(uid: int) -> int:
        return sum(street.get(m, [0] * 24)[3] for m in bundle(uid))

    assert all(night(uid) >= 1 for uid in stations)
    assert all(street[uid][3] <= street[uid][14] for uid in stations)
    xz = next(uid for uid, u in units.items() if u.code == "500231XZ")
    qz = next(uid for uid, u in units.items() if u.code == "500231QZ")
    assert xz not in street and qz not in street  # detectives and command centre off the street
    assert office[qz][3] > 0 and office[qz][14] > office[qz][3]  # the desks around the clock
    # The stored duty status follows the roster at every hour it is applied.
    for hour in (3, 9, 14, 22):
        at = _local(day, hour)
        with db.session(write=True) as session:
            duty.apply(session=session, actor=actor, at=at, tz=TZ)
        with db.session() as session:
            on = Counter(
                session.execute(
                    select(Officer.unit_id).where(Officer.duty_status == DutyStatus.on_duty)
                ).scalars()
            )
        want = {
            uid: street.get(uid, [0] * 24)[hour] + office.get(uid, [0] * 24)[hour]
            for uid in set(street) | set(office)
        }
        assert {u: n for u, n in on.items() if n} == {u: n for u, n in want.items() if n}
    with db.session(write=True) as session:  # applying twice at one time changes nothing
        again = duty.apply(session=session, actor=actor, at=_local(day, 22), tz=TZ)
    assert again.on == [] and again.off == []


def test_only_street_duty_is_dispatched(db: Database, settings: Settings) -> None:
    _load(db)
    actor = system_actor("demo")
    with db.session(write=True) as session:
        guiyang = session.execute(select(Unit).where(Unit.code == "500231002")).scalar_one()
        inc = make_incident(session, source_id="ROSTER-1", unit=None, location=(107.35, 30.33))
        rec = dispatch.recommend(
            session=session, actor=actor, settings=settings, incident_id=inc.id, limit=1000
        )
        ids = [c.officer_id for c in rec.candidates]
        officers = {
            o.id: o for o in session.execute(select(Officer).where(Officer.id.in_(ids))).scalars()
        }
        shifts = dict(
            session.execute(
                select(DutyRoster.officer_id, DutyShift.street).join(
                    DutyShift, DutyShift.id == DutyRoster.shift_id
                )
            ).all()
        )
        on_duty_office = session.execute(
            select(Officer.id).where(
                Officer.duty_status == DutyStatus.on_duty, Officer.team == Team.case
            )
        ).scalars()
        office_ids = {i for i in on_duty_office if not shifts[i]}
    assert guiyang and ids
    assert all(shifts[i] for i in ids)  # every candidate is on street duty
    assert office_ids and not office_ids & set(ids)  # case teams on duty are not proposed
    assert {officers[i].team for i in ids} >= {Team.community, Team.command}
    assert all(officers[i].duty_status == DutyStatus.on_duty for i in ids)
