"""The dealer mini-program's channel: orders, scanning out, shipping, receiving, stock and performance.

The dealer is the signed-in user's dealer (owner or staff); another dealer's orders and shipments
answer 404.
"""
from __future__ import annotations

from types import SimpleNamespace

import marshmallow as ma
from flask_smorest import Blueprint, Page

from app.accounts import profiles
from app.accounts.models import AppName
from app.channel import order_lines, orders, receipts, rules, shipments, stock, unpacks
from app.channel.models import OrderStatus, PartyKind, ShipmentStatus
from app.db import transaction
from app.errors import Forbidden
from app.http import SelectPage
from app.masterdata.models import Status
from app.schemas import Int
from app.units import packing
from miniprogram_api.schemas import NamedRefsSchema, ProductNamedSchema, party_field
from miniprogram_api.security import audience, authenticate, current_app_user

DEALER = AppName.DEALER

blp = Blueprint("mp_dealer_channel", __name__, url_prefix="/api/dealer",
                description="The dealer mini-program: orders, shipments scanned out, receipts, stock, performance.")
blp.before_request(authenticate(DEALER))


class NoDealer(Forbidden):
    code = "no_dealer"
    message = "Bind to a dealer first."


class DealerInactive(Forbidden):
    code = "dealer_inactive"
    message = "Your dealer is deactivated; ask the brand to reactivate it."


def _dealer_id() -> int:
    membership = profiles.dealer_membership(current_app_user())
    if membership is None:
        raise NoDealer()
    if membership.dealer.status is not Status.ACTIVE:
        raise DealerInactive()
    return membership.dealer_id


def _label() -> str:
    return f"app_user:{current_app_user().id}"


def _enum_field(**kwargs):
    return ma.fields.Function(lambda obj, attr=kwargs.pop("attr"): getattr(obj, attr).value, **kwargs)


# --- schemas ------------------------------------------------------------------------------------

class DealerOrderQuerySchema(ma.Schema):
    status = ma.fields.Enum(OrderStatus, by_value=True)


class DealerOrderReadSchema(NamedRefsSchema):
    parties = {"seller": lambda o: (o.seller_kind, o.seller_id), "buyer": lambda o: (o.buyer_kind, o.buyer_id)}

    id = Int()
    order_no = ma.fields.String()
    version = Int()
    status = _enum_field(attr="status")
    seller = party_field()
    buyer = party_field()
    note = ma.fields.String()
    ordered_at = ma.fields.AwareDateTime()
    created_at = ma.fields.AwareDateTime()


class DealerLineProgressSchema(ProductNamedSchema):
    id = Int()
    line_no = Int()
    product_id = Int()
    lot_id = Int(allow_none=True)
    quantity = Int()
    shipped = Int()
    picked = Int()
    received = Int()
    remaining = Int()


class DealerOrderDetailSchema(DealerOrderReadSchema):
    lines = ma.fields.List(ma.fields.Nested(DealerLineProgressSchema))
    open_shipment_id = Int(allow_none=True)


class DealerShipmentReadSchema(NamedRefsSchema):
    parties = {"shipper": lambda s: (s.shipper_kind, s.shipper_id),
               "receiver": lambda s: (s.receiver_kind, s.receiver_id)}

    id = Int()
    order_id = Int(allow_none=True)
    status = _enum_field(attr="status")
    shipper = party_field()
    receiver = party_field()
    items = Int()
    created_at = ma.fields.AwareDateTime()
    shipped_at = ma.fields.AwareDateTime(allow_none=True)
    received_at = ma.fields.AwareDateTime(allow_none=True)
    cancelled_at = ma.fields.AwareDateTime(allow_none=True)


class DealerScanReadSchema(ma.Schema):
    id = Int()
    code = ma.fields.String()
    level = _enum_field(attr="level")
    items = Int()
    order_line_id = Int(allow_none=True)
    scanned_at = ma.fields.AwareDateTime()


class DealerReceiptReadSchema(ma.Schema):
    id = Int()
    shipment_id = Int()
    mode = _enum_field(attr="mode")
    expected = Int()
    received = Int()
    missing = Int()
    extra = Int()
    damaged = Int()
    confirmed_at = ma.fields.AwareDateTime()


class DealerDiscrepancyReadSchema(ma.Schema):
    kind = _enum_field(attr="kind")
    code = ma.fields.String(allow_none=True)
    note = ma.fields.String()


