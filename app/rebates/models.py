"""Rebates (返利): rules per dealer tier, product and period; statements computed from verified flows."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import BigId, TimestampMixin, enum_type
from app.extensions import db
from app.masterdata.models import Status


class RebateBasis(str, enum.Enum):
    CASE_TO_STORE = "case_to_store"  # per case (units_per_case items) of the dealer's that stores received
    UNIT_SOLD = "unit_sold"  # per unit of the dealer's that a store sale-scanned


class RebateRule(TimestampMixin, db.Model):
    __tablename__ = "rebate_rules"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    tier: Mapped[int | None]  # None: every tier
    product_id: Mapped[int | None] = mapped_column(sa.ForeignKey("products.id"))  # None: every product
    basis: Mapped[RebateBasis] = mapped_column(enum_type(RebateBasis))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    starts_on: Mapped[date]
    ends_on: Mapped[date]  # inclusive
    status: Mapped[Status] = mapped_column(enum_type(Status), default=Status.ACTIVE)


class StatementStatus(str, enum.Enum):
    DRAFT = "draft"  # recomputable
    APPROVED = "approved"  # frozen


class RebateStatement(TimestampMixin, db.Model):
    __tablename__ = "rebate_statements"
    __table_args__ = (sa.UniqueConstraint("dealer_id", "period_start", "period_end"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(sa.ForeignKey("dealers.id"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]  # inclusive
    status: Mapped[StatementStatus] = mapped_column(enum_type(StatementStatus), default=StatementStatus.DRAFT)
    total_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    computed_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(sa.String(128))
    approved_at: Mapped[datetime | None]

    lines: Mapped[list["RebateLine"]] = relationship(order_by="RebateLine.id", cascade="all, delete-orphan")


class RebateLine(db.Model):
    __tablename__ = "rebate_statement_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    statement_id: Mapped[int] = mapped_column(sa.ForeignKey("rebate_statements.id"), index=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("rebate_rules.id"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"))
    basis: Mapped[RebateBasis] = mapped_column(enum_type(RebateBasis))
    quantity: Mapped[int] = mapped_column(sa.BigInteger)  # cases or units
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
