"""Shipments: a dealer (or the brand warehouse) scans goods out against an order, or to a store or a
sub-dealer without one, then ships them.

Scanning holds the items inside each accepted code in the open shipment (``ShipmentUnit.open_serial``
is unique, so a unit is in one open shipment at most); nothing moves until the shipment ships. Each
code is all or nothing: every item inside it fits the order line, or the code is refused with a
machine reason. Shipping moves the units to the receiver, in transit, writes one SHIP event per
scanned code, adds to the order lines' ``shipped`` with an atomic guarded UPDATE (the database's
check constraint is the last word on over-shipping) and emits ``shipment.shipped``.

Every use case locks the shipment row first, then the units in serial order, then order lines in id
order, then the order: two requests on the same goods queue up instead of deadlocking.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app.channel.errors import (
    OrderNotFound, OrderNotShippable, ReceiverNotFound, ScanCodesInvalid, ScanNotFound, ShipmentCancelled,
    ShipmentContentsChanged, ShipmentEmpty, ShipmentNotFound, ShipmentNotOpen,
)
from app.channel.models import (
    OrderLine, OrderStatus, PartyKind, SalesOrder, Shipment, ShipmentScan, ShipmentStatus, ShipmentUnit,
)
from app.channel.order_lines import LineProgress, grow_shipped, line_for, lock_lines_of, progress, refresh_order
from app.channel.rules import MAX_SCAN_CODES, REASONS, Refused
from app.codes.models import Level
from app.db import certify_lock, utcnow
from app.extensions import db
from app.masterdata import refs
from app.masterdata.models import Dealer, Status, Store, store_dealers
from app.units import code_reader, scan_facts, stock_moves, unit_rows
from app.units.models import EventKind, LocationKind, Unit, UnitStatus
from app.webhooks.service import emit

# The not-found errors' messages in a party's own words: none of its orders or shipments has that id.
NOT_YOUR_ORDER = "No such order of yours."
NOT_YOUR_SHIPMENT = "No such shipment of yours."


@dataclass(slots=True)
class ScanResult:
    """What became of one scanned code (``index``: its position in the request)."""

    index: int
    code: str
    status: str  # accepted | refused
    reason: str | None = None
    message: str | None = None
    scan_id: int | None = None
    level: str | None = None
    items: int = 0
    order_line_id: int | None = None


@dataclass(slots=True)
class ScanOutcome:
    shipment: Shipment
    results: list[ScanResult]
    progress: list[LineProgress] = field(default_factory=list)


_LOCATION = {PartyKind.WAREHOUSE: LocationKind.WAREHOUSE, PartyKind.DEALER: LocationKind.DEALER,
             PartyKind.STORE: LocationKind.STORE}


def location_of(kind: PartyKind) -> LocationKind:
    return _LOCATION[PartyKind(kind)]


def party_order(*, party_kind, party_id: int, order_id: int) -> SalesOrder:
    """An order this party sells or buys (404 otherwise)."""
    kind = PartyKind(party_kind)
    order = db.session.scalar(sa.select(SalesOrder).where(SalesOrder.id == order_id, sa.or_(
        sa.and_(SalesOrder.seller_kind == kind, SalesOrder.seller_id == party_id),
        sa.and_(SalesOrder.buyer_kind == kind, SalesOrder.buyer_id == party_id))))
    if order is None:
        raise OrderNotFound(NOT_YOUR_ORDER)
    return order


def open_shipment_of(*, order_id: int, shipper_kind, shipper_id: int) -> int | None:
    """The id of this shipper's open shipment of the order, if any."""
    return db.session.scalar(sa.select(Shipment.id).where(
        Shipment.order_id == order_id, Shipment.shipper_kind == PartyKind(shipper_kind),
        Shipment.shipper_id == shipper_id, Shipment.status == ShipmentStatus.OPEN))


