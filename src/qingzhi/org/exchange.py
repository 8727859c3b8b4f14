"""Import and export of the organisation as a folder or zip of GeoJSON and CSV files.

The bundle holds ``bureau.json`` (code, name, population, boundary geometry), ``units.geojson``
(one Feature per unit; properties code, name, kind, central, population, traffic_integrated,
service_window, synthetic; geometry = jurisdiction or null), ``zones.geojson`` (code, name,
station, population, synthetic) and ``officers.csv`` (police_number, name, kind, unit, team, zone,
duty_status, active, synthetic). Import upserts by code and police number. Every row is checked
before anything is written; any bad row fails the whole import with each problem listed (file,
row, field, reason), so nothing is half-imported.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import QingzhiError, ValidationFailed
from qingzhi.geo.geometry import parse_area, to_geojson_text
from qingzhi.org import scope as org_scope
from qingzhi.org.enums import DutyStatus, OfficerKind, Team, UnitKind
from qingzhi.org.models import Bureau, Officer, Unit, Zone
from qingzhi.org.service import check_bundle, officer_snapshot, unit_snapshot, zone_snapshot
from qingzhi.params import any_control, has_control

log = logging.getLogger(__name__)

FILES = ("bureau.json", "units.geojson", "zones.geojson", "officers.csv")
OFFICER_COLUMNS = [
    "police_number",
    "name",
    "kind",
    "unit",
    "team",
    "zone",
    "duty_status",
    "active",
    "synthetic",
]
_TRUE = {"1", "true", "yes", "y", "是", "t"}
_FALSE = {"0", "false", "no", "n", "否", "f", ""}


@dataclass
class ImportReport:
    """What an import did."""

    created: dict[str, int] = field(default_factory=lambda: {"unit": 0, "zone": 0, "officer": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"unit": 0, "zone": 0, "officer": 0})
    unchanged: int = 0


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, file: str, row: int | None, fld: str, message: str) -> None:
        self.items.append({"file": file, "row": row, "field": fld, "message": message})

    def raise_if_any(self) -> None:
        if self.items:
            first = self.items[0]
            where = f" 第{first['row']}行" if first["row"] is not None else ""
            raise ValidationFailed(
                f"导入文件有 {len(self.items)} 处错误，未导入任何数据；首个错误："
                f"{first['file']}{where} {first['field']}：{first['message']}",
                details=self.items,
            )


MAX_MEMBERS = 20  # entries in a zip bundle (it needs four)
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one file, uncompressed
MAX_BUNDLE_BYTES = 128 * 1024 * 1024  # all files, uncompressed
_CHUNK = 1024 * 1024


def _too_big(name: str, limit: int) -> ValidationFailed:
    return ValidationFailed.field("bundle", f"{name} 解压后超过 {limit // (1024 * 1024)} MB")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """One member, read in chunks and counted as it inflates (a header's size can lie)."""
    limit = min(MAX_MEMBER_BYTES, budget)
    parts: list[bytes] = []
    size = 0
    with zf.open(info) as member:
        while chunk := member.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                which = info.filename if limit == MAX_MEMBER_BYTES else "导入包"
                raise _too_big(which, limit if limit == MAX_MEMBER_BYTES else MAX_BUNDLE_BYTES)
            parts.append(chunk)
    return b"".join(parts)


def _read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ValidationFailed.field("bundle", f"zip 内文件过多（最多 {MAX_MEMBERS} 个）")
        wanted: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
            if info.is_dir() or name not in FILES:
                continue
            if name in wanted:
                raise ValidationFailed.field("bundle", f"zip 内有多个 {name}")
            if info.flag_bits & 0x1:
                raise ValidationFailed.field("bundle", f"{name} 已加密，无法读取")
            wanted[name] = info
        # Refuse early by the declared sizes, then count the real bytes while inflating.
        declared = sum(info.file_size for info in wanted.values())
        if declared > MAX_BUNDLE_BYTES:
            raise _too_big("导入包", MAX_BUNDLE_BYTES)
        out: dict[str, bytes] = {}
        budget = MAX_BUNDLE_BYTES
        for name in FILES:
            if name in wanted:
                if wanted[name].file_size > MAX_MEMBER_BYTES:
                    raise _too_big(name, MAX_MEMBER_BYTES)
                out[name] = _read_member(zf, wanted[name], budget)
                budget -= len(out[name])
        return out


def read_bundle(source: Path | bytes) -> dict[str, bytes]:
    """The bundle's files from a folder, a zip file path or zip bytes; a zip may hold at most
    ``MAX_MEMBERS`` entries and inflate to at most ``MAX_MEMBER_BYTES`` a file and
    ``MAX_BUNDLE_BYTES`` in all (counted while inflating, not taken from its headers)."""
    if isinstance(source, Path) and source.is_dir():
        out: dict[str, bytes] = {}
        for name in FILES:
            path = source / name
            if path.exists():
                if path.stat().st_size > MAX_MEMBER_BYTES:
                    raise _too_big(name, MAX_MEMBER_BYTES)
                out[name] = path.read_bytes()
        return out
    try:
        data = source.read_bytes() if isinstance(source, Path) else source
        return _read_zip(data)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error) as exc:
        raise ValidationFailed.field("bundle", f"不是文件夹或 zip 文件：{exc}") from None
    except NotImplementedError as exc:  # an unsupported compression method
        raise ValidationFailed.field("bundle", f"zip 压缩方式不受支持：{exc}") from None


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return default if text == "" else False
    raise ValueError(f"不是布尔值：{value!r}")


