"""ERP sales orders: created, updated and cancelled by order number and version; their progress.

The ERP owns an order's content and numbers its versions. Sending a version again with the same
content changes nothing (a retry); the same version with other content, or an older version, is
refused. A newer version replaces the header and the lines, but never below what was shipped.

Locking order (the shipment and receipt services' too): an order's lines in id order, then the
order row; so an ERP update and a dealer's scan queue up instead of deadlocking. Decisions read
the lines with locking reads (in MariaDB a plain read sees the transaction's first snapshot, which
may predate a commit we waited for). The lines' ``shipped`` and ``received`` counters change only by
atomic SQL; the database refuses ``shipped > quantity`` and ``received > shipped`` whatever happens
upstream, and refuses to delete a line a scan names (a foreign key), which is answered as a 409.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from app.channel.errors import (
    LineBelowShipped, LineHasShipments, LinesInvalid, LotUnknown, OrderCancelled, OrderHasShipments, OrderNotFound,
    PartiesLocked, PartyInactive, PartyKindInvalid, PartyUnknown, ProductUnknown, SellerNotParent, StoreNotServed,
    VersionConflict, VersionStale,
)
from app.channel.models import (
    OrderLine,
    OrderStatus,
    PartyKind,
    SalesOrder,
    Shipment,
    ShipmentScan,
    ShipmentStatus,
)
from app.db import utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.identity.service import Actor, audit
from app.identity.scope import NATIONAL, DataScope
from app.masterdata import refs
from app.masterdata.models import Dealer, Product, Status, Store, Warehouse
from app.masterdata.scope_ids import dealer_ids_in, store_ids_in, warehouse_ids_in
from app.production.models import ProductionLot
from app.webhooks.service import emit

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
SELLER_KINDS = (PartyKind.WAREHOUSE, PartyKind.DEALER)
BUYER_KINDS = (PartyKind.DEALER, PartyKind.STORE)
MAX_LINES = 1000


def party_in(scope: DataScope, kind_column, id_column):
    """SQL: the party named by kind and id (a warehouse, dealer or store) lies inside the data scope."""
    return sa.or_(sa.and_(kind_column == PartyKind.WAREHOUSE, id_column.in_(warehouse_ids_in(scope))),
                  sa.and_(kind_column == PartyKind.DEALER, id_column.in_(dealer_ids_in(scope))),
                  sa.and_(kind_column == PartyKind.STORE, id_column.in_(store_ids_in(scope))))


def _order_in(scope: DataScope):
    """An order is in a data scope when its seller or its buyer is."""
    if scope.national:
        return sa.true()
    return sa.or_(party_in(scope, SalesOrder.seller_kind, SalesOrder.seller_id),
                  party_in(scope, SalesOrder.buyer_kind, SalesOrder.buyer_id))


def get_order(*, order_id: int | None = None, order_no: str | None = None, for_update: bool = False,
              scope: DataScope = NATIONAL) -> SalesOrder:
    """An order by id or number (404 ``order_not_found``, also outside the data scope); ``for_update`` locks its row."""
    query = sa.select(SalesOrder).where(_order_in(scope))
    query = query.where(SalesOrder.id == order_id) if order_id is not None else \
        query.where(SalesOrder.order_no == order_no)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    order = db.session.scalar(query)
    if order is None:
        raise OrderNotFound()
    return order


def lock_order(order_id: int) -> SalesOrder:
    """Lock an order's row (after its lines: see the locking order above)."""
    return get_order(order_id=order_id, for_update=True)


def list_orders(*, seller_kind=None, seller_id=None, buyer_kind=None, buyer_id=None, status=None,
                party_kind=None, party_id=None, order_no=None, scope: DataScope = NATIONAL):
    """A select of orders, newest first; ``party_*`` matches either side (seller or buyer)."""
    query = sa.select(SalesOrder).where(_order_in(scope)).order_by(SalesOrder.id.desc())
    for column, value in ((SalesOrder.seller_kind, seller_kind), (SalesOrder.seller_id, seller_id),
                          (SalesOrder.buyer_kind, buyer_kind), (SalesOrder.buyer_id, buyer_id),
                          (SalesOrder.status, status), (SalesOrder.order_no, order_no)):
        if value is not None:
            query = query.where(column == value)
    if party_kind is not None and party_id is not None:
        query = query.where(sa.or_(
            sa.and_(SalesOrder.seller_kind == party_kind, SalesOrder.seller_id == party_id),
            sa.and_(SalesOrder.buyer_kind == party_kind, SalesOrder.buyer_id == party_id)))
    return query


