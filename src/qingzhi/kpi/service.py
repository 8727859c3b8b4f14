"""Schemes, reforms, station scores and reform impact, for a caller in scope.

Scores are computed over every station (normalising against a group and ranking need them
all) and then disclosed by ``kpi.scope``: a station's own breakdown to its users, other
stations' scores and the ranking only with ``kpi.rank``. A reform's impact compares the
treated stations with all the others, so it needs the bureau's data: it is a bureau-level
reading (``kpi.impact``), not given to station accounts.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.analysis.impact import ImpactReport, evaluate_impact
from qingzhi.analysis.indicators import INDICATOR_BY_ID, INDICATORS
from qingzhi.analysis.scheme import DEFAULT_SCHEME_TOML, Scheme, parse_scheme
from qingzhi.analysis.scoring import ScoreBoard, score_stations
from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.errors import Conflict, NotFound, ValidationFailed
from qingzhi.kpi import links, records, scope
from qingzhi.kpi.models import KpiScheme, Reform, ReformUnit
from qingzhi.kpi.schemas import ReformCreate, ReformRead, SchemeRead
from qingzhi.org.models import Unit

log = logging.getLogger(__name__)

MAX_DRAWS_API = 2_000  # bootstrap draws a request may ask for
PERIOD = re.compile(r"^(\d{4})(?:-(Q[1-4]|H[12]|\d{2}))?$")


# ---------------------------------------------------------------- periods


def period_bounds(period: str, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """A period's local start and end (exclusive): ``2026``, ``2026-H1``, ``2026-Q3``,
    ``2026-09``."""
    m = PERIOD.match(period.strip())
    if m is None:
        raise ValidationFailed.field("period", "考核期格式应为 YYYY、YYYY-H1、YYYY-Q3 或 YYYY-MM")
    year, part = int(m.group(1)), m.group(2)
    if not 2000 <= year <= 2100:
        raise ValidationFailed.field("period", "年份须在 2000 到 2100 之间")
    if part is None:
        first, months = 1, 12
    elif part.startswith("Q"):
        first, months = 3 * int(part[1]) - 2, 3
    elif part.startswith("H"):
        first, months = 6 * int(part[1]) - 5, 6
    else:
        first, months = int(part), 1
        if not 1 <= first <= 12:
            raise ValidationFailed.field("period", "月份须在 01 到 12 之间")
    zone = ZoneInfo(tz)
    start = dt.datetime(year, first, 1, tzinfo=zone)
    end_month = first + months
    end = dt.datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=zone)
    return start, end


def last_quarter(tz: str, today: dt.date | None = None) -> str:
    """The last whole quarter before ``today`` (local), as ``YYYY-Qn``."""
    today = today or dt.datetime.now(ZoneInfo(tz)).date()
    q = (today.month - 1) // 3  # the current quarter's index, 0–3
    return f"{today.year - 1}-Q4" if q == 0 else f"{today.year}-Q{q}"


# ---------------------------------------------------------------- schemes


def _scheme_read(row: KpiScheme, latest: bool) -> SchemeRead:
    scheme = parse_scheme(row.toml)
    return SchemeRead(
        id=row.id,
        name=row.name,
        version=scheme.version,
        digest=row.digest,
        toml=row.toml,
        weights={it.indicator: it.weight for it in scheme.items if it.weight > 0},
        latest=latest,
        created_at=row.created_at,
    )


def list_schemes(*, session: Session, actor: Actor) -> list[SchemeRead]:
    """Every stored scheme version, newest first (the newest of each name marked ``latest``)."""
    actor.require(Perm.kpi_read)
    rows = session.execute(select(KpiScheme).order_by(KpiScheme.id.desc())).scalars().all()
    seen: set[str] = set()
    out = []
    for row in rows:
        out.append(_scheme_read(row, row.name not in seen))
        seen.add(row.name)
    return out


def get_scheme_row(session: Session, scheme_id: int | None) -> KpiScheme | None:
    """A stored scheme by id (None: the newest stored, or None if there is none)."""
    if scheme_id is None:
        return session.execute(
            select(KpiScheme).order_by(KpiScheme.id.desc()).limit(1)
        ).scalar_one_or_none()
    return session.get(KpiScheme, scheme_id)


def create_scheme(*, session: Session, actor: Actor, toml: str) -> SchemeRead:
    """Store a scheme version (validated; a copy of a stored version is that version)."""
    actor.require(Perm.kpi_manage)
    scheme = parse_scheme(toml)
    existing = session.execute(
        select(KpiScheme).where(KpiScheme.digest == scheme.digest)
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict(
            f"该方案内容与已保存的版本 {scheme.version} 相同",
            details={"scheme_id": existing.id, "version": scheme.version},
        )
    row = KpiScheme(name=scheme.name, digest=scheme.digest, toml=toml, created_by=actor.user_id)
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="kpi_scheme.created",
        entity_kind="kpi_scheme",
        entity_id=row.id,
        after={"name": row.name, "version": scheme.version, "digest": row.digest, "toml": toml},
    )
    return _scheme_read(row, True)


def scheme_of(session: Session, scheme_id: int | None) -> tuple[Scheme, int | None]:
    """The scheme to score with: a stored version by id, else the newest stored, else the
    built-in default (id None)."""
    row = get_scheme_row(session, scheme_id)
    if row is None:
        if scheme_id is not None:
            raise NotFound("考核方案不存在", details={"scheme_id": scheme_id})
        return parse_scheme(DEFAULT_SCHEME_TOML), None
    return parse_scheme(row.toml), row.id


# ---------------------------------------------------------------- scores


def scores(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    period: str,
    scheme_id: int | None = None,
    scheme_text: str | None = None,
    draws: int = 1000,
) -> dict[str, Any]:
    """Every station's score and rank for ``period`` with bootstrap intervals, disclosed to the
    caller by ``kpi.scope``. The scheme is a stored version (``scheme_id``; default the newest,
    else the built-in one) or, from the command line, a TOML text not stored (``scheme_text``)."""
    actor.require(Perm.kpi_read)
    if not 1 <= draws <= MAX_DRAWS_API:
        raise ValidationFailed.field("draws", f"抽样次数须在 1 到 {MAX_DRAWS_API} 之间")
    start, end = period_bounds(period, settings.timezone)
    if end > dt.datetime.now(dt.UTC):
        raise ValidationFailed.field("period", "考核期尚未结束")
    found = records.stations(session)
    if not found:
        raise ValidationFailed.field("period", "尚无派出所辖区，无法考核")
    if scheme_text is not None:
        scheme, stored_id = parse_scheme(scheme_text), None
    else:
        scheme, stored_id = scheme_of(session, scheme_id)
    board = score_board(session, settings, found, scheme, stored_id, period, draws=draws)
    if board is None:
        raise ValidationFailed.field("period", f"考核期 {period} 内没有警情数据")
    shown = scope.disclose(actor, board)
    links.attach(actor, shown, start, end)  # the records behind each figure, in scope
    return shown


def score_board(
    session: Session,
    settings: Settings,
    found: list[records.Station],
    scheme: Scheme,
    stored_id: int | None,
    period: str,
    *,
    draws: int,
    incidents: records.IncidentRows | None = None,
) -> dict[str, Any] | None:
    """Every station's scores for one period, before disclosure (None: no incidents in it);
    ``incidents`` as ``records.station_records`` takes them."""
    start, end = period_bounds(period, settings.timezone)
    weighed = (INDICATOR_BY_ID[it.indicator] for it in scheme.items if it.weight > 0)
    recs = records.station_records(
        session,
        found,
        start,
        end,
        settings=settings,
        incidents=incidents,
        needed={src for ind in weighed for src in ind.measure.sources},
    )
    if not any(r.records["incidents"]["prevention"].size for r in recs):
        return None
    board = score_stations(recs, scheme, draws=draws)
    return _board_dict(board, found, scheme, stored_id, period)


def _board_dict(
    board: ScoreBoard,
    found: list[records.Station],
    scheme: Scheme,
    stored_id: int | None,
    period: str,
) -> dict[str, Any]:
    by_code = {s.code: s for s in found}
    names = {i.id: i.name for i in INDICATORS}
    return {
        "period": period,
        "scheme": {"id": stored_id, "name": scheme.name, "version": board.scheme_version},
        "draws": board.draws,
        "confidence": board.confidence,
        "seed": board.seed,
        "weights": dict(board.weights),
        "excluded": [
            {"indicator": i, "name": names.get(i, i), "reason": r} for i, r in board.excluded
        ],
        "stations": [
            {
                **asdict(s),
                "tied_with": list(s.tied_with),
                "unit_id": by_code[s.station].id,
                "name": by_code[s.station].name,
                "indicators": [
                    {**asdict(i), "name": names.get(i.indicator, i.indicator)} for i in s.indicators
                ],
            }
            for s in board.stations
        ],
    }


# ---------------------------------------------------------------- reforms


def _reform_read(session: Session, reform: Reform) -> ReformRead:
    units = session.execute(
        select(Unit.id, Unit.code, Unit.name)
        .join(ReformUnit, ReformUnit.unit_id == Unit.id)
        .where(ReformUnit.reform_id == reform.id)
        .order_by(Unit.code)
    ).all()
    return ReformRead(
        id=reform.id,
        name=reform.name,
        kind=reform.kind,
        effective=reform.effective,
        description=reform.description,
        synthetic=reform.synthetic,
        units=[{"id": u.id, "code": u.code, "name": u.name} for u in units],
    )


def list_reforms(*, session: Session, actor: Actor) -> list[ReformRead]:
    """The recorded reforms, newest first."""
    actor.require(Perm.kpi_read)
    rows = session.execute(select(Reform).order_by(Reform.effective.desc(), Reform.id.desc()))
    return [_reform_read(session, r) for r in rows.scalars()]


def get_reform(*, session: Session, actor: Actor, reform_id: int) -> ReformRead:
    """One reform."""
    actor.require(Perm.kpi_read)
    reform = session.get(Reform, reform_id)
    if reform is None:
        raise NotFound("改革记录不存在", details={"reform_id": reform_id})
    return _reform_read(session, reform)


def create_reform(
    *, session: Session, actor: Actor, data: ReformCreate, synthetic: bool = False
) -> ReformRead:
    """Record a reform and the stations it changed (stations by code; all must exist)."""
    actor.require(Perm.kpi_manage)
    codes = list(dict.fromkeys(data.units))
    found = {u.code: u for u in session.execute(select(Unit).where(Unit.code.in_(codes))).scalars()}
    missing = [c for c in codes if c not in found]
    if missing:
        raise ValidationFailed.field("units", f"单位不存在：{'、'.join(missing[:10])}")
    stations = {s.id for s in records.stations(session)}
    not_station = [c for c in codes if found[c].id not in stations]
    if not_station:
        raise ValidationFailed.field("units", f"不是有辖区的派出所：{'、'.join(not_station[:10])}")
    reform = Reform(
        name=data.name,
        kind=data.kind,
        effective=data.effective,
        description=data.description,
        synthetic=synthetic,
        created_by=actor.user_id,
    )
    session.add(reform)
    session.flush()
    session.add_all(ReformUnit(reform_id=reform.id, unit_id=found[c].id) for c in codes)
    session.flush()
    read = _reform_read(session, reform)
    audit.record(
        session=session,
        actor=actor,
        action="reform.created",
        entity_kind="reform",
        entity_id=reform.id,
        after=read.model_dump(mode="json"),
    )
    return read


# ---------------------------------------------------------------- impact


def impact(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    reform_id: int,
    outcome: str,
    family: str = "poisson",
    draws: int = 999,
) -> tuple[ReformRead, ImpactReport]:
    """The reform's impact on ``outcome``: the familiar year-on-year figures of treated and
    control stations, the DiD rate ratio with its interval, the event study, the placebo, the
    synthetic control and the neighbours' change, with the caveats."""
    actor.require(Perm.kpi_impact)
    if outcome not in records.OUTCOMES:
        raise ValidationFailed.field("outcome", f"须为 {'、'.join(records.OUTCOMES)} 之一")
    if family not in ("poisson", "negbin"):
        raise ValidationFailed.field("family", "须为 poisson 或 negbin")
    if not 99 <= draws <= MAX_DRAWS_API:
        raise ValidationFailed.field("draws", f"抽样次数须在 99 到 {MAX_DRAWS_API} 之间")
    reform = get_reform(session=session, actor=actor, reform_id=reform_id)
    span = records.months_of(session, settings.timezone)
    if span is None:
        raise ValidationFailed.field("reform", "尚无警情数据")
    first, last = span
    month = np.datetime64(f"{reform.effective.year:04d}-{reform.effective.month:02d}", "M")
    if reform.effective.day != 1:
        month += 1  # the first whole month under the reform
    if not first < month <= last:
        raise ValidationFailed.field(
            "reform",
            f"改革生效月 {month} 须在警情数据的完整月份（{first} 至 {last}）之内，且之前要有数据",
        )
    found = records.stations(session)
    treated = {u["id"] for u in reform.units}
    data = records.panel(
        session,
        found,
        outcome=outcome,
        treated=treated,
        reform_month=month,
        first=first,
        last=last,
        tz=settings.timezone,
    )
    return reform, evaluate_impact(data, family=family, draws=draws)