def _load_json(raw: bytes) -> Any:
    """A bundle file's JSON; ValueError when it is not UTF-8 JSON, nests too deeply or holds
    control characters (NUL) in its text."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ValueError("JSON 嵌套过深") from None
    if any_control(doc):
        raise ValueError("文本含有控制字符（如 NUL）")
    return doc


def _features(raw: bytes, name: str, problems: _Problems) -> list[dict[str, Any]]:
    try:
        doc = _load_json(raw)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        problems.add(name, None, "file", f"不是合法的 UTF-8 GeoJSON：{exc}")
        return []
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        problems.add(name, None, "file", "须为 GeoJSON FeatureCollection")
        return []
    feats = doc.get("features")
    if not isinstance(feats, list):
        problems.add(name, None, "features", "须为 Feature 列表")
        return []
    return feats


def _properties(feat: Any, name: str, row: int, problems: _Problems) -> dict[str, Any] | None:
    """A feature's properties, or None (with a problem noted) when it is not a JSON object."""
    if not isinstance(feat, dict):
        problems.add(name, row, "feature", "须为 GeoJSON Feature 对象")
        return None
    props = feat.get("properties")
    if props is None:
        return {}
    if not isinstance(props, dict):
        problems.add(name, row, "properties", "须为 JSON 对象")
        return None
    return props


def _text(props: Mapping[str, Any], key: str) -> str:
    value = props.get(key)
    return "" if value is None else str(value).strip()


def _population(value: Any) -> int | None:
    if value in (None, ""):
        return None
    n = int(value)
    if n < 0:
        raise ValueError("人口不能为负")
    return n


