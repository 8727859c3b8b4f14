"""Imported histories go through the lifecycle table: a step it refuses is an error naming the
field (schema, intake, the API's bulk and the CSV importer), an allowed history is stored as its
steps. The old probes (received → arrived, closed → cancelled) are refused."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.errors import ValidationFailed
from qingzhi.incidents.importer import Mapping, import_file
from qingzhi.incidents.intake import intake_many
from qingzhi.incidents.lifecycle import STATUS_TIME, TIME_FIELDS, TRANSITIONS, Status, history
from qingzhi.incidents.models import Incident, IncidentEvent
from qingzhi.incidents.schemas import IncidentImport
from qingzhi.store.db import Database
from tests.factories import Org
from tests.factories import incident_body as body

T0 = dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing
MINUTE = dt.timedelta(minutes=1)


def _times(**minutes: int) -> dict[str, dt.datetime]:
    return {name: T0 + m * MINUTE for name, m in minutes.items()}


def _refusal(record: dict[str, Any]) -> tuple[str, str]:
    """The (field, message) of the one error the schema gives for ``record``."""
    with pytest.raises(ValidationError) as exc:
        IncidentImport.model_validate(record)
    [err] = exc.value.errors()
    return ".".join(map(str, err["loc"])), str(err["msg"]).removeprefix("Value error, ")


def test_the_old_probes_are_refused_naming_the_field() -> None:
    arrived = body(source_id="p1", arrived_at="2026-11-01T10:20:00+08:00")
    field, message = _refusal(arrived)
    assert field == "arrived_at"
    assert message == "没有派警时间（dispatched_at）不能有到场时间：接警 → 已到场 不允许"

    closed = body(
        source_id="p2",
        dispatched_at="2026-11-01T10:05:00+08:00",
        arrived_at="2026-11-01T10:20:00+08:00",
        resolved_at="2026-11-01T10:50:00+08:00",
        closed_at="2026-11-01T11:00:00+08:00",
        cancelled=True,
    )
    field, message = _refusal(closed)
    assert field == "cancelled"
    assert message == "已有结警时间（closed_at）的警情不能撤销：已结警 → 已撤销 不允许"

    assert _refusal(body(source_id="p3", closed_at="2026-11-01T11:00:00+08:00"))[0] == "closed_at"
    early = body(source_id="p4", dispatched_at="2026-11-01T09:59:00+08:00")
    assert _refusal(early) == ("dispatched_at", "早于 received_at")


def test_a_history_is_accepted_exactly_when_each_step_is_in_the_table() -> None:
    """Every combination of the four times and the cancel flag: accepted iff the statuses in
    lifecycle order form a path of TRANSITIONS from received; else the field named is the one
    of the first step the table refuses."""
    for present in itertools.product((False, True), repeat=len(TIME_FIELDS) + 1):
        *timed, cancelled = present
        times = {
            name: T0 + (k + 1) * 10 * MINUTE
            for k, (name, on) in enumerate(zip(TIME_FIELDS, timed, strict=True))
            if on
        }
        path = [Status.received] + [s for s, name in STATUS_TIME.items() if name in times]
        fields = ["received_at"] + [name for name in TIME_FIELDS if name in times]
        if cancelled:
            path.append(Status.cancelled)
            fields.append("cancelled")
        refused = next(
            (fields[i] for i in range(1, len(path)) if path[i] not in TRANSITIONS[path[i - 1]]),
            None,
        )
        if refused is None:
            steps = history(T0, times, cancelled=cancelled)
            assert [s.status for s in steps] == path
            assert [s.at for s in steps[1 : len(times) + 1]] == sorted(times.values())
        else:
            with pytest.raises(ValidationFailed) as exc:
                history(T0, times, cancelled=cancelled)
            assert exc.value.details[0]["field"] == refused, (present, exc.value.message)


def test_a_cancel_is_put_at_its_last_steps_time() -> None:
    steps = history(T0, _times(dispatched_at=4), cancelled=True)
    assert [(s.status, s.at) for s in steps] == [
        (Status.received, T0),
        (Status.dispatched, T0 + 4 * MINUTE),
        (Status.cancelled, T0 + 4 * MINUTE),
    ]
    assert [s.at for s in history(T0, {}, cancelled=True)] == [T0, T0]


def _events(db: Database, source_id: str) -> list[tuple[str | None, str, dt.datetime]]:
    with db.session() as s:
        rows = s.execute(
            select(IncidentEvent.from_status, IncidentEvent.to_status, IncidentEvent.at)
            .join(Incident, Incident.id == IncidentEvent.incident_id)
            .where(Incident.source_id == source_id)
            .order_by(IncidentEvent.id)
        ).all()
    return [(a, b, at) for a, b, at in rows]


def _count(db: Database) -> int:
    with db.session() as s:
        return int(s.execute(select(func.count()).select_from(Incident)).scalar_one())


def test_intake_stores_the_replayed_history_and_refuses_an_unchecked_one(
    db: Database, org: Org
) -> None:
    settings, actor = Settings(), system_actor()
    good = IncidentImport.model_validate(
        body(source_id="h1", dispatched_at="2026-11-01T10:04:00+08:00", cancelled=True)
    )
    with db.session(write=True) as s:
        intake_many(session=s, actor=actor, settings=settings, items=[good])
    dispatched = dt.datetime(2026, 11, 1, 2, 4, tzinfo=dt.UTC)
    assert _events(db, "h1") == [
        (None, "received", dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)),
        ("received", "dispatched", dispatched),
        ("dispatched", "cancelled", dispatched),
    ]
    with db.session() as s:
        inc = s.execute(select(Incident).where(Incident.source_id == "h1")).scalar_one()
        assert (inc.status, inc.dispatched_at) == (Status.cancelled, dispatched)

    # A record that skipped validation is still replayed at intake: refused, nothing written.
    unchecked = good.model_copy(
        update={
            "source_id": "h2",
            "dispatched_at": None,
            "cancelled": False,
            "arrived_at": dispatched,
        }
    )
    with pytest.raises(ValidationFailed) as exc, db.session(write=True) as s:
        intake_many(session=s, actor=actor, settings=settings, items=[good, unchecked])
    assert exc.value.details == [
        {
            "field": "arrived_at",
            "message": "没有派警时间（dispatched_at）不能有到场时间：接警 → 已到场 不允许",
        }
    ]
    assert _count(db) == 1


def test_the_api_bulk_takes_no_history(as_user: Any, db: Database) -> None:
    """The API's bulk intake takes calls, not histories: lifecycle times are refused by name."""
    c = as_user("dispatcher")
    items = [
        body(source_id="b0"),
        body(source_id="b1", arrived_at="2026-11-01T10:20:00+08:00"),
        body(source_id="b2", closed_at="2026-11-01T11:00:00+08:00", cancelled=True),
    ]
    r = c.post("/api/incidents/bulk", json={"items": items})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["created"] == 1 and out["ids"][1:] == [None, None]
    assert {(e["index"], e["field"]) for e in out["errors"]} == {
        (1, "arrived_at"),
        (2, "closed_at"),
        (2, "cancelled"),
    }
    assert _count(db) == 1


