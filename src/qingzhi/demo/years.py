"""The two-year demo: the year before the reform under the pre-reform organisation, then the
reformed organisation and its year, so that 同比 (year on year) compares two real years.

The reform date is ``QINGZHI_DEMO_REFORM_DATE`` (default: 12 months before today, Asia/Shanghai).
``load_two_years`` does, in order:

1. import the **pre-reform** organisation (no central stations; 5 rural traffic squads; every
   officer in the unit they then worked in) with its duty roster;
2. load the pre-reform year ``[reform − 1 year, reform)``: intake routes each call by the
   organisation in the store, so every call is handled by the station of its place, as it was
   before bundling; the generator makes that year's crime and disorder in the later-bundled
   stations the larger by the seed's falls (``qingzhi.demo.reform.pre_reform_rates``);
3. import the **reformed** organisation over it (the bundles, traffic integration, the officers
   moved, the squads dissolved) with its roster, and load ``[reform, yesterday]``: a bundled
   member's calls are handled by its central station from then on.

A historical incident keeps the unit that handled it then: its ``unit_id`` is written once at
intake and only a transfer moves it (see ``docs/demo.md``). Steps 1–2 run only into a store that
has not yet got the reformed organisation; into one that has (a second load), they are skipped:
the pre-reform year is already there, and loading it under the reformed organisation would route
it to the central stations. Everything generated is synthetic and labelled so.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.demo.loader import (
    IncidentLoadReport,
    LoadReport,
    generate_demo_incidents,
    load_demo,
    load_incidents,
)
from qingzhi.demo.reference import LOCAL_TZ
from qingzhi.demo.reform import CENTRAL_CODES
from qingzhi.errors import ValidationFailed
from qingzhi.org.models import Unit
from qingzhi.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class TwoYearReport:
    """What the two-year load did: the reform date and each period's loads."""

    reform_on: dt.date
    org: LoadReport
    pre_org: LoadReport | None = None
    pre: IncidentLoadReport | None = None
    post: IncidentLoadReport | None = None


def year_before(day: dt.date) -> dt.date:
    """The same calendar day a year earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def reform_date(settings: Settings, *, now: dt.datetime | None = None) -> dt.date:
    """The demo's reform date: the setting, or 12 months before today (Asia/Shanghai)."""
    if settings.demo_reform_date is not None:
        return settings.demo_reform_date
    today = (now or dt.datetime.now(dt.UTC)).astimezone(LOCAL_TZ).date()
    return year_before(today)


def reformed_in_store(db: Database) -> bool:
    """Whether the store already holds the demo's reformed organisation (its central stations)."""
    with db.session() as session:
        n = session.execute(
            select(func.count(Unit.id)).where(Unit.code.in_(CENTRAL_CODES))
        ).scalar_one()
    return bool(n)


def load_two_years(
    *,
    db: Database,
    actor: Actor,
    settings: Settings,
    seed: int = 2026,
    now: dt.datetime | None = None,
    reform_on: dt.date | None = None,
    progress: Callable[[str, int], None] | None = None,
    days: int | None = None,
    injected: bool = True,
) -> TwoYearReport:
    """The pre-reform year under the pre-reform organisation, then the reformed year (``days``:
    only the last that many days of each, for tests and quick looks). ``injected=False`` is the
    variant without the reform's effect: the pre-reform year drawn at the reformed rates, so an
    evaluation should find nothing."""
    now = now or dt.datetime.now(dt.UTC)
    reform_on = reform_on or reform_date(settings, now=now)
    today = now.astimezone(LOCAL_TZ).date()
    if not year_before(today) <= reform_on < today:
        raise ValidationFailed.field("demo_reform_date", "改革日期须在过去一年之内（不含今天）")
    pre_start = year_before(reform_on)
    post_start = reform_on
    if days is not None:
        pre_start = max(pre_start, reform_on - dt.timedelta(days=days))
        post_start = max(reform_on, today - dt.timedelta(days=days))
    pre_org = pre = None
    if not reformed_in_store(db):
        with db.session(write=True) as session:
            pre_org = load_demo(session=session, actor=actor, seed=seed, reform=False, now=now)
        n_pre = (reform_on - pre_start).days
        pre = load_incidents(
            db=db,
            actor=actor,
            settings=settings,
            seed=seed,
            days=n_pre,
            start=pre_start,
            now=now,
            specs=generate_demo_incidents(
                seed=seed, days=n_pre, start=pre_start, pre_reform=injected
            ),
            progress=(lambda n: progress("改革前", n)) if progress else None,
        )
    else:
        log.info("demo: the reformed organisation is in the store; the pre-reform year is kept")
    with db.session(write=True) as session:
        org = load_demo(
            session=session, actor=actor, seed=seed, reform=True, now=now, reform_on=reform_on
        )
    post = load_incidents(
        db=db,
        actor=actor,
        settings=settings,
        seed=seed,
        days=(today - post_start).days,
        start=post_start,
        now=now,
        progress=(lambda n: progress("改革后", n)) if progress else None,
    )
    return TwoYearReport(reform_on=reform_on, org=org, pre_org=pre_org, pre=pre, post=post)
