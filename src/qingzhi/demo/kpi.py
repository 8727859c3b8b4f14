"""The demo county's reforms, recorded through the evaluation service (synthetic, labelled).

Two reforms of the seed change stations: bundling (捆绑运行: the member stations now run by
central stations) and traffic integration (交所合一: the stations that took over the rural traffic
squads' roads). Both take effect on the demo's reform date, by default 12 months before today,
so that the evaluation can compare a year under the reform with the year before it once that
year's calls are loaded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.analysis.impact import ImpactReport
from qingzhi.auth.context import Actor, system_actor
from qingzhi.config import Settings
from qingzhi.demo.reform import FALL_IN_BUNDLED
from qingzhi.kpi import service
from qingzhi.kpi.models import Reform
from qingzhi.kpi.schemas import ReformCreate
from qingzhi.org.models import Unit

log = logging.getLogger(__name__)

BUNDLING = "捆绑运行（2合1、3合1）"
TRAFFIC = "交所合一"


def reform_date(today: dt.date | None = None) -> dt.date:
    """The first day of the month 12 months before ``today``."""
    today = today or dt.date.today()
    return dt.date(today.year - 1, today.month, 1)


def record_reforms(
    *, session: Session, actor: Actor, effective: dt.date | None = None
) -> list[int]:
    """Record the demo's reforms that are not recorded yet; their ids."""
    effective = effective or reform_date()
    members = (
        session.execute(select(Unit.code).where(Unit.central_id.is_not(None)).order_by(Unit.code))
        .scalars()
        .all()
    )
    integrated = (
        session.execute(
            select(Unit.code).where(Unit.traffic_integrated.is_(True)).order_by(Unit.code)
        )
        .scalars()
        .all()
    )
    made = []
    for name, kind, codes, text in (
        (BUNDLING, "bundling", members, "农村派出所按相邻、就近原则捆绑为中心派出所运行"),
        (
            TRAFFIC,
            "traffic_integration",
            integrated,
            "农村交巡警中队并入派出所，派出所处理辖区全部道路警情",
        ),
    ):
        if not codes:
            continue
        exists = session.execute(
            select(Reform.id).where(Reform.name == name, Reform.synthetic.is_(True))
        ).first()
        if exists is not None:
            continue
        data = ReformCreate(
            name=name, kind=kind, effective=effective, description=text, units=list(codes)
        )
        made.append(
            service.create_reform(session=session, actor=actor, data=data, synthetic=True).id
        )
    log.info("demo reforms recorded: %s", made)
    return made


def injected_rate_ratio(outcome: str) -> float:
    """The rate ratio the two-year demo injected in the bundled stations for ``outcome`` (1 −
    the seed's fall; 1 where nothing was injected): what the evaluation should recover."""
    return 1.0 - FALL_IN_BUNDLED.get(outcome, 0.0)


def bundling_impacts(
    *, session: Session, settings: Settings, outcomes: Sequence[str], draws: int
) -> Iterator[tuple[str, ImpactReport]]:
    """The recorded bundling reform's impact on each outcome, one evaluation at a time (so a
    caller can time each)."""
    reform = session.execute(select(Reform).where(Reform.kind == "bundling")).scalar_one()
    for outcome in outcomes:
        _, report = service.impact(
            session=session,
            actor=system_actor(),
            settings=settings,
            reform_id=reform.id,
            outcome=outcome,
            draws=draws,
        )
        yield outcome, report
