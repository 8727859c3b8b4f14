"""A CAD export as it comes (issue 16): the messy shape imported without preprocessing, and each
defect seen — unordered rows with repeats, 12-hour times without AM/PM, epoch and Excel times,
DST fall-back, bad bytes, misspelt columns and keys, short rows, placeholder points — caught,
reported per row, or resolved by a stated rule."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo import cad_export
from qingzhi.errors import ValidationFailed
from qingzhi.incidents import intake
from qingzhi.incidents.importer import ImportSummary, Mapping, check_file, import_file
from qingzhi.incidents.models import Incident
from qingzhi.org.models import Bureau
from qingzhi.store.db import Database
from tests.factories import Org, incident_item, inside, square
from tests.helpers import rows

CHICAGO = ZoneInfo("America/Chicago")
SHAPE = cad_export.Shape(107.0, 30.0, 107.2, 30.2, dt.date(2026, 10, 20), 20)


def _mapping(tmp_path: Path, text: str = cad_export.MAPPING, name: str = "m.toml") -> Mapping:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return Mapping.load(path)


def _ms(local: dt.datetime) -> str:
    return str(int(local.replace(tzinfo=CHICAGO).timestamp() * 1000))


def _row(ident: str, date: str, time: str, response: str, **over: str) -> list[str]:
    cells = dict(
        zip(
            cad_export.HEADER,
            [
                *(date, time, "100 MAIN ST", "78201", "Property Crime", "Theft", "NORTH", "N1"),
                *(ident, "30.05", "107.05", response),
            ],
            strict=True,
        )
    )
    cells.update(over)
    return [cells[h] for h in cad_export.HEADER]


def _import(db: Database, path: Path, mapping: Mapping, **kw: Any) -> ImportSummary:
    return import_file(
        db=db, actor=system_actor(), settings=Settings(), path=path, mapping=mapping, **kw
    )


def _incident(db: Database, source_id: str) -> Incident:
    with db.session() as s:
        inc = s.execute(select(Incident).where(Incident.source_id == source_id)).scalar_one()
        s.expunge(inc)
        return inc


def test_the_messy_export_imports_as_it_comes(db: Database, org: Org, tmp_path: Path) -> None:
    table = cad_export.rows(300, SHAPE, seed=3)
    hand = [
        # 9:05 without AM/PM: the response two minutes later says which (evening, morning)
        _row("PM1", "10/21/2026", " 9:05:00", _ms(dt.datetime(2026, 10, 21, 21, 7))),
        _row("AM1", "10/21/2026", " 9:05:00", _ms(dt.datetime(2026, 10, 21, 9, 6))),
        _row("EXP", "10/21/2026", "10:30:00 PM", _ms(dt.datetime(2026, 10, 21, 22, 40))),
        # the same matter at one place: the later call first in the file
        _row("R-LATE", "10/22/2026", "10:30:00", _ms(dt.datetime(2026, 10, 22, 10, 31))),
        _row("R-EARLY", "10/22/2026", "10:20:00", _ms(dt.datetime(2026, 10, 22, 10, 21))),
        # 1:30 on the fall-back night comes twice; the response at 1:40 CST says the second
        _row(
            "DST",
            "11/1/2026",
            " 1:30:00",
            str(int(dt.datetime(2026, 11, 1, 7, 40, tzinfo=dt.UTC).timestamp() * 1000)),
        ),
        _row("PH1", "10/23/2026", " 3:00:00 PM", "", LAT="0.00001", LON="-0.00001"),
        _row("PH2", "10/23/2026", " 3:00:00 PM", "", LAT="1", LON="-1"),
        _row("", "10/23/2026", " 3:00:00 PM", ""),  # no id
    ]
    path = tmp_path / "calls.csv"  # a plain .csv (defect 1)
    cad_export.write(path, hand + table, bad_byte_rows=(len(hand) + 5,))
    with path.open("ab") as fh:
        fh.write(b"10/23/2026, 4:00:00 PM,1 MAIN ST,78201,Traffic\r\n")  # a truncated last row
    summary = _import(db, path, _mapping(tmp_path))
    codes = {line: [e.type for e in r.errors] for line, r in summary.rejected.items()}
    # lines: the header is 1, the hand rows 2-10, the generated ones after
    assert codes[8] == ["placeholder_point"] and codes[9] == ["placeholder_point"]
    assert codes[10] == ["missing_id"]
    assert codes[len(hand) + 5 + 2] == ["bad_encoding"]
    assert codes[len(hand) + len(table) + 2] == ["short_row"]
    assert all(e.file == "calls.csv" for e in summary.errors)
    generated_bad = sum(1 for line in codes if len(hand) + 2 <= line < len(hand) + len(table) + 2)
    assert summary.created == len(hand) - 3 + len(table) - generated_bad
    assert not summary.in_order and summary.flags["clock12"] > 200

    def local(sid: str) -> dt.datetime:
        return _incident(db, f"SA-{sid}").received_at.astimezone(CHICAGO).replace(tzinfo=None)

    assert local("PM1") == dt.datetime(2026, 10, 21, 21, 5)
    assert local("AM1") == dt.datetime(2026, 10, 21, 9, 5)
    assert local("EXP") == dt.datetime(2026, 10, 21, 22, 30)
    assert _incident(db, "SA-DST").received_at == dt.datetime(2026, 11, 1, 7, 30, tzinfo=dt.UTC)
    early, late = _incident(db, "SA-R-EARLY"), _incident(db, "SA-R-LATE")
    assert late.repeat_of_id == early.id and early.repeat_count == 1
    assert (late.source_type, late.source_district, late.source_beat) == ("Theft", "NORTH", "N1")
    assert late.status == "closed"  # [statuses] default = "closed": history, not open calls
    # a second import adds nothing
    again = _import(db, path, _mapping(tmp_path))
    assert again.created == 0 and again.existing == summary.created


def test_midnight_hour_without_ampm_is_resolved_by_the_second_column(
    db: Database, org: Org, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    cad_export.write(
        path,
        [
            _row("M0", "10/21/2026", "12:30:00", _ms(dt.datetime(2026, 10, 21, 0, 35))),
            _row("M12", "10/21/2026", "12:30:00", _ms(dt.datetime(2026, 10, 21, 12, 50))),
        ],
    )
    assert _import(db, path, _mapping(tmp_path)).created == 2
    assert _incident(db, "SA-M0").received_at.astimezone(CHICAGO).hour == 0
    assert _incident(db, "SA-M12").received_at.astimezone(CHICAGO).hour == 12


def test_twelve_hour_format_without_a_resolving_column_is_refused(tmp_path: Path) -> None:
    text = cad_export.MAPPING.replace(
        'received_at.resolve_by = { column = "ResponseDate", epoch = "ms" }', ""
    )
    with pytest.raises(ValidationFailed) as exc:
        _mapping(tmp_path, text)
    assert exc.value.details[0]["field"] == "fields.received_at.formats"
    assert "resolve_by" in exc.value.details[0]["message"]


def test_unordered_batch_with_repeats_links_in_time_order(db: Database, org: Org) -> None:
    """intake_many with the later call first (defect 2: the repeat's foreign key)."""
    lon, lat = inside("A")
    items = [
        incident_item(at="2026-10-01T10:30:00+08:00", location=(lon, lat), source_id="U2"),
        incident_item(at="2026-10-01T10:20:00+08:00", location=(lon, lat), source_id="U1"),
    ]
    with db.session(write=True) as s:
        results = intake.intake_many(
            session=s, actor=system_actor(), settings=Settings(), items=items
        )
    assert all(r.created for r in results)
    first, second = _incident(db, "U1"), _incident(db, "U2")
    assert second.repeat_of_id == first.id and first.repeat_of_id is None
    assert first.repeat_count == 1


def test_repeats_link_by_the_source_call_type(db: Database, org: Org, tmp_path: Path) -> None:
    """Two calls at one place mapped to one category but of different source types are not
    linked; two of the same source type are."""
    path = tmp_path / "c.csv"
    cad_export.write(
        path,
        [
            _row("T1", "10/22/2026", "10:00:00 AM", "", ProblemType="Theft"),
            _row("T2", "10/22/2026", "10:10:00 AM", "", ProblemType="Burglary of Vehicle"),
            _row("T3", "10/22/2026", "10:20:00 AM", "", ProblemType="Theft"),
        ],
    )
    assert _import(db, path, _mapping(tmp_path)).created == 3
    t1 = _incident(db, "SA-T1")
    assert _incident(db, "SA-T2").repeat_of_id is None
    assert _incident(db, "SA-T3").repeat_of_id == t1.id


EPOCH_MAPPING = """
[source]
timezone = "Asia/Shanghai"
[fields]
source_id = "id"
received_at = { column = "t", epoch = "ms" }
dispatched_at = { column = "d", excel = true }
category = "c"
[categories]
default = "dispute/other_dispute"
"""


def test_epoch_milliseconds_and_excel_date_cells(db: Database, org: Org, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["id", "t", "d", "c"])
    received = dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing
    ws.append(["E1", int(received.timestamp() * 1000), dt.datetime(2026, 10, 1, 10, 5), "x"])
    ws.append(["E2", int(received.timestamp() * 1000), 46296.4201388889, "x"])  # a serial
    xlsx = tmp_path / "cad.xlsx"
    wb.save(xlsx)
    summary = _import(db, xlsx, _mapping(tmp_path, EPOCH_MAPPING))
    assert (summary.created, summary.errors) == (2, [])
    e1, e2 = _incident(db, "E1"), _incident(db, "E2")
    assert e1.received_at == received
    assert e1.dispatched_at == dt.datetime(2026, 10, 1, 2, 5, tzinfo=dt.UTC)
    assert e2.dispatched_at == dt.datetime(2026, 10, 1, 2, 5, tzinfo=dt.UTC)
    assert e1.status == "dispatched"


DST_MAPPING = """
[source]
timezone = "America/Chicago"
dst = "{rule}"
[fields]
source_id = "id"
received_at = "t"
time_formats = ["%Y-%m-%d %H:%M"]
category = "c"
[categories]
default = "dispute/other_dispute"
"""


@pytest.mark.parametrize(("rule", "hour_utc"), [("earlier", 6), ("later", 7), ("reject", None)])
def test_dst_fall_back_by_the_stated_rule(
    db: Database, org: Org, tmp_path: Path, rule: str, hour_utc: int | None
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,t,c\nD1,2026-11-01 01:30,x\nD2,2026-11-01 03:30,x\n", encoding="utf-8")
    mapping = _mapping(tmp_path, DST_MAPPING.replace("{rule}", rule))
    summary = _import(db, path, mapping)
    if hour_utc is None:
        assert [(e.row, e.field, e.type) for e in summary.errors] == [
            (2, "received_at", "dst_ambiguous")
        ]
        return
    assert summary.flags["dst_ambiguous"] == 1 and summary.errors == []
    assert _incident(db, "D1").received_at == dt.datetime(2026, 11, 1, hour_utc, 30, tzinfo=dt.UTC)


def test_a_bad_byte_is_a_row_error_and_gb18030_is_read(
    db: Database, org: Org, tmp_path: Path
) -> None:
    text = "编号,接警时间,类别\nG1,2026-10-01 08:00,盗窃\nG2,2026-10-01 09:00,盗窃\n"
    mapping_text = """
[fields]
source_id = "编号"
received_at = "接警时间"
time_formats = ["%Y-%m-%d %H:%M"]
category = "类别"
[categories]
"盗窃" = "criminal/theft"
"""
    gb = tmp_path / "gb.csv"
    gb.write_bytes(text.encode("gb18030"))  # detected: no encoding declared
    summary = _import(db, gb, _mapping(tmp_path, mapping_text))
    assert (summary.encoding, summary.created, summary.errors) == ("gb18030", 2, [])
    bad = tmp_path / "bad.csv"
    data = text.replace("G1", "B1").replace("G2", "B2").encode("utf-8")
    bad.write_bytes(data.replace(b"B2,", b"B2\xff,"))
    summary = _import(
        db, bad, _mapping(tmp_path, mapping_text + '\n[source]\nencoding = "utf-8"\n')
    )
    assert [(e.row, e.type) for e in summary.errors] == [(3, "bad_encoding")]
    assert "\\xff" in summary.rejected[3].cells[0] and summary.created == 1


def test_a_misspelt_column_or_key_is_named_before_anything_is_written(
    db: Database, org: Org, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    cad_export.write(path, [_row("X1", "10/21/2026", "10:00:00 AM", "")])
    with pytest.raises(ValidationFailed) as exc:
        _import(db, path, _mapping(tmp_path, cad_export.MAPPING.replace('x = "LON"', 'x = "LONG"')))
    [detail] = exc.value.details
    assert detail["field"] == "fields.x" and "'LONG'" in detail["message"]
    assert "'LON'" in detail["message"]  # the nearest column of the file
    with pytest.raises(ValidationFailed) as exc:
        _mapping(tmp_path, cad_export.MAPPING.replace('x = "LON"', 'lon = "LON"'))
    assert exc.value.details[0]["field"] == "fields.lon"
    assert "'x'" in exc.value.details[0]["message"]
    assert rows(db, Incident) == 0


def test_check_reads_everything_and_writes_nothing(db: Database, org: Org, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    table = cad_export.rows(50, SHAPE, seed=5)
    table.append(_row("OUT", "10/23/2026", " 3:00:00 PM", "", LAT="30.9", LON="107.9"))
    cad_export.write(path, table)
    with db.session(write=True) as s:
        s.execute(select(Bureau)).scalar_one().boundary = square(107.0, 30.0, 0.4)
    mapping = _mapping(tmp_path)
    from qingzhi.incidents.importer import load_place

    summary = check_file(path=path, mapping=mapping, place=load_place(db, mapping))
    assert summary.rows == 51 and not summary.written
    # the generator's row 7 has no id and its row 11 a placeholder point
    assert sorted(e.type for e in summary.errors) == [
        "missing_id",
        "outside_boundary",
        "placeholder_point",
    ]
    assert sum(summary.by_mapping.values()) == 48 and summary.by_mapping["default"] > 0
    assert summary.first is not None and summary.first.date() >= SHAPE.start
    assert rows(db, Incident) == 0
    refused = _import(db, path, mapping, max_errors=2)
    assert not refused.written and rows(db, Incident) == 0
    loaded = _import(db, path, mapping, max_errors=3)
    assert loaded.written and loaded.created == 48


def test_update_applies_a_changed_row_as_a_new_version(
    db: Database, org: Org, tmp_path: Path
) -> None:
    from qingzhi.audit.models import AuditRecord

    path = tmp_path / "c.csv"
    cad_export.write(path, [_row("V1", "10/21/2026", "10:00:00 AM", "")])
    mapping = _mapping(tmp_path)
    assert _import(db, path, mapping).created == 1
    cad_export.write(path, [_row("V1", "10/21/2026", "10:00:00 AM", "", Category="Traffic")])
    plain = _import(db, path, mapping)
    assert (plain.existing, plain.updated) == (1, 0)
    assert _incident(db, "SA-V1").category == "criminal"  # never silently
    updated = _import(db, path, mapping, update=True)
    assert (updated.updated, updated.existing, updated.created) == (1, 0, 0)
    inc = _incident(db, "SA-V1")
    assert (inc.category, inc.subtype, inc.version) == ("traffic", "accident_property", 2)
    with db.session() as s:
        record = s.execute(
            select(AuditRecord).where(
                AuditRecord.action == "incident.corrected", AuditRecord.entity_id == str(inc.id)
            )
        ).scalar_one()
    diff = json.loads(record.diff) if isinstance(record.diff, str) else record.diff
    assert diff["before"]["category"] == "criminal" and diff["after"]["category"] == "traffic"
    assert (diff["before"]["version"], diff["after"]["version"]) == (1, 2)
    again = _import(db, path, mapping, update=True)
    assert again.updated == 0 and _incident(db, "SA-V1").version == 2


def test_a_check_in_worker_processes_finds_what_one_process_finds(
    db: Database, org: Org, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    cad_export.write(path, cad_export.rows(5000, SHAPE, seed=8), bad_byte_rows=(17,))
    mapping = _mapping(tmp_path)
    one = check_file(path=path, mapping=mapping)
    two = check_file(path=path, mapping=mapping, workers=2)
    assert two.rows == one.rows == 5000 and two.good == one.good
    assert [(e.row, e.field, e.type) for e in two.errors] == [
        (e.row, e.field, e.type) for e in one.errors
    ]
    assert (two.by_mapping, two.to_default, two.flags) == (
        one.by_mapping,
        one.to_default,
        one.flags,
    )
    assert (two.first, two.last, two.in_order, two.days) == (
        one.first,
        one.last,
        one.in_order,
        one.days,
    )
    loaded = _import(db, path, mapping, workers=2)
    assert loaded.created == one.good and rows(db, Incident) == one.good
