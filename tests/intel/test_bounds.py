"""Every analysis endpoint keeps within its budget: a far placeholder point cannot stretch a
grid, bands must be finite and near, and each cost over its limit is a 422 naming the field."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Role
from qingzhi.auth.scope import Scope
from qingzhi.errors import ValidationFailed
from qingzhi.geo.projection import to_metres
from qingzhi.intel import areas, budget
from qingzhi.store.db import Database
from tests.factories import Org
from tests.intel.test_views import A_HOT, _at, _cluster_rows, _load

FAR = (116.39, 39.91)  # a geocoder's default in Beijing, some 1,500 km from the county
MB = 1024 * 1024


@pytest.fixture
def with_far_point(as_user: Callable[[str], TestClient]) -> None:
    rows = _cluster_rows(40, 40, dt.date(2026, 9, 1), A_HOT)
    rows.append((_at(dt.date(2026, 9, 20), 10), "criminal", "theft", *FAR))
    _load(as_user("dispatcher"), rows, "far")


def _peak(call: Callable[[], object]) -> tuple[object, float]:
    tracemalloc.start()
    try:
        out = call()
        return out, tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("hotspots", {"start": "2026-09-01", "end": "2026-10-11", "cell": 50}),
        ("forecast", {"day": "2026-10-11", "cell": 150, "fit_days": 10, "category": "criminal"}),
        ("warnings", {"end": "2026-10-11", "days": 7, "history_days": 30, "cell": 200}),
    ],
)
def test_a_far_placeholder_point_does_not_stretch_the_grid(
    with_far_point: None, as_user: Callable[[str], TestClient], path: str, params: dict[str, object]
) -> None:
    # The grid is the jurisdictions' extent: the far call is left out (and counted), and the
    # request allocates a few MB. Over the bounding box with it, a 50 m grid would be 9e8 cells.
    client = as_user("analyst")
    r, peak = _peak(lambda: client.get(f"/api/intel/{path}", params=params))
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert peak < 200, f"{peak:.0f} MB"
    body = r.json()  # type: ignore[attr-defined]
    if path != "warnings":
        assert body["properties"]["n_outside"] == 1
        assert body["features"]


def test_without_jurisdictions_a_far_point_is_a_422_not_an_allocation(
    db: Database, org: Org
) -> None:
    cmd = org.units["CMD"].id  # the command centre has no jurisdiction drawn
    actor = Actor(user_id=None, name="t", role=Role.analyst, scope=Scope(frozenset([cmd])))
    x, y = to_metres(np.array([A_HOT[0], FAR[0]]), np.array([A_HOT[1], FAR[1]]), "EPSG:32648")
    with db.session() as s:
        with pytest.raises(ValidationFailed) as refused:
            _peak(lambda: areas.study_grid(s, actor, "EPSG:32648", 50.0, x, y))
        assert refused.value.details[0]["field"] == "cell"
        assert "超过上限 1,500,000" in refused.value.message
        near = areas.study_grid(s, actor, "EPSG:32648", 50.0, x[:1], y[:1])
    assert near.grid.n_cells == 1 and not near.drawn


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"distance_edges": "0,100,1e308"}, "distance_edges", "超过上限 5000 米"),
        ({"distance_edges": "0,100000"}, "distance_edges", "超过上限 5000 米"),
        ({"distance_edges": "0,inf"}, "distance_edges", "有限"),
        ({"distance_edges": "0,100,nan"}, "distance_edges", "有限"),
        ({"time_edges": "0,7,400"}, "time_edges", "超过上限 365 天"),
    ],
)
def test_near_repeat_bands_must_be_finite_and_near(
    as_user: Callable[[str], TestClient], params: dict[str, str], field: str, says: str
) -> None:
    r = as_user("analyst").get("/api/intel/nearrepeat", params={"category": "criminal", **params})
    assert r.status_code == 422, r.text
    detail = r.json()["error"]["details"][0]
    assert detail["field"] == field and says in detail["message"]


def test_near_repeat_counts_its_pairs_before_listing_them(
    as_user: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(as_user("dispatcher"), _cluster_rows(20, 20, dt.date(2026, 9, 1), A_HOT), "n")
    params = {"category": "criminal", "start": "2026-09-01", "end": "2026-10-01"}
    ok = as_user("chief_a").get("/api/intel/nearrepeat", params=params).json()
    assert ok["n_pairs"] == 190  # all 20 calls within 400 m of each other
    monkeypatch.setattr(budget, "MAX_KNOX_PAIRS", 100)
    r = as_user("chief_a").get("/api/intel/nearrepeat", params=params)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "distance_edges"
    assert "190 超过上限 100" in r.json()["error"]["message"]
    monkeypatch.setattr(budget, "MAX_KNOX_PAIRS", 1000)
    monkeypatch.setattr(budget, "MAX_KNOX_WORK", 190 * 50)
    r = as_user("chief_a").get("/api/intel/nearrepeat", params={**params, "permutations": 99})
    assert r.status_code == 422
    detail = r.json()["error"]["details"][0]
    assert detail["field"] == "permutations" and "最多 50 次置换" in detail["message"]
    fine = as_user("chief_a").get("/api/intel/nearrepeat", params={**params, "permutations": 49})
    assert fine.status_code == 200


@pytest.mark.parametrize(
    ("limit", "value", "path", "params", "field"),
    [
        ("MAX_GRID_CELLS", 1000, "hotspots", {"start": "2026-09-01", "cell": 100}, "cell"),
        ("MAX_EVENTS", 50, "hotspots", {"start": "2026-09-01"}, "start"),
        ("MAX_TREND_CELLS", 40, "trends", {"start": "2026-09-01", "end": "2026-10-11"}, "freq"),
        ("MAX_SCAN_WORK", 10_000, "warnings", {"end": "2026-10-11", "cell": 500}, "simulations"),
        (
            "MAX_FIT_ROWS",
            10,
            "forecast",
            {"day": "2026-10-11", "fit_days": 20, "category": "criminal"},
            "fit_days",
        ),
        ("MAX_FORECAST_CELLS", 1000, "forecast", {"day": "2026-10-11", "cell": 100}, "cell"),
    ],
)
def test_a_request_over_its_budget_is_a_422_naming_the_field_and_the_limit(
    as_user: Callable[[str], TestClient],
    monkeypatch: pytest.MonkeyPatch,
    limit: str,
    value: int,
    path: str,
    params: dict[str, object],
    field: str,
) -> None:
    _load(as_user("dispatcher"), _cluster_rows(40, 40, dt.date(2026, 9, 1), A_HOT), "b")
    client = as_user("chief_a")
    assert client.get(f"/api/intel/{path}", params=params).status_code == 200
    monkeypatch.setattr(budget, limit, value)
    r = client.get(f"/api/intel/{path}", params=params)
    assert r.status_code == 422, r.text
    detail = r.json()["error"]["details"][0]
    assert detail["field"] == field and f"超过上限 {value:,}" in detail["message"]
