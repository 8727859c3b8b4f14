"""Audit API: the trail of one entity, and chain verification."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from qingzhi.audit import service
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.params import Text
from qingzhi.web.deps import require, transaction

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("/{entity_kind}/{entity_id}")
def trail(
    entity_kind: Annotated[Text, Path(max_length=32)],
    entity_id: Annotated[Text, Path(max_length=64)],
    request: Request,
    actor: Actor = Depends(require(Perm.audit_read)),
) -> list[dict[str, Any]]:
    """The audit trail of one entity (oldest first), within the caller's scope."""
    with transaction(request, write=False) as session:
        entries = service.trail(
            session=session, scope=actor.scope, entity_kind=entity_kind, entity_id=entity_id
        )
    return [asdict(e) for e in entries]


@router.post("/verify")
def verify(request: Request, actor: Actor = Depends(require(Perm.audit_verify))) -> dict[str, Any]:
    """Recompute the whole hash chain."""
    with transaction(request, write=False) as session:
        return asdict(service.verify(session=session))
