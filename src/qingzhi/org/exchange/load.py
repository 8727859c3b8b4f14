"""The org bundle's import: parse and validate every row, resolve its references, check its
bundles (捆绑运行), then upsert by code and police number with an audit record for each change.

All or nothing: any problem refuses the whole import, each problem listed (file, row, field,
reason), before anything is written.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import RowError, ValidationFailed, rows_failed
from qingzhi.org.exchange.files import BUREAU, OFFICERS, UNITS, ZONES
from qingzhi.org.exchange.rows import Bundle, Row
from qingzhi.org.models import Bureau, Officer, Unit, Zone
from qingzhi.org.schemas import OfficerImport, UnitImport, ZoneImport
from qingzhi.org.service import (
    bureau_snapshot,
    check_bundle,
    officer_snapshot,
    unit_snapshot,
    zone_snapshot,
)

log = logging.getLogger(__name__)

UNIT_FIELDS = ("name", "kind", "population", "traffic_integrated", "service_window", "synthetic")
ZONE_FIELDS = ("name", "population", "synthetic")
OFFICER_FIELDS = ("name", "kind", "team", "duty_status", "active", "synthetic")
E = TypeVar("E", Bureau, Unit, Zone, Officer)
KINDS = ("bureau", "unit", "zone", "officer")


@dataclass
class ImportReport:
    """What an import did."""

    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    unchanged: int = 0


def import_bundle(*, session: Session, actor: Actor, bundle: Bundle) -> ImportReport:
    """Check the parsed bundle (``parse_bundle``, which callers run before they open the write
    transaction) against the store, then upsert bureau, units, bundles, zones and officers."""
    actor.require(Perm.org_write)
    if not actor.scope.whole_bureau:
        raise ValidationFailed.field("bundle", "只有全局权限的用户可以导入组织机构")
    now = _Current.read(session)
    problems = bundle.problems + _references(bundle, now)
    if not problems:  # every row valid, every reference resolved: the bundles as they will be
        problems = _bundles(bundle, now)
    if problems:
        raise rows_failed(problems)
    return _write(session, actor, bundle, now)


@dataclass
class _Current:
    """The organisation as the database holds it before the import."""

    bureau: Bureau | None
    units: dict[str, Unit]
    zones: dict[str, Zone]
    codes: dict[int, str]

    @classmethod
    def read(cls, session: Session) -> _Current:
        """The bureau, and the units and zones by code."""
        bureau = session.execute(select(Bureau).order_by(Bureau.id).limit(1)).scalar_one_or_none()
        units = {u.code: u for u in session.execute(select(Unit)).scalars()}
        zones = {z.code: z for z in session.execute(select(Zone)).scalars()}
        return cls(bureau, units, zones, {u.id: code for code, u in units.items()})

    def code_of(self, unit_id: int | None) -> str | None:
        """The code of an existing unit (None for none)."""
        return None if unit_id is None else self.codes.get(unit_id)


# ---------------------------------------------------------------- references


def _references(bundle: Bundle, now: _Current) -> list[RowError]:
    """Each row's references to other rows (or to the database) that do not hold."""
    out: list[RowError] = []
    bad_bureau = any(p.file == BUREAU for p in bundle.problems)
    if bundle.bureau is None and now.bureau is None and not bad_bureau:
        out.append(RowError(BUREAU, None, "file", "库中尚无公安局，导入包须含 bureau.json"))
    codes = set(now.units) | bundle.unit_codes
    for u in bundle.units:
        if u.data.central and u.data.central not in codes:
            out.append(RowError(UNITS, u.line, "central", f"中心派出所 {u.data.central} 不存在"))
    return out + _zone_references(bundle, now, codes) + _officer_references(bundle, now, codes)


