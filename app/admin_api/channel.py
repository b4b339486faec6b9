"""The brand's view of the channel: every order and its progress, shipments and what their receipts
found, and the ERP's webhook endpoints and deliveries."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.channel import brand_shipments, orders
from app.channel.models import DiscrepancyKind, OrderStatus, PartyKind, ReceiptMode, ShipmentStatus
from app.db import transaction
from app.http import (ALL_ROLES, WRITERS_OF_MASTER_DATA, SelectPage, authenticate_back_office, current_actor,
                      current_scope, national_only, regional, roles)
from app.masterdata.models import Status
from app.schemas import Int, OrderLineProgressSchema, OrderTotalsSchema
from app.webhooks import service as webhooks
from app.webhooks.models import DeliveryStatus

orders_blp = Blueprint("admin_orders", __name__, url_prefix="/api/admin/orders",
                       description="Sales orders from the ERP and their progress (shipped, received).")
shipments_blp = Blueprint("admin_shipments", __name__, url_prefix="/api/admin/shipments",
                          description="Shipments between warehouse, dealers and stores; receipts and discrepancies.")
endpoints_blp = Blueprint("admin_webhook_endpoints", __name__, url_prefix="/api/admin/webhook-endpoints",
                          description="Where outbound events are pushed, signed with each endpoint's secret.")
deliveries_blp = Blueprint("admin_webhook_deliveries", __name__, url_prefix="/api/admin/webhook-deliveries",
                           description="Webhook deliveries: pending, delivered, failed; redeliver one.")
BLUEPRINTS = (orders_blp, shipments_blp, endpoints_blp, deliveries_blp)
for _blueprint in BLUEPRINTS:
    _blueprint.before_request(authenticate_back_office)

WRITERS = WRITERS_OF_MASTER_DATA


def _fields(obj, schema, **extra) -> dict:
    """The object's values of the schema's fields, plus extras (the response schema dumps them once)."""
    return {**{name: getattr(obj, name) for name, field in schema._declared_fields.items()
               if field.attribute is None}, **extra}


def _enum(enum, **kwargs):
    return ma.fields.Enum(enum, by_value=True, **kwargs)


# --- orders ------------------------------------------------------------------------------------

class OrderQuerySchema(ma.Schema):
    status = _enum(OrderStatus)
    order_no = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    seller_kind = _enum(PartyKind)
    seller_id = Int()
    buyer_kind = _enum(PartyKind)
    buyer_id = Int()


class OrderSummarySchema(ma.Schema):
    id = Int()
    order_no = ma.fields.String()
    version = Int()
    status = _enum(OrderStatus)
    seller_kind = _enum(PartyKind)
    seller_id = Int()
    buyer_kind = _enum(PartyKind)
    buyer_id = Int()
    note = ma.fields.String()
    ordered_at = ma.fields.DateTime(allow_none=True)
    cancelled_at = ma.fields.DateTime(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class OrderLineBrandSchema(OrderLineProgressSchema):
    id = Int()
    product_id = Int()
    lot_id = Int(allow_none=True)


class OrderDetailSchema(OrderSummarySchema):
    lines = ma.fields.List(ma.fields.Nested(OrderLineBrandSchema))
    totals = ma.fields.Nested(OrderTotalsSchema)


@orders_blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@orders_blp.arguments(OrderQuerySchema, location="query")
@orders_blp.response(200, OrderSummarySchema(many=True))
@orders_blp.paginate(SelectPage)
def list_orders(query):
    """List orders, newest first (filter by status, number, seller, buyer)"""
    return orders.list_orders(**query, scope=current_scope())


@orders_blp.route("/<int:order_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@orders_blp.response(200, OrderDetailSchema)
def get_order(order_id):
    """An order with its progress per line and totals"""
    order = orders.get_order(order_id=order_id, scope=current_scope())
    progress = orders.order_progress(order)
    return _fields(order, OrderSummarySchema, lines=progress["lines"], totals=progress["totals"])


# --- shipments ---------------------------------------------------------------------------------

class ShipmentQuerySchema(ma.Schema):
    status = _enum(ShipmentStatus)
    order_id = Int()
    shipper_kind = _enum(PartyKind)
    shipper_id = Int()
    receiver_kind = _enum(PartyKind)
    receiver_id = Int()


class ShipmentSummarySchema(ma.Schema):
    id = Int()
    order_id = Int(allow_none=True)
    order_no = ma.fields.String(attribute="order.order_no", allow_none=True)
    shipper_kind = _enum(PartyKind)
    shipper_id = Int()
    receiver_kind = _enum(PartyKind)
    receiver_id = Int()
    status = _enum(ShipmentStatus)
    items = Int(metadata={"description": "Items held (open) or shipped"})
    created_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    shipped_at = ma.fields.DateTime(allow_none=True)
    shipped_by = ma.fields.String(allow_none=True)
    received_at = ma.fields.DateTime(allow_none=True)
    cancelled_at = ma.fields.DateTime(allow_none=True)


class ReceiptSchema(ma.Schema):
    id = Int()
    mode = _enum(ReceiptMode)
    expected = Int()
    received = Int()
    missing = Int()
    extra = Int()
    damaged = Int()
    confirmed_by = ma.fields.String()
    confirmed_at = ma.fields.DateTime()


class ShipmentDetailSchema(ShipmentSummarySchema):
    receipt = ma.fields.Nested(ReceiptSchema, allow_none=True, metadata={
        "description": "The receiver's confirmation (null until received); details at /discrepancies"})


class DiscrepancyQuerySchema(ma.Schema):
    kind = _enum(DiscrepancyKind)


class DiscrepancySchema(ma.Schema):
    id = Int()
    receipt_id = Int()
    kind = _enum(DiscrepancyKind)
    serial = Int(allow_none=True)
    code = ma.fields.String(allow_none=True)
    note = ma.fields.String()
    created_at = ma.fields.DateTime()


@shipments_blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@shipments_blp.arguments(ShipmentQuerySchema, location="query")
@shipments_blp.response(200, ShipmentSummarySchema(many=True))
@shipments_blp.paginate(SelectPage)
def list_shipments(query):
    """List shipments, newest first (filter by status, order, shipper, receiver)"""
    return brand_shipments.list_shipments(**query, scope=current_scope())


@shipments_blp.route("/<int:shipment_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@shipments_blp.response(200, ShipmentDetailSchema)
def get_shipment(shipment_id):
    """A shipment with its receipt's counts (expected, received, missing, extra, damaged)"""
    shipment = brand_shipments.get_shipment(shipment_id, scope=current_scope())
    return _fields(shipment, ShipmentSummarySchema, order=shipment.order,
                   receipt=brand_shipments.shipment_receipt(shipment_id))


