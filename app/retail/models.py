"""Stores and clerks: sale scans, the rules that reward them, the clerks' ledger, withdrawals, training."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import BigId, JSONType, TimestampMixin, enum_type, utcnow
from app.extensions import db
from app.masterdata.models import Status
from app.units.models import RecordId


class RewardKind(str, enum.Enum):
    POINTS = "points"
    CASH = "cash"  # fen


class SaleScan(db.Model):
    """A unit sold at a store, scanned by a clerk: once per unit, ever (the unique serial says so)."""

    __tablename__ = "sale_scans"
    __table_args__ = (
        sa.Index("ix_sale_scans_store_time", "store_id", "scanned_at"),
        sa.Index("ix_sale_scans_clerk_time", "app_user_id", "scanned_at"),
        # The back office's clerk ranking: a period's scans by clerk and store, read from the index alone.
        sa.Index("ix_sale_scans_time", "scanned_at", "app_user_id", "store_id", "region_code"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    serial: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    code: Mapped[str] = mapped_column(sa.String(18))
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("stores.id"))
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), index=True)
    lot_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    region_code: Mapped[str] = mapped_column(sa.String(12), index=True)  # the store's
    # The store never received it (bought from a wholesaler, or diverted): flagged, maybe unrewarded.
    not_received: Mapped[bool] = mapped_column(default=False)
    rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reward_rules.id"))
    reward_kind: Mapped[RewardKind | None] = mapped_column(enum_type(RewardKind))
    reward_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    withheld: Mapped[bool] = mapped_column(default=False)
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)


class RewardRule(TimestampMixin, db.Model):
    """What a sale scan earns the clerk: per product and region (or any), within a period."""

    __tablename__ = "reward_rules"
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("products.id"), index=True)
    # A province, city or district: the rule covers stores in it. None: everywhere.
    region_code: Mapped[str | None] = mapped_column(sa.ForeignKey("regions.code"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    kind: Mapped[RewardKind] = mapped_column(enum_type(RewardKind))
    amount: Mapped[int] = mapped_column(sa.BigInteger)  # points, or fen
    withhold_not_received: Mapped[bool] = mapped_column(default=True)
    status: Mapped[Status] = mapped_column(enum_type(Status), default=Status.ACTIVE)


class LedgerEntry(db.Model):
    """One movement of a clerk's points or cash (fen); idempotent by its source."""

    __tablename__ = "reward_ledger"
    __table_args__ = (sa.UniqueConstraint("kind", "source"),
                      sa.Index("ix_reward_ledger_user_kind", "app_user_id", "kind", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"))
    kind: Mapped[RewardKind] = mapped_column(enum_type(RewardKind))
    amount: Mapped[int] = mapped_column(sa.BigInteger)  # + earned, - spent or withdrawn
    # What caused it, once: "sale:<id>", "course:<id>:<user>", "withdrawal:<id>", "adjust:<id>".
    source: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RewardBalance(db.Model):
    """A clerk's balance per kind, changed by atomic SQL with each ledger entry; never negative."""

    __tablename__ = "reward_balances"
    __table_args__ = (sa.CheckConstraint("balance >= 0", name="balance_not_negative"),)

    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), primary_key=True)
    kind: Mapped[RewardKind] = mapped_column(enum_type(RewardKind), primary_key=True)
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class WithdrawalStatus(str, enum.Enum):
    REQUESTED = "requested"  # the cash left the balance; waiting for the payout queue
    PAID = "paid"
    FAILED = "failed"  # the cash went back to the balance
    CANCELLED = "cancelled"


class Withdrawal(db.Model):
    """A clerk takes accrued cash out; paid through the payout queue."""

    __tablename__ = "withdrawals"
    __table_args__ = (sa.UniqueConstraint("app_user_id", "request_id"),
                      sa.CheckConstraint("amount > 0", name="amount_positive"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), index=True)
    request_id: Mapped[str] = mapped_column(RecordId)  # the client's, so a retried request withdraws once
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[WithdrawalStatus] = mapped_column(enum_type(WithdrawalStatus),
                                                     default=WithdrawalStatus.REQUESTED, index=True)
    payout_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CourseStatus(str, enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Course(TimestampMixin, db.Model):
    """A training course for clerks; passing its quiz earns points once."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    images: Mapped[list] = mapped_column(JSONType, default=list)  # URLs
    video_url: Mapped[str | None] = mapped_column(sa.String(500))
    points: Mapped[int] = mapped_column(default=0)
    pass_score: Mapped[int] = mapped_column(default=100)  # percent of questions right
    status: Mapped[CourseStatus] = mapped_column(enum_type(CourseStatus), default=CourseStatus.DRAFT)


class QuizQuestion(db.Model):
    __tablename__ = "quiz_questions"
    __table_args__ = (sa.UniqueConstraint("course_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id"))
    position: Mapped[int]
    question: Mapped[str] = mapped_column(sa.String(500))
    options: Mapped[list] = mapped_column(JSONType)  # texts
    answer: Mapped[int]  # index into options; never sent to the clerk


class QuizAttempt(db.Model):
    __tablename__ = "quiz_attempts"
    __table_args__ = (sa.Index("ix_quiz_attempts_course_user", "course_id", "app_user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id"))
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"))
    answers: Mapped[list] = mapped_column(JSONType)
    score: Mapped[int]  # percent
    passed: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointsCashRate(db.Model):
    """The brand's rate for clerks turning points into cash: ``fen`` for every ``points``; each change is a
    new row (the newest is the rate), so a conversion names the rate it was made at."""

    __tablename__ = "points_cash_rates"
    __table_args__ = (sa.CheckConstraint("points > 0", name="points_positive"),
                      sa.CheckConstraint("fen > 0", name="fen_positive"),
                      sa.CheckConstraint("min_points >= 0", name="min_points_not_negative"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)  # False: clerks can't convert (the rate is kept)
    points: Mapped[int] = mapped_column(sa.BigInteger)  # a conversion is a whole number of these steps
    fen: Mapped[int] = mapped_column(sa.BigInteger)  # paid for each step
    min_points: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # the smallest conversion
    created_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def least_points(self) -> int:
        """The smallest conversion clerks can make: the minimum, and at least one step."""
        return max(self.min_points, self.points)


class PointsConversion(db.Model):
    """A clerk's points turned into cash (fen) at a rate: one points debit and one cash credit in the
    ledger, both with the source ``points-cash:<id>``; the cash is then withdrawn like any reward."""

    __tablename__ = "points_conversions"
    __table_args__ = (sa.UniqueConstraint("app_user_id", "request_id"),
                      sa.CheckConstraint("points > 0", name="points_positive"),
                      sa.CheckConstraint("amount_fen > 0", name="amount_positive"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), index=True)
    request_id: Mapped[str] = mapped_column(RecordId)  # the client's, so a retried request converts once
    rate_id: Mapped[int] = mapped_column(sa.ForeignKey("points_cash_rates.id"))
    points: Mapped[int] = mapped_column(sa.BigInteger)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
