"""How far the reform evaluation's estimate on the demo moves with the demo's draw.

The two-year demo draws each window from a stream seeded with its first day, so a demo loaded on
another day (the reform date is 12 months before today) is another sample of the same model.
This loads the demo as of each of ``--days`` consecutive days ending ``--last`` (04:00 UTC, so
the Asia/Shanghai date is that day), with the injected effect, in ``--jobs`` processes, and
prints the DiD rate ratio of the criminal and public-order calls with its interval, the truth
(1 − the injected fall) and the error in percentage points, then the mean and the spread.

    PYTHONPATH=src .venv/bin/python -m research.impact_demo_dates --last 2026-12-03 --days 8
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

OUTCOMES = ("criminal", "public_order")


def one(day: str, folder: str) -> dict[str, tuple[float, float, float]]:
    """The demo as of ``day``, and the estimate for each outcome."""
    from qingzhi.auth.context import system_actor
    from qingzhi.config import Settings
    from qingzhi.demo.kpi import bundling_impacts
    from qingzhi.demo.years import load_two_years
    from qingzhi.store.db import Database, migrate

    url = f"sqlite:///{Path(folder) / (day + '.db')}"
    migrate(url)
    db = Database(url)
    settings = Settings(database_url=url)
    now = dt.datetime.fromisoformat(day + "T04:00:00+00:00")
    load_two_years(db=db, actor=system_actor("demo"), settings=settings, now=now)
    with db.session() as s:
        out = {
            outcome: (rep.did.rate_ratio, rep.did.low, rep.did.high)
            for outcome, rep in bundling_impacts(
                session=s, settings=settings, outcomes=OUTCOMES, draws=199
            )
        }
    db.dispose()
    Path(folder, day + ".db").unlink()
    return out


def main() -> None:
    """Load the demo as of each day and print the estimates."""
    from qingzhi.demo.kpi import injected_rate_ratio

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--last", type=dt.date.fromisoformat, default=dt.date.today())
    ap.add_argument("--days", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    days = [(args.last - dt.timedelta(days=i)).isoformat() for i in range(args.days)][::-1]
    errors: dict[str, list[float]] = {o: [] for o in OUTCOMES}
    with tempfile.TemporaryDirectory() as folder, ProcessPoolExecutor(args.jobs) as pool:
        for day, found in zip(days, pool.map(one, days, [folder] * len(days)), strict=True):
            for outcome in OUTCOMES:
                rr, low, high = found[outcome]
                truth = injected_rate_ratio(outcome)
                err = 100 * (rr - truth)
                errors[outcome].append(err)
                held = "held" if low <= truth <= high else "MISSED"
                print(
                    f"{day} {outcome:13s} RR {rr:.3f} [{low:.3f}, {high:.3f}] "
                    f"truth {truth:.3f} error {err:+.1f} pp {held}",
                    flush=True,
                )
    for outcome, errs in errors.items():
        within = sum(abs(e) <= 5 for e in errs)
        print(
            f"{outcome}: mean error {statistics.mean(errs):+.1f} pp, "
            f"sd {statistics.stdev(errs):.1f} pp, within ±5 pp on {within} of {len(errs)} days"
        )


if __name__ == "__main__":
    main()