@shipments_blp.route("/<int:shipment_id>/discrepancies", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@shipments_blp.arguments(DiscrepancyQuerySchema, location="query")
@shipments_blp.response(200, DiscrepancySchema(many=True))
@shipments_blp.paginate(SelectPage)
def list_discrepancies(query, shipment_id):
    """What the shipment's receipt found wrong: missing, extra and damaged units"""
    return brand_shipments.shipment_discrepancies(shipment_id=shipment_id, **query, scope=current_scope())


# --- webhook endpoints -------------------------------------------------------------------------

EVENT_TYPE = ma.fields.String(validate=ma.validate.OneOf(webhooks.EVENT_TYPES))


class EndpointCreateSchema(ma.Schema):
    url = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))
    event_types = ma.fields.List(EVENT_TYPE, load_default=list, validate=ma.validate.Length(max=10), metadata={
        "description": "The types pushed to it; empty: every type"})


class EndpointUpdateSchema(ma.Schema):
    url = ma.fields.String(validate=ma.validate.Length(min=1, max=500))
    event_types = ma.fields.List(EVENT_TYPE, validate=ma.validate.Length(max=10))
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in Status]), metadata={
        "description": "inactive: no new deliveries; due ones wait until it is active again"})


class EndpointQuerySchema(ma.Schema):
    status = _enum(Status)


class EndpointReadSchema(ma.Schema):
    id = Int()
    url = ma.fields.String()
    event_types = ma.fields.List(ma.fields.String())
    status = _enum(Status)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class EndpointWithSecretSchema(EndpointReadSchema):
    secret = ma.fields.String(metadata={
        "description": "The HMAC key of X-Matong-Signature: shown here only (on create and rotation)"})


