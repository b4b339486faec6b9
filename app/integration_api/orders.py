"""ERP: sales orders by order number and version, and pulls of what happened to them (scope orders).

An order is PUT whole with its version: a new number creates it, the same version with the same
content answers ``unchanged``, a newer version replaces it (never below what was shipped), an older
one is 409 ``order_version_stale``. Pulls return outbound events after a cursor, oldest first.
"""
from __future__ import annotations


import marshmallow as ma
from flask_smorest import Blueprint

from app.channel import orders
from app.channel.models import OrderStatus
from app.db import transaction
from app.http import authenticate_machine, current_actor, scopes
from app.identity.models import Scope
from app.masterdata import refs
from app.schemas import Int, OrderLineProgressSchema, OrderTotalsSchema, UtcTime
from app.webhooks import service as webhooks

blp = Blueprint("integration_orders", __name__, url_prefix="/api/integration",
                description="ERP: sales orders, and pulls of outbound events (scope orders).")
blp.before_request(authenticate_machine)

ORDER_NO = ma.validate.Length(min=1, max=64)


class PartyRefSchema(ma.Schema):
    kind = ma.fields.String(required=True, metadata={
        "description": "seller: warehouse | dealer; buyer: dealer | store"})
    id = Int(metadata={"description": "Our id (or external_id)"})
    external_id = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "The ERP's id, as synced through master data"})


class LineWriteSchema(ma.Schema):
    line_no = Int(required=True, validate=ma.validate.Range(min=1, max=1_000_000))
    sku = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "Or product_external_id"})
    product_external_id = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    quantity = Int(required=True, validate=ma.validate.Range(min=1, max=10**12), metadata={
        "description": "Items (not cases)"})
    lot_no = ma.fields.String(validate=ma.validate.Length(min=1, max=64), allow_none=True, metadata={
        "description": "Only this production lot of the product may be shipped on the line"})

    @ma.validates_schema
    def one_product(self, data, **kwargs):
        if ("sku" in data) == ("product_external_id" in data):
            raise ma.ValidationError("Name the product by exactly one of sku, product_external_id.", "sku")


class OrderWriteSchema(ma.Schema):
    version = Int(required=True, validate=ma.validate.Range(min=1, max=2**31 - 1), metadata={
        "description": "The ERP's version of this order; a higher one replaces a lower one"})
    seller = ma.fields.Nested(PartyRefSchema, required=True)
    buyer = ma.fields.Nested(PartyRefSchema, required=True)
    lines = ma.fields.List(ma.fields.Nested(LineWriteSchema), required=True,
                           validate=ma.validate.Length(min=1, max=orders.MAX_LINES))
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))
    ordered_at = UtcTime(allow_none=True)


class CancelSchema(ma.Schema):
    version = Int(validate=ma.validate.Range(min=1, max=2**31 - 1), metadata={
        "description": "Optional: the ERP's version of the cancellation (an older one is refused)"})


class PartySchema(ma.Schema):
    """A party as the ERP's events and answers name it (the events' shipper, receiver, seller, buyer...)."""

    kind = ma.fields.String(metadata={"description": "factory, line, warehouse, dealer or store"})
    id = Int(metadata={"description": "Our id"})
    name = ma.fields.String(allow_none=True)
    external_id = ma.fields.String(allow_none=True, metadata={
        "description": "The ERP's id, as synced through master data (null: not synced from the ERP)"})


class ProductRefSchema(ma.Schema):
    """A product as the ERP's events and answers name it."""

    id = Int(metadata={"description": "Our id"})
    sku = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True)
    external_id = ma.fields.String(allow_none=True, metadata={"description": "The ERP's id (null: not synced)"})
    gtin = ma.fields.String(allow_none=True)


class ErpOrderLineSchema(OrderLineProgressSchema):
    product = ma.fields.Nested(ProductRefSchema)


class OrderReadSchema(ma.Schema):
    order_no = ma.fields.String()
    version = Int()
    status = ma.fields.String(metadata={"description": ", ".join(s.value for s in OrderStatus)})
    seller = ma.fields.Nested(PartySchema)
    buyer = ma.fields.Nested(PartySchema)
    note = ma.fields.String()
    ordered_at = ma.fields.DateTime(allow_none=True)
    cancelled_at = ma.fields.DateTime(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(ErpOrderLineSchema))
    totals = ma.fields.Nested(OrderTotalsSchema)


class OrderUpsertedSchema(OrderReadSchema):
    result = ma.fields.String(metadata={"description": "created | updated | unchanged"})