class DealerShipmentDetailSchema(DealerShipmentReadSchema):
    scans = ma.fields.List(ma.fields.Nested(DealerScanReadSchema))
    lines = ma.fields.List(ma.fields.Nested(DealerLineProgressSchema))
    receipt = ma.fields.Nested(DealerReceiptReadSchema, allow_none=True)
    discrepancies = ma.fields.List(ma.fields.Nested(DealerDiscrepancyReadSchema))


class DealerShipmentQuerySchema(ma.Schema):
    status = ma.fields.Enum(ShipmentStatus, by_value=True)
    direction = ma.fields.String(load_default="out", validate=ma.validate.OneOf(("out", "in")))


class DealerShipmentCreateSchema(ma.Schema):
    receiver_kind = ma.fields.String(required=True, validate=ma.validate.OneOf(("store", "dealer")))
    receiver_id = Int(required=True)


class DealerScanCreateSchema(ma.Schema):
    codes = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=200)), required=True,
                           validate=ma.validate.Length(min=1, max=rules.MAX_SCAN_CODES))


class DealerScanResultSchema(ma.Schema):
    index = Int()
    code = ma.fields.String()
    status = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    message = ma.fields.String(allow_none=True)
    scan_id = Int(allow_none=True)
    level = ma.fields.String(allow_none=True)
    items = Int()
    order_line_id = Int(allow_none=True)


class DealerScanOutcomeSchema(ma.Schema):
    shipment = ma.fields.Nested(DealerShipmentReadSchema)
    results = ma.fields.List(ma.fields.Nested(DealerScanResultSchema))
    accepted = Int()
    refused = Int()
    lines = ma.fields.List(ma.fields.Nested(DealerLineProgressSchema))


class DealerUnpackCreateSchema(ma.Schema):
    mode = ma.fields.String(required=True, validate=ma.validate.OneOf(packing.MODES), metadata={
        "description": "whole: each code is a case or pallet, every child comes out; partial: each code is a "
                       "child (item or case) that leaves its parent"})
    codes = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=200)), required=True,
                           validate=ma.validate.Length(min=1, max=rules.MAX_SCAN_CODES))


class DealerUnpackResultSchema(ma.Schema):
    index = Int()
    code = ma.fields.String()
    status = ma.fields.Function(lambda r: "refused" if r.status == packing.REJECTED else r.status,
                                metadata={"description": "accepted | refused"})
    reason = ma.fields.String(allow_none=True)
    message = ma.fields.String(allow_none=True)
    released = Int(allow_none=True, metadata={"description": "Accepted: the children taken out (partial: 1)"})


class DealerUnpackOutcomeSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(DealerUnpackResultSchema))
    accepted = Int()
    refused = Int()


class DealerReceiptCreateSchema(ma.Schema):
    codes = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=200)), allow_none=True,
                           validate=ma.validate.Length(min=1, max=rules.MAX_RECEIPT_CODES))
    damaged = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=200)),
                             load_default=list, validate=ma.validate.Length(max=rules.MAX_RECEIPT_CODES))
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=receipts.NOTE_MAX))


class DealerStockRowSchema(ma.Schema):
    product_id = Int()
    sku = ma.fields.String()
    product_name = ma.fields.String()
    lot_id = Int(allow_none=True)
    lot_no = ma.fields.String(allow_none=True)
    quantity = Int()


class DealerStockQuerySchema(ma.Schema):
    product_id = Int()


class DealerPerformanceQuerySchema(ma.Schema):
    from_ = ma.fields.AwareDateTime(data_key="from", metadata={"description": "Default: this month's start (UTC+8)"})
    to = ma.fields.AwareDateTime(metadata={"description": "Default: next month's start (UTC+8)"})


class DealerPerformanceReadSchema(NamedRefsSchema):
    parties = {"dealer": lambda p: (PartyKind.DEALER, p.dealer_id)}

    dealer_id = Int()
    dealer = party_field()
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    shipments = Int()
    items_shipped = Int()
    items_shipped_to_stores = Int()
    items_received_by_stores = Int()
    items_received = Int()
    sold_through = Int()


# --- orders -------------------------------------------------------------------------------------

