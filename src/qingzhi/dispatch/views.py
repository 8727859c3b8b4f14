"""Dispatch API: ranked candidates for an incident and one-click dispatch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ConfigDict, Field

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.dispatch import service
from qingzhi.incidents.schemas import IncidentRead
from qingzhi.params import DbId, IdPath, Input
from qingzhi.store.deps import settings_of, transaction

router = APIRouter(prefix="/api/dispatch", tags=["dispatch"])


class DispatchRequest(Input):
    """Officers to send, with an optional note."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    officer_ids: list[DbId] = Field(min_length=1, max_length=20)
    reason: str = Field(default="", max_length=500)


@router.get("/incidents/{incident_id}/candidates")
def candidates(
    incident_id: IdPath,
    request: Request,
    limit: int = Query(default=10, ge=1, le=100),
    actor: Actor = Depends(require(Perm.incident_read)),
) -> dict[str, Any]:
    """Available officers ranked for this incident: handling unit, then neighbours, by ETA."""
    with transaction(request, write=False) as session:
        rec = service.recommend(
            session=session,
            actor=actor,
            settings=settings_of(request),
            incident_id=incident_id,
            limit=limit,
        )
    return rec.to_dict()


@router.post("/incidents/{incident_id}", response_model=IncidentRead)
def dispatch(
    incident_id: IdPath,
    body: DispatchRequest,
    request: Request,
    actor: Actor = Depends(require(Perm.incident_dispatch)),
) -> IncidentRead:
    """Send officers: the incident becomes dispatched and the officers busy, for every map; on
    an incident already dispatched or arrived the officers reinforce it (增援)."""
    with transaction(request, write=True) as session:
        return service.dispatch(
            session=session,
            actor=actor,
            incident_id=incident_id,
            officer_ids=body.officer_ids,
            reason=body.reason,
            settings=settings_of(request),
        )
