"""A dealer's stock (its stock positions) and its performance over a period.

Dealer stock is the items at the dealer, received (not in transit) and active, by product and lot:
the positions the moves keep (``app.stock``), never a count of the units. Performance counts verified flows only: items it shipped, items
its stores confirmed receiving, and items it shipped that a store then sale-scanned (sold through).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.channel.errors import PeriodInvalid
from app.channel.models import PartyKind, Receipt, Shipment, ShipmentStatus, ShipmentUnit
from app.db import utcnow
from app.extensions import db
from app.masterdata.models import Product
from app.platform.clock import month_span
from app.production.models import ProductionLot
from app.retail.models import SaleScan
from app.stock.models import HolderKind, StockPosition


@dataclass(frozen=True, slots=True)
class StockRow:
    product_id: int
    sku: str
    product_name: str
    lot_id: int | None
    lot_no: str | None
    quantity: int


@dataclass(frozen=True, slots=True)
class Performance:
    dealer_id: int
    starts_at: datetime
    ends_at: datetime
    shipments: int
    items_shipped: int
    items_shipped_to_stores: int
    items_received_by_stores: int
    items_received: int  # from the brand or an upstream dealer
    sold_through: int


def dealer_stock(*, dealer_id: int, product_id: int | None = None) -> list[StockRow]:
    """The dealer's items on hand by product and lot."""
    quantity = sa.func.sum(StockPosition.quantity)
    query = (sa.select(StockPosition.product_id, Product.sku, Product.name, StockPosition.lot_id,
                       ProductionLot.lot_no, quantity)
             .join(Product, Product.id == StockPosition.product_id)
             .join(ProductionLot, ProductionLot.id == StockPosition.lot_id)
             .where(StockPosition.holder_kind == HolderKind.DEALER, StockPosition.holder_id == dealer_id,
                    StockPosition.quantity > 0)
             .group_by(StockPosition.product_id, Product.sku, Product.name, StockPosition.lot_id,
                       ProductionLot.lot_no)
             .order_by(StockPosition.product_id, StockPosition.lot_id))
    if product_id is not None:
        query = query.where(StockPosition.product_id == product_id)
    return [StockRow(p, sku, name, lot_id, lot_no, int(n)) for p, sku, name, lot_id, lot_no, n in db.session.execute(query)]


def dealer_performance(*, dealer_id: int, starts_at: datetime | None = None,
                       ends_at: datetime | None = None) -> Performance:
    """What the dealer shipped, what its stores received and what sold through, in [starts_at, ends_at);
    a bound not given is the current business month's."""
    month_starts, month_ends = month_span(utcnow())
    starts_at = month_starts if starts_at is None else starts_at
    ends_at = month_ends if ends_at is None else ends_at
    if ends_at <= starts_at:
        raise PeriodInvalid()
    shipped = (Shipment.shipper_kind == PartyKind.DEALER, Shipment.shipper_id == dealer_id,
               Shipment.status.in_((ShipmentStatus.SHIPPED, ShipmentStatus.RECEIVED)))
    in_period = (Shipment.shipped_at >= starts_at, Shipment.shipped_at < ends_at)
    shipments, items = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Shipment.items), 0))
        .where(*shipped, *in_period)).one()
    to_stores = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Shipment.items), 0))
        .where(*shipped, *in_period, Shipment.receiver_kind == PartyKind.STORE))
    received_by_stores = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Receipt.received), 0))
        .join(Shipment, Shipment.id == Receipt.shipment_id)
        .where(*shipped, Receipt.receiver_kind == PartyKind.STORE,
               Receipt.confirmed_at >= starts_at, Receipt.confirmed_at < ends_at))
    received = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Receipt.received), 0))
        .where(Receipt.receiver_kind == PartyKind.DEALER, Receipt.receiver_id == dealer_id,
               Receipt.confirmed_at >= starts_at, Receipt.confirmed_at < ends_at))
    shipped_serials = (sa.select(ShipmentUnit.serial).join(Shipment, Shipment.id == ShipmentUnit.shipment_id)
                       .where(*shipped))
    sold = db.session.scalar(
        sa.select(sa.func.count()).select_from(SaleScan)
        .where(SaleScan.serial.in_(shipped_serials), SaleScan.scanned_at >= starts_at, SaleScan.scanned_at < ends_at))
    return Performance(dealer_id, starts_at, ends_at, shipments, int(items), int(to_stores), int(received_by_stores),
                       int(received), sold)