def order_view(order) -> dict:
    """An order with its progress, in the shape OrderReadSchema reads."""
    progress = orders.order_progress(order)
    who = refs.parties([(order.seller_kind, order.seller_id), (order.buyer_kind, order.buyer_id)])
    products = refs.products(line["product_id"] for line in progress["lines"])
    return {"order_no": order.order_no, "version": order.version, "status": order.status.value,
            "seller": who[order.seller_kind.value, order.seller_id],
            "buyer": who[order.buyer_kind.value, order.buyer_id], "note": order.note,
            "ordered_at": order.ordered_at, "cancelled_at": order.cancelled_at, "closed_at": order.closed_at,
            "lines": [{**line, "product": products[line["product_id"]]} for line in progress["lines"]],
            "totals": progress["totals"]}


@blp.route("/orders/<string:order_no>", methods=["PUT"])
@scopes(Scope.ORDERS)
@blp.arguments(OrderWriteSchema)
@blp.response(200, OrderUpsertedSchema)
def put_order(body, order_no):
    """Create or update an order by its number and version (a retry of a version changes nothing)"""
    with transaction():
        upserted = orders.upsert_order(actor=current_actor(), data={**body, "order_no": order_no})
        return {**order_view(upserted.order), "result": upserted.result}


@blp.route("/orders/<string:order_no>/cancel", methods=["POST"])
@scopes(Scope.ORDERS)
@blp.arguments(CancelSchema)
@blp.response(200, OrderReadSchema)
def cancel_order(body, order_no):
    """Cancel an order nothing was shipped against (a retry answers the cancelled order)"""
    with transaction():
        order = orders.cancel_order(actor=current_actor(), order_no=order_no, version=body.get("version"))
        return order_view(order)


@blp.route("/orders/<string:order_no>", methods=["GET"])
@scopes(Scope.ORDERS)
@blp.response(200, OrderReadSchema)
def get_order(order_no):
    """An order with its progress per line: quantity, shipped, received, remaining"""
    return order_view(orders.get_order(order_no=order_no))


# --- pulls -------------------------------------------------------------------------------------

class PullQuerySchema(ma.Schema):
    after = Int(load_default=0, validate=ma.validate.Range(min=0), metadata={
        "description": "The cursor: events with a greater id (0 = from the start; then next_cursor)"})
    limit = Int(load_default=100, validate=ma.validate.Range(min=1, max=webhooks.MAX_PULL))


class EventsQuerySchema(PullQuerySchema):
    type = ma.fields.String(validate=ma.validate.OneOf(webhooks.EVENT_TYPES))


class EventSchema(ma.Schema):
    id = Int(metadata={"description": "The event's cursor position"})
    event_id = ma.fields.String(metadata={"description": "Unique; deduplicate on it (webhooks send the same)"})
    type = ma.fields.String()
    created_at = ma.fields.String(metadata={"format": "date-time", "description": "ISO 8601 in UTC (…Z), as the "
                                                                                  "webhook's body has it"})
    payload = ma.fields.Dict()


class EventPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(EventSchema))
    next_cursor = Int(metadata={"description": "Pass as after= to continue (equals after when nothing new)"})


def _pull(query: dict, types: tuple[str, ...] | None) -> dict:
    events, cursor = webhooks.pull_events(after=query["after"], types=types, limit=query["limit"])
    return {"items": [{"id": event.id, **webhooks.envelope(event)} for event in events], "next_cursor": cursor}


@blp.route("/events", methods=["GET"])
@scopes(Scope.ORDERS)
@blp.arguments(EventsQuerySchema, location="query")
@blp.response(200, EventPageSchema)
def pull_events(query):
    """Outbound events after a cursor, oldest first (every type of the webhooks: shipment.shipped, order.closed ...)"""
    return _pull(query, (query["type"],) if query.get("type") else None)


@blp.route("/shipments", methods=["GET"])
@scopes(Scope.ORDERS)
@blp.arguments(PullQuerySchema, location="query")
@blp.response(200, EventPageSchema)
def pull_shipments(query):
    """Shipments shipped after a cursor (shipment.shipped events)"""
    return _pull(query, ("shipment.shipped",))


@blp.route("/receipts", methods=["GET"])
@scopes(Scope.ORDERS)
@blp.arguments(PullQuerySchema, location="query")
@blp.response(200, EventPageSchema)
def pull_receipts(query):
    """Receipts confirmed after a cursor (receipt.confirmed events)"""
    return _pull(query, ("receipt.confirmed",))


@blp.route("/sale-scans", methods=["GET"])
@scopes(Scope.ORDERS)
@blp.arguments(PullQuerySchema, location="query")
@blp.response(200, EventPageSchema)
def pull_sale_scans(query):
    """Sale scans after a cursor (sale.scanned events)"""
    return _pull(query, ("sale.scanned",))
