"""Receipts: a dealer or a store confirms a shipment addressed to it, whole or scanned in.

The same code serves a dealer receiving from the brand or an upstream dealer and a store receiving
from its dealer. Confirming moves the received units to the receiver (no longer in transit), writes
one RECEIVE event per code (per scanned code, or per code the shipper scanned when the whole
shipment is confirmed), records what was missing, extra or damaged, counts the order lines'
``received`` with atomic SQL and closes the order when nothing of it is still on the way.
"""
from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from app.channel import diversion
from app.channel import shipments as ship
from app.channel.errors import ReceiptCodesInvalid, ShipmentAlreadyReceived, ShipmentNotFound
from app.channel.models import (
    Discrepancy, DiscrepancyKind, OrderLine, PartyKind, Receipt, ReceiptMode, SeenKind, Shipment, ShipmentScan,
    ShipmentStatus, ShipmentUnit,
)
from app.channel.order_lines import lock_lines_of, refresh_order
from app.channel.rules import MAX_RECEIPT_CODES
from app.codes.models import Level
from app.codes.service import keyring
from app.db import utcnow
from app.extensions import db
from app.masterdata import refs
from app.masterdata.models import Store
from app.reports import facts, rollups
from app.units import code_reader, stock_moves, unit_rows
from app.units.models import EventKind, UnitStatus
from app.webhooks.service import emit

NOTE_MAX = 500
DISCREPANCIES_LISTED = 1000  # a receipt.discrepancy event lists at most this many codes


def pending_receipts(*, receiver_kind, receiver_id: int) -> sa.Select:
    """Shipments on their way to this receiver (shipped, not yet received), oldest first, for paging."""
    return (sa.select(Shipment)
            .where(Shipment.receiver_kind == PartyKind(receiver_kind), Shipment.receiver_id == receiver_id,
                   Shipment.status == ShipmentStatus.SHIPPED)
            .order_by(Shipment.shipped_at, Shipment.id))


def get_receivable(*, receiver_kind, receiver_id: int, shipment_id: int, lock: bool = False) -> Shipment:
    """A shipment shipped (or received) to this receiver; 404 for anyone else's or one not yet shipped."""
    query = sa.select(Shipment).where(
        Shipment.id == shipment_id, Shipment.receiver_kind == PartyKind(receiver_kind),
        Shipment.receiver_id == receiver_id,
        Shipment.status.in_((ShipmentStatus.SHIPPED, ShipmentStatus.RECEIVED)))
    if lock:
        query = query.with_for_update()
    shipment = db.session.scalar(query)
    if shipment is None:
        raise ShipmentNotFound("No such shipment for you to receive.")
    return shipment