def get_shipment(*, party_kind, party_id: int, shipment_id: int, lock: bool = False) -> Shipment:
    """A shipment this party ships, or one shipped to it (404 otherwise)."""
    kind = PartyKind(party_kind)
    query = sa.select(Shipment).where(Shipment.id == shipment_id, sa.or_(
        sa.and_(Shipment.shipper_kind == kind, Shipment.shipper_id == party_id),
        sa.and_(Shipment.receiver_kind == kind, Shipment.receiver_id == party_id,
                Shipment.status.in_((ShipmentStatus.SHIPPED, ShipmentStatus.RECEIVED)))))
    if lock:
        query = query.with_for_update()
    shipment = db.session.scalar(query)
    if shipment is None:
        raise ShipmentNotFound(NOT_YOUR_SHIPMENT)
    return shipment


def list_shipments(*, party_kind, party_id: int, direction: str = "out",
                   status: ShipmentStatus | str | None = None) -> sa.Select:
    """This party's shipments out (it ships) or in (shipped to it), newest first, for paging."""
    kind = PartyKind(party_kind)
    if direction == "in":
        query = sa.select(Shipment).where(Shipment.receiver_kind == kind, Shipment.receiver_id == party_id,
                                          Shipment.status.in_((ShipmentStatus.SHIPPED, ShipmentStatus.RECEIVED)))
    else:
        query = sa.select(Shipment).where(Shipment.shipper_kind == kind, Shipment.shipper_id == party_id)
    if status is not None:
        query = query.where(Shipment.status == ShipmentStatus(status))
    return query.order_by(Shipment.id.desc())


def shipment_scans(*, shipment_id: int) -> list[ShipmentScan]:
    return list(db.session.scalars(sa.select(ShipmentScan).where(
        ShipmentScan.shipment_id == shipment_id, ShipmentScan.undone_at.is_(None)).order_by(ShipmentScan.id)))


def _shipper_shipment(shipper_kind, shipper_id: int, shipment_id: int) -> Shipment:
    """The shipment, locked, if this party ships it."""
    shipment = db.session.scalar(sa.select(Shipment).where(
        Shipment.id == shipment_id, Shipment.shipper_kind == PartyKind(shipper_kind),
        Shipment.shipper_id == shipper_id).with_for_update())
    if shipment is None:
        raise ShipmentNotFound(NOT_YOUR_SHIPMENT)
    return shipment


def _open_shipment(shipper_kind, shipper_id: int, shipment_id: int) -> Shipment:
    shipment = _shipper_shipment(shipper_kind, shipper_id, shipment_id)
    if shipment.status is not ShipmentStatus.OPEN:
        raise ShipmentNotOpen()
    return shipment


def open_shipment(*, actor_label: str, shipper_kind, shipper_id: int, order_id: int | None = None,
                  receiver_kind=None, receiver_id: int | None = None) -> Shipment:
    """Open a shipment against an order of this seller (the open one if there is one), or to a store
    the dealer serves or a sub-dealer of it (no order)."""
    shipper_kind = PartyKind(shipper_kind)
    if order_id is not None:
        order = db.session.scalar(sa.select(SalesOrder).where(
            SalesOrder.id == order_id, SalesOrder.seller_kind == shipper_kind,
            SalesOrder.seller_id == shipper_id).with_for_update())
        if order is None:
            raise OrderNotFound(NOT_YOUR_ORDER)
        if order.status in (OrderStatus.CANCELLED, OrderStatus.CLOSED, OrderStatus.SHIPPED):
            raise OrderNotShippable()
        certify_lock(order)  # two nodes' twins conflict at COMMIT, not only two sessions on one node
        # A locking read, under the order's lock: it sees a twin request's shipment committed a moment
        # ago, which the transaction's snapshot (taken at its first plain read) would not.
        existing = db.session.scalar(sa.select(Shipment).where(
            Shipment.order_id == order.id, Shipment.shipper_kind == shipper_kind,
            Shipment.shipper_id == shipper_id, Shipment.status == ShipmentStatus.OPEN).with_for_update())
        if existing is not None:
            return existing
        receiver_kind, receiver_id = order.buyer_kind, order.buyer_id
    else:
        if shipper_kind is not PartyKind.DEALER or receiver_kind is None or receiver_id is None:
            raise ReceiverNotFound()
        receiver_kind = PartyKind(receiver_kind)
        if receiver_kind is PartyKind.STORE:
            served = db.session.scalar(sa.select(Store.id).join(store_dealers, store_dealers.c.store_id == Store.id)
                                       .where(Store.id == receiver_id, Store.status == Status.ACTIVE,
                                              store_dealers.c.dealer_id == shipper_id))
        elif receiver_kind is PartyKind.DEALER:
            served = db.session.scalar(sa.select(Dealer.id).where(
                Dealer.id == receiver_id, Dealer.parent_id == shipper_id, Dealer.status == Status.ACTIVE))
        else:
            served = None
        if served is None:
            raise ReceiverNotFound()
    shipment = Shipment(order_id=order_id, shipper_kind=shipper_kind, shipper_id=shipper_id,
                        receiver_kind=receiver_kind, receiver_id=receiver_id, status=ShipmentStatus.OPEN,
                        items=0, created_by=actor_label[:128])
    db.session.add(shipment)
    db.session.flush()
    return shipment


