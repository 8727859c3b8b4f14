"""ORM models of supervised tasks: the task, its co-operating units, progress reports and their
attachments (files stored content-addressed under the data directory), and the area and period
of a special operation (专项行动)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, exists
from sqlalchemy.orm import Mapped, column_property, mapped_column

from qingzhi.store.base import Base, UTCDateTime, str_enum, utcnow
from qingzhi.tasks.lifecycle import SourceKind, TaskStatus


class TaskOperation(Base):
    """A special operation (专项行动): the task's area (WGS-84 GeoJSON, valid), its period (local
    days, inclusive) and the width of the ring around it checked for displacement."""

    __tablename__ = "task_operation"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), unique=True)
    area: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    ring_m: Mapped[int] = mapped_column(Integer)
    categories: Mapped[str] = mapped_column(String(200), default="")  # comma-separated, or all


class Task(Base):
    """A supervised task (督办事项): an owner unit, a deadline, reports and verification."""

    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_owner_status_deadline", "owner_unit_id", "status", "deadline"),
        Index("ix_task_status_deadline", "status", "deadline"),
        Index("ix_task_source", "source_kind", "source_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    source_kind: Mapped[SourceKind] = mapped_column(str_enum(SourceKind), default=SourceKind.none)
    source_ref: Mapped[str | None] = mapped_column(String(64))
    issuer_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    issuer_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    issuer_name: Mapped[str] = mapped_column(String(100))
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    owner_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"))
    deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    priority: Mapped[int] = mapped_column(Integer, default=3)
    feedback_hours: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[TaskStatus] = mapped_column(str_enum(TaskStatus), default=TaskStatus.draft)
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_report_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the next progress report is due on the feedback cadence (set at each step and
    # report while one is expected; a missed cadence is this time passed).
    feedback_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The last deadline notice published on the live stream (due_soon, overdue; tasks.notices),
    # so that the scheduler announces each once. Overdue itself stays derived from the clock.
    deadline_notice: Mapped[str | None] = mapped_column(String(16))
    synthetic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Whether the task is a special operation: a correlated EXISTS in every select of tasks (no
    # query of its own when a board reads them; task_operation.task_id is unique, so indexed).
    is_operation: Mapped[bool] = column_property(exists().where(TaskOperation.task_id == id))


class TaskUnit(Base):
    """A co-operating unit of a task (协办单位): it sees the task and may report on it."""

    __tablename__ = "task_unit"
    __table_args__ = (UniqueConstraint("task_id", "unit_id", name="uq_task_unit_task_id_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)


class TaskReport(Base):
    """A progress report (进展反馈), or the words that went with a submission, return or
    verification."""

    __tablename__ = "task_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16), default="progress")
    text: Mapped[str] = mapped_column(Text, default="")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    author_name: Mapped[str] = mapped_column(String(100))


class TaskAttachment(Base):
    """A file attached to a task's report: stored once on disk under its SHA-256."""

    __tablename__ = "task_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("task_report.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploader_name: Mapped[str] = mapped_column(String(100))