def confirm_receipt(*, actor_label: str, receiver_kind, receiver_id: int, shipment_id: int,
                    codes: list[str] | None = None, damaged=(), note: str = "") -> Receipt:
    """Confirm a shipment: the whole of it (codes None) or the codes scanned in; record what differs."""
    receiver_kind = PartyKind(receiver_kind)
    damaged = list(damaged or ())
    if (codes is not None and not 1 <= len(codes) <= MAX_RECEIPT_CODES) or len(damaged) > MAX_RECEIPT_CODES:
        raise ReceiptCodesInvalid()
    shipment = get_receivable(receiver_kind=receiver_kind, receiver_id=receiver_id, shipment_id=shipment_id,
                              lock=True)
    if shipment.status is ShipmentStatus.RECEIVED:
        raise ShipmentAlreadyReceived()
    now = utcnow()

    expected: dict[int, int | None] = dict(db.session.execute(
        sa.select(ShipmentUnit.serial, ShipmentUnit.order_line_id).where(ShipmentUnit.shipment_id == shipment.id)).all())
    roots = list(db.session.scalars(sa.select(ShipmentScan.serial).where(
        ShipmentScan.shipment_id == shipment.id, ShipmentScan.undone_at.is_(None)).order_by(ShipmentScan.id)))
    tree = unit_rows.load_units(roots)
    tree.update(unit_rows.subtree(roots))
    children = unit_rows.children_map(tree.values())

    extra: list[tuple[int | None, str]] = []
    damaged_found: list[tuple[int, str, list[int]]] = []
    if codes is None:
        mode, scanned_roots = ReceiptMode.WHOLE, [s for s in roots if s in tree]
    else:
        mode, scanned_roots = ReceiptMode.SCANNED, []
    reader = code_reader.CodeReader()
    reader.prefetch(str(text) for text in [*(codes or ()), *damaged])
    seen: set[int] = set()
    for text, is_damaged in [*((c, False) for c in (codes or ())), *((c, True) for c in damaged)]:
        decoded = reader.read(str(text))
        if isinstance(decoded, str) or decoded.serial not in tree:
            if not is_damaged or codes is None:
                extra.append((None if isinstance(decoded, str) else decoded.serial, str(text)[:64]))
            continue
        if is_damaged:
            damaged_found.append((decoded.serial, decoded.code, unit_rows.items_under(tree[decoded.serial], children)))
        if decoded.serial not in seen:
            seen.add(decoded.serial)
            if codes is not None:
                scanned_roots.append(decoded.serial)
    extra = list(dict.fromkeys(extra))

    place = ship.location_of(receiver_kind)

    def arriving(unit: unit_rows.UnitState) -> bool:
        # Only what is still on its way here arrives: a unit sold, scrapped or moved on since it
        # was shipped is missing from this receipt, never brought back into anyone's stock.
        return (unit.status is UnitStatus.ACTIVE and unit.in_transit and unit.location_kind is place
                and unit.location_id == receiver_id)

    covered: dict[int, unit_rows.UnitState] = {}
    for root in scanned_roots:
        for unit in unit_rows.with_contents(tree[root], children):
            covered[unit.serial] = unit
    received = {s for s, u in covered.items() if u.level is Level.ITEM and s in expected and arriving(u)}
    if codes is not None:
        # A damaged item counts as arrived, even when only its damaged code was scanned.
        for _, _, items in damaged_found:
            received.update(s for s in items if s in expected and arriving(tree[s]))
            for s in items:
                covered.setdefault(s, tree[s])
    missing = sorted(set(expected) - received)

    # The received units (and the cases and pallets they came in) are now the receiver's.
    moved = [u for u in covered.values() if u.serial in received or u.level is not Level.ITEM and arriving(u)]
    before = {u.serial: stock_moves.stock_key(u) for u in moved}
    for unit in moved:
        unit.location_kind, unit.location_id, unit.in_transit = place, receiver_id, False
    unit_rows.save_units(moved, ["location_kind", "location_id", "in_transit"])
    stock_moves.adjust_stock(stock_moves.stock_deltas(before, moved))
    order = shipment.order
    data = {"shipment_id": shipment.id, "order_id": shipment.order_id,
            "order_no": order.order_no if order is not None else None}
    unit_rows.write_events([unit_rows.event_row(
        kind=EventKind.RECEIVE, serial=root, lot_id=tree[root].lot_id, occurred_at=now, recorded_at=now,
        location_kind=place, location_id=receiver_id, source=actor_label[:64],
        data={**data, "units": sum(1 for s in unit_rows.items_under(tree[root], children) if s in received)})
        for root in dict.fromkeys(scanned_roots)], units=tree)

    _mark_shipment_units(shipment.id, received)
    per_line = Counter(expected[s] for s in received if expected[s] is not None)
    if shipment.order_id is not None:
        lock_lines_of(shipment.order_id)
    for line_id, count in sorted(per_line.items()):
        db.session.execute(sa.update(OrderLine).where(
            OrderLine.id == line_id, OrderLine.received + count <= OrderLine.shipped)
            .values(received=OrderLine.received + count))

    damaged_items = {s for _, _, items in damaged_found for s in items if s in expected}
    receipt = Receipt(shipment_id=shipment.id, receiver_kind=receiver_kind, receiver_id=receiver_id, mode=mode,
                      expected=len(expected), received=len(received), missing=len(missing), extra=len(extra),
                      damaged=len(damaged_items), confirmed_by=actor_label[:128], confirmed_at=now)
    db.session.add(receipt)
    shipment.status, shipment.received_at = ShipmentStatus.RECEIVED, now
    db.session.flush()
    rollups.add_all(facts.receipt(receipt))
    ring = keyring()
    note = (note or "")[:NOTE_MAX]
    rows = [{"kind": DiscrepancyKind.MISSING, "serial": s, "code": ring.encode(s, tree[s].key_version)
             if s in tree else None} for s in missing]
    rows += [{"kind": DiscrepancyKind.EXTRA, "serial": s, "code": c} for s, c in extra]
    rows += [{"kind": DiscrepancyKind.DAMAGED, "serial": s, "code": c} for s, c, _ in dict.fromkeys(
        (s, c, tuple(i)) for s, c, i in damaged_found)]
    if rows:
        db.session.execute(sa.insert(Discrepancy), [
            {**row, "receipt_id": receipt.id, "shipment_id": shipment.id, "note": note, "created_at": now}
            for row in rows])
    who = refs.parties([(receiver_kind, receiver_id), (shipment.shipper_kind, shipment.shipper_id)])
    parties = {"receiver": who[receiver_kind.value, receiver_id],
               "shipper": who[shipment.shipper_kind.value, shipment.shipper_id]}
    counts = {"expected": receipt.expected, "received": receipt.received, "missing": receipt.missing,
              "extra": receipt.extra, "damaged": receipt.damaged}
    emit("receipt.confirmed", {**data, "receipt_id": receipt.id, **parties, "mode": mode.value, **counts,
                               "confirmed_at": now.isoformat()})
    if rows:
        _emit_discrepancy(data, receipt, parties, counts, rows, tree, note)
    if shipment.order_id is not None:
        refresh_order(shipment.order_id)  # may close the order: order.closed after the receipt's events
    if received:
        _check_diversion(shipment, receiver_kind, receiver_id, [tree[s] for s in sorted(received)], actor_label, now)
    return receipt


