"""ORM model of background jobs: what to run, its state and progress, its result or error.

A job's row is the one truth every server process reads: status and progress are written by the
process that runs it (short transactions), so any worker answers ``GET /api/jobs/{id}`` alike.
``key`` identifies the computation (kind + parameters + the data it depends on): at most one
queued or running job has a key (a unique partial index), and a finished one is found by it.
``worker`` and ``heartbeat_at`` tell whether the process that owns a queued or running job is
alive (see ``jobs.service.sweep_stale``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from qingzhi.jobs.enums import ACTIVE_STATUS_SQL, JobStatus
from qingzhi.store.base import Base, UTCDateTime, str_enum, utcnow


class Job(Base):
    """One background job: a kind with JSON parameters, run by one server process."""

    __tablename__ = "job"
    __table_args__ = (
        Index(
            "uq_job_active_key",
            "key",
            unique=True,
            sqlite_where=text(ACTIVE_STATUS_SQL),
            postgresql_where=text(ACTIVE_STATUS_SQL),
        ),
        Index("ix_job_kind_key", "kind", "key"),
        Index("ix_job_status_heartbeat", "status", "heartbeat_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[str] = mapped_column(Text)  # JSON
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus), default=JobStatus.queued)
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    message: Mapped[str] = mapped_column(String(200), default="")
    result: Mapped[str | None] = mapped_column(Text)  # JSON, when done
    result_path: Mapped[str | None] = mapped_column(String(500))  # a file under the data dir
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))  # the creator's unit
    worker: Mapped[str | None] = mapped_column(String(100))  # host:pid:token of its process
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