def _zone_references(bundle: Bundle, now: _Current, codes: set[str]) -> list[RowError]:
    """A zone's station must exist and be a station (派出所), as the API requires."""
    kinds = {code: unit.kind for code, unit in now.units.items()}
    kinds.update({u.data.code: u.data.kind for u in bundle.units})
    out = []
    for z in bundle.zones:
        station = z.data.station
        if station not in codes:
            out.append(RowError(ZONES, z.line, "station", f"派出所 {station!r} 不存在"))
        elif station in kinds and not kinds[station].is_station:
            out.append(RowError(ZONES, z.line, "station", f"{station} 不是派出所，不能设片区"))
    return out


def _officer_references(bundle: Bundle, now: _Current, codes: set[str]) -> list[RowError]:
    """An officer's unit must exist, and their zone belong to it, as the API requires."""
    stations = {code: now.code_of(zone.station_id) for code, zone in now.zones.items()}
    stations.update(bundle.zone_stations)
    out = []
    for o in bundle.officers:
        unit, zone = o.data.unit, o.data.zone
        if unit not in codes:
            out.append(RowError(OFFICERS, o.line, "unit", f"单位 {unit!r} 不存在"))
        if zone and stations.get(zone) != unit:
            out.append(RowError(OFFICERS, o.line, "zone", f"片区 {zone} 不存在或不属于 {unit}"))
    return out


# ---------------------------------------------------------------- bundles


def _planned(bundle: Bundle, now: _Current) -> dict[str, Unit]:
    """Every unit as it will be after the import, as transient rows (never added to the
    session) for the org service's bundle rule."""
    plan: dict[str, Unit] = {}
    central: dict[str, str | None] = {}
    for u in now.units.values():
        plan[u.code] = Unit(code=u.code, name=u.name, kind=u.kind, jurisdiction=u.jurisdiction)
        central[u.code] = now.code_of(u.central_id)
    for row in bundle.units:
        d = row.data
        plan[d.code] = Unit(code=d.code, name=d.name, kind=d.kind, jurisdiction=row.area)
        central[d.code] = d.central
    for number, unit in enumerate(plan.values(), start=1):
        unit.id = number
    for code, of in central.items():
        plan[code].central_id = plan[of].id if of else None
    return plan


def _bundles(bundle: Bundle, now: _Current) -> list[RowError]:
    """Each central station whose members after the import break the bundle rule."""
    plan = _planned(bundle, now)
    by_id = {unit.id: unit for unit in plan.values()}
    members: dict[int, list[Unit]] = defaultdict(list)
    for unit in plan.values():
        if unit.central_id is not None:
            members[unit.central_id].append(unit)
    lines = {u.data.code: u.line for u in bundle.units}
    out: list[RowError] = []
    for central_id, group in members.items():
        central = by_id[central_id]
        try:
            check_bundle(central, group, field="central")
        except ValidationFailed as exc:
            problem = f"{central.code}：{exc.reason}"
            out.append(RowError(UNITS, lines.get(central.code), "central", problem))
    return out


# ---------------------------------------------------------------- the upsert


@dataclass(frozen=True)
class _Kind(Generic[E]):
    """How one kind of row is upserted: its name in the audit trail, its key, the fields set
    from the bundle's row, its audited snapshot and the unit its audit record is filed under."""

    name: str
    key: str
    fields: tuple[str, ...]
    snapshot: Callable[[E], dict[str, Any]]
    unit_of: Callable[[E], int | None]


BUREAU_KIND = _Kind[Bureau](
    "bureau", "code", ("code", "name", "population", "synthetic"), bureau_snapshot, lambda b: None
)
UNIT = _Kind[Unit]("unit", "code", UNIT_FIELDS, unit_snapshot, lambda u: u.id)
ZONE = _Kind[Zone]("zone", "code", ZONE_FIELDS, zone_snapshot, lambda z: z.station_id)
OFFICER = _Kind[Officer](
    "officer", "police_number", OFFICER_FIELDS, officer_snapshot, lambda o: o.unit_id
)