def scan(*, actor_label: str, shipper_kind, shipper_id: int, shipment_id: int, codes: list[str],
         shipment: Shipment | None = None) -> ScanOutcome:
    """Scan codes into an open shipment: an answer per code (all or nothing per code) and the progress."""
    if not 1 <= len(codes) <= MAX_SCAN_CODES:
        raise ScanCodesInvalid()
    shipper_kind = PartyKind(shipper_kind)
    if shipment is None:
        shipment = _open_shipment(shipper_kind, shipper_id, shipment_id)
    now = utcnow()
    results: list[ScanResult | None] = [None] * len(codes)

    reader = code_reader.CodeReader()
    reader.prefetch(str(text) for text in codes)
    decoded: dict[int, code_reader.Decoded] = {}
    for i, text in enumerate(codes):
        code = reader.read(str(text))
        if isinstance(code, str):
            results[i] = _refused(i, str(text), code)
        else:
            decoded[i] = code
    batches = code_reader.BatchIndex.covering(d.serial for d in decoded.values())
    for i in list(decoded):
        reason = code_reader.issue_reason(batches.batch_of(decoded[i]))
        if reason:
            results[i] = _refused(i, decoded.pop(i).code, reason)

    scanned = unit_rows.load_units(d.serial for d in decoded.values())
    units = unit_rows.subtree(s for s, u in scanned.items() if u.level is not Level.ITEM)
    units.update(scanned)
    children = unit_rows.children_map(units.values())
    # Locking read: sees the rows of a shipment that committed while we waited for the units' locks.
    taken = open_serials([s for s, u in units.items() if u.level is Level.ITEM])

    lines = []
    room: dict[int, int] = {}
    if shipment.order_id is not None:
        lines = list(db.session.scalars(sa.select(OrderLine).where(OrderLine.order_id == shipment.order_id)
                                        .order_by(OrderLine.line_no)))
        picked = dict(db.session.execute(
            sa.select(ShipmentUnit.order_line_id, sa.func.count()).where(ShipmentUnit.shipment_id == shipment.id)
            .group_by(ShipmentUnit.order_line_id)).all())
        room = {line.id: line.quantity - line.shipped - picked.get(line.id, 0) for line in lines}
    place = (location_of(shipper_kind), shipper_id, False)

    accepted: list[tuple[int, unit_rows.UnitState, list[unit_rows.UnitState], int | None]] = []
    for i, code in decoded.items():
        unit = units.get(code.serial)
        try:
            if unit is None:
                raise Refused("not_commissioned")
            moved = _check_unit(unit, children, place)
            items = [u for u in moved if u.level is Level.ITEM]
            if not items:
                raise Refused("empty")
            if any(u.serial in taken for u in items):
                raise Refused("already_scanned")
            line_id = line_for(items, lines, room) if shipment.order_id is not None else None
        except Refused as refusal:
            reason = refusal.reason
            if reason == "not_in_my_stock" and unit is not None and _shipped_by(shipper_kind, shipper_id, unit):
                reason = "already_shipped"
            results[i] = _refused(i, code.code, reason)
            continue
        if line_id is not None:
            room[line_id] -= len(items)
        taken.update(u.serial for u in items)
        accepted.append((i, unit, items, line_id))

    scans = [ShipmentScan(shipment_id=shipment.id, code=decoded[i].code, serial=unit.serial, level=unit.level,
                          items=len(items), order_line_id=line_id, scanned_at=now, scanned_by=actor_label[:128])
             for i, unit, items, line_id in accepted]
    db.session.add_all(scans)
    db.session.flush()
    rows = []
    for scan_row, (i, unit, items, line_id) in zip(scans, accepted):
        results[i] = ScanResult(i, decoded[i].code, "accepted", scan_id=scan_row.id, level=unit.level.value,
                                items=len(items), order_line_id=line_id)
        rows += [{"shipment_id": shipment.id, "scan_id": scan_row.id, "serial": u.serial,
                  "product_id": u.product_id, "lot_id": u.lot_id, "order_line_id": line_id,
                  "open_serial": u.serial} for u in items]
    insert_shipment_units(rows)
    if rows:
        db.session.execute(sa.update(Shipment).where(Shipment.id == shipment.id)
                           .values(items=Shipment.items + len(rows)))
        db.session.refresh(shipment, ["items", "updated_at"])
    order = shipment.order
    return ScanOutcome(shipment, results, progress(order) if order is not None else [])