@endpoints_blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("the ERP's webhooks serve the whole brand")
@endpoints_blp.arguments(EndpointQuerySchema, location="query")
@endpoints_blp.response(200, EndpointReadSchema(many=True))
@endpoints_blp.paginate(SelectPage)
def list_endpoints(query):
    """List webhook endpoints"""
    return webhooks.list_endpoints(**query)


@endpoints_blp.route("", methods=["POST"])
@roles(*WRITERS)
@national_only("the ERP's webhooks serve the whole brand")
@endpoints_blp.arguments(EndpointCreateSchema)
@endpoints_blp.response(201, EndpointWithSecretSchema)
def create_endpoint(body):
    """Add a webhook endpoint; the answer holds its signing secret, shown once"""
    with transaction():
        return webhooks.create_endpoint(actor=current_actor(), **body)


@endpoints_blp.route("/<int:endpoint_id>", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("the ERP's webhooks serve the whole brand")
@endpoints_blp.response(200, EndpointReadSchema)
def get_endpoint(endpoint_id):
    """A webhook endpoint (without its secret)"""
    return webhooks.get_endpoint(endpoint_id)


@endpoints_blp.route("/<int:endpoint_id>", methods=["PATCH"])
@roles(*WRITERS)
@national_only("the ERP's webhooks serve the whole brand")
@endpoints_blp.arguments(EndpointUpdateSchema)
@endpoints_blp.response(200, EndpointReadSchema)
def update_endpoint(body, endpoint_id):
    """Change a webhook endpoint's URL, event types or status"""
    with transaction():
        return webhooks.update_endpoint(actor=current_actor(), endpoint_id=endpoint_id, changes=body)


@endpoints_blp.route("/<int:endpoint_id>", methods=["DELETE"])
@roles(*WRITERS)
@national_only("the ERP's webhooks serve the whole brand")
@endpoints_blp.response(200, EndpointReadSchema)
def deactivate_endpoint(endpoint_id):
    """Deactivate a webhook endpoint (its deliveries are kept for the record)"""
    with transaction():
        return webhooks.update_endpoint(actor=current_actor(), endpoint_id=endpoint_id,
                                        changes={"status": Status.INACTIVE.value})


@endpoints_blp.route("/<int:endpoint_id>/rotate-secret", methods=["POST"])
@roles(*WRITERS)
@national_only("the ERP's webhooks serve the whole brand")
@endpoints_blp.response(200, EndpointWithSecretSchema)
def rotate_secret(endpoint_id):
    """Give a webhook endpoint a new secret (shown once; the old one stops signing at once)"""
    with transaction():
        return webhooks.rotate_secret(actor=current_actor(), endpoint_id=endpoint_id)


# --- webhook deliveries ------------------------------------------------------------------------

class DeliveryQuerySchema(ma.Schema):
    status = _enum(DeliveryStatus)
    endpoint_id = Int()


class DeliveryReadSchema(ma.Schema):
    id = Int()
    endpoint_id = Int()
    event_id = Int(metadata={"description": "The outbound event's cursor id"})
    status = _enum(DeliveryStatus)
    attempts = Int()
    next_attempt_at = ma.fields.DateTime()
    last_error = ma.fields.String(allow_none=True)
    delivered_at = ma.fields.DateTime(allow_none=True)


@deliveries_blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("the ERP's webhooks serve the whole brand")
@deliveries_blp.arguments(DeliveryQuerySchema, location="query")
@deliveries_blp.response(200, DeliveryReadSchema(many=True))
@deliveries_blp.paginate(SelectPage)
def list_deliveries(query):
    """List webhook deliveries, newest first (filter by status, endpoint)"""
    return webhooks.list_deliveries(**query)


@deliveries_blp.route("/<int:delivery_id>/redeliver", methods=["POST"])
@roles(*WRITERS)
@national_only("the ERP's webhooks serve the whole brand")
@deliveries_blp.response(200, DeliveryReadSchema)
def redeliver(delivery_id):
    """Send a delivery again at once, with a fresh retry schedule"""
    with transaction():
        return webhooks.redeliver(actor=current_actor(), delivery_id=delivery_id)