def order_progress(order: SalesOrder) -> dict:
    """Per line: quantity, shipped, received, remaining (to ship) and to_receive; totals; status."""
    rows = db.session.execute(
        sa.select(OrderLine.id, OrderLine.line_no, OrderLine.product_id, OrderLine.lot_id, OrderLine.quantity,
                  OrderLine.shipped, OrderLine.received, Product.sku, Product.name, ProductionLot.lot_no)
        .join(Product, Product.id == OrderLine.product_id)
        .outerjoin(ProductionLot, ProductionLot.id == OrderLine.lot_id)
        .where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)).all()
    lines = [{"id": r.id, "line_no": r.line_no, "product_id": r.product_id, "sku": r.sku, "product_name": r.name,
              "lot_id": r.lot_id, "lot_no": r.lot_no, "quantity": r.quantity, "shipped": r.shipped,
              "received": r.received, "remaining": r.quantity - r.shipped, "to_receive": r.shipped - r.received}
             for r in rows]
    totals = {name: sum(line[name] for line in lines)
              for name in ("quantity", "shipped", "received", "remaining", "to_receive")}
    return {"order": order, "status": order.status, "lines": lines, "totals": totals}


def refresh_status(order: SalesOrder) -> OrderStatus:
    """Derive an order's status from its lines and shipments; cancelled stays.

    Open (nothing shipped), shipping, shipped (every line in full), closed: shipped in full and
    every shipment received — the order closes when the last receipt is confirmed, missing units
    being that receipt's discrepancies rather than an order left open forever.
    """
    if order.status is OrderStatus.CANCELLED:
        return order.status
    # A locking read: it sees the latest committed counts, not this transaction's first snapshot.
    counts = db.session.execute(
        sa.select(OrderLine.quantity, OrderLine.shipped)
        .where(OrderLine.order_id == order.id).order_by(OrderLine.id).with_for_update()).all()
    full = bool(counts) and all(c.shipped >= c.quantity for c in counts)
    on_the_way = db.session.scalar(sa.select(sa.func.count()).select_from(Shipment).where(
        Shipment.order_id == order.id, Shipment.status == ShipmentStatus.SHIPPED))
    if full and not on_the_way:
        status = OrderStatus.CLOSED
    elif full:
        status = OrderStatus.SHIPPED
    elif any(c.shipped > 0 for c in counts):
        status = OrderStatus.SHIPPING
    else:
        status = OrderStatus.OPEN
    if status is not order.status:
        order.status = status
        order.closed_at = utcnow() if status is OrderStatus.CLOSED else None
        if status is OrderStatus.CLOSED:
            _emit_closed(order)
    return status


def _emit_closed(order: SalesOrder) -> None:
    """The ``order.closed`` event: the order's parties and lines as they closed (received may fall short of
    shipped: what was missing at a receipt is that receipt's ``receipt.discrepancy``)."""
    lines = db.session.execute(
        sa.select(OrderLine.line_no, OrderLine.product_id, OrderLine.quantity, OrderLine.shipped, OrderLine.received,
                  ProductionLot.lot_no).outerjoin(ProductionLot, ProductionLot.id == OrderLine.lot_id)
        .where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)).all()
    named = refs.products(line.product_id for line in lines)
    who = refs.parties([(order.seller_kind, order.seller_id), (order.buyer_kind, order.buyer_id)])
    emit("order.closed", {
        "order_id": order.id, "order_no": order.order_no, "version": order.version,
        "seller": who[order.seller_kind.value, order.seller_id], "buyer": who[order.buyer_kind.value, order.buyer_id],
        "lines": [{"line_no": line.line_no, "product": named[line.product_id], "lot_no": line.lot_no,
                   "quantity": line.quantity, "shipped": line.shipped, "received": line.received}
                  for line in lines],
        "totals": {name: sum(getattr(line, name) for line in lines) for name in ("quantity", "shipped", "received")},
        "closed_at": order.closed_at.isoformat()})


@dataclass
class Upserted:
    order: SalesOrder
    result: str  # created | updated | unchanged


@dataclass(frozen=True)
class _Line:
    line_no: int
    product_id: int
    lot_id: int | None
    quantity: int