@blp.route("/orders", methods=["GET"])
@audience(DEALER)
@blp.arguments(DealerOrderQuerySchema, location="query")
@blp.response(200, DealerOrderReadSchema(many=True))
@blp.paginate(SelectPage)
def list_orders(args):
    """Orders my dealer sells or buys, newest first"""
    return orders.list_orders(party_kind=PartyKind.DEALER, party_id=_dealer_id(), status=args.get("status"))


@blp.route("/orders/<int:order_id>", methods=["GET"])
@audience(DEALER)
@blp.response(200, DealerOrderDetailSchema)
def get_order(order_id):
    """An order of mine with the progress of each line (shipped, picked, received)"""
    dealer_id = _dealer_id()
    return _order_detail(shipments.party_order(party_kind=PartyKind.DEALER, party_id=dealer_id,
                                               order_id=order_id), dealer_id)


def _order_detail(order, dealer_id: int) -> dict:
    detail = {name: getattr(order, name) for name in (
        "id", "order_no", "version", "status", "seller_kind", "seller_id", "buyer_kind", "buyer_id", "note",
        "ordered_at", "created_at")}
    return SimpleNamespace(**detail, lines=order_lines.progress(order),
                open_shipment_id=shipments.open_shipment_of(order_id=order.id, shipper_kind=PartyKind.DEALER,
                                                            shipper_id=dealer_id))


@blp.route("/orders/<int:order_id>/shipments", methods=["POST"])
@audience(DEALER)
@blp.response(201, DealerShipmentReadSchema)
def open_order_shipment(order_id):
    """Open (or get the open) shipment of an order I sell, to scan goods out against it"""
    with transaction():
        return shipments.open_shipment(actor_label=_label(), shipper_kind=PartyKind.DEALER,
                                       shipper_id=_dealer_id(), order_id=order_id)


# --- shipments ----------------------------------------------------------------------------------

@blp.route("/shipments", methods=["POST"])
@audience(DEALER)
@blp.arguments(DealerShipmentCreateSchema)
@blp.response(201, DealerShipmentReadSchema)
def open_standalone_shipment(body):
    """Open a shipment without an order, to a store I serve or a sub-dealer of mine"""
    with transaction():
        return shipments.open_shipment(actor_label=_label(), shipper_kind=PartyKind.DEALER, shipper_id=_dealer_id(),
                                       receiver_kind=body["receiver_kind"], receiver_id=body["receiver_id"])


@blp.route("/shipments", methods=["GET"])
@audience(DEALER)
@blp.arguments(DealerShipmentQuerySchema, location="query")
@blp.response(200, DealerShipmentReadSchema(many=True))
@blp.paginate(SelectPage)
def list_shipments(args):
    """My shipments out (I ship) or in (shipped to me), newest first"""
    return shipments.list_shipments(party_kind=PartyKind.DEALER, party_id=_dealer_id(),
                                    direction=args["direction"], status=args.get("status"))


@blp.route("/shipments/<int:shipment_id>", methods=["GET"])
@audience(DEALER)
@blp.response(200, DealerShipmentDetailSchema)
def get_shipment(shipment_id):
    """A shipment I ship or receive: its scans, its order's progress, its receipt and discrepancies"""
    shipment = shipments.get_shipment(party_kind=PartyKind.DEALER, party_id=_dealer_id(), shipment_id=shipment_id)
    return _shipment_detail(shipment)


def _shipment_detail(shipment):
    detail = {name: getattr(shipment, name) for name in (
        "id", "order_id", "status", "shipper_kind", "shipper_id", "receiver_kind", "receiver_id", "items",
        "created_at", "shipped_at", "received_at", "cancelled_at")}
    return SimpleNamespace(**detail, scans=shipments.shipment_scans(shipment_id=shipment.id),
                           lines=order_lines.progress(shipment.order) if shipment.order is not None else [],
                           receipt=receipts.get_receipt(shipment_id=shipment.id),
                           discrepancies=receipts.first_discrepancies(shipment_id=shipment.id))


@blp.route("/shipments/<int:shipment_id>/scans", methods=["POST"])
@audience(DEALER)
@blp.arguments(DealerScanCreateSchema)
@blp.response(200, DealerScanOutcomeSchema)
def scan(body, shipment_id):
    """Scan item, case or pallet codes into an open shipment: an answer per code and the order's progress"""
    with transaction():
        outcome = shipments.scan(actor_label=_label(), shipper_kind=PartyKind.DEALER, shipper_id=_dealer_id(),
                                 shipment_id=shipment_id, codes=body["codes"])
        accepted = sum(1 for r in outcome.results if r.status == "accepted")
        return {"shipment": outcome.shipment, "results": outcome.results, "accepted": accepted,
                "refused": len(outcome.results) - accepted, "lines": outcome.progress}


