"""Demo county benchmark (issue 3): build the org bundle, import it, generate a year of 110 calls.

Times, in a fresh temporary SQLite database migrated like production:
1. ``qingzhi.demo.county.build_county`` — geography (cold cache) and the org bundle;
2. ``qingzhi.demo.loader.load_demo`` — the bundle import plus the demo accounts, and a second,
   idempotent load;
3. ``qingzhi.demo.incidents.generate_incidents`` — a year of synthetic incident specs (the
   incident database load will be added with the intake service).

    .venv/bin/python bench/demo_load.py [--seed 2026] [--days 365]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from qingzhi.auth.context import system_actor
from qingzhi.demo import county as county_mod
from qingzhi.demo.incidents import generate_incidents
from qingzhi.demo.loader import load_demo
from qingzhi.store.db import Database, migrate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()

    t0 = time.perf_counter()
    county = county_mod.generate_county(args.seed)
    t1 = time.perf_counter()
    files = county_mod.build_county(args.seed)
    t2 = time.perf_counter()
    size = sum(len(v) for v in files.values())
    print(f"county geography (26 townships, bundles):  {t1 - t0:6.2f} s")
    print(f"org bundle ({size / 1024:.0f} KiB):                     {t2 - t1:6.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        db = Database(url)
        t3 = time.perf_counter()
        with db.session(write=True) as session:
            report = load_demo(session=session, actor=system_actor("bench"), seed=args.seed)
        t4 = time.perf_counter()
        with db.session(write=True) as session:
            load_demo(session=session, actor=system_actor("bench"), seed=args.seed)
        t5 = time.perf_counter()
        db.dispose()
    created = report.import_report.created
    print(f"import + accounts ({created}):  {t4 - t3:6.2f} s")
    print(f"second load (idempotent):                  {t5 - t4:6.2f} s")

    t6 = time.perf_counter()
    specs = generate_incidents(county, days=args.days)
    t7 = time.perf_counter()
    valid = sum(s.valid for s in specs)
    cats = Counter(s.category for s in specs if s.valid)
    print(
        f"incident specs, {args.days} days ({len(specs):,} calls, {valid:,} valid): "
        f"{t7 - t6:6.2f} s"
    )
    print("  valid by category: " + ", ".join(f"{k} {v:,}" for k, v in cats.most_common()))
    print(f"total: {t7 - t0:.2f} s")


if __name__ == "__main__":
    main()
