"""Stock positions of every holder (warehouse, dealer, store) and their daily outflow.

Both tables are changed only by atomic increments in the transaction that moves the units
(``app.units.stock_moves.adjust_stock``), in key order: positions first, then outflow, each sorted.
"""
from __future__ import annotations

import enum
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import enum_type
from app.extensions import db


class HolderKind(str, enum.Enum):
    """Who holds stock (the unit location kinds that do)."""

    WAREHOUSE = "warehouse"
    DEALER = "dealer"
    STORE = "store"


class StockPosition(db.Model):
    """How many items of a lot a holder received on a day and holds now: always the count of such units.

    An item counts when it is active, at the holder and not in transit (``stock_moves.stock_key``);
    ``received_on`` is the China day it arrived at this holder (``units.received_on``), for ageing.
    """

    __tablename__ = "stock_positions"
    __table_args__ = (sa.CheckConstraint("quantity >= 0", name="quantity_not_negative"),
                      sa.Index("ix_stock_positions_product", "product_id", "lot_id"))

    holder_kind: Mapped[HolderKind] = mapped_column(enum_type(HolderKind), primary_key=True)
    holder_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("production_lots.id"), primary_key=True)
    received_on: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    quantity: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class StockOutflow(db.Model):
    """Items that left a holder's stock on a China day by a shipment out or a sale scan (days of stock).

    History, not state: kept by the writers as the units leave, never recomputed from the units.
    """

    __tablename__ = "stock_outflow"
    __table_args__ = (sa.CheckConstraint("quantity >= 0", name="quantity_not_negative"),
                      # Covering: a window of days is read from the index alone.
                      sa.Index("ix_stock_outflow_day", "day", "holder_kind", "holder_id", "product_id", "lot_id",
                               "quantity"))

    holder_kind: Mapped[HolderKind] = mapped_column(enum_type(HolderKind), primary_key=True)
    holder_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("production_lots.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    quantity: Mapped[int] = mapped_column(sa.BigInteger, default=0)
