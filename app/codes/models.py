from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import BigId, TimestampMixin, enum_type, utcnow
from app.extensions import db


class Level(str, enum.Enum):
    """Packaging level a code is printed on."""

    ITEM = "item"
    CASE = "case"
    PALLET = "pallet"


class BatchStatus(str, enum.Enum):
    ACTIVE = "active"
    VOIDED = "voided"


class ExportStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class CodeCounter(db.Model):
    """Named counters (serials, batch numbers, SSCC numbers), advanced under a row lock."""

    __tablename__ = "code_serials"

    name: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    next_value: Mapped[int] = mapped_column(sa.BigInteger)


class CodeBatch(TimestampMixin, db.Model):
    """A batch of codes: a reserved serial range, one row however many codes it holds."""

    __tablename__ = "code_batches"
    __table_args__ = (
        sa.CheckConstraint("count >= 1", name="count_positive"),
        sa.Index("ix_code_batches_product_level", "product_id", "level"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_no: Mapped[str] = mapped_column(sa.String(32), unique=True)
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("products.id"))
    level: Mapped[Level] = mapped_column(enum_type(Level))
    key_version: Mapped[int] = mapped_column(sa.SmallInteger)
    # Unique, so indexed: a code finds its batch by the greatest serial_start <= its serial.
    serial_start: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    count: Mapped[int] = mapped_column(sa.BigInteger)
    hidden_code_digits: Mapped[int | None] = mapped_column(sa.SmallInteger)
    # Pallet batches issued while a GS1 company prefix is configured carry SSCCs:
    # SSCC number of serial s = sscc_start + (s - serial_start), under this prefix.
    sscc_company_prefix: Mapped[str | None] = mapped_column(sa.String(12))
    sscc_start: Mapped[int | None] = mapped_column(sa.BigInteger)
    status: Mapped[BatchStatus] = mapped_column(enum_type(BatchStatus), default=BatchStatus.ACTIVE, index=True)
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(sa.String(500))
    created_by: Mapped[str] = mapped_column(sa.String(128))

    product = relationship("Product", lazy="joined")
    exports: Mapped[list["ExportJob"]] = relationship(back_populates="batch", order_by="ExportJob.id.desc()")

    @property
    def serial_end(self) -> int:
        """The last serial of the batch."""
        return self.serial_start + self.count - 1

    def holds(self, serial: int) -> bool:
        return self.serial_start <= serial < self.serial_start + self.count


class ExportJob(db.Model):
    """One export of a batch into a code pack (a zip of CSV files), with its progress."""

    __tablename__ = "code_export_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("code_batches.id"), index=True)
    status: Mapped[ExportStatus] = mapped_column(enum_type(ExportStatus), default=ExportStatus.QUEUED, index=True)
    rows_done: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    rows_total: Mapped[int] = mapped_column(sa.BigInteger)
    file_rows: Mapped[int] = mapped_column(sa.BigInteger)
    encrypted: Mapped[bool] = mapped_column(default=False)
    file_path: Mapped[str | None] = mapped_column(sa.String(500))
    file_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    error: Mapped[str | None] = mapped_column(sa.String(1000))
    requested_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Each claim is an attempt; a runner writes progress and the result only under its own attempt,
    # and beats the heart with its progress, so a job whose runner died can be taken over.
    attempt: Mapped[int] = mapped_column(default=0)
    heartbeat_at: Mapped[datetime | None]

    batch: Mapped[CodeBatch] = relationship(back_populates="exports")
