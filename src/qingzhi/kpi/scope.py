"""What of a score board a caller may see (the one statement of the evaluation's scope).

The board is computed over every station; a caller is shown the stations in their scope with
their breakdown. The bureau's ranking — other stations' scores, ranks and who is tied with whom
— needs ``kpi.rank`` as well (bureau-wide roles hold it; a station account does not, unless its
role is given it). Without it a station sees its own score and breakdown, and its rank is
withheld (it would disclose the others' standing).
"""

from __future__ import annotations

from typing import Any

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm

_RANK_FIELDS = ("rank", "rank_low", "rank_high", "rank_best", "rank_worst", "tied_with")


def sees_ranking(actor: Actor) -> bool:
    """Whether the caller sees every station's score and rank."""
    return actor.can(Perm.kpi_rank)


def sees_station(actor: Actor, unit_id: int) -> bool:
    """Whether the caller sees a station's score and breakdown (its own scope, or the
    ranking)."""
    return sees_ranking(actor) or actor.scope.admits(unit_id)


def disclose(actor: Actor, board: dict[str, Any]) -> dict[str, Any]:
    """The board as the caller may see it: every station with ``kpi.rank``, else the stations in
    scope without ranks."""
    if sees_ranking(actor):
        return {**board, "ranking": True}
    own = []
    for station in board["stations"]:
        if sees_station(actor, station["unit_id"]):
            own.append({k: v for k, v in station.items() if k not in _RANK_FIELDS})
    return {**board, "stations": own, "ranking": False}
