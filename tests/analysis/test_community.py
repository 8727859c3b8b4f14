"""Community measures on hand-computed cases (``qingzhi.analysis.community``)."""

from __future__ import annotations

import pytest

from qingzhi.analysis.community import (
    DisputeFact,
    coverage,
    households,
    median_minutes,
    share_within,
    summarise,
)


def fact(outcome: str | None, minutes: float | None, repeats: int = 0, **kw: bool) -> DisputeFact:
    return DisputeFact(
        outcome=outcome,
        minutes=minutes,
        repeat_calls=repeats,
        from_visit=kw.get("from_visit", False),
        called_before=kw.get("called_before", True),
    )


def test_hand_computed_group() -> None:
    """Five disputes: durations 20, 30, 45, 90 (one not yet settled); outcomes settled ×2,
    partially settled, referred; one settled dispute called again.

    median(20, 30, 45, 90) = (30 + 45) / 2 = 37.5; within 30 min: 20 and 30 → 2/4 = 0.5;
    in the community: settled ×2 + partial = 3 of 4 outcomes = 0.75; repeat rate: 1 of the 3
    settled-in-community disputes = 1/3; households: 10,400 / 2.6 = 4,000, 1,000 visited = 0.25;
    found by visits: 2, of which 1 with no call before it."""
    facts = [
        fact("settled", 20.0),
        fact("settled", 30.0, repeats=2),
        fact("partially_settled", 45.0, from_visit=True, called_before=False),
        fact("referred", 90.0, from_visit=True, called_before=True),
        fact(None, None),
    ]
    s = summarise(
        facts, visits=1200, visited_households=1000, population=10_400, household_size=2.6
    )
    assert s.disputes == 5 and s.mediated == 4
    assert s.median_minutes == 37.5
    assert s.share_within_30 == 0.5
    assert s.share_in_community == 0.75
    assert s.settled == 3 and s.repeat_within_30 == 1
    assert s.repeat_rate == pytest.approx(1 / 3)
    assert s.households_estimate == 4000 and s.coverage == 0.25
    assert s.found_by_visits == 2 and s.found_before_call == 1


def test_empty_and_edge_cases() -> None:
    s = summarise([], visits=0, visited_households=0, population=None, household_size=2.6)
    assert s.median_minutes is None and s.share_within_30 is None
    assert s.share_in_community is None and s.repeat_rate is None and s.coverage is None
    assert median_minutes([61.0]) == 61.0
    assert share_within([30.0, 30.1]) == 0.5  # 30 minutes is within the target, 30.1 is not
    assert households(1, 2.6) == 1 and households(None, 2.6) is None
    assert coverage(5000, 4000) == 1.0  # capped
