"""Duty rosters: shifts kept as data, who is on duty at a time, and the roster applied.

The roster is the truth of who works when (``DutyShift`` + ``DutyRoster``, rule in
``qingzhi.duty.rota``). ``Officer.duty_status`` is what every screen, the live map and dispatch
read; ``apply`` brings it in line with the roster at a time (on duty while on a shift, off duty
otherwise), and is run at every shift change (the live simulator does it each minute; a
deployment runs ``qingzhi duty apply`` from cron). It leaves people on leave or in training as
they are, keeps an officer who is out on an incident on duty until they clear it (overtime), and
writes an ``officer.duty`` audit record for each officer it changes. Officers without a roster row
are left to their stored status (a bureau that keeps no shifts in qingzhi).

``street`` marks street duty: only officers with no roster row or on a street shift are dispatch
candidates (``dispatchable``) and moved on the map by the simulator; case teams, detectives and
the command centre's desks are on office duty.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, not_, or_, select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.duty.models import DutyRoster, DutyShift
from qingzhi.duty.rota import Pattern
from qingzhi.errors import ValidationFailed
from qingzhi.live.enums import LiveStatus
from qingzhi.live.models import OfficerLive
from qingzhi.org import scope as org_scope
from qingzhi.org.enums import DutyStatus
from qingzhi.org.models import Officer, Unit
from qingzhi.store.base import utcnow
from qingzhi.store.rows import snapshot

log = logging.getLogger(__name__)

ROSTERED = (DutyStatus.on_duty, DutyStatus.off_duty)  # the states the roster decides
BUSY = (LiveStatus.dispatched, LiveStatus.on_scene)


@dataclass(frozen=True)
class ShiftSpec:
    """A shift to keep: code, name, unit code, hours and cycle, street duty or not."""

    code: str
    name: str
    unit: str
    pattern: Pattern
    street: bool
    synthetic: bool = False


@dataclass(frozen=True)
class RosterSpec:
    """An officer (police number) on a shift (code) at a phase of its cycle."""

    police_number: str
    shift: str
    phase: int = 0


@dataclass
class RosterReport:
    """What keeping a roster changed."""

    shifts_created: int = 0
    shifts_updated: int = 0
    roster_created: int = 0
    roster_updated: int = 0


@dataclass
class ApplyReport:
    """What applying the roster at a time changed."""

    at: dt.datetime
    on: list[int] = field(default_factory=list)  # officers put on duty
    off: list[int] = field(default_factory=list)  # officers taken off duty
    overtime: list[int] = field(default_factory=list)  # due off, kept on while out on a call


_SHIFT_AUDITED = (
    "code",
    "name",
    "unit_id",
    "starts_min",
    "ends_min",
    "cycle_days",
    "on_days",
    "street",
    "synthetic",
)


def _shift_snapshot(s: DutyShift) -> dict[str, object]:
    return snapshot(s, _SHIFT_AUDITED)


def keep_roster(
    *,
    session: Session,
    actor: Actor,
    shifts: Sequence[ShiftSpec],
    roster: Sequence[RosterSpec],
) -> RosterReport:
    """Create or update shifts (by code) and roster rows (by police number); unchanged rows write
    nothing, not even an audit record."""
    actor.require(Perm.officer_write)
    report = RosterReport()
    units = {code: uid for uid, code in session.execute(select(Unit.id, Unit.code))}
    existing = {s.code: s for s in session.execute(select(DutyShift)).scalars()}
    changes: list[audit.Change] = []
    for spec in shifts:
        unit_id = units.get(spec.unit)
        if unit_id is None:
            raise ValidationFailed.field("unit", f"单位代码 {spec.unit} 不存在")
        p = spec.pattern
        row = existing.get(spec.code)
        before = _shift_snapshot(row) if row is not None else None
        if row is None:
            row = DutyShift(code=spec.code)
            session.add(row)
            existing[spec.code] = row
        row.name, row.unit_id, row.street, row.synthetic = (
            spec.name,
            unit_id,
            spec.street,
            spec.synthetic,
        )
        row.starts_min, row.ends_min = p.starts_min, p.ends_min
        row.cycle_days, row.on_days = p.cycle_days, p.on_days
        after = _shift_snapshot(row)
        if before != after:
            session.flush()
            report.shifts_created += before is None
            report.shifts_updated += before is not None
            changes.append(
                audit.Change(
                    "duty.shift" if before is None else "duty.shift_update",
                    "duty_shift",
                    row.id,
                    unit_id,
                    before,
                    after,
                )
            )
    session.flush()
    officers = {
        n: (oid, uid)
        for oid, n, uid in session.execute(
            select(Officer.id, Officer.police_number, Officer.unit_id)
        )
    }
    rows = {r.officer_id: r for r in session.execute(select(DutyRoster)).scalars()}
    for entry in roster:
        if entry.police_number not in officers:
            raise ValidationFailed.field("police_number", f"警号 {entry.police_number} 不存在")
        if entry.shift not in existing:
            raise ValidationFailed.field("shift", f"班次 {entry.shift} 不存在")
        oid, uid = officers[entry.police_number]
        shift = existing[entry.shift]
        r = rows.get(oid)
        before_r = None if r is None else {"shift_id": r.shift_id, "phase": r.phase}
        after_r = {"shift_id": shift.id, "phase": entry.phase % shift.cycle_days}
        if before_r == after_r:
            continue
        if r is None:
            r = DutyRoster(officer_id=oid, synthetic=shift.synthetic)
            session.add(r)
            rows[oid] = r
            report.roster_created += 1
        else:
            report.roster_updated += 1
        r.shift_id, r.phase = shift.id, after_r["phase"]
        changes.append(audit.Change("duty.roster", "officer", oid, uid, before_r, after_r))
    session.flush()
    audit.record_many(session=session, changes=changes, actor=actor)
    return report


def local_time(at: dt.datetime, tz: str) -> dt.datetime:
    """``at`` in the bureau's time zone."""
    return at.astimezone(ZoneInfo(tz))


