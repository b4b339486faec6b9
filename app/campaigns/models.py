"""Campaigns and their prizes; the database itself refuses overspending a budget or over-awarding a prize.

A campaign moves draft → active ↔ paused, and any state → ended (final). Empty product, lot and
region lists mean "all". Probabilities are integer parts per million, so the odds are exact.
"""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import BigId, JSONType, TimestampMixin, enum_type
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
