"""The demo county's duty rosters (synthetic): which shifts each unit works and who works which.

Street duty (on the map, sent to calls): a station's command room (综合指挥室: patrol and 110
response), its community team (by day, in their zones) and the traffic officers integrated into it
(交所合一), and the traffic squads. Office duty: a station's case team, the criminal investigation
squad (刑侦大队: office hours and a duty detective at night) and the command centre (情指中心: its
desks around the clock and office hours). Every unit's street staff is split into a day group on
``DAY`` (08:00–20:00, two days on, one off) and a night group on ``NIGHT`` (20:00–08:00, one night
on, one off) of ``NIGHT_SHARE`` of them, phases staggered, so that at night about a third as many
are out as by day (0.33 × ½ against 0.67 × ⅔; the zones' community officers work days only).
Office hours are Monday to Friday 08:30–17:30.

``roster(before, org)`` is pure and deterministic; ``duty_at`` gives each person's duty
status at a time (people drawn on leave or in training stay so), which the org bundle carries so
that a load and the roster agree.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from qingzhi.demo.organisation import SQUAD_CODES, Organisation
from qingzhi.demo.reference import BUREAU_CODE, LOCAL_TZ
from qingzhi.demo.roster import Person
from qingzhi.duty.rota import WEEKDAYS_PHASE, Pattern
from qingzhi.duty.service import RosterSpec, ShiftSpec
from qingzhi.org.enums import DutyStatus, OfficerKind, Team, UnitKind

log = logging.getLogger(__name__)

DAY = Pattern(8 * 60, 20 * 60, cycle_days=3, on_days=2)  # 白班，上二休一
NIGHT = Pattern(20 * 60, 8 * 60, cycle_days=2, on_days=1)  # 夜班，隔夜一班
OFFICE = Pattern(8 * 60 + 30, 17 * 60 + 30, cycle_days=7, on_days=5)  # 周一至周五
DUTY_NIGHT = Pattern(20 * 60, 8 * 60, cycle_days=3, on_days=1)  # 值班刑警，三天一夜
NIGHT_SHARE = 0.33
CC_DESK_SHARE = 2 / 3  # of the command centre: desks around the clock
XZ_NIGHT_SHARE = 0.15  # of detectives: the night duty rota
STREET_TEAMS = (Team.command, Team.community)
KINDS = {
    "D": ("白班", DAY),
    "N": ("夜班", NIGHT),
    "O": ("内勤（工作日）", OFFICE),
    "V": ("夜间值班", DUTY_NIGHT),
}


@dataclass(frozen=True)
class Roster:
    """The shifts and roster rows of one organisation."""

    shifts: tuple[ShiftSpec, ...]
    rows: tuple[RosterSpec, ...]

    def duty_at(self, people: Sequence[Person], at: dt.datetime | None) -> dict[str, DutyStatus]:
        """Each person's duty status at ``at`` (None: off duty unless on leave or training)."""
        shifts = {s.code: s for s in self.shifts}
        rows = {r.police_number: r for r in self.rows}
        local = at.astimezone(LOCAL_TZ) if at is not None else None
        out: dict[str, DutyStatus] = {}
        for p in people:
            if p.duty in (DutyStatus.leave, DutyStatus.training):
                out[p.number] = p.duty
                continue
            r = rows.get(p.number)
            on = (
                local is not None
                and r is not None
                and shifts[r.shift].pattern.on_duty(local, r.phase)
            )
            out[p.number] = DutyStatus.on_duty if on else DutyStatus.off_duty
        return out


def _spread(people: list[Person], n: int) -> set[str]:
    """``n`` of ``people`` evenly spread over the list (so sworn and auxiliaries mix)."""
    if n <= 0 or not people:
        return set()
    step = len(people) / n
    return {people[int(i * step)].number for i in range(min(n, len(people)))}


def _put(
    shifts: list[ShiftSpec],
    rows: list[RosterSpec],
    used: set[str],
    unit: str,
    group: list[Person],
    key: str,
    street: bool,
) -> None:
    """``group`` of ``unit`` on its shift ``key`` (created once), phases staggered."""
    if not group:
        return
    name, pattern = KINDS[key]
    code = f"{unit}-{key}"
    if code not in used:
        used.add(code)
        label = "街面" if street else "内勤"
        shifts.append(ShiftSpec(code, f"{name}（{label}）", unit, pattern, street, synthetic=True))
    # Phases staggered over the people at work first, so that leave does not empty a night.
    absent = (DutyStatus.leave, DutyStatus.training)
    for i, p in enumerate(sorted(group, key=lambda p: p.duty in absent)):
        phase = WEEKDAYS_PHASE if key == "O" else i % pattern.cycle_days
        rows.append(RosterSpec(p.number, code, phase))


def roster(before: Organisation, org: Organisation) -> Roster:
    """The duty roster of ``org`` (``before``: the pre-reform organisation of the same people,
    which tells who came from the rural traffic squads)."""
    squad_sworn = {
        p.number for p in before.people if p.unit in SQUAD_CODES and p.kind == OfficerKind.sworn
    }
    kinds = {u.code: u.kind for u in org.units}
    by_unit: dict[str, list[Person]] = {}
    for p in sorted(org.people, key=lambda p: p.number):
        by_unit.setdefault(p.unit, []).append(p)
    shifts: list[ShiftSpec] = []
    rows: list[RosterSpec] = []
    for unit in sorted(by_unit):
        people = by_unit[unit]
        kind = kinds[unit]
        used: set[str] = set()

        def put(
            group: list[Person], key: str, street: bool, unit: str = unit, used: set[str] = used
        ) -> None:
            _put(shifts, rows, used, unit, group, key, street)

        if kind.is_station or kind in (UnitKind.central_station, UnitKind.traffic_squad):
            street = [
                p
                for p in people
                if kind == UnitKind.traffic_squad
                or p.team in STREET_TEAMS
                or p.number in squad_sworn
            ]
            office = [p for p in people if p not in street]
            free = [p for p in street if p.zone is None] or street
            night = _spread(free, round(NIGHT_SHARE * len(street)))
            put([p for p in street if p.number not in night], "D", True)
            put([p for p in street if p.number in night], "N", True)
            put(office, "O", False)
        elif unit == BUREAU_CODE + "QZ":
            desk = _spread(people, round(CC_DESK_SHARE * len(people)))
            desks = [p for p in people if p.number in desk]
            night = _spread(desks, round(NIGHT_SHARE * len(desks)))
            put([p for p in desks if p.number not in night], "D", False)
            put([p for p in desks if p.number in night], "N", False)
            put([p for p in people if p.number not in desk], "O", False)
        else:  # criminal investigation and any other headquarters unit
            night = _spread(people, round(XZ_NIGHT_SHARE * len(people)))
            put([p for p in people if p.number in night], "V", False)
            put([p for p in people if p.number not in night], "O", False)
    return Roster(tuple(shifts), tuple(rows))
