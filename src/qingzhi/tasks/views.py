"""Tasks API (督办): the board, issuing, lifecycle steps, reports, attachments, reminders."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse

from qingzhi.auth.context import Actor
from qingzhi.auth.deps import require
from qingzhi.auth.permissions import Perm
from qingzhi.errors import ValidationFailed
from qingzhi.params import IdPath, IdQuery, OffsetQuery, Text
from qingzhi.store.deps import settings_of, transaction
from qingzhi.tasks import attachments, history, operations, service
from qingzhi.tasks.lifecycle import SourceKind, TaskStatus
from qingzhi.tasks.schemas import (
    AttachmentRead,
    OperationCreate,
    OperationRead,
    Reminders,
    ReportCreate,
    ReportRead,
    TaskCreate,
    TaskMove,
    TaskPage,
    TaskRead,
    TimelineEntry,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


def _read(request: Request, actor: Actor, task_id: int) -> TaskRead:
    with transaction(request, write=False) as session:
        return service.get(
            session=session,
            actor=actor,
            settings=settings_of(request),
            task_id=task_id,
            now=None,
        )


@router.get("")
def board(
    request: Request,
    status: list[TaskStatus] = Query(default=[]),
    owner_unit_id: IdQuery = None,
    overdue: bool = False,
    due_soon: bool = False,
    escalated: bool = False,
    q: Annotated[Text | None, Query(max_length=100)] = None,
    source_kind: SourceKind | None = None,
    source_ref: Annotated[Text | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    offset: OffsetQuery = 0,
    actor: Actor = Depends(require(Perm.task_read)),
) -> TaskPage:
    """The board: the caller's tasks (owned, issued or co-operated on by units in scope),
    overdue first then by deadline, with counts by state; ``escalated`` shows the overdue tasks
    escalated to the caller's board."""
    flt = service.BoardFilter(
        status=tuple(status),
        owner_unit_id=owner_unit_id,
        overdue=overdue,
        due_soon=due_soon,
        escalated=escalated,
        q=q.strip() if q and q.strip() else None,
        source_kind=source_kind,
        source_ref=source_ref,
    )
    with transaction(request, write=False) as session:
        return service.board(
            session=session,
            actor=actor,
            settings=settings_of(request),
            flt=flt,
            limit=limit,
            offset=offset,
        )


@router.post("", status_code=201)
def create(
    body: TaskCreate, request: Request, actor: Actor = Depends(require(Perm.task_issue))
) -> TaskRead:
    """Issue a task (or keep it as a draft)."""
    with transaction(request, write=True) as session:
        task = service.create(session=session, actor=actor, body=body)
        task_id = task.id
    return _read(request, actor, task_id)


@router.post("/operations", status_code=201)
def create_operation(
    body: OperationCreate, request: Request, actor: Actor = Depends(require(Perm.task_issue))
) -> TaskRead:
    """Issue a special operation (专项行动): a task over an area (a drawn polygon or a
    hotspot's cells) and a period; a bad area is a 422 naming the field."""
    with transaction(request, write=True) as session:
        task = operations.create_operation(session=session, actor=actor, body=body)
        task_id = task.id
    return _read(request, actor, task_id)


@router.get("/reminders")
def reminders(request: Request, actor: Actor = Depends(require(Perm.task_read))) -> Reminders:
    """The navigation's counts: due within 24 h, overdue, missed feedback, escalated to me."""
    with transaction(request, write=False) as session:
        counts = service.reminders(session=session, actor=actor, settings=settings_of(request))
    return Reminders(**counts)


@router.get("/{task_id:int}")
def get(
    task_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.task_read))
) -> TaskRead:
    """One task."""
    return _read(request, actor, task_id)


@router.get("/{task_id:int}/operation")
def operation(
    task_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.task_read))
) -> OperationRead:
    """A special operation's incidents in its area and ring before, during and after, with the
    trends module's test and the displacement check."""
    with transaction(request, write=False) as session:
        return operations.report(
            session=session, actor=actor, settings=settings_of(request), task_id=task_id
        )