def import_bundle(*, session: Session, actor: Actor, files: Mapping[str, bytes]) -> ImportReport:
    """Validate the whole bundle, then upsert bureau, units, bundles, zones and officers."""
    actor.require(Perm.org_write)
    if not actor.scope.whole_bureau:
        raise ValidationFailed.field("bundle", "只有全局权限的用户可以导入组织机构")
    problems = _Problems()
    report = ImportReport()

    # ---- bureau
    bureau = session.execute(select(Bureau).order_by(Bureau.id).limit(1)).scalar_one_or_none()
    if "bureau.json" in files:
        try:
            b = _load_json(files["bureau.json"])
            if not isinstance(b, dict):
                raise ValueError("须为 JSON 对象")
            boundary = b.get("boundary")
            boundary_text = to_geojson_text(parse_area(boundary, "boundary")) if boundary else None
            if bureau is None:
                bureau = Bureau(code=str(b["code"]), name=str(b["name"]))
                session.add(bureau)
            bureau.code, bureau.name = str(b["code"]), str(b["name"])
            bureau.population = _population(b.get("population"))
            bureau.boundary = boundary_text
            bureau.synthetic = _bool(b.get("synthetic"), False)
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, ValueError) as exc:
            problems.add("bureau.json", None, "file", f"格式错误：{exc}")
        except QingzhiError as exc:
            problems.add("bureau.json", None, "boundary", exc.message)
    if bureau is None:
        problems.add("bureau.json", None, "file", "库中尚无公安局，导入包须含 bureau.json")
    problems.raise_if_any()
    assert bureau is not None
    session.flush()

    # ---- units (validated into plain dicts first)
    existing_units = {u.code: u for u in session.execute(select(Unit)).scalars()}
    unit_rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, feat in enumerate(
        _features(
            files.get("units.geojson", b'{"type":"FeatureCollection","features":[]}'),
            "units.geojson",
            problems,
        ),
        start=1,
    ):
        props = _properties(feat, "units.geojson", i, problems)
        if props is None:
            continue
        code = _text(props, "code")
        if not code:
            problems.add("units.geojson", i, "code", "缺少单位代码")
            continue
        if code in seen:
            problems.add("units.geojson", i, "code", f"单位代码 {code} 重复")
            continue
        seen.add(code)
        row: dict[str, Any] = {
            "code": code,
            "name": _text(props, "name"),
            "central": _text(props, "central"),
        }
        if not row["name"]:
            problems.add("units.geojson", i, "name", "缺少单位名称")
        try:
            row["kind"] = UnitKind(_text(props, "kind"))
        except ValueError:
            problems.add("units.geojson", i, "kind", f"未知单位类型 {_text(props, 'kind')!r}")
            continue
        for key, default in (
            ("traffic_integrated", False),
            ("service_window", True),
            ("synthetic", False),
        ):
            try:
                row[key] = _bool(props.get(key), default)
            except ValueError as exc:
                problems.add("units.geojson", i, key, str(exc))
        try:
            row["population"] = _population(props.get("population"))
        except ValueError as exc:
            problems.add("units.geojson", i, "population", str(exc))
        row["jurisdiction"] = None
        if feat.get("geometry"):
            try:
                row["jurisdiction"] = to_geojson_text(parse_area(feat["geometry"], "geometry"))
            except QingzhiError as exc:
                problems.add("units.geojson", i, "geometry", exc.message)
        row["_line"] = i
        unit_rows.append(row)
    all_codes = set(existing_units) | seen
    unit_kinds = {code: u.kind for code, u in existing_units.items()}
    unit_kinds.update({row["code"]: row["kind"] for row in unit_rows})
    for row in unit_rows:
        if row["central"] and row["central"] not in all_codes:
            problems.add(
                "units.geojson", row["_line"], "central", f"中心派出所 {row['central']} 不存在"
            )

    # ---- zones
    zone_rows: list[dict[str, Any]] = []
    existing_zones = {z.code: z for z in session.execute(select(Zone)).scalars()}
    zseen: set[str] = set()
    for i, feat in enumerate(
        _features(
            files.get("zones.geojson", b'{"type":"FeatureCollection","features":[]}'),
            "zones.geojson",
            problems,
        ),
        start=1,
    ):
        props = _properties(feat, "zones.geojson", i, problems)
        if props is None:
            continue
        code, station = _text(props, "code"), _text(props, "station")
        if not code or code in zseen:
            problems.add("zones.geojson", i, "code", "缺少或重复的片区代码")
            continue
        zseen.add(code)
        if station not in all_codes:
            problems.add("zones.geojson", i, "station", f"派出所 {station!r} 不存在")
        elif station in unit_kinds and not unit_kinds[station].is_station:
            problems.add("zones.geojson", i, "station", f"{station} 不是派出所，不能设片区")
        zrow: dict[str, Any] = {
            "code": code,
            "name": _text(props, "name") or code,
            "station": station,
        }
        try:
            zrow["population"] = _population(props.get("population"))
            zrow["synthetic"] = _bool(props.get("synthetic"), False)
        except ValueError as exc:
            problems.add("zones.geojson", i, "population", str(exc))
        zrow["geometry"] = None
        if feat.get("geometry"):
            try:
                zrow["geometry"] = to_geojson_text(parse_area(feat["geometry"], "geometry"))
            except QingzhiError as exc:
                problems.add("zones.geojson", i, "geometry", exc.message)
        zone_rows.append(zrow)

    # ---- officers
    officer_rows: list[dict[str, Any]] = []
    zone_station = {c: z.station.code for c, z in existing_zones.items()}
    zone_station.update({z["code"]: z["station"] for z in zone_rows})
    if "officers.csv" in files:
        try:
            text = files["officers.csv"].decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            problems.add("officers.csv", None, "file", f"不是 UTF-8 文本：{exc}")
            text = ""
        if has_control(text):
            problems.add("officers.csv", None, "file", "含有控制字符（如 NUL）")
            text = ""
        reader = csv.DictReader(io.StringIO(text))
        missing = [
            c
            for c in ("police_number", "name", "kind", "unit")
            if c not in (reader.fieldnames or [])
        ]
        if text and missing:
            problems.add("officers.csv", 1, ",".join(missing), "缺少必需的列")
        else:
            pseen: set[str] = set()
            for line, rec in enumerate(reader, start=2):
                number = (rec.get("police_number") or "").strip()
                if not number or number in pseen:
                    problems.add("officers.csv", line, "police_number", "缺少或重复的警号")
                    continue
                pseen.add(number)
                orow: dict[str, Any] = {
                    "police_number": number,
                    "name": (rec.get("name") or "").strip(),
                }
                if not orow["name"]:
                    problems.add("officers.csv", line, "name", "缺少姓名")
                orow["unit"] = (rec.get("unit") or "").strip()
                if orow["unit"] not in all_codes:
                    problems.add("officers.csv", line, "unit", f"单位 {orow['unit']!r} 不存在")
                try:
                    orow["kind"] = OfficerKind((rec.get("kind") or "").strip())
                    team = (rec.get("team") or "").strip()
                    orow["team"] = Team(team) if team else None
                    orow["duty_status"] = DutyStatus((rec.get("duty_status") or "off_duty").strip())
                    orow["active"] = _bool(rec.get("active"), True)
                    orow["synthetic"] = _bool(rec.get("synthetic"), False)
                except ValueError as exc:
                    problems.add("officers.csv", line, "kind/team/duty_status", str(exc))
                zone = (rec.get("zone") or "").strip()
                if zone and zone_station.get(zone) != orow["unit"]:
                    problems.add(
                        "officers.csv", line, "zone", f"片区 {zone} 不存在或不属于 {orow['unit']}"
                    )
                orow["zone"] = zone or None
                officer_rows.append(orow)
    problems.raise_if_any()

    # ---- write: units, then bundles, then zones, then officers
    units = dict(existing_units)
    for row in unit_rows:
        unit = units.get(row["code"])
        before = unit_snapshot(unit) if unit else None
        if unit is None:
            unit = Unit(bureau_id=bureau.id, code=row["code"])
            session.add(unit)
            units[row["code"]] = unit
        for key in (
            "name",
            "kind",
            "population",
            "jurisdiction",
            "traffic_integrated",
            "service_window",
            "synthetic",
        ):
            setattr(unit, key, row[key])
        row["_unit"], row["_before"] = unit, before
    session.flush()
    for row in unit_rows:
        row["_unit"].central_id = units[row["central"]].id if row["central"] else None
    session.flush()
    for central in {u.central_id for u in units.values() if u.central_id is not None}:
        c = session.get(Unit, central)
        assert c is not None
        members = [u for u in units.values() if u.central_id == central]
        try:
            check_bundle(c, members, field="central")
        except ValidationFailed as exc:
            problems.add("units.geojson", None, "central", f"{c.code}：{exc.message}")
    problems.raise_if_any()
    changes: list[audit.Change] = []

    def note(kind: str, entity_id: int, unit_id: int | None, before: Any, after: Any) -> None:
        """Count one imported entity and, when it changed, queue its audit record."""
        if before is None:
            report.created[kind] += 1
        elif before != after:
            report.updated[kind] += 1
        else:
            report.unchanged += 1
            return
        changes.append(audit.Change(f"{kind}.import", kind, entity_id, unit_id, before, after))

    for row in unit_rows:
        unit = row["_unit"]
        note("unit", unit.id, unit.id, row["_before"], unit_snapshot(unit))

    zones = dict(existing_zones)
    touched_zones: list[tuple[Zone, Any]] = []
    for zrow in zone_rows:
        zone = zones.get(zrow["code"])
        before = zone_snapshot(zone) if zone else None
        if zone is None:
            zone = Zone(code=zrow["code"])
            session.add(zone)
            zones[zrow["code"]] = zone
        zone.name, zone.population, zone.geometry = (
            zrow["name"],
            zrow.get("population"),
            zrow["geometry"],
        )
        zone.station_id, zone.synthetic = units[zrow["station"]].id, zrow.get("synthetic", False)
        touched_zones.append((zone, before))
    session.flush()
    for zone, before in touched_zones:
        note("zone", zone.id, zone.station_id, before, zone_snapshot(zone))

    officers = {o.police_number: o for o in session.execute(select(Officer)).scalars()}
    touched_officers: list[tuple[Officer, Any]] = []
    for orow in officer_rows:
        officer = officers.get(orow["police_number"])
        before = officer_snapshot(officer) if officer else None
        if officer is None:
            officer = Officer(police_number=orow["police_number"])
            session.add(officer)
        officer.name, officer.kind, officer.team = orow["name"], orow["kind"], orow["team"]
        officer.unit_id = units[orow["unit"]].id
        officer.zone_id = zones[orow["zone"]].id if orow["zone"] else None
        officer.duty_status, officer.active = orow["duty_status"], orow["active"]
        officer.synthetic = orow["synthetic"]
        touched_officers.append((officer, before))
    session.flush()
    for officer, before in touched_officers:
        note("officer", officer.id, officer.unit_id, before, officer_snapshot(officer))
    audit.record_many(session=session, actor=actor, changes=changes)
    return report


