"""The consumer mini-program: my points and their ledger, the points mall and my mall orders.

Another consumer's order answers 404, like a missing one.
"""
from __future__ import annotations

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint

from app.accounts.models import AppName
from app.db import transaction
from app.errors import ValidationFailed
from app.http import SelectPage
from app.idempotency import HEADER
from app.points import ledger, mall
from app.points.models import MallItemKind, MallOrderStatus, PointsKind
from app.schemas import ClientId, Int, MallOrderSchema
from miniprogram_api.security import audience, authenticate, current_app_user

CONSUMER = AppName.CONSUMER

blp = Blueprint("mp_consumer_points", __name__, url_prefix="/api/consumer/points", description="The consumer's points and the points mall.")
blp.before_request(authenticate(CONSUMER))
BLUEPRINTS = (blp,)

MAX_QUANTITY = 99


class ConsumerPointsSchema(ma.Schema):
    balance = Int()
    expiring_points = Int(metadata={"description": "Of the balance, what expires within 30 days"})
    expiring_first_at = ma.fields.DateTime(allow_none=True, metadata={"description": "The earliest of those expiries"})


class ConsumerPointsEntrySchema(ma.Schema):
    id = Int()
    kind = ma.fields.Enum(PointsKind, by_value=True)
    points = Int(metadata={"description": "+ earned or refunded, - spent or expired"})
    balance_after = Int()
    expires_at = ma.fields.DateTime(allow_none=True, metadata={"description": "Of an earning"})
    remaining = Int(metadata={"description": "Of an earning: not yet spent or expired"})
    note = ma.fields.String()
    created_at = ma.fields.DateTime()


class ConsumerPointsLedgerQuerySchema(ma.Schema):
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in PointsKind]))


class ConsumerMallItemSchema(ma.Schema):
    id = Int()
    name = ma.fields.String()
    description = ma.fields.String()
    image_url = ma.fields.String(allow_none=True)
    kind = ma.fields.Enum(MallItemKind, by_value=True)
    points_price = Int()
    left = ma.fields.Function(lambda item: item.stock - item.sold, metadata={"description": "Still in stock"})


class ConsumerMallItemQuerySchema(ma.Schema):
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in MallItemKind]))


class MallAddressSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(max=50))
    phone = ma.fields.String(validate=ma.validate.Length(max=20))
    region_code = ma.fields.String(validate=ma.validate.Length(max=12),
                                   metadata={"description": "A district (or city) adcode, 12 digits"})
    detail = ma.fields.String(validate=ma.validate.Length(max=200))


class ConsumerMallOrderCreateSchema(ma.Schema):
    item_id = Int(required=True, validate=ma.validate.Range(min=1))
    quantity = Int(load_default=1, validate=ma.validate.Range(min=1, max=MAX_QUANTITY))
    request_id = ClientId(metadata={
        "description": "Made once per intended order and reused on retries (or send an Idempotency-Key)"})
    address = ma.fields.Nested(MallAddressSchema, allow_none=True,
                               metadata={"description": "Required for a physical item"})


class ConsumerMallOrderItemSchema(ma.Schema):
    id = Int()
    name = ma.fields.String()
    image_url = ma.fields.String(allow_none=True)
    kind = ma.fields.Enum(MallItemKind, by_value=True)


class ConsumerMallOrderSchema(MallOrderSchema):
    item = ma.fields.Nested(ConsumerMallOrderItemSchema, metadata={"description": "{id, name, image_url, kind}"})


class ConsumerMallOrderQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in MallOrderStatus]))


@blp.route("", methods=["GET"])
@audience(CONSUMER)
@blp.response(200, ConsumerPointsSchema)
def my_points():
    """My points balance and what of it expires within 30 days"""
    user = current_app_user()
    soon = ledger.expiring(user.id)
    return {"balance": ledger.balance_of(user.id), "expiring_points": soon["points"],
            "expiring_first_at": soon["first_at"]}


@blp.route("/ledger", methods=["GET"])
@audience(CONSUMER)
@blp.arguments(ConsumerPointsLedgerQuerySchema, location="query")
@blp.response(200, ConsumerPointsEntrySchema(many=True))
@blp.paginate(SelectPage)
def my_ledger(query):
    """My points movements, newest first"""
    return ledger.list_ledger(app_user_id=current_app_user().id, **query)


@blp.route("/mall/items", methods=["GET"])
@audience(CONSUMER)
@blp.arguments(ConsumerMallItemQuerySchema, location="query")
@blp.response(200, ConsumerMallItemSchema(many=True))
@blp.paginate(SelectPage)
def mall_items(query):
    """What the mall has in stock, cheapest first"""
    return mall.available_items(**query)


@blp.route("/mall/orders", methods=["POST"])
@audience(CONSUMER)
@blp.arguments(ConsumerMallOrderCreateSchema)
@blp.response(201, ConsumerMallOrderSchema)
def redeem(body):
    """Redeem points for an item (idempotent by request_id, or by the Idempotency-Key header)"""
    request_id = body.pop("request_id", None) or request.headers.get(HEADER)
    if not request_id:
        raise ValidationFailed(errors={"request_id": [f"Send a request_id or an {HEADER} header."]})
    if len(request_id) > 64:
        raise ValidationFailed(errors={"request_id": ["At most 64 characters."]})
    with transaction():
        return mall.redeem(app_user=current_app_user(), request_id=request_id, **body)


@blp.route("/mall/orders", methods=["GET"])
@audience(CONSUMER)
@blp.arguments(ConsumerMallOrderQuerySchema, location="query")
@blp.response(200, ConsumerMallOrderSchema(many=True))
@blp.paginate(SelectPage)
def my_orders(query):
    """My mall orders, newest first"""
    return mall.list_my_orders(app_user_id=current_app_user().id, **query)


@blp.route("/mall/orders/<int:order_id>", methods=["GET"])
@audience(CONSUMER)
@blp.response(200, ConsumerMallOrderSchema)
def my_order(order_id):
    """One of my mall orders (another's answers 404)"""
    return mall.get_my_order(app_user=current_app_user(), order_id=order_id)