@blp.route("/shipments/<int:shipment_id>/scans/<int:scan_id>", methods=["DELETE"])
@audience(DEALER)
@blp.response(200, DealerShipmentReadSchema)
def undo_scan(shipment_id, scan_id):
    """Undo a scan (its code and everything inside it leave the shipment) until the shipment ships"""
    with transaction():
        return shipments.undo_scan(actor_label=_label(), shipper_kind=PartyKind.DEALER, shipper_id=_dealer_id(),
                                   shipment_id=shipment_id, scan_id=scan_id)


@blp.route("/shipments/<int:shipment_id>/ship", methods=["POST"])
@audience(DEALER)
@blp.response(200, DealerShipmentReadSchema)
def ship(shipment_id):
    """Ship: the goods go in transit to the receiver (shipping again answers the same)"""
    with transaction():
        return shipments.ship(actor_label=_label(), shipper_kind=PartyKind.DEALER, shipper_id=_dealer_id(),
                              shipment_id=shipment_id)


@blp.route("/shipments/<int:shipment_id>/cancel", methods=["POST"])
@audience(DEALER)
@blp.response(200, DealerShipmentReadSchema)
def cancel(shipment_id):
    """Cancel an open shipment; its codes may be scanned again"""
    with transaction():
        return shipments.cancel(actor_label=_label(), shipper_kind=PartyKind.DEALER, shipper_id=_dealer_id(),
                                shipment_id=shipment_id)


# --- unpacking ----------------------------------------------------------------------------------

@blp.route("/unpacks", methods=["POST"])
@audience(DEALER)
@blp.arguments(DealerUnpackCreateSchema)
@blp.response(200, DealerUnpackOutcomeSchema)
def unpack(body):
    """Unpack cases or pallets in my stock (whole), or take items or cases out of theirs (partial), to ship apart"""
    with transaction():
        results = unpacks.unpack(actor_label=_label(), dealer_id=_dealer_id(), mode=body["mode"], codes=body["codes"])
    accepted = sum(1 for r in results if r.status == packing.ACCEPTED)
    return {"results": results, "accepted": accepted, "refused": len(results) - accepted}


# --- receiving ----------------------------------------------------------------------------------

@blp.route("/receipts/pending", methods=["GET"])
@audience(DEALER)
@blp.response(200, DealerShipmentReadSchema(many=True))
@blp.paginate(SelectPage)
def pending_receipts():
    """Shipments on their way to my dealer, from the brand or my upstream dealer"""
    return receipts.pending_receipts(receiver_kind=PartyKind.DEALER, receiver_id=_dealer_id())


@blp.route("/shipments/<int:shipment_id>/receipt", methods=["POST"])
@audience(DEALER)
@blp.arguments(DealerReceiptCreateSchema)
@blp.response(201, DealerReceiptReadSchema)
def confirm_receipt(body, shipment_id):
    """Confirm a shipment to me: the whole of it (no codes) or the codes scanned in; damaged codes noted"""
    with transaction():
        return receipts.confirm_receipt(actor_label=_label(), receiver_kind=PartyKind.DEALER,
                                        receiver_id=_dealer_id(), shipment_id=shipment_id, codes=body.get("codes"),
                                        damaged=body["damaged"], note=body["note"])


# --- stock and performance ----------------------------------------------------------------------

@blp.route("/stock", methods=["GET"])
@audience(DEALER)
@blp.arguments(DealerStockQuerySchema, location="query")
@blp.response(200, DealerStockRowSchema(many=True))
@blp.paginate(Page)
def my_stock(args):
    """My stock on hand by product and lot (received, not shipped on)"""
    return stock.dealer_stock(dealer_id=_dealer_id(), product_id=args.get("product_id"))


@blp.route("/performance", methods=["GET"])
@audience(DEALER)
@blp.arguments(DealerPerformanceQuerySchema, location="query")
@blp.response(200, DealerPerformanceReadSchema)
def my_performance(args):
    """My performance over [from, to) (default: this month): shipped, received by my stores, sold through"""
    return stock.dealer_performance(dealer_id=_dealer_id(), starts_at=args.get("from_"), ends_at=args.get("to"))