def _check_unit(unit: unit_rows.UnitState, children, place) -> list[unit_rows.UnitState]:
    if unit.status is UnitStatus.SCRAPPED:
        raise Refused("scrapped")
    if unit.status is UnitStatus.VOIDED:
        raise Refused("voided")
    if unit.parent_serial is not None or (unit.location_kind, unit.location_id, unit.in_transit) != place:
        raise Refused("not_in_my_stock")
    moved = unit_rows.with_contents(unit, children)
    if any(u.recall_id is not None for u in moved):
        raise Refused("recalled")
    if any((u.location_kind, u.location_id, u.in_transit) != place for u in moved):
        raise Refused("not_in_my_stock")
    return moved


def _check_still_shippable(shipment: Shipment, scans: list[ShipmentScan], units: dict[int, unit_rows.UnitState],
                           children) -> None:
    """Refuse to ship when what a scan holds changed since it was scanned (the units are locked now).

    A lot recalled, an item sold or taken out of its case in the meantime: the scan's checks no
    longer hold, and shipping would move goods that aren't there or mustn't go.
    """
    place = (location_of(shipment.shipper_kind), shipment.shipper_id, False)
    held: dict[int, set[int]] = {}
    for scan_id, serial in db.session.execute(sa.select(ShipmentUnit.scan_id, ShipmentUnit.serial)
                                              .where(ShipmentUnit.shipment_id == shipment.id)):
        held.setdefault(scan_id, set()).add(serial)
    changed = {}
    for scan_row in scans:
        root = units.get(scan_row.serial)
        try:
            if root is None:
                raise Refused("not_in_my_stock")
            contents = {u.serial for u in _check_unit(root, children, place) if u.level is Level.ITEM}
            if not held.get(scan_row.id, set()) <= contents:
                raise Refused("not_in_my_stock")
        except Refused as refused:
            changed[str(scan_row.id)] = [f"{scan_row.code}: {refused.reason}"]
    if changed:
        raise ShipmentContentsChanged(errors={"scans": changed})


def _shipped_by(shipper_kind: PartyKind, shipper_id: int, unit: unit_rows.UnitState) -> bool:
    """Whether this shipper already shipped this unit (so "not in my stock" is "already shipped")."""
    return db.session.scalar(
        sa.select(ShipmentUnit.id).join(Shipment, Shipment.id == ShipmentUnit.shipment_id).where(
            ShipmentUnit.serial == unit.serial if unit.level is Level.ITEM else
            ShipmentUnit.scan_id.in_(sa.select(ShipmentScan.id).where(ShipmentScan.serial == unit.serial)),
            Shipment.shipper_kind == shipper_kind, Shipment.shipper_id == shipper_id,
            Shipment.status.in_((ShipmentStatus.SHIPPED, ShipmentStatus.RECEIVED))).limit(1)) is not None