@dataclass
class _Ledger:
    """The import's counts and the audit records of what it changed."""

    report: ImportReport = field(default_factory=ImportReport)
    changes: list[audit.Change] = field(default_factory=list)

    def note(self, kind: _Kind[E], touched: list[tuple[E, dict[str, Any] | None]]) -> None:
        """Count the imported rows and queue an audit record for each that changed."""
        for entity, before in touched:
            after = kind.snapshot(entity)
            if before is None:
                self.report.created[kind.name] += 1
            elif before != after:
                self.report.updated[kind.name] += 1
            else:
                self.report.unchanged += 1
                continue
            action, unit_id = f"{kind.name}.import", kind.unit_of(entity)
            self.changes.append(audit.Change(action, kind.name, entity.id, unit_id, before, after))


def _upsert(
    session: Session,
    kind: _Kind[E],
    rows: Sequence[Row[Any]],
    found: dict[str, E],
    make: Callable[..., E],
    place: Callable[[E, Any], None],
) -> list[tuple[E, dict[str, Any] | None]]:
    """Each row's entity (found by its key, else made and added) with its fields set and
    ``place`` run on it; flushed. Each with its audited fields before (None when new)."""
    touched = []
    for row in rows:
        key = getattr(row.data, kind.key)
        entity = found.get(key)
        before = kind.snapshot(entity) if entity is not None else None
        if entity is None:
            entity = found[key] = make(**{kind.key: key})
            session.add(entity)
        for name in kind.fields:
            setattr(entity, name, getattr(row.data, name))
        place(entity, row)
        touched.append((entity, before))
    session.flush()
    return touched


def _write(session: Session, actor: Actor, bundle: Bundle, now: _Current) -> ImportReport:
    ledger = _Ledger()
    bureau = _write_bureau(session, bundle, now.bureau, ledger)
    _write_units(session, bureau, bundle.units, now.units, ledger)
    _write_zones(session, bundle.zones, now, ledger)
    _write_officers(session, bundle.officers, now, ledger)
    audit.record_many(session=session, actor=actor, changes=ledger.changes)
    return ledger.report


def _write_bureau(
    session: Session, bundle: Bundle, bureau: Bureau | None, ledger: _Ledger
) -> Bureau:
    row = bundle.bureau
    if row is not None:
        before = bureau_snapshot(bureau) if bureau is not None else None
        if bureau is None:
            bureau = Bureau(code=row.data.code, name=row.data.name)
            session.add(bureau)
        for name in ("code", "name", "population", "synthetic"):
            setattr(bureau, name, getattr(row.data, name))
        bureau.boundary = row.area
        session.flush()
        ledger.note(BUREAU_KIND, [(bureau, before)])
    assert bureau is not None  # checked with the references
    return bureau


def _write_units(
    session: Session,
    bureau: Bureau,
    rows: list[Row[UnitImport]],
    units: dict[str, Unit],
    ledger: _Ledger,
) -> None:
    def place(unit: Unit, row: Row[UnitImport]) -> None:
        unit.jurisdiction = row.area

    touched = _upsert(session, UNIT, rows, units, partial(Unit, bureau_id=bureau.id), place)
    for row in rows:  # the new units have their ids now
        central = row.data.central
        units[row.data.code].central_id = units[central].id if central else None
    session.flush()
    ledger.note(UNIT, touched)


def _write_zones(
    session: Session, rows: list[Row[ZoneImport]], now: _Current, ledger: _Ledger
) -> None:
    def place(zone: Zone, row: Row[ZoneImport]) -> None:
        zone.geometry, zone.station_id = row.area, now.units[row.data.station].id

    ledger.note(ZONE, _upsert(session, ZONE, rows, now.zones, Zone, place))


def _write_officers(
    session: Session, rows: list[Row[OfficerImport]], now: _Current, ledger: _Ledger
) -> None:
    def place(officer: Officer, row: Row[OfficerImport]) -> None:
        officer.unit_id = now.units[row.data.unit].id
        officer.zone_id = now.zones[row.data.zone].id if row.data.zone else None

    officers = {o.police_number: o for o in session.execute(select(Officer)).scalars()}
    ledger.note(OFFICER, _upsert(session, OFFICER, rows, officers, Officer, place))
