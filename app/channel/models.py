"""Sales orders from the ERP, shipments scanned against them, receipts and their discrepancies,
and diversion alerts.

A shipment goes open (being scanned) → shipped (its units in transit to the receiver) → received
(the receiver confirmed; the order closes from data alone when every line is received), or is
cancelled while open. While open, a unit is held by at most one open shipment (``open_serial``).
"""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.codes.models import Level
from app.db import BigId, JSONType, TimestampMixin, enum_type, utcnow
from app.extensions import db

# ERP order numbers are compared exactly.
OrderNo = sa.String(64).with_variant(mysql.VARCHAR(64, collation="utf8mb4_bin"), "mysql", "mariadb")


class PartyKind(str, enum.Enum):
    WAREHOUSE = "warehouse"  # the brand's
    DEALER = "dealer"
    STORE = "store"


class OrderStatus(str, enum.Enum):
    OPEN = "open"  # nothing shipped yet
    SHIPPING = "shipping"  # some shipped
    SHIPPED = "shipped"  # every line shipped in full
    CLOSED = "closed"  # shipped in full and every shipment received
    CANCELLED = "cancelled"


class SalesOrder(TimestampMixin, db.Model):
    """An ERP sales order: a seller (brand warehouse or dealer) sells lines to a buyer (dealer or store)."""

    __tablename__ = "sales_orders"
    __table_args__ = (
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.Index("ix_sales_orders_seller", "seller_kind", "seller_id", "status"),
        sa.Index("ix_sales_orders_buyer", "buyer_kind", "buyer_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_no: Mapped[str] = mapped_column(OrderNo, unique=True)
    version: Mapped[int] = mapped_column(default=1)
    seller_kind: Mapped[PartyKind] = mapped_column(enum_type(PartyKind))
    seller_id: Mapped[int] = mapped_column(sa.BigInteger)
    buyer_kind: Mapped[PartyKind] = mapped_column(enum_type(PartyKind))
    buyer_id: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[OrderStatus] = mapped_column(enum_type(OrderStatus), default=OrderStatus.OPEN)
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    ordered_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    lines: Mapped[list["OrderLine"]] = relationship(back_populates="order", order_by="OrderLine.line_no",
                                                    cascade="all, delete-orphan")


class OrderLine(db.Model):
    """A line of an order, counted in items; shipped and received grow as scans ship and receipts land."""

    __tablename__ = "sales_order_lines"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "line_no"),
        sa.CheckConstraint("quantity >= 1", name="quantity_positive"),
        # The database itself refuses over-shipping, whatever a race does upstream.
        sa.CheckConstraint("shipped >= 0 AND shipped <= quantity", name="shipped_in_range"),
        sa.CheckConstraint("received >= 0 AND received <= shipped", name="received_in_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("sales_orders.id"), index=True)
    line_no: Mapped[int]
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"))
    lot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("production_lots.id"))
    quantity: Mapped[int] = mapped_column(sa.BigInteger)
    shipped: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    received: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    order: Mapped[SalesOrder] = relationship(back_populates="lines")


class ShipmentStatus(str, enum.Enum):
    OPEN = "open"
    SHIPPED = "shipped"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class Shipment(TimestampMixin, db.Model):
    """Goods leaving a shipper for a receiver, against an order or not (small dealers)."""

    __tablename__ = "shipments"
    __table_args__ = (
        sa.Index("ix_shipments_shipper", "shipper_kind", "shipper_id", "status"),
        sa.Index("ix_shipments_receiver", "receiver_kind", "receiver_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sales_orders.id"), index=True)
    shipper_kind: Mapped[PartyKind] = mapped_column(enum_type(PartyKind))
    shipper_id: Mapped[int] = mapped_column(sa.BigInteger)
    receiver_kind: Mapped[PartyKind] = mapped_column(enum_type(PartyKind))
    receiver_id: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[ShipmentStatus] = mapped_column(enum_type(ShipmentStatus), default=ShipmentStatus.OPEN)
    items: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # items held (open) or shipped
    created_by: Mapped[str] = mapped_column(sa.String(128))
    shipped_at: Mapped[datetime | None]
    shipped_by: Mapped[str | None] = mapped_column(sa.String(128))
    received_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    order: Mapped[SalesOrder | None] = relationship()


class ShipmentScan(db.Model):
    """One code scanned into a shipment (an item, a case or a pallet), undoable until shipped."""

    __tablename__ = "shipment_scans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(sa.ForeignKey("shipments.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(18))
    serial: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    level: Mapped[Level] = mapped_column(enum_type(Level))
    items: Mapped[int] = mapped_column(sa.BigInteger)
    order_line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sales_order_lines.id"))
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)
    scanned_by: Mapped[str] = mapped_column(sa.String(128))
    undone_at: Mapped[datetime | None]


