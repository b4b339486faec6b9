"""Payouts: money to a WeChat user (a consumer's cash prize, a clerk's withdrawal), paid by a worker.

A payout is durable before any money moves. Its ``out_bill_no`` is derived from its id, so a
retried or restarted worker asks WeChat about the same bill instead of making a second one.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import AppName
from app.db import BigId, JSONType, enum_type, utcnow
from app.extensions import db


class PayoutPurpose(str, enum.Enum):
    PRIZE = "prize"  # a consumer's cash prize (campaigns)
    WITHDRAWAL = "withdrawal"  # a clerk's withdrawal of accrued rewards


# How ``payouts.source`` names the row each purpose pays ("draw:<id>", "withdrawal:<id>").
_SOURCE_PREFIX = {PayoutPurpose.PRIZE: "draw", PayoutPurpose.WITHDRAWAL: "withdrawal"}


@dataclass(frozen=True)
class PayoutRef:
    """What a payout pays: its purpose and the id of its source row (a draw, a withdrawal).

    The column ``source`` keeps it as a string (its unique key pays each source once); this is the one
    place that string is built and read back.
    """

    purpose: PayoutPurpose
    id: int

    @property
    def key(self) -> str:
        """The ``source`` column's value: "draw:<id>", "withdrawal:<id>"."""
        return f"{_SOURCE_PREFIX[self.purpose]}:{self.id}"

    @classmethod
    def parse(cls, purpose: PayoutPurpose, source: str) -> PayoutRef:
        """Read a stored ``source`` back; a source that does not name its purpose's row is refused."""
        prefix, _, id_ = source.partition(":")
        if prefix != _SOURCE_PREFIX[purpose] or not id_.isdigit():
            raise ValueError(f"payout source {source!r} does not name a {purpose.value}'s row")
        return cls(purpose, int(id_))

    @classmethod
    def sql_key(cls, purpose: PayoutPurpose, id_column):
        """``key`` as a SQL expression over a column of ids (to join payouts to their source rows)."""
        return sa.literal(f"{_SOURCE_PREFIX[purpose]}:") + sa.cast(id_column, sa.String)


class PayoutChannel(str, enum.Enum):
    TRANSFER = "transfer"  # WeChat Pay APIv3 transfer bill; the user confirms it in the mini-program
    REDPACK = "redpack"  # APIv2 cash red packet


class PayoutStatus(str, enum.Enum):
    PENDING = "pending"  # queued for the worker
    HELD = "held"  # held for review (a velocity rule fired); released or cancelled by a person
    CREATING = "creating"  # a bill is being created: its outcome may be unknown, so it is queried
    WAITING = "waiting"  # the bill exists and waits for the user to confirm (WAIT_USER_CONFIRM)
    PROCESSING = "processing"  # confirmed, WeChat is paying
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # WeChat refused or failed it; the money went back
    CANCELLED = "cancelled"  # cancelled before it was paid (or expired unconfirmed); the money went back
    # WeChat Pay gave no definitive answer about the bill (a timeout, a 5xx, a 4xx not about this bill,
    # an unsigned answer): the money stays out, the worker asks again with backoff (``doubt_from`` says
    # which step it was on), and a person sees it after PAYOUT_DOUBT_ALERT_MINUTES.
    IN_DOUBT = "in_doubt"


class Payout(db.Model):
    __tablename__ = "payouts"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.Index("ix_payouts_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    purpose: Mapped[PayoutPurpose] = mapped_column(enum_type(PayoutPurpose))
    # What it pays, once: ``PayoutRef.key`` ("draw:<id>", "withdrawal:<id>"); read it as ``ref``.
    source: Mapped[str] = mapped_column(sa.String(64), unique=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), index=True)
    app: Mapped[AppName] = mapped_column(enum_type(AppName))  # whose appid pays (the user's mini-program)
    openid: Mapped[str] = mapped_column(sa.String(64))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    channel: Mapped[PayoutChannel] = mapped_column(enum_type(PayoutChannel), default=PayoutChannel.TRANSFER)
    out_bill_no: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    status: Mapped[PayoutStatus] = mapped_column(enum_type(PayoutStatus), default=PayoutStatus.PENDING)
    campaign_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)  # money returns to its budget
    transfer_bill_no: Mapped[str | None] = mapped_column(sa.String(64))
    package_info: Mapped[str | None] = mapped_column(sa.String(1000))  # for wx.requestMerchantTransfer
    wechat_state: Mapped[str | None] = mapped_column(sa.String(32))
    fail_reason: Mapped[str | None] = mapped_column(sa.String(200))
    hold_reason: Mapped[str | None] = mapped_column(sa.String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    bill_created_at: Mapped[datetime | None]
    doubt_from: Mapped[PayoutStatus | None] = mapped_column(enum_type(PayoutStatus))  # the step it was on
    in_doubt_since: Mapped[datetime | None]
    request_id: Mapped[str | None] = mapped_column(sa.String(64))  # of the request that queued it (logs)
    # When a create was last sent with no definitive answer yet (set before sending, undone once answered).
    last_create_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def ref(self) -> PayoutRef:
        """The source row this payout pays, typed."""
        return PayoutRef.parse(self.purpose, self.source)

    @property
    def user_status(self) -> PayoutStatus:
        """What the user is shown: a doubt is ours to settle, so they see the step it is on."""
        return self.doubt_from if self.status is PayoutStatus.IN_DOUBT and self.doubt_from else self.status


class PayoutNotification(db.Model):
    """A WeChat Pay callback, kept once by its id (a duplicate is acknowledged and ignored)."""

    __tablename__ = "payout_notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    notification_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    out_bill_no: Mapped[str] = mapped_column(sa.String(32), index=True)
    state: Mapped[str] = mapped_column(sa.String(32))
    payload: Mapped[dict] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reconciliation(db.Model):
    """A day's payouts compared with WeChat's bills; the mismatches listed."""

    __tablename__ = "payout_reconciliations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[datetime] = mapped_column(unique=True)  # 00:00 UTC of the day
    checked: Mapped[int] = mapped_column(default=0)
    mismatches: Mapped[list] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentKind(str, enum.Enum):
    IN_DOUBT = "in_doubt"  # no definitive answer for longer than PAYOUT_DOUBT_ALERT_MINUTES
    UNRECOVERED = "unrecovered"  # paid after its money was returned, and the money could not be taken back
    RECONCILE = "reconcile"  # reconciliation found a difference it could not repair


class PayoutIncident(db.Model):
    """Something about a payout that needs a person, raised once per payout and kind."""

    __tablename__ = "payout_incidents"
    __table_args__ = (sa.UniqueConstraint("payout_id", "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payout_id: Mapped[int] = mapped_column(sa.ForeignKey("payouts.id"))
    kind: Mapped[IncidentKind] = mapped_column(enum_type(IncidentKind))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)  # the money at stake
    detail: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(sa.String(128))  # who, or "worker" when it cleared itself
    resolution: Mapped[str | None] = mapped_column(sa.String(500))
