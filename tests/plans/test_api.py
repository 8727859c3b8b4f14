"""The planning API: bad input is a 4xx naming the field (nothing saved), a run is a background
job whose plan becomes ready with its inputs and results, only an admin decides (audited), and a
station chief sees only the plans placed in their scope."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import docx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from qingzhi.audit.models import AuditRecord
from qingzhi.config import Settings
from qingzhi.plans.models import Plan
from qingzhi.reports.render import pdf_available
from qingzhi.store.db import Database
from qingzhi.web.app import create_app
from tests.helpers import bearer
from tests.plans.data import load_calls

SETTINGS = Settings(database_url="sqlite://")


def _plans(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Plan)) or 0)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "bundle", "participants": ["R1", "NOPE"]}, "participants[1]"),
        ({"kind": "bundle", "fixed": {"members": {"S": "R1"}}}, "fixed.members"),
        ({"kind": "allocate", "staffing": {"A": {"sworn": -1}}}, "staffing.A.sworn"),
        ({"kind": "allocate", "staffing": {"R1": {"sworn": 2}}}, "staffing.R1.sworn"),
        ({"kind": "allocate", "staffing": {"ZZ": {"sworn": 9}}}, "staffing.ZZ"),
        ({"kind": "simulate", "bundles": [{"centre": "A", "members": ["S"]}]},
         "bundles[0].members"),
        ({"kind": "roads", "squads": [{"name": "一中队", "stations": ["Q"], "officers": 3}]},
         "squads[0].stations[0]"),
        ({"kind": "bundle", "n_bundles": [3, 3]}, "n_bundles"),
        ({"kind": "bundle", "max_seat_minutes": 0.5, "n_bundles": [1, 1]}, "max_seat_minutes"),
        ({"kind": "bundle", "colour": "red"}, "colour"),
        ({"kind": "allocate", "days": 3}, "days"),
    ],
)  # fmt: skip
def test_bad_input_names_the_field_and_saves_nothing(
    client: TestClient, db: Database, org: Any, body: dict[str, Any], field: str
) -> None:
    load_calls(db)
    r = client.post("/api/planning/plans", json=body, headers=bearer(db, "analyst"))
    assert 400 <= r.status_code < 500, r.text
    err = r.json()["error"]
    fields = (
        [d.get("field", "") for d in err["details"]] if isinstance(err["details"], list) else []
    )
    assert any(field in f for f in fields), err
    assert _plans(db) == 0


def test_infeasible_constraints_say_which(client: TestClient, db: Database, org: Any) -> None:
    load_calls(db)
    # three rural stations: R1 and R2 touch, S touches nothing; two bundles cannot be made
    r = client.post(
        "/api/planning/plans",
        json={"kind": "bundle", "n_bundles": [2, 2]},
        headers=bearer(db, "analyst"),
    )
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "plan_infeasible"
    assert "中心派出所数量" in err["message"]
    assert [d["field"] for d in err["details"]] == ["n_bundles"]


@pytest.mark.parametrize("user", ["chief_a", "viewer", "dispatcher"])
def test_only_planners_run(client: TestClient, db: Database, org: Any, user: str) -> None:
    r = client.post("/api/planning/plans", json={"kind": "roads"}, headers=bearer(db, user))
    assert r.status_code == 403, r.text


@pytest.fixture
def live(committed: Database) -> Iterator[tuple[TestClient, Database]]:
    """A client on a committed database (the job runner's threads read it), with calls."""
    load_calls(committed)
    with TestClient(create_app(SETTINGS, committed), base_url="http://testserver") as c:
        yield c, committed


def _run(client: TestClient, db: Database, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/planning/plans", json=body, headers=bearer(db, "analyst"))
    assert r.status_code == 202, r.text
    url = r.headers["location"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        plan: dict[str, Any] = client.get(url, headers=bearer(db, "analyst")).json()
        if plan["status"] != "computing":
            return plan
        time.sleep(0.1)
    raise AssertionError("the plan was not computed")


def test_a_bundle_run_compares_the_current_bundling_and_is_decided_by_an_admin(
    live: tuple[TestClient, Database],
) -> None:
    client, db = live
    plan = _run(client, db, {"kind": "bundle", "title": "试算"})
    assert plan["status"] == "ready", plan
    res = plan["result"]
    assert res["solver"]["status"] == "optimal"
    keys = [p["key"] for p in res["plans"]]
    assert keys == ["none", "actual", "optimal"]
    actual = res["plans"][1]
    assert actual["bundles"] and {
        *actual["bundles"][0]["members"],
        actual["bundles"][0]["centre"],
    } == {"R1", "R2"}
    # the optimum is never worse than the current bundling or none on the same objective
    assert res["plans"][2]["objective"] <= min(p["objective"] for p in res["plans"][:2]) + 1e-9
    assert plan["inputs"]["calls"] == 148 and len(plan["inputs"]["stations"]) == 5
    csv = client.get(f"/api/planning/plans/{plan['id']}/table.csv", headers=bearer(db, "analyst"))
    assert csv.status_code == 200 and "优化方案" in csv.text

    url = f"/api/planning/plans/{plan['id']}/decision"
    r = client.post(url, json={"decision": "applied"}, headers=bearer(db, "analyst"))
    assert r.status_code == 403
    r = client.post(
        url, json={"decision": "applied", "note": "会商同意"}, headers=bearer(db, "admin")
    )
    assert r.status_code == 200 and r.json()["status"] == "applied", r.text
    again = client.post(url, json={"decision": "rejected"}, headers=bearer(db, "admin"))
    assert again.status_code == 409 and "已采纳" in again.json()["error"]["message"]
    with db.session() as s:
        actions = list(
            s.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.entity_kind == "plan")
                .order_by(AuditRecord.seq)
            )
        )
    assert actions == ["plan.create", "plan.ready", "plan.applied"]

    # the plan as a report in the briefs' Word layout (A4, the plan's table, the decision)
    r = client.get(f"/api/planning/plans/{plan['id']}/report.docx", headers=bearer(db, "analyst"))
    assert r.status_code == 200, r.text
    word = docx.Document(io.BytesIO(r.content))
    text = "\n".join(p.text for p in word.paragraphs)
    assert "规划方案：试算" in text and "会商同意" in text
    assert word.tables and word.tables[0].rows[0].cells[0].text == "方案"
    width = word.sections[0].page_width
    assert width is not None and round(width.mm) == 210
    if pdf_available():
        r = client.get(f"/api/planning/plans/{plan['id']}/report.pdf", headers=bearer(db, "admin"))
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert client.get(
        f"/api/planning/plans/{plan['id']}/report.odt", headers=bearer(db, "analyst")
    ).status_code in (404, 422)


def test_allocation_simulation_and_roads_runs(live: tuple[TestClient, Database]) -> None:
    client, db = live
    alloc = _run(client, db, {"kind": "allocate", "min_sworn_rural": 2})
    assert alloc["status"] == "ready", alloc
    a = alloc["result"]
    # 丙镇 (5 sworn, 2 auxiliary: 140 unit-hours) cannot keep one crew on duty every hour
    assert a["understaffed_before"] == ["丙镇派出所"] and a["understaffed_after"] == []
    assert a["mean_response_before"] is None and a["mean_response_after"] > 0
    assert a["moves"][0]["target"] == "S" and a["moves"][0]["gain_minutes"] is None
    assert sum(u["after"] for u in a["units"]) == sum(u["before"] for u in a["units"])
    sim = _run(client, db, {"kind": "simulate", "bundles": [{"centre": "R1", "members": ["R2"]}]})
    assert sim["status"] == "ready", sim
    keys = [s["key"] for s in sim["result"]["scenarios"]]
    assert keys == ["alone", "actual", "actual_allocated", "given"]
    assert all(
        sum(s["histogram"]) == s["county"]["calls"] == 148 for s in sim["result"]["scenarios"]
    )
    roads = _run(client, db, {"kind": "roads"})
    assert roads["status"] == "ready" and roads["result"]["synthetic"] is True
    assert "合成" in roads["result"]["source"]


def test_two_admins_deciding_at_once_one_wins(live: tuple[TestClient, Database]) -> None:
    client, db = live
    plan = _run(client, db, {"kind": "roads"})
    url = f"/api/planning/plans/{plan['id']}/decision"
    headers = bearer(db, "admin")
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def decide(decision: str) -> None:
        barrier.wait()
        answers.append(client.post(url, json={"decision": decision}, headers=headers).status_code)

    threads = [threading.Thread(target=decide, args=(d,)) for d in ("applied", "rejected")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 409]
    with db.session() as s:
        n = s.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.action.in_(["plan.applied", "plan.rejected"]))
        )
    assert n == 1