def _find(model, ref: dict, role: str):
    """A party or product by ``id`` or ``external_id`` (422 when neither finds one)."""
    obj = None
    if ref.get("id") is not None:
        obj = db.session.get(model, ref["id"])
    elif ref.get("external_id"):
        obj = db.session.scalar(sa.select(model).where(model.external_id == ref["external_id"]))
    else:
        raise PartyUnknown(f"The {role} needs an id or an external_id.", errors={role: ["id or external_id"]})
    if obj is None:
        raise PartyUnknown(f"The {role} is unknown.", errors={role: ["unknown"]})
    if obj.status is not Status.ACTIVE:
        raise PartyInactive(f"The {role} is inactive.", errors={role: ["inactive"]})
    return obj


def _kind(value, allowed: tuple[PartyKind, ...], role: str) -> PartyKind:
    try:
        kind = PartyKind(value)
    except ValueError:
        kind = None
    if kind not in allowed:
        names = " or ".join(k.value for k in allowed)
        raise PartyKindInvalid(f"The {role} is a {names}.", errors={role: [names]})
    return kind


_MODELS = {PartyKind.WAREHOUSE: Warehouse, PartyKind.DEALER: Dealer, PartyKind.STORE: Store}


def _parties(data: dict) -> tuple[PartyKind, int, PartyKind, int]:
    """The seller and buyer, checked against the channel's rules."""
    seller_ref, buyer_ref = data.get("seller") or {}, data.get("buyer") or {}
    seller_kind = _kind(seller_ref.get("kind"), SELLER_KINDS, "seller")
    buyer_kind = _kind(buyer_ref.get("kind"), BUYER_KINDS, "buyer")
    seller = _find(_MODELS[seller_kind], seller_ref, "seller")
    buyer = _find(_MODELS[buyer_kind], buyer_ref, "buyer")
    if seller_kind is PartyKind.DEALER and buyer_kind is PartyKind.DEALER and buyer.parent_id != seller.id:
        raise SellerNotParent(f"{buyer.name} (tier {buyer.tier}) buys from the brand or its parent dealer, "
                              f"not from {seller.name}.", errors={"seller": ["not the buyer's parent"]})
    if seller_kind is PartyKind.DEALER and buyer_kind is PartyKind.STORE and \
            seller.id not in {dealer.id for dealer in buyer.dealers}:
        raise StoreNotServed(f"{seller.name} does not serve the store {buyer.name}.",
                             errors={"buyer": ["not served by the seller"]})
    return seller_kind, seller.id, buyer_kind, buyer.id


def _lines(raw_lines: list[dict]) -> list[_Line]:
    if not raw_lines or len(raw_lines) > MAX_LINES:
        raise LinesInvalid(f"An order has 1 to {MAX_LINES} lines.", errors={"lines": ["1 to 1000 lines"]})
    numbers = [line.get("line_no") for line in raw_lines]
    if len(set(numbers)) != len(numbers):
        raise LinesInvalid("Each line_no appears once.", errors={"lines": ["line_no repeated"]})
    skus = {line["sku"] for line in raw_lines if line.get("sku")}
    externals = {line["product_external_id"] for line in raw_lines if line.get("product_external_id")}
    by_sku = {p.sku: p for p in db.session.scalars(sa.select(Product).where(Product.sku.in_(skus)))} if skus else {}
    by_ext = {p.external_id: p for p in db.session.scalars(
        sa.select(Product).where(Product.external_id.in_(externals)))} if externals else {}
    lines = []
    for index, raw in enumerate(raw_lines):
        product = by_sku.get(raw["sku"]) if raw.get("sku") else by_ext.get(raw.get("product_external_id"))
        if product is None or product.status is not Status.ACTIVE:
            raise ProductUnknown(f"Line {raw['line_no']}: no active product "
                                 f"{raw.get('sku') or raw.get('product_external_id')!r}.",
                                 errors={"lines": {index: ["unknown product"]}})
        lot_id = None
        if raw.get("lot_no"):
            lot_id = db.session.scalar(sa.select(ProductionLot.id).where(
                ProductionLot.product_id == product.id, ProductionLot.lot_no == raw["lot_no"]))
            if lot_id is None:
                raise LotUnknown(f"Line {raw['line_no']}: {product.sku} has no lot {raw['lot_no']!r}.",
                                 errors={"lines": {index: ["unknown lot"]}})
        if not isinstance(raw.get("quantity"), int) or raw["quantity"] < 1:
            raise LinesInvalid(f"Line {raw['line_no']}: the quantity is at least 1.",
                               errors={"lines": {index: ["quantity ≥ 1"]}})
        lines.append(_Line(raw["line_no"], product.id, lot_id, raw["quantity"]))
    return sorted(lines, key=lambda line: line.line_no)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc) if value is not None else None


