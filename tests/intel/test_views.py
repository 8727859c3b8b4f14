"""The analysis API: scoped, hand-computable trend counts and tests, maps, warnings, bad input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scipy import stats
from shapely.geometry import Point, shape

from qingzhi.analysis.methods import prepare
from qingzhi.intel import forecasting
from tests.factories import incident_body

# Station A covers lon 107.0-107.1, lat 30.0-30.1; station B lon 107.1-107.2 (tests/factories.py).
A_HOT = (107.0503, 30.0503)
B_HOT = (107.1503, 30.0503)

Row = tuple[str, str, str, float, float]  # received_at, category, subtype, lon, lat


def _load(client: TestClient, rows: Sequence[Row], prefix: str) -> None:
    items = [
        incident_body(
            source_id=f"{prefix}-{i}",
            received_at=at,
            category=cat,
            subtype=sub,
            caller_phone=f"139{i:08d}",
            location={"lon": lon, "lat": lat, "datum": "wgs84"},
        )
        for i, (at, cat, sub, lon, lat) in enumerate(rows)
    ]
    r = client.post("/api/incidents/bulk", json={"items": items})
    assert r.status_code == 200, r.text
    assert r.json()["errors"] == []


def _at(day: dt.date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+08:00"


def _spread(i: int, base: tuple[float, float]) -> tuple[float, float]:
    """Distinct places 500 m+ apart inside a station, so no call is a repeat of another."""
    return base[0] - 0.04 + 0.006 * (i % 12), base[1] - 0.04 + 0.006 * (i // 12 % 12)


D0 = dt.date(2026, 10, 1)  # a Thursday


@pytest.fixture
def trend_data(as_user: Callable[[str], TestClient]) -> None:
    """Week 2026-10-08..14: A has 3 criminal + 2 public order, B has 4 criminal; the week
    before: A has 1 criminal; a year before (2025-10-08..14): A has 2 public order."""
    rows: list[Row] = []
    week = D0 + dt.timedelta(days=7)
    for i in range(3):
        rows.append(
            (_at(week + dt.timedelta(days=i), 9), "criminal", "burglary", *_spread(i, A_HOT))
        )
    for i in range(2):
        rows.append(
            (_at(week + dt.timedelta(days=i), 20), "public_order", "fight", *_spread(i + 20, A_HOT))
        )
    for i in range(4):
        rows.append(
            (_at(week + dt.timedelta(days=i), 9), "criminal", "burglary", *_spread(i, B_HOT))
        )
    rows.append((_at(D0 + dt.timedelta(days=2), 9), "criminal", "burglary", *_spread(40, A_HOT)))
    year = dt.date(2025, 10, 9)
    for i in range(2):
        rows.append((_at(year, 10 + i), "public_order", "fight", *_spread(50 + i, A_HOT)))
    _load(as_user("dispatcher"), rows, "t")


def _trends(client: TestClient, **params: object) -> dict[str, object]:
    r = client.get("/api/intel/trends", params=params)
    assert r.status_code == 200, r.text
    out: dict[str, object] = r.json()
    return out


def test_trends_counts_are_scoped(trend_data: None, as_user: Callable[[str], TestClient]) -> None:
    week = {"start": "2026-10-08", "end": "2026-10-15"}
    everything = _trends(as_user("analyst"), **week)
    assert everything["total"] == 9
    chief = _trends(as_user("chief_a"), **week)
    assert chief["total"] == 5
    series = chief["series"]
    assert isinstance(series, dict)
    assert series["groups"] == ["criminal", "public_order"]
    assert chief["labels"] == {"criminal": "刑事", "public_order": "治安"}
    assert series["periods"][:3] == ["2026-10-08", "2026-10-09", "2026-10-10"]
    # day 1: 1 criminal + 1 public order; day 2: the same; day 3: 1 criminal
    assert series["counts"][:3] == [[1, 1], [1, 1], [1, 0]]
    by_group = {c["group"]: c for c in chief["comparisons"]}  # type: ignore[attr-defined]
    pop = by_group["criminal"]["period_over_period"]
    assert (pop["current"], pop["previous"]) == (3, 1)
    assert pop["p_value"] == pytest.approx(2 * (4 + 1) / 16, abs=1e-6)  # binomial(4, 1/2)
    assert pop["verdict"] == "无显著变化"
    yoy = by_group["public_order"]["year_on_year"]
    assert (yoy["current"], yoy["previous"]) == (2, 2)
    assert yoy["p_value"] == pytest.approx(1.0)
    how = chief["hour_of_week"]
    assert isinstance(how, list) and len(how) == 168 and sum(how) == 5
    # Thursday 2026-10-08 09:00 is hour 3 * 24 + 9 of the Monday-based week
    assert how[3 * 24 + 9] == 1


def test_trends_weekly_by_unit(
    trend_data: None, as_user: Callable[[str], TestClient], org: object
) -> None:
    out = _trends(
        as_user("analyst"), start="2026-10-01", end="2026-10-15", freq="week", group_by="unit"
    )
    series = out["series"]
    assert isinstance(series, dict)
    units = org.units  # type: ignore[attr-defined]
    a, b = str(units["A"].id), str(units["B"].id)
    col = {g: i for i, g in enumerate(series["groups"])}
    weeks = dict(zip(series["periods"], series["counts"], strict=True))
    # weeks start on Monday: 2026-09-28 holds 10-01..04, 2026-10-05 holds 10-05..11
    assert weeks["2026-09-28"][col[a]] == 1
    assert weeks["2026-10-05"][col[a]] == 5 and weeks["2026-10-05"][col[b]] == 4
    assert out["labels"] == {a: "城一派出所", b: "城二派出所"}


def test_significant_rise_verdict(as_user: Callable[[str], TestClient]) -> None:
    rows = [
        (
            _at(dt.date(2026, 10, 8) + dt.timedelta(days=i % 7), 8 + i // 7),
            "criminal",
            "burglary",
            *_spread(i, A_HOT),
        )
        for i in range(12)
    ]
    _load(as_user("dispatcher"), rows, "rise")
    out = _trends(as_user("chief_a"), start="2026-10-08", end="2026-10-15")
    totals = out["totals"]
    assert isinstance(totals, dict)
    pop = totals["period_over_period"]
    assert (pop["current"], pop["previous"]) == (12, 0)
    assert pop["p_value"] == pytest.approx(stats.binomtest(12, 12, 0.5).pvalue, abs=1e-6)
    assert pop["verdict"] == "显著上升"
    assert pop["change"] is None  # from zero: no finite relative change


def test_compstat_windows(trend_data: None, as_user: Callable[[str], TestClient]) -> None:
    out = _trends(as_user("chief_a"), start="2026-10-08", end="2026-10-15")
    rows = {r["days"]: r for r in out["compstat"]}  # type: ignore[attr-defined]
    assert rows[7]["current"] == 5  # 10-08..14
    assert rows[7]["period_over_period"]["previous"] == 1  # 10-01..07
    assert rows[28]["current"] == 6


def _cluster_rows(n_hot: int, days: int, start: dt.date, base: tuple[float, float]) -> list[Row]:
    rows: list[Row] = []
    for i in range(n_hot):
        day = start + dt.timedelta(days=i % days)
        # within ~20 m of the hot point, a day apart (calls an hour apart would be repeats)
        rows.append((_at(day, 10), "criminal", "theft", base[0] + 0.0001 * (i % 3), base[1]))
    for i in range(60):
        day = start + dt.timedelta(days=i % days)
        rows.append((_at(day, 12), "public_order", "fight", *_spread(i, base)))
    return rows


def test_hotspots_gi_star_finds_cluster_in_scope(as_user: Callable[[str], TestClient]) -> None:
    rows = _cluster_rows(30, 30, dt.date(2026, 9, 1), A_HOT)
    rows += [(a, c, s, lon + 0.1, lat) for a, c, s, lon, lat in rows]  # the same in station B
    _load(as_user("dispatcher"), rows, "h")
    params = {"start": "2026-09-01", "end": "2026-10-01", "cell": 150}
    r = as_user("analyst").get("/api/intel/hotspots", params=params)
    assert r.status_code == 200, r.text
    hot = [f for f in r.json()["features"] if f["properties"]["kind"] == "hot"]
    assert any(shape(f["geometry"]).contains(Point(*A_HOT)) for f in hot)
    assert any(shape(f["geometry"]).contains(Point(*B_HOT)) for f in hot)
    for f in hot:
        p = f["properties"]
        assert p["q"] <= 0.05 and p["p"] <= p["q"] and p["z"] > 0
    chief = as_user("chief_a").get("/api/intel/hotspots", params=params).json()
    assert chief["properties"]["n_events"] == 90
    chief_hot = [f for f in chief["features"] if f["properties"]["kind"] == "hot"]
    assert any(shape(f["geometry"]).contains(Point(*A_HOT)) for f in chief_hot)
    assert not any(shape(f["geometry"]).contains(Point(*B_HOT)) for f in chief_hot)
    top = max(chief_hot, key=lambda f: f["properties"]["count"])
    assert top["properties"]["count"] == 30


def test_forecast_top_cell_is_the_persistent_hotspot(as_user: Callable[[str], TestClient]) -> None:
    _load(as_user("dispatcher"), _cluster_rows(40, 40, dt.date(2026, 9, 1), A_HOT), "f")
    params = {"day": "2026-10-11", "top": 5, "fit_days": 20, "category": "criminal"}
    r = as_user("chief_a").get("/api/intel/forecast", params=params)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["properties"]["method"] == "ensemble"
    assert out["properties"]["fit_days"] == 20
    first = out["features"][0]
    assert first["properties"]["rank"] == 1
    assert shape(first["geometry"]).contains(Point(*A_HOT))
    scores = [f["properties"]["score"] for f in out["features"]]
    assert scores == sorted(scores, reverse=True)
    # no traffic incidents: an empty layer, not an error
    params = {**params, "category": "traffic"}
    empty = as_user("analyst").get("/api/intel/forecast", params=params)
    assert empty.status_code == 200, empty.text
    assert empty.json()["features"] == [] and empty.json()["properties"]["method"] is None


def test_near_repeat_table(as_user: Callable[[str], TestClient]) -> None:
    _load(as_user("dispatcher"), _cluster_rows(20, 20, dt.date(2026, 9, 1), A_HOT), "n")
    params = {
        "category": "criminal",
        "start": "2026-09-01",
        "end": "2026-10-01",
        "distance_edges": "0,100,1000",
        "time_edges": "0,7,30",
    }
    out = as_user("chief_a").get("/api/intel/nearrepeat", params=params).json()
    assert out["n_events"] == 20
    assert len(out["observed"]) == 2 and len(out["observed"][0]) == 2
    # all 20 events lie within 100 m and 20 days: every pair is in the first distance band
    assert sum(out["observed"][0]) == 20 * 19 // 2
    assert sum(out["observed"][1]) == 0


def test_forecast_fit_is_kept_for_the_day(
    as_user: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted: list[int] = []

    def counted(forecaster: Any, series: Any, start: int, **kw: Any) -> None:
        fitted.append(start)
        prepare(forecaster, series, start, **kw)

    monkeypatch.setattr(forecasting, "prepare", counted)
    forecasting._FITTED.clear()
    _load(as_user("dispatcher"), _cluster_rows(40, 40, dt.date(2026, 9, 1), A_HOT), "k")
    params = {"day": "2026-10-11", "top": 5, "fit_days": 20, "category": "criminal"}
    first = as_user("chief_a").get("/api/intel/forecast", params=params).json()
    assert len(fitted) == 1
    # a call on the eve (10-10) is scored but does not refit: the fit stops at the eve. It
    # comes at 20:00, outside the repeat window of the eve's 10:00 call (at 09:00 it would be
    # the first call and the 10:00 one its repeat: the count would not change)
    _load(
        as_user("dispatcher"), [(_at(dt.date(2026, 10, 10), 20), "criminal", "theft", *A_HOT)], "e"
    )
    again = as_user("chief_a").get("/api/intel/forecast", params=params).json()
    assert len(fitted) == 1
    assert again["properties"]["params"] == first["properties"]["params"]
    assert again["properties"]["n_events"] == first["properties"]["n_events"] + 1
    # a call inside the fitted days changes the data: fitted again
    _load(as_user("dispatcher"), [(_at(dt.date(2026, 10, 1), 9), "criminal", "theft", *A_HOT)], "d")
    as_user("chief_a").get("/api/intel/forecast", params=params)
    assert len(fitted) == 2


def _scattered() -> list[Row]:
    """One call a day for 100 days (120 calls), each at a new place over the station."""
    start = dt.date(2026, 7, 1)
    return [
        (
            _at(start + dt.timedelta(days=i % 100), 10),
            "dispute",
            "neighbour_dispute",
            *_spread(i, A_HOT),
        )
        for i in range(120)
    ]


WARN_PARAMS = {"end": "2026-10-11", "days": 7, "history_days": 90, "cell": 300, "simulations": 99}


def test_warnings_scan_is_quiet_when_calls_come_as_before(
    as_user: Callable[[str], TestClient],
) -> None:
    # The last week's calls are each at a place with no call in the history, as every call of
    # the history was: that is the usual pattern, not a cluster.
    _load(as_user("dispatcher"), _scattered(), "q")
    scan = as_user("chief_a").get("/api/intel/warnings", params=WARN_PARAMS).json()["scan"]
    assert scan["alarm"] is False and scan["p_value"] > 0.05


def test_warnings_scan_refuses_a_grid_too_fine_for_the_area(
    as_user: Callable[[str], TestClient],
) -> None:
    # both stations, about 17 x 9 km: some 15,000 cells of 100 m, over 28 days
    far = (_at(dt.date(2026, 10, 1), 9), "dispute", "neighbour_dispute", 107.19, 30.09)
    _load(as_user("dispatcher"), [*_scattered(), far], "f")
    params = {**WARN_PARAMS, "cell": 100, "days": 28}
    r = as_user("analyst").get("/api/intel/warnings", params=params)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "cell"


def test_warnings_scan_alarms_on_a_burst(as_user: Callable[[str], TestClient]) -> None:
    rows = _scattered()
    burst = (107.0903, 30.0903)
    for i in range(8):  # eight calls in two days at one corner, 4 h apart
        rows.append(
            (
                _at(dt.date(2026, 10, 9) + dt.timedelta(days=i % 2), 6 + 4 * (i // 2)),
                "criminal",
                "theft",
                burst[0] + 0.0002 * (i % 2),
                burst[1],
            )
        )
    _load(as_user("dispatcher"), rows, "w")
    out = as_user("chief_a").get("/api/intel/warnings", params=WARN_PARAMS).json()
    scan = out["scan"]
    assert scan["alarm"] is True and scan["p_value"] <= 0.05
    assert scan["observed"] >= 8
    cells = scan["feature"]["features"]
    assert any(shape(f["geometry"]).contains(Point(*burst)) for f in cells)
    alarms = {(c["unit_id"], c["category"]) for c in out["control_charts"]}
    assert any(cat == "criminal" for _, cat in alarms)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("trends", {"freq": "year"}, "freq"),
        ("trends", {"group_by": "officer"}, "group_by"),
        ("trends", {"start": "2026-10-08", "end": "2026-10-01"}, "end"),
        ("trends", {"start": "not-a-date"}, "start"),
        ("trends", {"category": "alien"}, "category"),
        ("hotspots", {"cell": 10}, "cell"),
        ("hotspots", {"fdr": 0}, "fdr"),
        ("forecast", {"top": 0}, "top"),
        ("forecast", {"coverage": 150}, "coverage"),
        ("nearrepeat", {}, "category"),
        ("nearrepeat", {"category": "criminal", "distance_edges": "0,a"}, "distance_edges"),
        ("nearrepeat", {"category": "criminal", "time_edges": "7,0"}, "time_edges"),
        ("nearrepeat", {"category": "criminal", "permutations": 5}, "permutations"),
        ("warnings", {"days": 0}, "days"),
        ("warnings", {"alpha": 2}, "alpha"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    as_user: Callable[[str], TestClient], path: str, params: dict[str, object], field: str
) -> None:
    r = as_user("analyst").get(f"/api/intel/{path}", params=params)
    assert r.status_code == 422, r.text
    named = [str(d["field"]).split(".") for d in r.json()["error"]["details"]]
    assert any(field in parts for parts in named), named


def test_analysis_needs_sign_in(client: TestClient) -> None:
    assert client.get("/api/intel/trends").status_code == 401


def test_forecast_with_little_history_falls_back_to_counts(
    as_user: Callable[[str], TestClient],
) -> None:
    rows = [
        (_at(dt.date(2026, 10, 8), 9 + i), "criminal", "theft", *_spread(i, A_HOT))
        for i in range(3)
    ]
    _load(as_user("dispatcher"), rows, "fb")
    out = as_user("chief_a").get("/api/intel/forecast", params={"day": "2026-10-10"}).json()
    assert out["properties"]["method"] == "naive"
    assert len(out["features"]) == 3
    assert {f["properties"]["history_count"] for f in out["features"]} == {1}


def test_no_incidents_no_alarm_and_empty_layers(as_user: Callable[[str], TestClient]) -> None:
    out = as_user("chief_c").get("/api/intel/warnings", params={"end": "2026-10-11"}).json()
    assert out["scan"]["alarm"] is False
    assert out["control_charts"] == []
    hot = as_user("chief_c").get("/api/intel/hotspots").json()
    assert hot["features"] == [] and hot["properties"]["n_events"] == 0