@router.post("/{task_id:int}/transitions")
def transition(
    task_id: IdPath,
    body: TaskMove,
    request: Request,
    actor: Actor = Depends(require(Perm.task_read)),
) -> TaskRead:
    """A lifecycle step (409 naming both states when the table refuses it)."""
    with transaction(request, write=True) as session:
        service.move(session=session, actor=actor, task_id=task_id, target=body.to, note=body.note)
    return _read(request, actor, task_id)


@router.post("/{task_id:int}/reports", status_code=201)
def add_report(
    task_id: IdPath,
    body: ReportCreate,
    request: Request,
    actor: Actor = Depends(require(Perm.task_report)),
) -> ReportRead:
    """A progress report from the owner's side."""
    with transaction(request, write=True) as session:
        report = service.add_report(session=session, actor=actor, task_id=task_id, text=body.text)
        report_id = report.id
    with transaction(request, write=False) as session:
        found = history.reports(session=session, actor=actor, task_id=task_id)
    return next(r for r in found if r.id == report_id)


@router.get("/{task_id:int}/reports")
def reports(
    task_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.task_read))
) -> list[ReportRead]:
    """The task's reports with their attachments."""
    with transaction(request, write=False) as session:
        return history.reports(session=session, actor=actor, task_id=task_id)


@router.get("/{task_id:int}/timeline")
def timeline(
    task_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.task_read))
) -> list[TimelineEntry]:
    """The task's audit trail: every step, report and attachment."""
    with transaction(request, write=False) as session:
        return history.timeline(session=session, actor=actor, task_id=task_id)


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) once it passes ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise attachments.AttachmentTooLarge(
            f"附件超过 {limit // (1024 * 1024) or 1} MB",
            details={"field": "file", "limit_bytes": limit},
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise attachments.AttachmentTooLarge(
                f"附件超过 {limit // (1024 * 1024) or 1} MB",
                details={"field": "file", "limit_bytes": limit},
            )
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/{task_id:int}/attachments",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def upload(
    task_id: IdPath,
    request: Request,
    filename: Annotated[Text, Query(min_length=1, max_length=200)],
    report_id: IdQuery = None,
    actor: Actor = Depends(require(Perm.task_read)),
) -> AttachmentRead:
    """Attach a file (the raw request body; its type is judged by its content, not its name):
    413 when over the limit, 415 when of a refused type."""
    settings = settings_of(request)
    data = await _body(request, settings.task_attachment_max_bytes)
    if not data:
        raise ValidationFailed.field("file", "附件为空")

    def save() -> AttachmentRead:
        with transaction(request, write=True) as session:
            row = attachments.add(
                session=session,
                actor=actor,
                settings=settings,
                task_id=task_id,
                filename=filename,
                data=data,
                report_id=report_id,
            )
            return history.attachment_read(row)

    return await anyio.to_thread.run_sync(save)


@router.get("/{task_id:int}/attachments")
def list_attachments(
    task_id: IdPath, request: Request, actor: Actor = Depends(require(Perm.task_read))
) -> list[AttachmentRead]:
    """The task's attachments."""
    with transaction(request, write=False) as session:
        return history.all_attachments(session=session, actor=actor, task_id=task_id)


@router.get("/{task_id:int}/attachments/{attachment_id:int}", response_class=FileResponse)
def download(
    task_id: IdPath,
    attachment_id: IdPath,
    request: Request,
    actor: Actor = Depends(require(Perm.task_read)),
) -> FileResponse:
    """Download an attachment of a task the caller can see (404 otherwise)."""
    with transaction(request, write=False) as session:
        row, path = attachments.get(
            session=session,
            actor=actor,
            settings=settings_of(request),
            task_id=task_id,
            attachment_id=attachment_id,
        )
        media_type, name = row.media_type, row.filename
    disposition = f"attachment; filename*=UTF-8''{quote(name)}"
    return FileResponse(
        path,
        media_type=media_type,
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )
