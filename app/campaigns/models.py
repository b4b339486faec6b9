"""Campaigns and their prizes; the database itself refuses overspending a budget or over-awarding a prize.

A campaign moves draft → active ↔ paused, and any state → ended (final). Empty product, lot and
region lists mean "all". Probabilities are integer parts per million, so the odds are exact.
"""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import BigId, JSONType, TimestampMixin, enum_type, utcnow
from app.extensions import db

PPM = 1_000_000  # probability 1


class CampaignStatus(str, enum.Enum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"  # final


class PrizeKind(str, enum.Enum):
    CASH = "cash"  # amount in fen
    POINTS = "points"  # amount in points
    COUPON = "coupon"
    GIFT = "gift"  # a physical gift


class Campaign(TimestampMixin, db.Model):
    """A lottery on consumer scans: where, when, how much it may spend and who may enter."""

    __tablename__ = "campaigns"
    __table_args__ = (
        sa.CheckConstraint("spent_fen >= 0", name="spent_not_negative"),
        sa.CheckConstraint("spent_fen <= total_budget_fen", name="spent_within_budget"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.Index("ix_campaigns_status_window", "status", "starts_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[CampaignStatus] = mapped_column(enum_type(CampaignStatus), default=CampaignStatus.DRAFT)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    total_budget_fen: Mapped[int] = mapped_column(sa.BigInteger)
    daily_budget_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    spent_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    per_user_daily_limit: Mapped[int] = mapped_column(default=1)
    per_user_total_limit: Mapped[int] = mapped_column(default=1)
    hidden_code_required: Mapped[bool] = mapped_column(default=False)
    first_scan_only: Mapped[bool] = mapped_column(default=True)
    product_ids: Mapped[list] = mapped_column(JSONType, default=list)  # empty: every product
    lot_ids: Mapped[list] = mapped_column(JSONType, default=list)  # empty: every lot
    region_codes: Mapped[list] = mapped_column(JSONType, default=list)  # empty: everywhere
    blacklist: Mapped[list] = mapped_column(JSONType, default=list)  # openids never drawn
    created_by: Mapped[str] = mapped_column(sa.String(200), default="")


class Prize(db.Model):
    """What a draw can win, with its odds (parts per million) and stock (None: unlimited)."""

    __tablename__ = "campaign_prizes"
    __table_args__ = (
        sa.CheckConstraint("probability_ppm >= 0 AND probability_ppm <= 1000000", name="probability_range"),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
        sa.CheckConstraint("awarded >= 0", name="awarded_not_negative"),
        sa.CheckConstraint("stock IS NULL OR awarded <= stock", name="awarded_within_stock"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    kind: Mapped[PrizeKind] = mapped_column(enum_type(PrizeKind))
    name: Mapped[str] = mapped_column(sa.String(200))
    amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # fen for cash, points for points
    probability_ppm: Mapped[int]
    stock: Mapped[int | None]
    awarded: Mapped[int] = mapped_column(default=0)


class DrawOutcome(str, enum.Enum):
    WON = "won"
    LOST = "lost"  # the random number fell on no prize
    OUT_OF_STOCK = "out_of_stock"  # it fell on a prize none of which was left
    BUDGET_EXHAUSTED = "budget_exhausted"  # it fell on a cash prize the (daily) budget could no longer pay


class Draw(db.Model):
    """One draw, for one unit, ever (``serial`` is unique), kept with its random number and the odds in force.

    The prize was chosen by ``random_ppm`` (uniform in 0..999,999) falling in a prize's band of the
    cumulative odds ``odds`` (prizes in id order); a band whose prize could not be given is not re-drawn.
    """

    __tablename__ = "campaign_draws"
    __table_args__ = (
        sa.CheckConstraint("random_ppm >= 0 AND random_ppm < 1000000", name="random_range"),
        sa.Index("ix_campaign_draws_user_time", "app_user_id", "drawn_at"),
        sa.Index("ix_campaign_draws_campaign_outcome", "campaign_id", "outcome"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    serial: Mapped[int] = mapped_column(sa.BigInteger, unique=True)  # one draw per unit, ever
    scan_id: Mapped[int] = mapped_column(sa.ForeignKey("consumer_scans.id"), unique=True)
    # No foreign key to campaigns here, in CampaignDay or in Entries: a claim's insert would share-lock
    # the campaign row that its winners then update, and concurrent claims would deadlock on it.
    campaign_id: Mapped[int] = mapped_column(sa.BigInteger)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"))
    random_ppm: Mapped[int]
    odds: Mapped[list] = mapped_column(JSONType)  # [{prize_id, kind, name, amount, probability_ppm, from, to}]
    outcome: Mapped[DrawOutcome] = mapped_column(enum_type(DrawOutcome))
    prize_id: Mapped[int | None] = mapped_column(sa.BigInteger)  # the prize the number fell on
    prize_kind: Mapped[PrizeKind | None] = mapped_column(enum_type(PrizeKind))
    amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # fen or points won
    day: Mapped[date] = mapped_column(sa.Date)  # China day, for the daily limits and budget
    region_code: Mapped[str | None] = mapped_column(sa.String(12))
    held_reason: Mapped[str | None] = mapped_column(sa.String(200))  # a velocity rule held its payout
    drawn_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignDay(db.Model):
    """What a campaign spent on one China day; the database refuses going over that day's budget."""

    __tablename__ = "campaign_days"
    __table_args__ = (
        sa.CheckConstraint("spent_fen >= 0", name="spent_not_negative"),
        sa.CheckConstraint("budget_fen IS NULL OR spent_fen <= budget_fen", name="spent_within_budget"),
    )

    campaign_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)  # (see Draw)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    budget_fen: Mapped[int | None] = mapped_column(sa.BigInteger)  # the daily budget in force that day
    spent_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class Entries(db.Model):
    """A user's draws in a campaign per period ("total", or a China day "2026-11-25"), within the limits."""

    __tablename__ = "campaign_entries"
    __table_args__ = (sa.CheckConstraint("draws >= 0", name="draws_not_negative"),)

    campaign_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)  # (see Draw)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    draws: Mapped[int] = mapped_column(default=0)


class RedemptionStatus(str, enum.Enum):
    ISSUED = "issued"  # a coupon with its code
    AWAITING_ADDRESS = "awaiting_address"  # a gift waits for the winner's shipping address
    TO_SHIP = "to_ship"
    SHIPPED = "shipped"
    REDEEMED = "redeemed"  # a coupon used, or a gift delivered
    CANCELLED = "cancelled"


class Redemption(db.Model):
    """A coupon or physical gift won in a draw, and where it is on its way to the winner."""

    __tablename__ = "prize_redemptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    draw_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_draws.id"), unique=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    prize_id: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[PrizeKind] = mapped_column(enum_type(PrizeKind))
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[RedemptionStatus] = mapped_column(enum_type(RedemptionStatus))
    coupon_code: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    address: Mapped[dict | None] = mapped_column(JSONType)  # {name, phone, region_code, detail}
    tracking_no: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ClaimVelocity(db.Model):
    """A consumer's recent claims at a glance, for the velocity rules; read and written under their lock.

    ``cities`` maps a city (the first 4 digits of an adcode) to the last time the consumer claimed from
    it; ``cash_won_fen`` is what cash prizes they won on ``day`` (a China day).
    """

    __tablename__ = "claim_velocity"

    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), primary_key=True, autoincrement=False)
    cities: Mapped[dict] = mapped_column(JSONType, default=dict)
    day: Mapped[date | None] = mapped_column(sa.Date)
    cash_won_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