def _locked_lines(order_id: int) -> list[OrderLine]:
    """The order's lines, locked in id order and as last committed; by line number."""
    lines = db.session.scalars(sa.select(OrderLine).where(OrderLine.order_id == order_id)
                               .order_by(OrderLine.id).with_for_update()
                               .execution_options(populate_existing=True)).all()
    return sorted(lines, key=lambda line: line.line_no)


def _content(order: SalesOrder, lines: list[OrderLine]) -> dict:
    return {"seller": (order.seller_kind, order.seller_id), "buyer": (order.buyer_kind, order.buyer_id),
            "note": order.note, "ordered_at": _aware(order.ordered_at),
            "lines": [_Line(line.line_no, line.product_id, line.lot_id, line.quantity) for line in lines]}


def _audit_content(content: dict) -> dict:
    return {"seller": f"{content['seller'][0].value}:{content['seller'][1]}",
            "buyer": f"{content['buyer'][0].value}:{content['buyer'][1]}",
            "note": content["note"], "ordered_at": content["ordered_at"],
            "lines": [[line.line_no, line.product_id, line.lot_id, line.quantity] for line in content["lines"]]}


def _scanned_line_ids(order_id: int) -> set[int]:
    """Lines that any shipment scan names (shipped, held in an open shipment, or undone)."""
    # Not a locking read: the shipment services hold their shipment and scan rows while they wait for
    # our lines. A scan committed since our snapshot makes the foreign key refuse the change instead.
    return set(db.session.scalars(sa.select(ShipmentScan.order_line_id).join(
        Shipment, Shipment.id == ShipmentScan.shipment_id).where(
        Shipment.order_id == order_id, ShipmentScan.order_line_id.is_not(None))))


def _has_shipments(order_id: int) -> bool:
    return db.session.scalar(sa.select(Shipment.id).where(
        Shipment.order_id == order_id, Shipment.status != ShipmentStatus.CANCELLED).limit(1)) is not None


def upsert_order(*, actor: Actor, data: dict) -> Upserted:
    """Create an order, or apply a newer version of it, by ERP order number and version."""
    order_no, version = data["order_no"], data["version"]
    if not isinstance(order_no, str) or not 1 <= len(order_no) <= 64 or order_no != order_no.strip():
        raise ValidationFailed("An order number is 1 to 64 characters, without surrounding spaces.",
                               errors={"order_no": ["1 to 64 characters"]}, code="order_no_invalid")
    if not isinstance(version, int) or version < 1:
        raise ValidationFailed("The version is an integer of at least 1.", errors={"version": ["≥ 1"]})
    seller_kind, seller_id, buyer_kind, buyer_id = _parties(data)
    content = {"seller": (seller_kind, seller_id), "buyer": (buyer_kind, buyer_id),
               "note": data.get("note") or "", "ordered_at": _aware(data.get("ordered_at")),
               "lines": _lines(data.get("lines") or [])}
    # A plain read first: a locking read of a missing key takes gap locks that two creators deadlock on.
    order_id = db.session.scalar(sa.select(SalesOrder.id).where(SalesOrder.order_no == order_no))
    if order_id is None:
        created = _create(actor, order_no, version, content)
        if created is not None:
            return Upserted(created, CREATED)
        # A concurrent request created it: a locking read sees it (the snapshot doesn't).
        order_id = db.session.scalar(sa.select(SalesOrder.id).where(SalesOrder.order_no == order_no)
                                     .with_for_update(read=True))
    lines = _locked_lines(order_id)
    existing = get_order(order_id=order_id, for_update=True)
    if version < existing.version:
        raise VersionStale(f"Order {order_no} is at version {existing.version}; version {version} is refused.",
                           errors={"version": [f"current is {existing.version}"]})
    current = _content(existing, lines)
    if version == existing.version:
        if current == content:
            return Upserted(existing, UNCHANGED)
        raise VersionConflict(f"Order {order_no} version {version} was received with other content.",
                              errors={"version": [f"current is {existing.version}"]})
    if existing.status is OrderStatus.CANCELLED:
        raise OrderCancelled(f"Order {order_no} is cancelled; it cannot change.")
    _apply_version(existing, lines, current, content)
    audit(actor, "order.update", existing, {"version": [existing.version, version],
                                            **_changes(_audit_content(current), _audit_content(content))})
    existing.version = version
    try:
        db.session.flush()
    except sa.exc.IntegrityError:  # a scan named a removed line after our read of the scans
        raise LineHasShipments(f"Order {order_no}: a line to remove or change has shipments.")
    db.session.expire(existing, ["lines"])
    refresh_status(existing)
    return Upserted(existing, UPDATED)


