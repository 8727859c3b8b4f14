"""The evaluation on the demo county: does the reform impact estimator recover the effect the
two-year demo injected?

The demo's pre-reform year has more criminal and public-order calls in the 17 stations the
reform bundled (``qingzhi.demo.reform.FALL_IN_BUNDLED``: the seed's year-on-year falls, 70.88 %
and 40.49 %), and nothing else differs between the years but the generator's noise. So the
true rate ratio of the bundled stations against the others is 1 − fall for those two outcomes
and 1 for traffic. The script loads the two-year demo into ``--database`` when it is empty
(the calls only: no cases, community or plans), then prints for each outcome the treated and
control stations' year-on-year change, the DiD rate ratio with its 95 % interval, the truth, and
whether the interval holds it. Then it times one station's trend (``kpi.trend``: every station
scored in each of 8 quarters, ``--draws`` bootstrap draws each) against scoring one quarter.

    PYTHONPATH=src .venv/bin/python bench/kpi_demo.py --database sqlite:////tmp/demo2.db
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import func, select

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo.kpi import bundling_impacts, injected_rate_ratio
from qingzhi.demo.years import load_two_years
from qingzhi.incidents.models import Incident
from qingzhi.kpi import records, service, trend
from qingzhi.store.db import Database, migrate

OUTCOMES = ("criminal", "public_order", "traffic")


def main() -> None:
    """Load if needed, then evaluate the bundling reform on three outcomes."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--database", required=True)
    ap.add_argument("--draws", type=int, default=999)
    args = ap.parse_args()
    settings = Settings(database_url=args.database)
    migrate(args.database)
    db = Database(args.database)
    with db.session() as s:
        n = s.execute(select(func.count()).select_from(Incident)).scalar_one()
    if n == 0:
        t = time.perf_counter()
        r = load_two_years(db=db, actor=system_actor("demo"), settings=settings)
        print(f"loaded the two-year demo (reform {r.reform_on}) in {time.perf_counter() - t:.0f} s")
    with db.session() as s:
        t = time.perf_counter()
        for outcome, rep in bundling_impacts(
            session=s, settings=settings, outcomes=OUTCOMES, draws=args.draws
        ):
            true_rr = injected_rate_ratio(outcome)
            d = rep.did
            held = d.low <= true_rr <= d.high
            yoy_t = f"{rep.yoy_treated.change:+.1%}" if rep.yoy_treated else "—"
            yoy_c = f"{rep.yoy_controls.change:+.1%}" if rep.yoy_controls else "—"
            print(
                f"{outcome:13s} treated YoY {yoy_t:>7s}  controls YoY {yoy_c:>7s}  "
                f"DiD RR {d.rate_ratio:.3f} [{d.low:.3f}, {d.high:.3f}]  truth {true_rr:.3f}  "
                f"{'held' if held else 'MISSED'}  "
                f"(error {100 * (d.rate_ratio - true_rr):+.1f} pp, "
                f"{time.perf_counter() - t:.1f} s, "
                f"{rep.n_treated} treated / {rep.n_controls} controls)"
            )
            t = time.perf_counter()

        found = records.stations(s)
        last = service.last_quarter(settings.timezone)
        t = time.perf_counter()
        service.scores(
            session=s, actor=system_actor(), settings=settings, period=last, draws=args.draws
        )
        one = time.perf_counter() - t
        t = time.perf_counter()
        out = trend.station_trend(
            session=s,
            actor=system_actor(),
            settings=settings,
            unit_id=found[0].id,
            period=last,
            periods=8,
            draws=args.draws,
        )
        scored = sum(1 for p in out["periods"] if p["score"] is not None)
        print(
            f"trend of {found[0].code} over 8 quarters to {last} ({scored} with calls, "
            f"{len(found)} stations, {args.draws} draws): {time.perf_counter() - t:.2f} s; "
            f"one quarter's scores: {one:.2f} s"
        )


if __name__ == "__main__":
    main()