def open_serials(serials: list[int]) -> set[int]:
    """Which of these items are scanned into an open shipment (a locking read: it sees one just committed)."""
    found: set[int] = set()
    for chunk in unit_rows.key_chunks(serials):
        found.update(db.session.scalars(sa.select(ShipmentUnit.open_serial).where(
            unit_rows.one_of(ShipmentUnit.open_serial, chunk)).with_for_update()))
    return found


def insert_shipment_units(rows: list[dict]) -> None:
    if not rows:
        return
    table = ShipmentUnit.__table__
    if db.session.get_bind().dialect.name in ("mysql", "mariadb"):
        unit_rows._insert(table, rows)
        return
    for start in range(0, len(rows), unit_rows.CHUNK):
        db.session.execute(sa.insert(table), rows[start:start + unit_rows.CHUNK])


def _refused(index: int, code: str, reason: str) -> ScanResult:
    return ScanResult(index, code[:64], "refused", reason, REASONS.get(reason, reason))


def undo_scan(*, actor_label: str, shipper_kind, shipper_id: int, shipment_id: int, scan_id: int) -> Shipment:
    """Take a scanned code (and its items) back out of an open shipment."""
    shipment = _shipper_shipment(shipper_kind, shipper_id, shipment_id)
    scan_row = db.session.scalar(sa.select(ShipmentScan).where(
        ShipmentScan.id == scan_id, ShipmentScan.shipment_id == shipment.id))
    if scan_row is None or scan_row.undone_at is not None:
        raise ScanNotFound()
    if shipment.status is not ShipmentStatus.OPEN:
        raise ShipmentNotOpen()
    removed = db.session.execute(sa.delete(ShipmentUnit).where(ShipmentUnit.scan_id == scan_row.id)).rowcount
    scan_row.undone_at = utcnow()
    db.session.execute(sa.update(Shipment).where(Shipment.id == shipment.id)
                       .values(items=Shipment.items - removed))
    db.session.refresh(shipment, ["items", "updated_at"])
    return shipment


def cancel(*, actor_label: str, shipper_kind, shipper_id: int, shipment_id: int) -> Shipment:
    """Cancel an open shipment: its codes are free to scan elsewhere (cancelling twice answers the same)."""
    shipment = _shipper_shipment(shipper_kind, shipper_id, shipment_id)
    if shipment.status is ShipmentStatus.CANCELLED:
        return shipment
    if shipment.status is not ShipmentStatus.OPEN:
        raise ShipmentNotOpen()
    db.session.execute(sa.delete(ShipmentUnit).where(ShipmentUnit.shipment_id == shipment.id))
    shipment.status, shipment.cancelled_at, shipment.items = ShipmentStatus.CANCELLED, utcnow(), 0
    return shipment


