"""A station's trend (考核趋势): its score, interval and rank range over consecutive periods
under one scheme version.

Each period is scored as ``GET /api/kpi/scores`` scores it (``service.score_board``: every
station, the same bootstrap seed from the scheme's digest) and the station is taken from the
board as ``kpi.scope`` discloses it, so the trend is the scorecard's figures, period by period.
A score is relative to the period's references (the group's mean, or a target), so a rising
line says the station did better against them, not that its calls fell; the indicators of each
period come with it. A period without calls is a gap (``score`` null, with the reason), and an
indicator left out in a period (no records of its source) is listed for that period.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.errors import NotFound, ValidationFailed
from qingzhi.kpi import records, scope, service

log = logging.getLogger(__name__)

MAX_PERIODS = 24
_SCORE_FIELDS = (
    "score",
    "score_low",
    "score_high",
    "rank",
    "rank_low",
    "rank_high",
    "rank_best",
    "rank_worst",
    "tied_with",
    "indicators",
)


def default_periods(period: str) -> int:
    """How many periods a trend shows by default: 12 months, 8 quarters, 6 halves, 5 years."""
    part = period.strip().partition("-")[2]
    if not part:
        return 5
    return {"Q": 8, "H": 6}.get(part[0], 12)


def periods_ending(period: str, count: int) -> list[str]:
    """``count`` consecutive periods of ``period``'s kind ending with it, oldest first:
    ``2026-Q1`` and 3 → ``2025-Q3``, ``2025-Q4``, ``2026-Q1``."""
    if not 1 <= count <= MAX_PERIODS:
        raise ValidationFailed.field("periods", f"期数须在 1 到 {MAX_PERIODS} 之间")
    m = service.PERIOD.match(period.strip())
    if m is None:
        raise ValidationFailed.field("period", "考核期格式应为 YYYY、YYYY-H1、YYYY-Q3 或 YYYY-MM")
    year, part = int(m.group(1)), m.group(2)
    if part is None:
        return [str(y) for y in range(year - count + 1, year + 1)]
    kind = part[0] if part[0] in "QH" else ""
    per_year = {"Q": 4, "H": 2, "": 12}[kind]
    last = year * per_year + int(part.lstrip("QH")) - 1
    out = []
    for index in range(last - count + 1, last + 1):
        y, k = divmod(index, per_year)
        out.append(f"{y}-{kind}{k + 1}" if kind else f"{y}-{k + 1:02d}")
    return out


def station_trend(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    unit_id: int,
    period: str,
    periods: int | None = None,
    scheme_id: int | None = None,
    draws: int = 500,
) -> dict[str, Any]:
    """The station's score and rank range in each of ``periods`` periods ending with
    ``period`` (which must be over; default ``default_periods``), under one scheme version;
    ranks only with ``kpi.rank``."""
    actor.require(Perm.kpi_read)
    if not 1 <= draws <= service.MAX_DRAWS_API:
        raise ValidationFailed.field("draws", f"抽样次数须在 1 到 {service.MAX_DRAWS_API} 之间")
    found = records.stations(session)
    station = next((s for s in found if s.id == unit_id), None)
    if station is None or not scope.sees_station(actor, unit_id):
        raise NotFound("派出所不存在或不在您的权限范围内", details={"unit_id": unit_id})
    labels = periods_ending(period, periods or default_periods(period))
    _, end = service.period_bounds(labels[-1], settings.timezone)
    if end > dt.datetime.now(dt.UTC):
        raise ValidationFailed.field("period", "考核期尚未结束")
    scheme, stored_id = service.scheme_of(session, scheme_id)
    first, _ = service.period_bounds(labels[0], settings.timezone)
    # The calls of the whole span and the year before it, read once for every period.
    rows = records.incident_rows(session, [s.id for s in found], records.year_earlier(first), end)
    points = []
    for label in labels:
        try:
            board = service.score_board(
                session, settings, found, scheme, stored_id, label, draws=draws, incidents=rows
            )
        except ValidationFailed as err:  # e.g. a scheme whose every indicator lacks data
            board, reason = None, err.reason
        else:
            reason = f"{label} 没有警情数据"
        seen = None if board is None else scope.disclose(actor, board)
        row = None
        if seen is not None:
            row = next((s for s in seen["stations"] if s["unit_id"] == unit_id), None)
        start, end = service.period_bounds(label, settings.timezone)
        point: dict[str, Any] = {"period": label, "start": start, "end": end}
        if seen is None or row is None:
            points.append({**point, "score": None, "note": reason, "excluded": []})
            continue
        points.append(
            {
                **point,
                **{k: row[k] for k in _SCORE_FIELDS if k in row},
                **({"stations": len(seen["stations"])} if seen["ranking"] else {}),
                "excluded": seen["excluded"],
                "note": "",
            }
        )
    log.info("trend of %s over %d periods", station.code, len(labels))
    return {
        "unit_id": station.id,
        "station": station.code,
        "name": station.name,
        "group": station.group,
        "scheme": {"id": stored_id, "name": scheme.name, "version": scheme.version},
        "draws": draws,
        "ranking": scope.sees_ranking(actor),
        "periods": points,
    }
