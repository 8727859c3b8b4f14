"""Attachments of task reports: content-addressed files under the data directory.

A file is accepted when it is at most ``task_attachment_max_bytes`` (else 413) and its content —
not its name — is one of the allowed types (``ALLOWED``, sniffed by ``filetype`` from the magic
bytes; plain UTF-8 text without control characters besides tab and line breaks is text/plain);
anything else is 415. It is stored once as ``<data_dir>/attachments/<aa>/<sha256>`` (written to
a temporary name, then renamed: a reader never sees half a file) and recorded with its hash in
the audit trail (``task.attachment``). Downloads go through the task's scope: a task the caller
cannot see is a 404, as is its attachment.

A file is written before its row commits; when the transaction then rolls back, the file is left
unreferenced. ``sweep`` (run hourly by the scheduler, or ``qingzhi task sweep-attachments``)
removes files no attachment row references, and temporary files, once older than
``SWEEP_AFTER``; ``store`` touches a file it finds already there, so a transaction that reuses
an old unreferenced file keeps it young until it commits. (Deleting on rollback instead would
race: another transaction may be committing a row for the same bytes.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

import filetype
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.errors import Conflict, NotFound, PermissionDenied, QingzhiError, ValidationFailed
from qingzhi.store.base import utcnow
from qingzhi.tasks import scope
from qingzhi.tasks.lifecycle import TASK, TaskStatus
from qingzhi.tasks.models import TaskAttachment, TaskReport
from qingzhi.tasks.reading import helpers_of, visible

log = logging.getLogger(__name__)

SWEEP_AFTER = dt.timedelta(hours=1)  # far longer than any upload's transaction
_HASH = re.compile(r"[0-9a-f]{64}")
ALLOWED = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG 图片",
    "image/png": "PNG 图片",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word 文档",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel 表格",
    "text/plain": "纯文本",
}
_TEXT_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NAME = re.compile(r"[^\w.\-（）()一-鿿 ]+")


class AttachmentTooLarge(QingzhiError):
    """An attachment over the size limit."""

    code = "attachment_too_large"
    status = 413
    message = "附件过大"


class AttachmentRefused(QingzhiError):
    """An attachment whose content is not of an allowed type."""

    code = "attachment_type_refused"
    status = 415
    message = "附件类型不允许"


def sniff(data: bytes) -> str | None:
    """The media type of ``data`` by its content (None: not an allowed type)."""
    kind = filetype.guess(data)
    if kind is not None:
        return kind.mime if kind.mime in ALLOWED else None
    if not data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _TEXT_CONTROL.search(data) else "text/plain"


def check(data: bytes, limit: int) -> str:
    """The media type of an acceptable attachment; 413 when too large, 415 when refused."""
    if len(data) > limit:
        raise AttachmentTooLarge(
            f"附件超过 {limit // (1024 * 1024) or 1} MB",
            details={"field": "file", "limit_bytes": limit},
        )
    kind = sniff(data)
    if kind is None:
        names = "、".join(ALLOWED.values())
        raise AttachmentRefused(
            f"附件类型不允许（按文件内容识别，允许：{names}）", details={"field": "file"}
        )
    return kind


def path_of(settings: Settings, sha256: str) -> Path:
    """Where the file with this hash is kept."""
    return settings.data_dir / "attachments" / sha256[:2] / sha256


def store(settings: Settings, data: bytes) -> str:
    """Write ``data`` under its SHA-256 (once; atomically); its hash."""
    digest = hashlib.sha256(data).hexdigest()
    target = path_of(settings, digest)
    if target.exists():
        os.utime(target)  # young again: ``sweep`` leaves it to this transaction
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


def clean_name(name: str | None) -> str:
    """A display file name (no path, no odd characters, at most 200 characters)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _NAME.sub("_", base).strip(" .")
    return base[:200] or "附件"


