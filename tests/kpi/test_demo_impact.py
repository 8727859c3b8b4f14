"""The reform evaluation on the two-year demo: it recovers the effect the demo injected in the
bundled stations (criminal and public-order calls) within ±5 percentage points, and finds
nothing on the variant of the demo drawn without it (slow: two demo loads).

The demo is loaded as of a fixed instant: each of its windows is drawn from a stream seeded with
its first day, so a demo loaded on another day is another sample, and the estimate moves with it
(``research/impact_demo_dates.py``: over nine consecutive days the public-order error ranged
from −9.0 to +1.9 points). The test pins one sample, the one of the day it was written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo.kpi import bundling_impacts, injected_rate_ratio
from qingzhi.demo.reform import FALL_IN_BUNDLED
from qingzhi.demo.years import load_two_years
from qingzhi.store.db import Database, migrate

pytestmark = pytest.mark.slow

NOW = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)  # 12:00 on 2026-12-01 in Asia/Shanghai


def _impact(tmp: Path, injected: bool) -> dict[str, tuple[float, float, float]]:
    url = f"sqlite:///{tmp / ('with.db' if injected else 'without.db')}"
    migrate(url)
    db = Database(url)
    settings = Settings(database_url=url)
    load_two_years(db=db, actor=system_actor("demo"), settings=settings, injected=injected, now=NOW)
    with db.session() as s:
        out = {
            outcome: (rep.did.rate_ratio, rep.did.low, rep.did.high)
            for outcome, rep in bundling_impacts(
                session=s, settings=settings, outcomes=list(FALL_IN_BUNDLED), draws=199
            )
        }
    db.dispose()
    return out


def test_the_injected_effect_is_recovered_and_none_is_found_without_it(tmp_path: Path) -> None:
    found = _impact(tmp_path, injected=True)
    for outcome in FALL_IN_BUNDLED:
        rr, low, high = found[outcome]
        truth = injected_rate_ratio(outcome)
        assert abs(rr - truth) <= 0.05, (outcome, rr)
        assert low <= truth <= high
    none = _impact(tmp_path, injected=False)
    for outcome in FALL_IN_BUNDLED:
        _, low, high = none[outcome]
        assert low <= 1.0 <= high, (outcome, none[outcome])
