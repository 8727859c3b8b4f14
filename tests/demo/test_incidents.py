"""The synthetic 110 generator: magnitudes, patterns, contagion, repeats, determinism, intake."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pytest

from qingzhi.demo.county import generate_county
from qingzhi.demo.incidents import IncidentSpec, generate_incidents
from qingzhi.geo.projection import to_metres


@pytest.fixture(scope="module")
def year() -> list[IncidentSpec]:
    return generate_incidents(generate_county(2026), seed=110, start=dt.date(2025, 1, 1))


@pytest.fixture(scope="module")
def valid(year: list[IncidentSpec]) -> list[IncidentSpec]:
    return [s for s in year if s.valid]


def test_volume_and_invalid_share(year: list[IncidentSpec], valid: list[IncidentSpec]) -> None:
    assert 55_000 <= len(valid) <= 65_000
    assert len(year) - len(valid) == pytest.approx(0.3 * len(year), rel=0.05)
    reasons = Counter(s.invalid_reason for s in year if not s.valid)
    assert set(reasons) >= {"hang_up", "prank", "duplicate", "test", "non_police"}
    assert all(s.invalid_reason is None for s in valid)
    cats = Counter(s.category for s in valid)
    assert set(cats) == {"criminal", "public_order", "traffic", "dispute", "assistance"}
    assert 0.2 < cats["traffic"] / len(valid) < 0.35


def test_records_are_well_formed(year: list[IncidentSpec]) -> None:
    ids = [s.source_id for s in year]
    assert len(set(ids)) == len(ids)
    assert ids[0].startswith("110-20250101-") and len(ids[0]) == len("110-YYYYMMDD-NNNNN")
    times = [s.received_at for s in year]
    assert times == sorted(times)
    assert all(t.tzinfo is not None and t.utcoffset() == dt.timedelta(0) for t in times[:100])
    county = generate_county(2026)
    minx, miny, maxx, maxy = county.boundary.bounds
    lon = np.array([s.lon for s in year])
    lat = np.array([s.lat for s in year])
    assert minx <= lon.min() and lon.max() <= maxx and miny <= lat.min() and lat.max() <= maxy
    codes = {t.code for t in county.townships}
    assert {s.station_code for s in year} == codes
    for s in year[:2000]:
        assert s.caller_phone.startswith("1") and len(s.caller_phone) == 11
        assert 1 <= s.priority <= 4 and s.address and s.description
        if s.valid:
            assert s.dispatched_at is not None and s.arrived_at is not None
            assert s.resolved_at is not None and s.closed_at is not None
            assert s.received_at <= s.dispatched_at <= s.arrived_at <= s.resolved_at
            assert s.resolved_at <= s.closed_at
        else:
            assert s.dispatched_at is None and s.closed_at is not None


def test_county_seat_is_dense(valid: list[IncidentSpec]) -> None:
    by_station = Counter(s.station_code for s in valid)
    seat = by_station["500231001"] + by_station["500231002"]
    assert seat / len(valid) > 0.3  # 36% of the residents, more than that of the incidents
    assert min(by_station["500231001"], by_station["500231002"]) > 2 * max(
        n for code, n in by_station.items() if code not in ("500231001", "500231002")
    )


def test_clearance_and_mediation(valid: list[IncidentSpec]) -> None:
    crimes = [s for s in valid if s.category == "criminal"]
    cleared = [s for s in crimes if s.cleared]
    assert len(cleared) / len(crimes) == pytest.approx(0.84, abs=0.02)
    assert sum(bool(s.fast_cleared) for s in cleared) / len(cleared) == pytest.approx(
        0.912, abs=0.02
    )
    assert all(s.cleared_at is not None and s.cleared_at > s.received_at for s in cleared)
    assert all(s.cleared is None for s in valid if s.category != "criminal")
    disputes = [s for s in valid if s.category == "dispute"]
    mediated = [s for s in disputes if s.mediated]
    assert 0.8 < len(mediated) / len(disputes) < 0.95
    assert float(np.median([s.mediation_minutes for s in mediated])) == pytest.approx(30, abs=3)
    assert {s.mediation_outcome for s in disputes} >= {"settled", "referred"}


def test_response_time_grows_with_distance(valid: list[IncidentSpec]) -> None:
    county = generate_county(2026)
    seats = {t.code: t.seat for t in county.townships}
    sample = valid[::5]
    sx, sy = to_metres(
        [seats[s.station_code][0] for s in sample], [seats[s.station_code][1] for s in sample]
    )
    x, y = to_metres([s.lon for s in sample], [s.lat for s in sample])
    dist = np.hypot(x - sx, y - sy)
    resp = np.array([(s.arrived_at - s.received_at).total_seconds() for s in sample])  # type: ignore[operator]
    assert np.corrcoef(dist, resp)[0, 1] > 0.3
    assert 4 * 60 < float(np.median(resp)) < 15 * 60


def test_time_patterns(valid: list[IncidentSpec]) -> None:
    local = dt.timedelta(hours=8)
    burglary_hours = Counter((s.received_at + local).hour for s in valid if s.subtype == "burglary")
    night = sum(burglary_hours[h] for h in range(0, 6))
    assert night / sum(burglary_hours.values()) > 0.3
    traffic_hours = Counter((s.received_at + local).hour for s in valid if s.category == "traffic")
    assert traffic_hours[8] > 3 * traffic_hours[3]
    # Spring Festival 2025 (29 January): family disputes above their ordinary level.
    days = Counter((s.received_at + local).date() for s in valid if s.subtype == "family_dispute")
    festival = np.mean([days[dt.date(2025, 1, 29) + dt.timedelta(days=k)] for k in range(-7, 7)])
    ordinary = np.mean([days[dt.date(2025, 4, 1) + dt.timedelta(days=k)] for k in range(60)])
    assert festival > 1.5 * ordinary


def _close_pairs(x: np.ndarray, y: np.ndarray, t: np.ndarray) -> int:
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    lag = np.abs(t[:, None] - t[None, :])
    close = (d < 400.0) & (lag < 7 * 86400.0)
    return int((np.triu(close, k=1)).sum())


def test_near_repeat_contagion(valid: list[IncidentSpec]) -> None:
    burglaries = [s for s in valid if s.subtype == "burglary"]
    x, y = to_metres([s.lon for s in burglaries], [s.lat for s in burglaries])
    t = np.array([s.received_at.timestamp() for s in burglaries])
    observed = _close_pairs(x, y, t)
    rng = np.random.default_rng(1)
    shuffled = np.mean([_close_pairs(x, y, rng.permutation(t)) for _ in range(5)])
    assert observed > 1.5 * shuffled  # Knox test: closer in space-time than chance


def test_repeat_calls(year: list[IncidentSpec]) -> None:
    by_id = {s.source_id: s for s in year}
    repeats = [s for s in year if s.repeat_of is not None]
    assert len(repeats) > 0.05 * len(year)
    for s in repeats[:500]:
        first = by_id[s.repeat_of]  # type: ignore[index]
        assert first.received_at < s.received_at and first.address == s.address
        if not s.valid:
            assert s.invalid_reason == "duplicate"
    assert any(s.valid for s in repeats)


def test_deterministic_and_seeded() -> None:
    county = generate_county(2026)
    a = generate_incidents(county, days=20, seed=3, start=dt.date(2025, 3, 1))
    b = generate_incidents(county, days=20, seed=3, start=dt.date(2025, 3, 1))
    c = generate_incidents(county, days=20, seed=4, start=dt.date(2025, 3, 1))
    assert a == b
    assert a != c
    assert a[0].source_id.startswith("110-20250301-")
    assert max(s.received_at for s in a) < dt.datetime(2025, 3, 21, tzinfo=dt.UTC)


def test_specs_map_onto_the_intake_schema(year: list[IncidentSpec]) -> None:
    schemas = pytest.importorskip("qingzhi.incidents.schemas")
    sample = year[::400]
    for s in sample:
        body = s.to_intake()
        item = schemas.IncidentImport.model_validate(body)
        assert item.source_id == s.source_id and item.valid == s.valid
        assert item.location is not None and item.location.lon == s.lon
    assert {"station_code", "repeat_of", "cleared", "mediated"} <= set(sample[0].extras())
