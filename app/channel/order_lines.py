"""An order's lines as goods move against them: locked in one order by every writer, ``shipped`` grown
atomically, the order's status refreshed, each line's progress, and which line takes a scanned code.

Shipments, receipts and the brand warehouse's shipments share them: the database's check constraints
are the last word on over-shipping; these keep every writer taking the same locks in the same order.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.channel import orders
from app.channel.errors import LineOverShipped
from app.channel.models import OrderLine, SalesOrder, Shipment, ShipmentStatus, ShipmentUnit
from app.channel.rules import Refused
from app.db import certify_lock
from app.extensions import db
from app.units import unit_rows


@dataclass(slots=True)
class LineProgress:
    id: int
    line_no: int
    product_id: int
    lot_id: int | None
    quantity: int
    shipped: int
    picked: int  # scanned into an open shipment, not yet shipped
    received: int

    @property
    def remaining(self) -> int:
        return self.quantity - self.shipped - self.picked


def lock_lines_of(order_id: int) -> None:
    """Lock all an order's lines, the way every writer of lines takes them: by order, in id order.

    It reads a column outside the order_id index on purpose: the same access path as the other
    writers' locking reads, so all of them lock the same records in the same order.
    """
    db.session.execute(sa.select(OrderLine.id, OrderLine.shipped).where(OrderLine.order_id == order_id)
                       .order_by(OrderLine.id).with_for_update())


def grow_shipped(per_line: dict[int, int]) -> None:
    """Add each line's newly shipped items atomically, in line id order; none may pass its quantity."""
    for line_id, count in sorted(per_line.items()):
        updated = db.session.execute(sa.update(OrderLine).where(
            OrderLine.id == line_id, OrderLine.shipped + count <= OrderLine.quantity)
            .values(shipped=OrderLine.shipped + count)).rowcount
        if updated != 1:
            raise LineOverShipped()


def refresh_order(order_id: int) -> SalesOrder:
    """Set an order's status from its lines and shipments (locked: receipts of two shipments agree)."""
    order = db.session.scalar(sa.select(SalesOrder).where(SalesOrder.id == order_id).with_for_update())
    certify_lock(order)  # the receipts of two shipments on two Galera nodes conflict: the later sees both
    orders.refresh_status(order)
    return order


def progress(order: SalesOrder) -> list[LineProgress]:
    """Each line of the order: ordered, shipped, picked (in open shipments) and received."""
    picked = dict(db.session.execute(
        sa.select(ShipmentUnit.order_line_id, sa.func.count())
        .join(Shipment, Shipment.id == ShipmentUnit.shipment_id)
        .where(Shipment.order_id == order.id, Shipment.status == ShipmentStatus.OPEN)
        .group_by(ShipmentUnit.order_line_id)).all())
    lines = db.session.scalars(sa.select(OrderLine).where(OrderLine.order_id == order.id)
                               .order_by(OrderLine.line_no)).all()
    return [LineProgress(line.id, line.line_no, line.product_id, line.lot_id, line.quantity, line.shipped,
                         picked.get(line.id, 0), line.received) for line in lines]


def line_for(items: list[unit_rows.UnitState], lines: list[OrderLine], room: dict[int, int]) -> int:
    """The order line these items go to, or the reason none can take them all."""
    products = {u.product_id for u in items}
    if len(products) > 1:
        raise Refused("mixed")
    product = products.pop()
    candidates = [line for line in lines if line.product_id == product]
    if not candidates:
        raise Refused("wrong_sku")
    lots = {u.lot_id for u in items}
    fitting = [line for line in candidates if line.lot_id is None or lots == {line.lot_id}]
    if not fitting:
        raise Refused("wrong_lot")
    # A line naming this lot first, then any-lot lines.
    fitting.sort(key=lambda line: (line.lot_id is None, line.line_no))
    for line in fitting:
        if room[line.id] >= len(items):
            return line.id
    raise Refused("line_complete")
