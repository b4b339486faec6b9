"""The brand warehouse's shipments: its outbound scans to dealers, against the ERP's orders or without one.

A warehouse scan moves the units itself (``app.warehouse.service``); these record it as shipments
shipped at once, so the dealer has something to receive, with the order lines' ``shipped`` grown as a
dealer's shipment grows them (``app.channel.order_lines``).
"""
from __future__ import annotations

import sqlalchemy as sa

from app.channel.models import OrderLine, OrderStatus, PartyKind, SalesOrder, Shipment, ShipmentScan, ShipmentStatus
from app.channel.order_lines import grow_shipped, line_for, lock_lines_of, refresh_order
from app.channel.rules import Refused
from app.channel.shipments import emit_shipped, insert_shipment_units
from app.codes.models import Level
from app.db import utcnow
from app.extensions import db
from app.units import unit_rows


class WarehouseOrders:
    """Warehouse outbound scans to dealers, recorded as shipments shipped at once (the warehouse scan
    has moved the units), so the dealer has something to receive. A scan carrying the number of an
    ERP order we know is checked against the order's lines and lands in one shipment per order; the
    others (no order number, or one the ERP hasn't sent: kept on the event, unchecked) land in one
    shipment without an order per warehouse and dealer. Transfers between warehouses are not
    shipments: the receiving warehouse scans them in.

    Orders are read without a lock (the guarded UPDATE of the lines refuses over-shipping), so the
    lock order stays that of receipts: units, order lines, then the order.
    """

    def __init__(self, *, actor_label: str, records: list[dict]):
        self.actor_label = actor_label
        numbers = sorted({r["order_no"] for r in records if r.get("order_no")})
        self.orders = {o.order_no: o for o in db.session.scalars(
            sa.select(SalesOrder).where(SalesOrder.order_no.in_(numbers)))} if numbers else {}
        self.lines: dict[int, list[OrderLine]] = {}
        self.room: dict[int, int] = {}
        self.taken: dict[int, list[tuple]] = {}
        self.loose: dict[tuple[int, int], list[tuple]] = {}

    def take(self, record: dict, code: str, unit: unit_rows.UnitState, moved: list[unit_rows.UnitState]) -> str | None:
        """Hold this scan's items on a line of the record's order; the refusal reason otherwise."""
        if record.get("to_dealer_id") is None:
            return None
        order = self.orders.get(record["order_no"]) if record.get("order_no") else None
        if order is None:
            items = [u for u in moved if u.level is Level.ITEM]
            self.loose.setdefault((record["warehouse_id"], record["to_dealer_id"]), []).append(
                (None, code, unit, items, None, record))
            return None
        if (order.seller_kind is not PartyKind.WAREHOUSE
                or order.seller_id != record["warehouse_id"] or order.buyer_kind is not PartyKind.DEALER
                or order.buyer_id != record.get("to_dealer_id")):
            return "order_mismatch"
        if order.status in (OrderStatus.CANCELLED, OrderStatus.CLOSED, OrderStatus.SHIPPED):
            return "order_not_shippable"
        if order.id not in self.lines:
            self.lines[order.id] = list(db.session.scalars(
                sa.select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)))
            self.room.update({line.id: line.quantity - line.shipped for line in self.lines[order.id]})
        items = [u for u in moved if u.level is Level.ITEM]
        if not items:
            return "empty"
        try:
            line_id = line_for(items, self.lines[order.id], self.room)
        except Refused as refusal:
            return refusal.reason
        self.room[line_id] -= len(items)
        self.taken.setdefault(order.id, []).append((order, code, unit, items, line_id, record))
        return None

    def ship(self) -> list[Shipment]:
        """Write the shipped shipments of the scans taken (per order, and per dealer without an order)."""
        done = [self._shipment(taken[0][0], taken[0][5]["warehouse_id"], taken[0][0].buyer_id, taken)
                for _, taken in sorted(self.taken.items())]
        done += [self._shipment(None, warehouse_id, dealer_id, taken)
                 for (warehouse_id, dealer_id), taken in sorted(self.loose.items())]
        return done

    def _shipment(self, order: SalesOrder | None, warehouse_id: int, dealer_id: int, taken: list[tuple]) -> Shipment:
        """One shipped shipment of these scans; with an order, its lines' shipped grow."""
        now = utcnow()
        shipped_at = max(record["scanned_at"] for *_, record in taken)
        # Lock the lines before the scans' foreign keys take shared locks on them: a shared lock
        # upgraded to the update's exclusive one deadlocks with an ERP update waiting on the line.
        if order is not None:
            lock_lines_of(order.id)
        shipment = Shipment(order_id=order.id if order else None, shipper_kind=PartyKind.WAREHOUSE,
                            shipper_id=warehouse_id, receiver_kind=PartyKind.DEALER, receiver_id=dealer_id,
                            status=ShipmentStatus.SHIPPED, items=sum(len(items) for _, _, _, items, _, _ in taken),
                            created_by=self.actor_label[:128], shipped_at=shipped_at,
                            shipped_by=self.actor_label[:128])
        db.session.add(shipment)
        db.session.flush()
        scans = [ShipmentScan(shipment_id=shipment.id, code=code, serial=unit.serial, level=unit.level,
                              items=len(items), order_line_id=line_id, scanned_at=record["scanned_at"],
                              scanned_by=self.actor_label[:128])
                 for _, code, unit, items, line_id, record in taken]
        db.session.add_all(scans)
        db.session.flush()
        insert_shipment_units([
            {"shipment_id": shipment.id, "scan_id": scan_row.id, "serial": u.serial, "product_id": u.product_id,
             "lot_id": u.lot_id, "order_line_id": line_id, "open_serial": None}
            for scan_row, (_, _, _, items, line_id, _) in zip(scans, taken) for u in items])
        per_line: dict[int, int] = {}
        for _, _, _, items, line_id, _ in taken:
            if line_id is not None:
                per_line[line_id] = per_line.get(line_id, 0) + len(items)
        grow_shipped(per_line)
        if order is not None:
            refresh_order(order.id)
        emit_shipped(shipment, per_line, shipped_at=shipped_at, recorded_at=now)
        return shipment
