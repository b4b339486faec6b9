"""Consumers' points: an append-only ledger with a balance that is never negative, and the points mall.

Points earned expire (``expires_at``); ``remaining`` on an earning says how much of it is still
unspent, so spending takes from the earliest-expiring earnings first and expiry removes exactly what
was left of an earning.
"""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import BigId, JSONType, TimestampMixin, enum_type, utcnow
from app.extensions import db


class PointsKind(str, enum.Enum):
    EARN = "earn"  # + (a draw, a campaign, a refund of a cancelled mall order)
    SPEND = "spend"  # - (a mall order)
    EXPIRE = "expire"  # - (what was left of an earning at its expiry)
    ADJUST = "adjust"  # + or - (the back office, audited)


class PointsEntry(db.Model):
    """One movement of a consumer's points; idempotent by its source."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        sa.CheckConstraint("points <> 0", name="points_not_zero"),
        sa.CheckConstraint("remaining = 0 OR (points > 0 AND remaining > 0 AND remaining <= points)",
                           name="remaining_of_an_earning"),
        sa.Index("ix_points_ledger_user", "app_user_id", "id"),
        sa.Index("ix_points_ledger_expiry", "expires_at", "remaining"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"))
    kind: Mapped[PointsKind] = mapped_column(enum_type(PointsKind))
    points: Mapped[int] = mapped_column(sa.BigInteger)  # signed
    # What caused it, once: "draw:<id>", "mall-order:<id>", "mall-refund:<id>", "expire:<entry id>", "adjust:<key>".
    source: Mapped[str] = mapped_column(sa.String(64), unique=True)
    remaining: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # of an earning: not yet spent or expired
    expires_at: Mapped[datetime | None]  # of an earning
    balance_after: Mapped[int] = mapped_column(sa.BigInteger)
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointsBalance(db.Model):
    """A consumer's points balance, changed by atomic SQL with each entry; never negative."""

    __tablename__ = "points_balances"
    __table_args__ = (sa.CheckConstraint("balance >= 0", name="balance_not_negative"),)

    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class MallItemKind(str, enum.Enum):
    PHYSICAL = "physical"  # shipped to an address
    COUPON = "coupon"  # a coupon code is issued


class MallItem(TimestampMixin, db.Model):
    """Something consumers can buy with points; the database refuses selling more than the stock."""

    __tablename__ = "mall_items"
    __table_args__ = (
        sa.CheckConstraint("points_price > 0", name="price_positive"),
        sa.CheckConstraint("stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("sold >= 0 AND sold <= stock", name="sold_within_stock"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.String(2000), default="")
    image_url: Mapped[str | None] = mapped_column(sa.String(500))
    kind: Mapped[MallItemKind] = mapped_column(enum_type(MallItemKind))
    points_price: Mapped[int] = mapped_column(sa.BigInteger)
    stock: Mapped[int]
    sold: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class MallOrderStatus(str, enum.Enum):
    PLACED = "placed"  # physical: waiting to be shipped
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    ISSUED = "issued"  # coupon: the code is the goods
    CANCELLED = "cancelled"  # points and stock went back


class MallOrder(db.Model):
    """A consumer's points-mall order; idempotent by (user, request id)."""

    __tablename__ = "mall_orders"
    __table_args__ = (
        sa.UniqueConstraint("app_user_id", "request_id"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_users.id"), index=True)
    request_id: Mapped[str] = mapped_column(sa.String(64))
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("mall_items.id"), index=True)
    item: Mapped[MallItem] = relationship(lazy="select")  # many-to-one: read once per session and item
    quantity: Mapped[int] = mapped_column(default=1)
    points: Mapped[int] = mapped_column(sa.BigInteger)  # paid
    status: Mapped[MallOrderStatus] = mapped_column(enum_type(MallOrderStatus))
    address: Mapped[dict | None] = mapped_column(JSONType)  # {name, phone, region_code, detail}
    coupon_code: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    tracking_no: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
