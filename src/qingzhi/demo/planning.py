"""The demo's plans: the seed's bundling question and an allocation, computed on load.

Through the plans service, as any run: checked, saved (audited) and computed. The bundling asks
the seed's question — 8 central stations over 17 rural stations, a central seat at most 45
minutes from its members' — so the planning page compares the demo's actual 17 → 8 with the
optimum; the allocation lists the moves worth at least 0.002 minutes of the bureau's mean
response each. Idempotent: a plan of the same title is not computed again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.plans import service
from qingzhi.plans.models import Plan
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

DEMO_RUNS: tuple[dict[str, Any], ...] = (
    {
        "kind": "bundle",
        "title": "演示：8 个中心所捆绑 17 个农村所（驻地 ≤ 45 分钟）",
        "n_bundles": [8, 8],
        "n_bundled": [17, 17],
        "max_seat_minutes": 45,
    },
    {"kind": "allocate", "title": "演示：按警情调整民警（每调 1 人至少 0.002 分钟）",
     "min_gain_minutes": 0.002},
)  # fmt: skip


def load_plans(*, db: Database, actor: Actor, settings: Settings) -> list[int]:
    """Compute the demo's plans not yet in the store; their ids."""
    done = []
    for body in DEMO_RUNS:
        with db.session() as session:
            if session.scalar(select(Plan.id).where(Plan.title == body["title"])) is not None:
                continue
            run = service.RUN.validate_python(body)
            service.check_run(session=session, actor=actor, settings=settings, run=run)
        with db.session(write=True) as session:
            plan_id = service.create(session=session, actor=actor, run=run).id
        service.run_compute(db=db, actor=actor, settings=settings, plan_id=plan_id)
        done.append(plan_id)
    log.info("demo plans computed: %s", done)
    return done
