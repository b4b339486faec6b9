"""A notice to one dealer or store (every member of it reads it), and who of them has read it."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import BigId, JSONType, enum_type, utcnow
from app.extensions import db


class Recipient(str, enum.Enum):
    DEALER = "dealer"  # read in the dealer mini-program by the dealer's members
    STORE = "store"  # read in the clerk mini-program by the store's owner and clerks


class NoticeKind(str, enum.Enum):
    RECALL = "recall"


class Notice(db.Model):
    __tablename__ = "notices"
    __table_args__ = (
        # A recipient's notices, newest first; and one notice per recipient per recall, even if posted twice.
        sa.Index("ix_notices_recipient", "recipient_kind", "recipient_id", "id"),
        sa.UniqueConstraint("recall_id", "recipient_kind", "recipient_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recipient_kind: Mapped[Recipient] = mapped_column(enum_type(Recipient))
    recipient_id: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[NoticeKind] = mapped_column(enum_type(NoticeKind))
    # What the notice is about, by column (a recall notice: its recall).
    recall_id: Mapped[int | None] = mapped_column(sa.ForeignKey("recalls.id"))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.String(2000))
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoticeRead(db.Model):
    """A member of the recipient read the notice (each member reads for themselves)."""

    __tablename__ = "notice_reads"

    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("notices.id"), primary_key=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)
