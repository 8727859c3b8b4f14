"""One row-error type for every importer: the org bundle, the CAD importer and bulk intake
report a bad row as the API reports a bad body (the same field, the same message)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from qingzhi.errors import RowError, ValidationFailed, rows_failed
from qingzhi.org.schemas import OfficerCreate
from qingzhi.store.db import Database
from tests.factories import Org
from tests.factories import incident_body as body
from tests.helpers import bearer


def _refusal(raw: dict[str, object]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        OfficerCreate.model_validate(raw)
    return info.value


def test_a_pydantic_refusal_becomes_one_row_error_a_field() -> None:
    exc = _refusal({"police_number": "A 1/2", "kind": "sworn", "unit": "A", "colour": "red"})
    errors = RowError.of(exc, file="officers.csv", row=7, rename={"colour": "colour_column"})
    assert {(e.file, e.row, e.field, e.type) for e in errors} == {
        ("officers.csv", 7, "police_number", "string_pattern_mismatch"),
        ("officers.csv", 7, "name", "missing"),
        ("officers.csv", 7, "colour_column", "extra_forbidden"),
    }
    reasons = {e.field: e.reason for e in errors}
    assert (reasons["name"], reasons["colour_column"]) == ("缺少必填字段", "未知字段")


def test_rows_failed_lists_every_row_and_quotes_the_first() -> None:
    errors = [
        RowError("units.geojson", 3, "code", "须为字母、数字、-、_"),
        RowError("bureau.json", None, "file", "格式错误"),
    ]
    refusal = rows_failed(errors)
    assert isinstance(refusal, ValidationFailed) and refusal.status == 422
    assert refusal.message.startswith("导入文件有 2 处错误，未导入任何数据")
    assert "units.geojson 第3行 code：须为字母" in refusal.message
    assert refusal.details == [
        {
            "file": "units.geojson",
            "row": 3,
            "field": "code",
            "message": "须为字母、数字、-、_",
            "type": "value_error",
        },
        {
            "file": "bureau.json",
            "row": None,
            "field": "file",
            "message": "格式错误",
            "type": "value_error",
        },
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"category": "alien"},
        {"priority": "high"},
        {"received_at": "yesterday"},
        {"received_at": 1_790_000_000},
        {"unknown_field": 1},
    ],
    ids=["enum", "number as text", "time", "unix time", "extra"],
)
def test_a_bulk_item_is_refused_as_the_single_intake_refuses_it(
    client: TestClient, db: Database, org: Org, change: dict[str, object]
) -> None:
    headers = bearer(db, "dispatcher")
    item = {**body(source_id="row-errors-1"), **change}
    single = client.post("/api/incidents", json=item, headers=headers)
    assert single.status_code == 422, single.text
    expected = {(d["field"], d["message"]) for d in single.json()["error"]["details"]}
    bulk = client.post("/api/incidents/bulk", json={"items": [item]}, headers=headers)
    assert bulk.status_code == 200, bulk.text
    out = bulk.json()
    assert out["created"] == 0 and out["ids"] == [None]
    assert {(e["field"], e["message"]) for e in out["errors"]} == expected
    assert {e["index"] for e in out["errors"]} == {0}
