"""Trends flag missing days (``analysis.completeness``) instead of reading them as a change: a
sampled export's empty days in the compared weeks are listed with a warning."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.intel.test_views import A_HOT, Row, _at, _load, _spread


def test_a_week_with_missing_days_is_flagged(as_user: Callable[[str], TestClient]) -> None:
    d0 = dt.date(2026, 9, 3)
    rows: list[Row] = []
    for day in range(42):
        if day in (37, 38):  # two days missing from the export in the last week
            continue
        for i in range(5):
            at = _at(d0 + dt.timedelta(days=day), 8 + 2 * i)
            rows.append((at, "criminal", "burglary", *_spread(day * 5 + i, A_HOT)))
    _load(as_user("dispatcher"), rows, "g")
    r = as_user("analyst").get(
        "/api/intel/trends", params={"start": "2026-10-08", "end": "2026-10-15"}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert [(g["day"], g["reason"]) for g in out["data_gaps"]] == [
        ("2026-10-10", "no_calls"),
        ("2026-10-11", "no_calls"),
    ]
    assert "数据可能缺失" in out["data_gaps_warning"]
    earlier = (
        as_user("analyst")
        .get("/api/intel/trends", params={"start": "2026-09-24", "end": "2026-10-01"})
        .json()
    )
    assert earlier["data_gaps"] == [] and earlier["data_gaps_warning"] is None
