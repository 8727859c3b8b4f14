"""Audit API: the trail of one entity, and chain verification (with the latest checkpoint).

The router's lifespan runs the server's checkpointer (``qingzhi.audit.checkpointer``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from qingzhi.audit import checkpoints, service
from qingzhi.audit.checkpointer import lifespan
from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.params import Text
from qingzhi.store.deps import transaction

router = APIRouter(prefix="/api/audit", tags=["audit"], lifespan=lifespan)


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
    """Recompute the whole hash chain and check it contains the latest signed checkpoint:
    ``ok``, ``checked``, ``first_bad_seq``, ``reason``, and ``checkpoint`` (the latest one's
    ``seq``, ``time``, ``key``, ``ok``, ``reason``, ``unattested`` records after it; null when
    no key is configured or none was made)."""
    with transaction(request, write=False) as session:
        return checkpoints.latest_status(session=session, settings=request.app.state.settings)