def _changes(old: dict, new: dict) -> dict:
    return {name: [old[name], new[name]] for name in old if old[name] != new[name]}


def _create(actor: Actor, order_no: str, version: int, content: dict) -> SalesOrder | None:
    """Insert a new order; None when a concurrent request created it first (then it is updated)."""
    order = SalesOrder(order_no=order_no, version=version, seller_kind=content["seller"][0],
                       seller_id=content["seller"][1], buyer_kind=content["buyer"][0],
                       buyer_id=content["buyer"][1], note=content["note"], ordered_at=content["ordered_at"],
                       status=OrderStatus.OPEN,
                       lines=[OrderLine(line_no=line.line_no, product_id=line.product_id, lot_id=line.lot_id,
                                        quantity=line.quantity, shipped=0, received=0)
                              for line in content["lines"]])
    try:
        with db.session.begin_nested():
            db.session.add(order)
            db.session.flush()
    except sa.exc.IntegrityError:
        return None
    audit(actor, "order.create", order, {"version": [None, version],
                                         **{k: [None, v] for k, v in _audit_content(content).items()}})
    return order


def _apply_version(order: SalesOrder, locked_lines: list[OrderLine], current: dict, content: dict) -> None:
    """Replace the header and lines, refusing what would contradict a shipment."""
    lines = {line.line_no: line for line in locked_lines}
    if (current["seller"], current["buyer"]) != (content["seller"], content["buyer"]) and \
            _has_shipments(order.id):
        raise PartiesLocked(f"Order {order.order_no} has shipments; its seller and buyer stay.")
    scanned = _scanned_line_ids(order.id)
    wanted = {line.line_no: line for line in content["lines"]}
    for line_no, line in lines.items():
        new = wanted.get(line_no)
        touched = line.id in scanned or line.shipped > 0
        if new is None or (new.product_id, new.lot_id) != (line.product_id, line.lot_id):
            if touched:
                raise LineHasShipments(f"Line {line_no} of order {order.order_no} has shipments; it can't be "
                                       "removed or change its product or lot.", errors={"lines": {line_no: [
                                           "has shipments"]}})
        elif new.quantity < line.shipped:
            raise LineBelowShipped(f"Line {line_no}: {line.shipped} shipped; the quantity can't be "
                                   f"{new.quantity}.", errors={"lines": {line_no: [f"shipped {line.shipped}"]}})
    for line_no, line in lines.items():
        new = wanted.get(line_no)
        if new is None:
            db.session.delete(line)
        else:
            line.product_id, line.lot_id, line.quantity = new.product_id, new.lot_id, new.quantity
    for line_no, new in wanted.items():
        if line_no not in lines:
            db.session.add(OrderLine(order_id=order.id, line_no=line_no, product_id=new.product_id,
                                     lot_id=new.lot_id, quantity=new.quantity, shipped=0, received=0))
    order.seller_kind, order.seller_id = content["seller"]
    order.buyer_kind, order.buyer_id = content["buyer"]
    order.note, order.ordered_at = content["note"], content["ordered_at"]


def cancel_order(*, actor: Actor, order_no: str, version: int | None = None) -> SalesOrder:
    """Cancel an order nothing was shipped or scanned against; a retry answers the cancelled order."""
    order_id = get_order(order_no=order_no).id
    lines = _locked_lines(order_id)
    order = get_order(order_id=order_id, for_update=True)
    if version is not None and version < order.version:
        raise VersionStale(f"Order {order_no} is at version {order.version}; version {version} is refused.",
                           errors={"version": [f"current is {order.version}"]})
    if order.status is OrderStatus.CANCELLED:
        return order
    if any(line.shipped for line in lines) or _has_shipments(order.id):
        raise OrderHasShipments(f"Order {order_no} has shipments; it can't be cancelled.")
    changes = {"status": [order.status, OrderStatus.CANCELLED]}
    if version is not None and version != order.version:
        changes["version"] = [order.version, version]
        order.version = version
    order.status, order.cancelled_at = OrderStatus.CANCELLED, utcnow()
    audit(actor, "order.cancel", order, changes)
    return order
