"""Stock: items per warehouse, product and lot, kept in step with the units' locations."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db


class Stock(db.Model):
    """How many items of a lot are in a warehouse (not in transit): always the count of such units.

    Changed only by atomic increments in the transaction that moves the units, in key order.
    """

    __tablename__ = "stock"
    __table_args__ = (sa.CheckConstraint("quantity >= 0", name="quantity_not_negative"),)

    warehouse_id: Mapped[int] = mapped_column(sa.ForeignKey("warehouses.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("production_lots.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    # For reading stock with names (never written through).
    warehouse: Mapped["Warehouse"] = relationship(viewonly=True)  # noqa: F821
    product: Mapped["Product"] = relationship(viewonly=True)  # noqa: F821
    lot: Mapped["ProductionLot"] = relationship(viewonly=True)  # noqa: F821
