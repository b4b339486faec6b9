from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import BigId, JSONType, TimestampMixin, enum_type
from app.extensions import db


# The ERP's identifier, compared exactly: MySQL's default collation would make "a1" and "A1" one id.
ExternalId = sa.String(64).with_variant(mysql.VARCHAR(64, collation="utf8mb4_bin"), "mysql", "mariadb")


class Status(str, enum.Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class RegionLevel(str, enum.Enum):
    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"


class LineMode(str, enum.Enum):
    MANUAL = "manual"
    SEMI_AUTO = "semi_auto"
    AUTO = "auto"


class Product(TimestampMixin, db.Model):
    """A SKU with its packaging hierarchy: units per case, cases per pallet."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)
    sku: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    gtin: Mapped[str | None] = mapped_column(sa.String(14), unique=True)  # GTIN-14, check digit valid
    specification: Mapped[str] = mapped_column(sa.String(200), default="")
    units_per_case: Mapped[int] = mapped_column(default=1)
    cases_per_pallet: Mapped[int] = mapped_column(default=1)
    shelf_life_days: Mapped[int | None]
    description: Mapped[str] = mapped_column(sa.Text, default="")
    image_url: Mapped[str | None] = mapped_column(sa.String(500))
    status: Mapped[Status] = mapped_column(enum_type(Status), default=Status.ACTIVE, index=True)

    __table_args__ = (
        sa.CheckConstraint("units_per_case >= 1", name="units_per_case_positive"),
        sa.CheckConstraint("cases_per_pallet >= 1", name="cases_per_pallet_positive"),
    )


class Factory(TimestampMixin, db.Model):
    __tablename__ = "factories"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str] = mapped_column(sa.String(500), default="")
    region_code: Mapped[str | None] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    status: Mapped[Status] = mapped_column(enum_type(Status), default=Status.ACTIVE)

    lines: Mapped[list["ProductionLine"]] = relationship(back_populates="factory")


class ProductionLine(TimestampMixin, db.Model):
    __tablename__ = "production_lines"
    __table_args__ = (sa.UniqueConstraint("factory_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)
    factory_id: Mapped[int] = mapped_column(sa.ForeignKey("factories.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200))
    mode: Mapped[LineMode] = mapped_column(enum_type(LineMode), default=LineMode.MANUAL)
    status: Mapped[Status] = mapped_column(enum_type(Status), default=Status.ACTIVE)

    factory: Mapped[Factory] = relationship(back_populates="lines")


class Warehouse(TimestampMixin, db.Model):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    factory_id: Mapped[int | None] = mapped_column(sa.ForeignKey("factories.id"), index=True)
    address: Mapped[str] = mapped_column(sa.String(500), default="")
    region_code: Mapped[str | None] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    status: Mapped[Status] = mapped_column(enum_type(Status), default=Status.ACTIVE)


class Region(db.Model):
    """China's administrative divisions (reference data loaded by a migration)."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)  # 12-digit adcode
    name: Mapped[str] = mapped_column(sa.String(64))
    level: Mapped[RegionLevel] = mapped_column(enum_type(RegionLevel), index=True)
    parent_code: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    longitude: Mapped[float | None]
    latitude: Mapped[float | None]


dealer_territories = sa.Table(
    "dealer_territories",
    db.metadata,
    sa.Column("dealer_id", BigId, sa.ForeignKey("dealers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("region_code", sa.String(12), sa.ForeignKey("regions.code"), primary_key=True),
)

store_dealers = sa.Table(
    "store_dealers",
    db.metadata,
    sa.Column("store_id", BigId, sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("dealer_id", BigId, sa.ForeignKey("dealers.id"), primary_key=True, index=True),
)


class Dealer(TimestampMixin, db.Model):
    """A dealer (经销商): tier 1 buys from the brand, tier n from a tier n-1 parent."""

    __tablename__ = "dealers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    tier: Mapped[int] = mapped_column(default=1)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("dealers.id"), index=True)
    contacts: Mapped[list] = mapped_column(JSONType, default=list)  # [{name, phone, title}]
    status: Mapped[Status] = mapped_column(enum_type(Status), default=Status.ACTIVE, index=True)

    parent: Mapped["Dealer | None"] = relationship(remote_side=[id])
    territory: Mapped[list[Region]] = relationship(secondary=dealer_territories)

    __table_args__ = (sa.CheckConstraint("tier >= 1", name="tier_positive"),)


class Store(TimestampMixin, db.Model):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(ExternalId, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str] = mapped_column(sa.String(500), default="")
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    longitude: Mapped[float | None]
    latitude: Mapped[float | None]
    status: Mapped[Status] = mapped_column(enum_type(Status), default=Status.ACTIVE, index=True)

    region: Mapped[Region] = relationship()
    dealers: Mapped[list[Dealer]] = relationship(secondary=store_dealers)