def rostered(session: Session) -> list[tuple[int, int, Pattern, int, bool]]:
    """(officer id, unit id, pattern, phase, street) of every active rostered officer."""
    rows = session.execute(
        select(Officer.id, Officer.unit_id, DutyShift, DutyRoster.phase)
        .join(DutyRoster, DutyRoster.officer_id == Officer.id)
        .join(DutyShift, DutyShift.id == DutyRoster.shift_id)
        .where(Officer.active.is_(True))
        .order_by(Officer.id)
    )
    return [(oid, uid, s.pattern, phase, s.street) for oid, uid, s, phase in rows]


def apply(*, session: Session, actor: Actor, at: dt.datetime | None = None, tz: str) -> ApplyReport:
    """Set rostered officers on or off duty as their shifts say at ``at`` (default: now)."""
    actor.require(Perm.officer_write)
    at = at or utcnow()
    local = local_time(at, tz)
    due = {oid: p.on_duty(local, phase) for oid, _, p, phase, _ in rostered(session)}
    report = ApplyReport(at=at)
    if not due:
        return report
    # The officers' rows locked in id order (a concurrent apply waits, then reads what this one
    # left and changes nothing twice); who is out on a call read after the lock.
    officers = (
        session.execute(
            select(Officer)
            .where(Officer.id.in_(list(due)), Officer.duty_status.in_(list(ROSTERED)))
            .order_by(Officer.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        .scalars()
        .all()
    )
    busy = set(
        session.execute(
            select(OfficerLive.officer_id).where(OfficerLive.status.in_(list(BUSY)))
        ).scalars()
    )
    changes: list[audit.Change] = []
    for o in officers:
        want = DutyStatus.on_duty if due[o.id] else DutyStatus.off_duty
        if o.duty_status == want:
            continue
        if want == DutyStatus.off_duty and o.id in busy:
            report.overtime.append(o.id)
            continue
        before = str(o.duty_status)
        o.duty_status = want
        (report.on if want == DutyStatus.on_duty else report.off).append(o.id)
        changes.append(
            audit.Change(
                "officer.duty",
                "officer",
                o.id,
                o.unit_id,
                {"duty_status": before},
                {"duty_status": str(want), "by": "roster"},
            )
        )
    session.flush()
    audit.record_many(session=session, changes=changes, actor=actor)
    if changes:
        log.info("roster at %s: %d on, %d off", local, len(report.on), len(report.off))
    return report


def on_duty_by_hour(
    *, session: Session, actor: Actor, day: dt.date, tz: str, street: bool | None = None
) -> dict[int, list[int]]:
    """Officers the roster puts on duty at each local hour (:30) of ``day``, by unit in scope;
    people on leave or in training not counted. ``street`` narrows to street or office duty."""
    actor.require(Perm.officer_read)
    absent = set(
        session.execute(
            org_scope.officers(
                select(Officer.id).where(Officer.duty_status.not_in(list(ROSTERED))), actor
            )
        ).scalars()
    )
    zone = ZoneInfo(tz)
    hours = [dt.datetime.combine(day, dt.time(h, 30), zone) for h in range(24)]
    out: dict[int, list[int]] = {}
    for oid, uid, p, phase, on_street in rostered(session):
        if oid in absent or not actor.scope.admits(uid):
            continue
        if street is not None and on_street != street:
            continue
        counts = out.setdefault(uid, [0] * 24)
        for h, local in enumerate(hours):
            counts[h] += p.on_duty(local, phase)
    return out


def dispatchable() -> ColumnElement[bool]:
    """SQL on ``Officer``: may be sent to calls (no roster row, or on a street shift)."""
    on_roster = exists().where(DutyRoster.officer_id == Officer.id)
    street = exists().where(
        DutyRoster.officer_id == Officer.id,
        DutyShift.id == DutyRoster.shift_id,
        DutyShift.street.is_(True),
    )
    return or_(not_(on_roster), street)


def street_officers(session: Session, ids: Iterable[int]) -> set[int]:
    """Which of ``ids`` may be sent to calls."""
    wanted = list(ids)
    if not wanted:
        return set()
    return set(
        session.execute(select(Officer.id).where(Officer.id.in_(wanted), dispatchable())).scalars()
    )