def _emit_discrepancy(data: dict, receipt: Receipt, parties: dict, counts: dict, rows: list[dict], tree: dict,
                      note: str) -> None:
    """The ``receipt.discrepancy`` event: what the receipt found missing, extra or damaged, code by code (the
    first DISCREPANCIES_LISTED of them; ``listed_all`` says whether that is all)."""
    listed = rows[:DISCREPANCIES_LISTED]
    named = refs.products(tree[row["serial"]].product_id for row in listed
                          if row["serial"] is not None and row["serial"] in tree)
    emit("receipt.discrepancy", {
        **data, "receipt_id": receipt.id, **parties, **counts, "note": note,
        "discrepancies": [{"kind": row["kind"].value, "code": row["code"],
                           "product": named.get(tree[row["serial"]].product_id)
                           if row["serial"] is not None and row["serial"] in tree else None} for row in listed],
        "listed_all": len(rows) <= DISCREPANCIES_LISTED, "confirmed_at": receipt.confirmed_at.isoformat()})


def _mark_shipment_units(shipment_id: int, received: set[int]) -> None:
    db.session.execute(sa.update(ShipmentUnit).where(ShipmentUnit.shipment_id == shipment_id)
                       .values(received=False))
    for chunk in unit_rows.key_chunks(received):
        db.session.execute(sa.update(ShipmentUnit).where(
            ShipmentUnit.shipment_id == shipment_id, unit_rows.one_of(ShipmentUnit.serial, chunk)).values(received=True))


def _check_diversion(shipment: Shipment, receiver_kind: PartyKind, receiver_id: int, units: list,
                     actor_label: str, now) -> None:
    """Received outside the territory of the dealer the units were last shipped to: alerts."""
    region_code = None
    if receiver_kind is PartyKind.STORE:
        region_code = db.session.scalar(sa.select(Store.region_code).where(Store.id == receiver_id))
    diversion.check(units=units, seen_kind=SeenKind.RECEIPT, place_kind=receiver_kind.value, place_id=receiver_id,
                    region_code=region_code, seen_by=actor_label, seen_at=now, shipment_id=shipment.id,
                    order_id=shipment.order_id)


def get_receipt(*, shipment_id: int) -> Receipt | None:
    return db.session.scalar(sa.select(Receipt).where(Receipt.shipment_id == shipment_id))


def discrepancies(*, shipment_id: int) -> sa.Select:
    """What the receipt of this shipment found missing, extra or damaged, for paging."""
    return (sa.select(Discrepancy).where(Discrepancy.shipment_id == shipment_id)
            .order_by(Discrepancy.kind, Discrepancy.id))


def first_discrepancies(*, shipment_id: int, limit: int = 1000) -> list[Discrepancy]:
    """The first discrepancies of a shipment's receipt (a shipment's detail shows them)."""
    return list(db.session.scalars(discrepancies(shipment_id=shipment_id).limit(limit)))
