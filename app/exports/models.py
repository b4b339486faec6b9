from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import BigId, JSONType, enum_type, utcnow
from app.extensions import db


class ExportFormat(str, enum.Enum):
    XLSX = "xlsx"
    CSV = "csv"


class ExportStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"  # done, and its file removed after EXPORT_RETENTION_HOURS


class DataExportJob(db.Model):
    """A back-office list or report written to a file in the background, with its progress.

    What to export is the request that asked for it (endpoint, path, query string): the runner
    answers that request again, as its requester, so the filters and the columns are the list's own.
    """

    __tablename__ = "export_jobs"
    __table_args__ = (sa.Index("ix_export_jobs_status_finished_at", "status", "finished_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    status: Mapped[ExportStatus] = mapped_column(enum_type(ExportStatus), default=ExportStatus.QUEUED)
    format: Mapped[ExportFormat] = mapped_column(enum_type(ExportFormat))
    name: Mapped[str] = mapped_column(sa.String(100))  # the file name's stem
    endpoint: Mapped[str] = mapped_column(sa.String(200))
    path: Mapped[str] = mapped_column(sa.String(500))
    query_string: Mapped[str] = mapped_column(sa.Text)
    view_args: Mapped[dict] = mapped_column(JSONType, default=dict)
    filters: Mapped[dict] = mapped_column(JSONType, default=dict)
    requested_by_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("admin_users.id"), index=True)
    requested_by: Mapped[str] = mapped_column(sa.String(128))
    rows_done: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    rows_total: Mapped[int | None] = mapped_column(sa.BigInteger)
    file_path: Mapped[str | None] = mapped_column(sa.String(500))
    file_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    error: Mapped[str | None] = mapped_column(sa.String(1000))
    request_id: Mapped[str | None] = mapped_column(sa.String(64))  # of the request that queued it (logs)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Each claim is an attempt; a runner writes progress and the result only under its own attempt,
    # and beats the heart with its progress, so a job whose runner died can be taken over.
    attempt: Mapped[int] = mapped_column(default=0)
    heartbeat_at: Mapped[datetime | None]
