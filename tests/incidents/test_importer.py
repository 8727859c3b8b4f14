"""The CSV/Excel importer: bad rows reported (file, row, field), good rows loaded, idempotent."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.errors import ValidationFailed
from qingzhi.incidents.importer import Mapping, import_file
from qingzhi.incidents.models import Incident
from qingzhi.store.db import Database
from tests.factories import Org
from tests.helpers import rows

MAPPING = """
[source]
timezone = "Asia/Shanghai"
id_prefix = "CAD-"

[fields]
source_id = "编号"
received_at = "接警时间"
time_formats = ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"]
category = "类别"
description = "简要警情"
address = "{乡镇}{地址}"
caller_phone = "电话"
x = "经度"
y = "纬度"
priority = "等级"

[location]
datum = "wgs84"

[categories]
"盗窃" = "criminal/theft"
"打架" = "public_order/fight"
"""

HEADER = "编号,接警时间,类别,简要警情,乡镇,地址,电话,经度,纬度,等级"
ROWS = [
    "A1,2026-10-01 08:00:00,盗窃,电动车被盗,城一,人民路1号,13800000001,107.05,30.05,",
    "A2,2026/10/01 09:30,打架,两人打架,城二,商业街,13800000002,107.15,30.05,",
    "A3,昨天,盗窃,时间不对,城一,人民路,13800000003,107.05,30.05,",
    "A4,2026-10-01 10:00:00,外星人,类别不对,城一,人民路,13800000004,107.05,30.05,",
    "A5,2026-10-01 11:00:00,盗窃,纬度越界,城一,人民路,13800000005,107.05,130.05,",
    "A6,2026-10-01 12:00:00,盗窃,没有坐标,丙镇,场口,13800000006,,,",
    "A7,2026-10-01 13:00:00,盗窃,等级不对,城一,人民路,13800000007,107.05,30.05,紧急",
]


@pytest.fixture
def mapping(tmp_path: Path) -> Mapping:
    path = tmp_path / "cad.toml"
    path.write_text(MAPPING, encoding="utf-8")
    return Mapping.load(path)


def test_bad_rows_are_reported_and_good_rows_load_once(
    db: Database, org: Org, mapping: Mapping, tmp_path: Path
) -> None:
    csv_path = tmp_path / "cad.csv.gz"
    with gzip.open(csv_path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join([HEADER, *ROWS]) + "\n")
    summary = import_file(
        db=db, actor=system_actor(), settings=Settings(), path=csv_path, mapping=mapping
    )
    assert summary.rows == 7
    assert summary.created == 3
    assert {(e.row, e.field) for e in summary.errors} == {
        (4, "received_at"),
        (5, "category"),
        (6, "location.lat"),
        (8, "priority"),
    }
    assert all(e.file == "cad.csv.gz" and e.reason for e in summary.errors)
    assert rows(db, Incident) == 3
    again = import_file(
        db=db, actor=system_actor(), settings=Settings(), path=csv_path, mapping=mapping
    )
    assert (again.created, again.existing) == (0, 3)
    assert rows(db, Incident) == 3
    with db.session() as s:
        by_address = s.execute(
            select(Incident.source_id, Incident.station_id, Incident.routed_by).where(
                Incident.source_id == "CAD-A6"
            )
        ).one()
    assert by_address.station_id == org.id("S") and by_address.routed_by == "address"


def test_excel_file_and_identical_rows_with_hashed_ids(
    db: Database, org: Org, tmp_path: Path
) -> None:
    path = tmp_path / "hash.toml"
    path.write_text(
        MAPPING.replace(
            'source_id = "编号"', 'source_id = { hash = ["接警时间", "类别", "地址"] }'
        ).replace('id_prefix = "CAD-"', 'id_prefix = "H-"\nlink_repeats = false'),
        encoding="utf-8",
    )
    hashed = Mapping.load(path)
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.split(","))
    for line in (ROWS[0], ROWS[0], ROWS[1]):  # two identical records, then another
        ws.append(line.split(","))
    xlsx = tmp_path / "cad.xlsx"
    wb.save(xlsx)
    summary = import_file(
        db=db, actor=system_actor(), settings=Settings(), path=xlsx, mapping=hashed
    )
    assert (summary.created, summary.errors) == (3, [])
    again = import_file(db=db, actor=system_actor(), settings=Settings(), path=xlsx, mapping=hashed)
    assert (again.created, again.existing) == (0, 3)
    with db.session() as s:
        linked = s.execute(
            select(func.count()).select_from(Incident).where(Incident.repeat_of_id.is_not(None))
        ).scalar_one()
    assert linked == 0  # link_repeats = false


def test_bad_mapping_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(MAPPING.replace('datum = "wgs84"', 'datum = "xian80"'), encoding="utf-8")
    with pytest.raises(ValidationFailed) as exc:
        Mapping.load(path)
    assert exc.value.details[0]["field"] == "location.datum"


def test_vancouver_mapping_loads() -> None:
    mapping = Mapping.load(Path("vancouver_vpd.toml"))
    assert mapping.hashed_id and not mapping.link_repeats
    assert mapping.transformer is not None