def export_bundle(*, session: Session, actor: Actor) -> dict[str, bytes]:
    """The organisation in the caller's scope as the bundle's files."""
    actor.require(Perm.org_read)
    actor.require(Perm.officer_read)
    bureau = session.execute(select(Bureau).order_by(Bureau.id).limit(1)).scalar_one_or_none()
    units = list(
        session.execute(org_scope.units(select(Unit), actor).order_by(Unit.code)).scalars()
    )
    codes = {u.id: u.code for u in session.execute(select(Unit)).scalars()}
    zones = list(
        session.execute(org_scope.zones(select(Zone), actor).order_by(Zone.code)).scalars()
    )
    zone_codes = {z.id: z.code for z in zones}
    officers = list(
        session.execute(
            org_scope.officers(select(Officer), actor).order_by(Officer.police_number)
        ).scalars()
    )

    def geometry(text: str | None) -> Any:
        return json.loads(text) if text else None

    out: dict[str, bytes] = {}
    if bureau is not None:
        out["bureau.json"] = _json(
            {
                "code": bureau.code,
                "name": bureau.name,
                "population": bureau.population if actor.scope.whole_bureau else None,
                "boundary": geometry(bureau.boundary),
                "synthetic": bureau.synthetic,
            }
        )
    out["units.geojson"] = _json(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": geometry(u.jurisdiction),
                    "properties": {
                        "code": u.code,
                        "name": u.name,
                        "kind": str(u.kind),
                        "central": codes.get(u.central_id) if u.central_id else None,
                        "population": u.population,
                        "traffic_integrated": u.traffic_integrated,
                        "service_window": u.service_window,
                        "synthetic": u.synthetic,
                    },
                }
                for u in units
            ],
        }
    )
    out["zones.geojson"] = _json(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": geometry(z.geometry),
                    "properties": {
                        "code": z.code,
                        "name": z.name,
                        "station": codes[z.station_id],
                        "population": z.population,
                        "synthetic": z.synthetic,
                    },
                }
                for z in zones
            ],
        }
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(OFFICER_COLUMNS)
    for o in officers:
        writer.writerow(
            [
                o.police_number,
                o.name,
                str(o.kind),
                codes[o.unit_id],
                str(o.team) if o.team else "",
                zone_codes.get(o.zone_id, "") if o.zone_id else "",
                str(o.duty_status),
                "true" if o.active else "false",
                "true" if o.synthetic else "false",
            ]
        )
    out["officers.csv"] = buf.getvalue().encode("utf-8")
    return out


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")


def zip_bundle(files: Mapping[str, bytes]) -> bytes:
    """The bundle's files as one zip archive."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def write_bundle(files: Mapping[str, bytes], target: Path) -> None:
    """Write the bundle's files to a folder, or a zip when ``target`` ends in .zip."""
    if target.suffix == ".zip":
        target.write_bytes(zip_bundle(files))
        return
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (target / name).write_bytes(data)
