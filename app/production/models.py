"""Production lots, the raw-material lots they consumed, and the materials and suppliers behind them."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import BigId, TimestampMixin, enum_type, utcnow
from app.extensions import db
from app.masterdata.models import ExternalId, Factory, Product, ProductionLine, Status

# Lot numbers are printed on labels and compared exactly: "a1" and "A1" are two lots on every backend.
LotNo = sa.String(64).with_variant(mysql.VARCHAR(64, collation="utf8mb4_bin"), "mysql", "mariadb")
# Quantities are decimals in the material's unit (kg, l, pcs): exact, 3 places (grams of a kg).
Quantity = sa.Numeric(18, 3)


class LotStatus(str, enum.Enum):
    OPEN = "open"
    CLOSED = "closed"  # accepts no new units or consumptions until reopened


class InspectionResult(str, enum.Enum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"
    CONDITIONAL = "conditional"  # released with a concession: may be consumed


class Material(TimestampMixin, db.Model):
    __tablename__ = "materials"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    unit: Mapped[str] = mapped_column(sa.String(16), default="kg")
    status: Mapped[Status] = mapped_column(enum_type(Status), default=Status.ACTIVE)


class Supplier(TimestampMixin, db.Model):
    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[Status] = mapped_column(enum_type(Status), default=Status.ACTIVE)


class RawMaterialLot(TimestampMixin, db.Model):
    """A delivery of one material from one supplier, under the supplier's lot number."""

    __tablename__ = "raw_material_lots"
    __table_args__ = (
        sa.UniqueConstraint("material_id", "supplier_id", "lot_no"),
        sa.CheckConstraint("quantity IS NULL OR quantity >= 0", name="quantity_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)
    material_id: Mapped[int] = mapped_column(sa.ForeignKey("materials.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(sa.ForeignKey("suppliers.id"), index=True)
    lot_no: Mapped[str] = mapped_column(LotNo)
    received_at: Mapped[datetime]
    quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    inspection_result: Mapped[InspectionResult] = mapped_column(
        enum_type(InspectionResult), default=InspectionResult.PENDING, index=True)
    inspection_note: Mapped[str] = mapped_column(sa.String(500), default="")
    inspected_at: Mapped[datetime | None]

    material: Mapped[Material] = relationship()
    supplier: Mapped[Supplier] = relationship()


class ProductionLot(TimestampMixin, db.Model):
    """One product made in one factory (and line, shift) under one lot number."""

    __tablename__ = "production_lots"
    __table_args__ = (
        sa.UniqueConstraint("product_id", "lot_no"),
        sa.CheckConstraint("expiry_date IS NULL OR expiry_date > production_date", name="expiry_after_production"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), index=True)
    lot_no: Mapped[str] = mapped_column(LotNo)
    production_date: Mapped[date] = mapped_column(index=True)
    expiry_date: Mapped[date | None]
    factory_id: Mapped[int] = mapped_column(sa.ForeignKey("factories.id"), index=True)
    line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("production_lines.id"), index=True)
    shift: Mapped[str] = mapped_column(sa.String(16), default="")
    status: Mapped[LotStatus] = mapped_column(enum_type(LotStatus), default=LotStatus.OPEN, index=True)
    closed_at: Mapped[datetime | None]

    product: Mapped[Product] = relationship()
    factory: Mapped[Factory] = relationship()
    line: Mapped[ProductionLine | None] = relationship()


class LotConsumption(db.Model):
    """A production lot used (some of) a raw-material lot: the link both trace directions follow."""

    __tablename__ = "lot_consumptions"
    __table_args__ = (
        sa.UniqueConstraint("production_lot_id", "raw_material_lot_id"),
        sa.CheckConstraint("quantity IS NULL OR quantity >= 0", name="quantity_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    production_lot_id: Mapped[int] = mapped_column(sa.ForeignKey("production_lots.id"))
    # Indexed on its own for the forward trace (raw-material lot -> production lots).
    raw_material_lot_id: Mapped[int] = mapped_column(sa.ForeignKey("raw_material_lots.id"), index=True)
    quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    production_lot: Mapped[ProductionLot] = relationship()
    raw_material_lot: Mapped[RawMaterialLot] = relationship()