def ship(*, actor_label: str, shipper_kind, shipper_id: int, shipment_id: int,
         shipment: Shipment | None = None, at: datetime | None = None) -> Shipment:
    """Ship an open shipment: its units go in transit to the receiver; shipping again answers the same."""
    shipper_kind = PartyKind(shipper_kind)
    if shipment is None:
        shipment = _shipper_shipment(shipper_kind, shipper_id, shipment_id)
    if shipment.status in (ShipmentStatus.SHIPPED, ShipmentStatus.RECEIVED):
        return shipment
    if shipment.status is ShipmentStatus.CANCELLED:
        raise ShipmentCancelled()
    if not shipment.items:
        raise ShipmentEmpty()
    now = utcnow()
    occurred = at or now

    scans = shipment_scans(shipment_id=shipment.id)
    roots = [s.serial for s in scans]
    units = unit_rows.load_units(roots)
    units.update(unit_rows.subtree(roots))
    children = unit_rows.children_map(units.values())
    _check_still_shippable(shipment, scans, units, children)
    per_line = dict(db.session.execute(
        sa.select(ShipmentUnit.order_line_id, sa.func.count()).where(
            ShipmentUnit.shipment_id == shipment.id, ShipmentUnit.order_line_id.is_not(None))
        .group_by(ShipmentUnit.order_line_id)).all())
    if shipment.order_id is not None:
        lock_lines_of(shipment.order_id)
    grow_shipped(per_line)

    held = set(db.session.scalars(sa.select(ShipmentUnit.serial).where(ShipmentUnit.shipment_id == shipment.id)))
    moved: dict[int, unit_rows.UnitState] = {}
    events = []
    target = location_of(shipment.receiver_kind)
    origin = location_of(shipment.shipper_kind)
    order = shipment.order
    data = {"shipment_id": shipment.id, "order_id": shipment.order_id,
            "order_no": order.order_no if order is not None else None}
    for scan_row in scans:
        root = units.get(scan_row.serial)
        if root is None:
            continue
        for unit in unit_rows.with_contents(root, children):
            if unit.level is not Level.ITEM or unit.serial in held:
                moved[unit.serial] = unit
        events.append(unit_rows.event_row(
            kind=EventKind.SHIP, serial=root.serial, lot_id=root.lot_id, occurred_at=occurred, recorded_at=now,
            location_kind=origin, location_id=shipment.shipper_id, source=actor_label[:64],
            data={**data, "to": {"kind": target.value, "id": shipment.receiver_id, "in_transit": True},
                  "units": scan_row.items}))
    before = {s: stock_moves.stock_key(u) for s, u in moved.items()}
    for unit in moved.values():
        unit.location_kind, unit.location_id, unit.in_transit = target, shipment.receiver_id, True
    unit_rows.save_units(moved.values(), ["location_kind", "location_id", "in_transit"])
    if shipment.receiver_kind is PartyKind.DEALER:
        scan_facts.changed(moved)
        for chunk in unit_rows.key_chunks(moved):
            db.session.execute(sa.update(Unit).where(unit_rows.one_of(Unit.serial, chunk))
                               .values(last_dealer_id=shipment.receiver_id))
    stock_moves.adjust_stock(stock_moves.stock_deltas(before, moved.values()))
    unit_rows.write_events(events, units=units)
    db.session.execute(sa.update(ShipmentUnit).where(ShipmentUnit.shipment_id == shipment.id)
                       .values(open_serial=None))
    shipment.status, shipment.shipped_at, shipment.shipped_by = ShipmentStatus.SHIPPED, occurred, actor_label[:128]
    db.session.flush()
    if shipment.order_id is not None:
        refresh_order(shipment.order_id)
    emit_shipped(shipment, per_line, shipped_at=occurred)
    return shipment


def emit_shipped(shipment: Shipment, per_line: dict[int, int], **times) -> None:
    """The ``shipment.shipped`` event: the parties and products named, the items per order line and product."""
    order = shipment.order
    lines = {line.id: line for line in db.session.scalars(
        sa.select(OrderLine).where(OrderLine.id.in_(per_line)))} if per_line else {}
    per_product = dict(db.session.execute(
        sa.select(ShipmentUnit.product_id, sa.func.count()).where(ShipmentUnit.shipment_id == shipment.id)
        .group_by(ShipmentUnit.product_id)).all())
    named = refs.products([*per_product, *(line.product_id for line in lines.values())])
    who = refs.parties([(shipment.shipper_kind, shipment.shipper_id), (shipment.receiver_kind, shipment.receiver_id)])
    emit("shipment.shipped", {
        "shipment_id": shipment.id, "order_id": shipment.order_id,
        "order_no": order.order_no if order is not None else None,
        "shipper": who[shipment.shipper_kind.value, shipment.shipper_id],
        "receiver": who[shipment.receiver_kind.value, shipment.receiver_id],
        "items": shipment.items,
        "lines": [{"order_line_id": k, "line_no": lines[k].line_no if k in lines else None,
                   "product": named[lines[k].product_id] if k in lines else None, "items": v}
                  for k, v in sorted(per_line.items())],
        "products": [{"product": named[p], "items": n} for p, n in sorted(per_product.items())],
        **{name: value.isoformat() for name, value in times.items()}})


