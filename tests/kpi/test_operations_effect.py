"""Special operations' effect (专项行动成效): the share of a station's operations ended in the
period whose area's incidents fell significantly during against before without a significant
rise in the ring, counted by the operations module and hand-computed on two stations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from qingzhi.analysis.scheme import DEFAULT_SCHEME_TOML
from qingzhi.config import Settings
from qingzhi.incidents.schemas import IncidentCreate
from qingzhi.kpi import service as kpi
from qingzhi.store.db import Database
from qingzhi.tasks import operations
from qingzhi.tasks import service as tasks
from qingzhi.tasks.lifecycle import TaskStatus
from qingzhi.tasks.schemas import OperationCreate
from tests.factories import Org, incident_item
from tests.helpers import user_actor
from tests.kpi.test_kpi import _take
from tests.kpi.test_sources_trend import _by_indicator

LOCAL = ZoneInfo("Asia/Shanghai")
ISSUED = dt.datetime(2025, 9, 20, 9, tzinfo=LOCAL)


def _square(lon: float, lat: float) -> dict[str, Any]:
    """A 0.02° square (about 1.9 km × 2.2 km) with its south-west corner at (lon, lat)."""
    ring = [[lon, lat], [lon + 0.02, lat], [lon + 0.02, lat + 0.02], [lon, lat + 0.02]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _operation(db: Database, org: Org, unit: str, lon: float, lat: float, days: str) -> int:
    """A public-order operation of ``unit`` over the square at (lon, lat), ``days`` as
    ``first/last`` (local, inclusive), with a 500 m ring; issued on 20 September 2025."""
    first, last = days.split("/")
    body = OperationCreate.model_validate(
        {
            "title": f"{unit} 治安乱点专项行动",
            "owner_unit_id": org.id(unit),
            "deadline": dt.datetime(2026, 2, 1, 18, tzinfo=LOCAL).isoformat(),
            "starts_on": first,
            "ends_on": last,
            "ring_m": 500,
            "area": _square(lon, lat),
            "categories": ["public_order"],
        }
    )
    with db.session(write=True) as session:
        actor = user_actor(session, "commander")
        task = operations.create_operation(session=session, actor=actor, body=body, now=ISSUED)
        return task.id


def _calls(
    where: tuple[float, float], first: str, n: int, category: str = "public_order"
) -> list[IncidentCreate]:
    """``n`` calls at ``where``, one a day from local day ``first`` at 10:00 (wrapping after
    ten days, 13:00 then)."""
    day = dt.datetime.fromisoformat(first).replace(hour=10, tzinfo=LOCAL)
    return [
        incident_item(
            at=day + dt.timedelta(days=k % 10, hours=3 * (k // 10)),
            category=category,
            unit=None,
            location=where,
        )
        for k in range(n)
    ]


BOTH = """name = "专项行动"
[indicators.prevention_rate]
weight = 0.5
normalise = "group"
[indicators.operation_effect]
weight = 0.5
normalise = "group"
"""
ONLY = """name = "专项行动对照目标"
[indicators.operation_effect]
weight = 1.0
normalise = "target"
target = 0.5
"""


def test_operations_effect_hand_counted_on_two_stations(
    as_user: Callable[[str], TestClient], db: Database, org: Org, settings: Settings
) -> None:
    """2025-Q4, public-order calls, each operation ten days against the ten days before:
    - A1 (10-11…10-20): area 12 before, 2 during, ring 0 and 0. Under no change 2 ~
      Binomial(14, ½): P(X ≤ 2) = (1 + 14 + 91) / 2¹⁴ = 0.0065, two-sided 0.013 < 0.05: a fall;
      ten criminal calls in the area during are not of its category. Effective.
    - A2 (11-11…11-20): the area falls the same, but the ring goes 0 → 8: P = 2 / 2⁸ =
      0.0078, a rise (displacement). Not effective.
    - A3 (12-28…2026-01-05) ends after the quarter: not counted.
    - B1 (12-01…12-10): area 5 → 4, p = 1: no significant change. Not effective.
    - B2 (11-01…11-10) was cancelled: not counted.
    So A 1 of 2 operations effective (50%), B 0 of 1; R1, R2 and S ran none (no value).
    Urban group mean (0.5 + 0) / 2 = 0.25: A normalised 1 + (0.5 − 0.25)/0.25 = 2, B 0.
    Against a target of 0.5 alone: score 200·share, A 100, B 0, and A's bootstrap interval
    over its two operations spans 0 (the effective one drawn out) to 200 (only it drawn)."""
    a1, a2, b1 = (107.02, 30.02), (107.06, 30.06), (107.12, 30.02)
    inside = {
        k: (lon + 0.01, lat + 0.01) for k, (lon, lat) in {"a1": a1, "a2": a2, "b1": b1}.items()
    }
    a2_ring = (107.07, 30.083)  # about 330 m north of A2's area
    _operation(db, org, "A", *a1, "2025-10-11/2025-10-20")
    _operation(db, org, "A", *a2, "2025-11-11/2025-11-20")
    _operation(db, org, "A", *a1, "2025-12-28/2026-01-05")
    _operation(db, org, "B", *b1, "2025-12-01/2025-12-10")
    cancelled = _operation(db, org, "B", *b1, "2025-11-01/2025-11-10")
    with db.session(write=True) as session:
        tasks.move(
            session=session,
            actor=user_actor(session, "commander"),
            task_id=cancelled,
            target=TaskStatus.cancelled,
            now=ISSUED,
        )
    _take(
        db,
        [
            *_calls(inside["a1"], "2025-10-01", 12),
            *_calls(inside["a1"], "2025-10-11", 2),
            *_calls(inside["a1"], "2025-10-11", 10, category="criminal"),
            *_calls(inside["a2"], "2025-11-01", 12),
            *_calls(inside["a2"], "2025-11-11", 2),
            *_calls(a2_ring, "2025-11-11", 8),
            *_calls(inside["b1"], "2025-11-21", 5),
            *_calls(inside["b1"], "2025-12-01", 4),
            # B2's period: a fall from 12 to 0 that does not count, being cancelled
            *_calls((107.125, 30.025), "2025-10-22", 12),
            # a call in the quarter before, which has no operation
            *_calls(inside["a1"], "2025-09-10", 1),
        ],
    )
    analyst = as_user("analyst")
    ids = {}
    for name, toml in (("both", BOTH), ("only", ONLY)):
        r = analyst.post("/api/kpi/schemes", json={"toml": toml})
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]

    r = analyst.get("/api/kpi/scores", params={"period": "2025-Q4", "scheme_id": ids["both"]})
    assert r.status_code == 200, r.text
    board = r.json()
    assert board["excluded"] == []
    got = {code: _by_indicator(board, code)["operation_effect"] for code in ("A", "B", "R1", "S")}
    assert (got["A"]["numerator"], got["A"]["denominator"]) == (1, 2)
    assert got["A"]["value"] == pytest.approx(0.5)
    assert (got["B"]["numerator"], got["B"]["denominator"]) == (0, 1)
    assert got["A"]["normalised"] == pytest.approx(2.0)
    assert got["B"]["normalised"] == pytest.approx(0.0)
    for code in ("R1", "S"):  # no operation: no value, scored on the reference
        assert got[code]["defined"] is False and got[code]["normalised"] == 1.0
        assert got[code]["denominator"] == 0

    params = {"period": "2025-Q4", "scheme_id": ids["only"], "draws": 400}
    only = {
        s["station"]: s for s in analyst.get("/api/kpi/scores", params=params).json()["stations"]
    }
    assert only["A"]["score"] == pytest.approx(100.0)
    assert only["B"]["score"] == pytest.approx(0.0)
    assert (only["A"]["score_low"], only["A"]["score_high"]) == pytest.approx((0.0, 200.0))

    # The quarter before has calls but no operation ended in it: no weight, and why.
    earlier = analyst.get(
        "/api/kpi/scores", params={"period": "2025-Q3", "scheme_id": ids["both"]}
    ).json()
    assert earlier["excluded"] == [
        {
            "indicator": "operation_effect",
            "name": "专项行动成效",
            "reason": "本期没有专项行动记录，不计权重",
        }
    ]
    assert earlier["weights"] == {"prevention_rate": 1.0}

    # The built-in scheme does not weigh it: it is not on the board.
    with db.session() as session:
        default = kpi.scores(
            session=session,
            actor=user_actor(session, "analyst"),
            settings=settings,
            period="2025-Q4",
            scheme_text=DEFAULT_SCHEME_TOML,
            draws=10,
        )
    assert "operation_effect" not in default["weights"]
    assert "prevention_rate" in default["weights"]