def add(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    task_id: int,
    filename: str | None,
    data: bytes,
    report_id: int | None = None,
    now: dt.datetime | None = None,
) -> TaskAttachment:
    """Attach a file to a task (optionally to one of its reports) from the owner's or the
    issuer's side, on the locked task; audited with its hash."""
    now = now or utcnow()
    task = visible(session, actor, task_id, lock=True)
    helpers = tuple(helpers_of(session, [task.id])[task.id])
    if not (actor.can(Perm.task_report) and scope.owns(actor, task, helpers)) and not (
        actor.can(Perm.task_issue) and scope.issues(actor, task)
    ):
        raise PermissionDenied("只有承办、协办或下发单位可以上传附件")
    if TASK.is_final(TaskStatus(task.status)):
        label = TaskStatus(task.status).label
        raise Conflict(f"督办任务已{label[1:]}，不能再上传附件", details={"field": "status"})
    if report_id is not None:
        report = session.get(TaskReport, report_id)
        if report is None or report.task_id != task.id:
            raise ValidationFailed.field("report_id", "进展反馈不存在或不属于此任务")
    media_type = check(data, settings.task_attachment_max_bytes)
    digest = store(settings, data)
    row = TaskAttachment(
        task_id=task.id,
        report_id=report_id,
        sha256=digest,
        size=len(data),
        media_type=media_type,
        filename=clean_name(filename),
        uploaded_at=now,
        uploader_name=actor.name,
    )
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="task.attachment",
        entity_kind="task",
        entity_id=task.id,
        unit_id=task.owner_unit_id,
        diff={
            "attachment_id": row.id,
            "sha256": digest,
            "size": row.size,
            "media_type": media_type,
            "filename": row.filename,
        },
    )
    return row


def of_task(session: Session, task_id: int) -> list[TaskAttachment]:
    """A task's attachments, oldest first (the caller has checked the task is visible)."""
    return list(
        session.scalars(
            select(TaskAttachment)
            .where(TaskAttachment.task_id == task_id)
            .order_by(TaskAttachment.id)
        )
    )


def get(
    *, session: Session, actor: Actor, settings: Settings, task_id: int, attachment_id: int
) -> tuple[TaskAttachment, Path]:
    """An attachment of a task the caller can see, and its file (404 otherwise)."""
    visible(session, actor, task_id)
    row = session.get(TaskAttachment, attachment_id)
    if row is None or row.task_id != task_id:
        raise NotFound()
    path = path_of(settings, row.sha256)
    if not path.is_file():
        log.error("attachment %s of task %s: file %s missing", row.id, task_id, path)
        raise NotFound("附件文件缺失")
    return row, path


def sweep(
    session: Session, settings: Settings, *, older_than: dt.timedelta = SWEEP_AFTER
) -> list[Path]:
    """Remove the files under the attachments directory that no attachment references (a
    rolled-back upload's) and left-over temporary files, last written more than ``older_than``
    ago; the paths removed."""
    root = settings.data_dir / "attachments"
    if not root.is_dir():
        return []
    cutoff = (utcnow() - older_than).timestamp()
    old: dict[str, Path] = {}
    removed: list[Path] = []
    for path in root.glob("*/*"):
        try:
            if not path.is_file() or path.stat().st_mtime >= cutoff:
                continue
        except FileNotFoundError:
            continue
        if path.name.startswith(".upload-"):
            path.unlink(missing_ok=True)
            removed.append(path)
        elif _HASH.fullmatch(path.name):
            old[path.name] = path
    names = sorted(old)
    for i in range(0, len(names), 500):
        batch = names[i : i + 500]
        used = set(
            session.scalars(select(TaskAttachment.sha256).where(TaskAttachment.sha256.in_(batch)))
        )
        for name in batch:
            if name not in used:
                old[name].unlink(missing_ok=True)
                removed.append(old[name])
    if removed:
        log.info("attachments: removed %d unreferenced files", len(removed))
    return removed
