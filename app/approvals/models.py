from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import BigId, JSONType, enum_type, utcnow
from app.extensions import db


class ApprovalStatus(str, enum.Enum):
    PENDING = "pending"  # waiting for a second person
    APPROVED = "approved"  # approved; a grant (a download) the requester has not used yet
    EXECUTED = "executed"  # the action ran (at the approval, or when the grant was used)
    REJECTED = "rejected"  # refused, or withdrawn by the requester
    EXPIRED = "expired"  # nobody decided in time, or a grant was not used in time


class ApprovalRequest(db.Model):
    """One action (kind) on one target, requested by one back-office user and decided by another."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        # At most one open request per action, target and open_key: NULL (closed) is never equal to NULL.
        sa.UniqueConstraint("kind", "target_type", "target_id", "open_key"),
        sa.Index("ix_approval_requests_status_requested_at", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))  # e.g. "rebate_statement.approve"
    target_type: Mapped[str] = mapped_column(sa.String(40))  # e.g. "rebate_statements"
    target_id: Mapped[int] = mapped_column(sa.BigInteger)
    # Set while open (pending, or approved and not yet used), NULL once closed. Most actions use "";
    # a points adjustment uses its key, so two different adjustments of one consumer can wait at once.
    open_key: Mapped[str | None] = mapped_column(sa.String(64))
    params: Mapped[dict] = mapped_column(JSONType, default=dict)  # what was asked, as it was asked
    status: Mapped[ApprovalStatus] = mapped_column(enum_type(ApprovalStatus), default=ApprovalStatus.PENDING)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_users.id"))
    requested_by: Mapped[str] = mapped_column(sa.String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Pending: decide before this; approved grant: use before this.
    expires_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("admin_users.id"))
    decided_by: Mapped[str | None] = mapped_column(sa.String(64))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    executed_at: Mapped[datetime | None]

    def state(self, now: datetime) -> ApprovalStatus:
        """The status as of now: an open request past its time is expired, whether or not it was written."""
        if self.status in (ApprovalStatus.PENDING, ApprovalStatus.APPROVED) and self.expires_at <= now:
            return ApprovalStatus.EXPIRED
        return self.status