class ShipmentUnit(db.Model):
    """An item in a shipment (the items inside the scanned codes), with what its receipt found."""

    __tablename__ = "shipment_units"
    __table_args__ = (sa.UniqueConstraint("shipment_id", "serial"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(sa.ForeignKey("shipments.id"))
    scan_id: Mapped[int] = mapped_column(sa.ForeignKey("shipment_scans.id"), index=True)
    serial: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    product_id: Mapped[int] = mapped_column(sa.BigInteger)
    lot_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    order_line_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The serial while the shipment is open, NULL after: a unit is in at most one open shipment.
    open_serial: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True)
    received: Mapped[bool | None]  # None until the receipt; then received or not (missing)


class ReceiptMode(str, enum.Enum):
    WHOLE = "whole"  # confirmed without scanning: everything shipped is received
    SCANNED = "scanned"  # units scanned in; the ones not scanned are missing


class Receipt(db.Model):
    """The receiver's confirmation of a shipment, with counts of what was expected and found."""

    __tablename__ = "receipts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(sa.ForeignKey("shipments.id"), unique=True)
    receiver_kind: Mapped[PartyKind] = mapped_column(enum_type(PartyKind))
    receiver_id: Mapped[int] = mapped_column(sa.BigInteger)
    mode: Mapped[ReceiptMode] = mapped_column(enum_type(ReceiptMode))
    expected: Mapped[int] = mapped_column(sa.BigInteger)
    received: Mapped[int] = mapped_column(sa.BigInteger)
    missing: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    extra: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    damaged: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    confirmed_by: Mapped[str] = mapped_column(sa.String(128))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)

    shipment: Mapped[Shipment] = relationship()


class DiscrepancyKind(str, enum.Enum):
    MISSING = "missing"
    EXTRA = "extra"
    DAMAGED = "damaged"


class Discrepancy(db.Model):
    """What a receipt found wrong, shown to the shipper and the brand."""

    __tablename__ = "receipt_discrepancies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    receipt_id: Mapped[int] = mapped_column(sa.ForeignKey("receipts.id"), index=True)
    shipment_id: Mapped[int] = mapped_column(sa.ForeignKey("shipments.id"), index=True)
    kind: Mapped[DiscrepancyKind] = mapped_column(enum_type(DiscrepancyKind))
    serial: Mapped[int | None] = mapped_column(sa.BigInteger)
    code: Mapped[str | None] = mapped_column(sa.String(64))
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertStatus(str, enum.Enum):
    OPEN = "open"
    RESOLVED = "resolved"  # looked into; a finding is recorded
    DISMISSED = "dismissed"  # not a diversion (e.g. a territory to correct)


class SeenKind(str, enum.Enum):
    RECEIPT = "receipt"
    SALE = "sale"
    CONSUMER_SCAN = "consumer_scan"


class DiversionAlert(db.Model):
    """A unit seen outside the territory of the dealer it was last shipped to (one per unit and place)."""

    __tablename__ = "diversion_alerts"
    __table_args__ = (
        sa.UniqueConstraint("serial", "place_key"),
        sa.Index("ix_diversion_alerts_dealer_status", "dealer_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    serial: Mapped[int] = mapped_column(sa.BigInteger)
    code: Mapped[str] = mapped_column(sa.String(18))
    product_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    lot_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    dealer_id: Mapped[int] = mapped_column(sa.ForeignKey("dealers.id"))
    order_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    shipment_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    seen_kind: Mapped[SeenKind] = mapped_column(enum_type(SeenKind))
    # Where it was seen: "store:12", "dealer:3" or "region:<adcode>" (a consumer's position).
    place_key: Mapped[str] = mapped_column(sa.String(64))
    region_code: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    seen_by: Mapped[str] = mapped_column(sa.String(128))
    seen_at: Mapped[datetime]
    evidence: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[AlertStatus] = mapped_column(enum_type(AlertStatus), default=AlertStatus.OPEN, index=True)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(128))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