MAPPING = """
[source]
timezone = "Asia/Shanghai"

[fields]
source_id = "编号"
received_at = "接警时间"
category = "类别"
x = "经度"
y = "纬度"
dispatched_at = "派警时间"
arrived_at = "到场时间"
resolved_at = "处置完毕时间"
closed_at = "结警时间"
cancelled = "撤销"

[categories]
"盗窃" = "criminal/theft"
"""
HEADER = "编号,接警时间,类别,经度,纬度,派警时间,到场时间,处置完毕时间,结警时间,撤销"
ROWS = [
    # the whole lifecycle; a call settled by telephone; a cancel after a dispatch
    "C1,2026-10-01 10:00:00,盗窃,107.05,30.05,2026-10-01 10:03:00,2026-10-01 10:15:00,"
    "2026-10-01 10:45:00,2026-10-01 11:00:00,",
    "C2,2026-10-01 10:10:00,盗窃,107.05,30.05,,,2026-10-01 10:20:00,2026-10-01 10:30:00,否",
    "C3,2026-10-01 10:20:00,盗窃,107.05,30.05,2026-10-01 10:22:00,,,,是",
    # the probes, and the other refusals
    "C4,2026-10-01 10:30:00,盗窃,107.05,30.05,,2026-10-01 10:40:00,,,",
    "C5,2026-10-01 10:40:00,盗窃,107.05,30.05,2026-10-01 10:42:00,2026-10-01 10:50:00,"
    "2026-10-01 11:20:00,2026-10-01 11:30:00,1",
    "C6,2026-10-01 10:50:00,盗窃,107.05,30.05,,,,2026-10-01 11:30:00,",
    "C7,2026-10-01 11:00:00,盗窃,107.05,30.05,2026-10-01 11:02:00,,2026-10-01 11:30:00,,",
    "C8,2026-10-01 11:10:00,盗窃,107.05,30.05,2026-10-01 11:02:00,,,,",
    "C9,2026-10-01 11:20:00,盗窃,107.05,30.05,,,,,也许",
]


def test_the_csv_importer_reports_a_refused_history_as_a_row_error_naming_the_field(
    db: Database, org: Org, tmp_path: Path
) -> None:
    (tmp_path / "m.toml").write_text(MAPPING, encoding="utf-8")
    path = tmp_path / "cad.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    summary = import_file(
        db=db,
        actor=system_actor(),
        settings=Settings(),
        path=path,
        mapping=Mapping.load(tmp_path / "m.toml"),
    )
    assert (summary.rows, summary.created) == (9, 3)
    errors = {e.row: (e.field, e.reason) for e in summary.errors}
    assert errors[5] == (
        "arrived_at",
        "没有派警时间（dispatched_at）不能有到场时间：接警 → 已到场 不允许",
    )
    assert errors[6] == (
        "cancelled",
        "已有结警时间（closed_at）的警情不能撤销：已结警 → 已撤销 不允许",
    )
    assert errors[7][0] == "closed_at" and "接警 → 已结警 不允许" in errors[7][1]
    assert errors[8][0] == "resolved_at" and "已派警 → 处置完毕 不允许" in errors[8][1]
    assert errors[9] == ("dispatched_at", "早于 received_at")
    assert errors[10][0] == "cancelled"
    assert len(errors) == 6 and all(e.file == "cad.csv" for e in summary.errors)

    def at(hhmm: str) -> dt.datetime:  # Beijing time on 1 October
        h, m = map(int, hhmm.split(":"))
        return dt.datetime(2026, 10, 1, h - 8, m, tzinfo=dt.UTC)

    assert [(b, at_) for _, b, at_ in _events(db, "C1")] == [
        ("received", at("10:00")),
        ("dispatched", at("10:03")),
        ("arrived", at("10:15")),
        ("resolved", at("10:45")),
        ("closed", at("11:00")),
    ]
    assert [b for _, b, _ in _events(db, "C2")] == ["received", "resolved", "closed"]
    assert [(b, at_) for _, b, at_ in _events(db, "C3")][-1] == ("cancelled", at("10:22"))
    with db.session() as s:
        statuses = dict(s.execute(select(Incident.source_id, Incident.status)).all())
    assert statuses == {"C1": Status.closed, "C2": Status.closed, "C3": Status.cancelled}
