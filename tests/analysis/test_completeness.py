"""Data completeness on hand-computed series: an empty day and a day far below its weekday's
usual count are flagged; a quiet day, the record's edges and small counts are not."""

from __future__ import annotations

import datetime as dt

from qingzhi.analysis.completeness import gaps, period_gaps

D0 = dt.date(2026, 10, 1)


def _series(counts: list[int]) -> dict[dt.date, int]:
    return {D0 + dt.timedelta(days=i): c for i, c in enumerate(counts) if c}


def test_an_empty_day_and_a_collapsed_day_are_flagged() -> None:
    counts = [20] * 63  # nine weeks of 20 a day
    counts[30] = 0  # an outage
    counts[40] = 4  # 4 where 20 are usual: below a quarter
    counts[50] = 12  # quiet, not missing
    found = gaps(_series(counts))
    assert [(g.day, g.count, g.usual, g.reason) for g in found] == [
        (D0 + dt.timedelta(days=30), 0, 20.0, "no_calls"),
        (D0 + dt.timedelta(days=40), 4, 20.0, "far_below"),
    ]
    assert "无任何警情" in found[0].label and "仅 4 起" in found[1].label


def test_a_monthly_sample_shows_its_gaps_and_small_counts_are_noise() -> None:
    # the first 3 days of each of three months (as the sampled export was)
    days = {dt.date(2026, m, d): 30 for m in (7, 8, 9) for d in (1, 2, 3)}
    found = gaps(days)
    assert found and all(g.reason == "no_calls" for g in found)
    assert len(found) == (dt.date(2026, 9, 3) - dt.date(2026, 7, 1)).days + 1 - 9
    assert period_gaps(days, dt.date(2026, 7, 1), dt.date(2026, 7, 3)) == []
    assert len(period_gaps(days, dt.date(2026, 7, 4), dt.date(2026, 7, 10))) == 7
    sparse = _series([2, 1, 3, 1, 2, 1, 0, 2, 3, 1, 1, 2, 3, 1, 1])
    assert gaps(sparse) == []  # none where 2 are usual happens: not flagged
