"""Consumers' points and the points mall: items, orders, adjustments.

Every back-office role reads. Admins and marketers write items and adjust points; admins,
marketers and ops handle orders (ship, deliver, cancel).
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.admin_api.approvals import ApprovalRequestSchema, accepted_or
from app.approvals import flows
from app.db import transaction
from app.http import (
    ALL_ROLES,
    SelectPage,
    authenticate_back_office,
    current_actor,
    national_only,
    not_regional,
    roles,
)
from app.identity.models import Role
from app.points import ledger, mall
from app.points.models import MallItemKind, MallOrderStatus, PointsKind
from app.identity.personal_data import PHONE
from app.schemas import Int, MallOrderSchema, MaskedWithin, UtcTime

blp = Blueprint("admin_points", __name__, url_prefix="/api/admin/points", description="Consumers' points and the points mall: items, orders, adjustments.")
blp.before_request(authenticate_back_office)
BLUEPRINTS = (blp,)

WRITERS = (Role.ADMIN, Role.MARKETER)
ORDER_HANDLERS = (Role.ADMIN, Role.MARKETER, Role.OPS)
MAX_POINTS = 10**12
MAX_STOCK = 2**31 - 1


class AdminPointsBalanceSchema(ma.Schema):
    app_user_id = Int()
    balance = Int()
    expiring_points = Int(metadata={"description": "Of the balance, what expires within 30 days"})
    expiring_first_at = ma.fields.DateTime(allow_none=True)


class AdminPointsEntrySchema(ma.Schema):
    id = Int()
    app_user_id = Int()
    kind = ma.fields.Enum(PointsKind, by_value=True)
    points = Int()
    source = ma.fields.String()
    remaining = Int()
    expires_at = ma.fields.DateTime(allow_none=True)
    balance_after = Int()
    note = ma.fields.String()
    created_at = ma.fields.DateTime()


class AdminPointsLedgerQuerySchema(ma.Schema):
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in PointsKind]))


class AdminPointsAdjustSchema(ma.Schema):
    points = Int(required=True, validate=ma.validate.Range(min=-MAX_POINTS, max=MAX_POINTS),
                 metadata={"description": "Signed: + gives, - takes (never below zero); not 0"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=150))
    key = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=56), metadata={
        "description": "Made once per intended adjustment: the same key is the same adjustment"})


class AdminMallItemUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(validate=ma.validate.Length(max=2000))
    image_url = ma.fields.Url(allow_none=True, validate=ma.validate.Length(max=500))
    points_price = Int(validate=ma.validate.Range(min=1, max=MAX_POINTS))
    stock = Int(validate=ma.validate.Range(min=0, max=MAX_STOCK),
                metadata={"description": "How many can ever be sold (never below what was sold)"})
    active = ma.fields.Boolean()


class AdminMallItemCreateSchema(AdminMallItemUpdateSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf([k.value for k in MallItemKind]))
    points_price = Int(required=True, validate=ma.validate.Range(min=1, max=MAX_POINTS))
    stock = Int(required=True, validate=ma.validate.Range(min=0, max=MAX_STOCK))


class AdminMallItemSchema(ma.Schema):
    id = Int()
    name = ma.fields.String()
    description = ma.fields.String()
    image_url = ma.fields.String(allow_none=True)
    kind = ma.fields.Enum(MallItemKind, by_value=True)
    points_price = Int()
    stock = Int()
    sold = Int()
    active = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class AdminMallItemQuerySchema(ma.Schema):
    active = ma.fields.Boolean()
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in MallItemKind]))
    q = ma.fields.String(validate=ma.validate.Length(max=200), metadata={"description": "Part of the name"})


class AdminMallOrderSchema(MallOrderSchema):
    address = MaskedWithin({"phone": PHONE}, allow_none=True)
    app_user_id = Int()


class AdminMallOrderQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in MallOrderStatus]))
    app_user_id = Int(validate=ma.validate.Range(min=1))
    item_id = Int(validate=ma.validate.Range(min=1))
    since = UtcTime()
    until = UtcTime()


class AdminMallShipSchema(ma.Schema):
    tracking_no = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))


class AdminMallCancelSchema(ma.Schema):
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


# --- consumers' points ---------------------------------------------------------------------------

@blp.route("/consumers/<int:app_user_id>", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a consumer's points and mall orders are not split by region")
@blp.response(200, AdminPointsBalanceSchema)
def consumer_balance(app_user_id):
    """A consumer's points balance and what of it expires within 30 days"""
    soon = ledger.expiring(app_user_id)
    return {"app_user_id": app_user_id, "balance": ledger.balance_of(app_user_id),
            "expiring_points": soon["points"], "expiring_first_at": soon["first_at"]}


@blp.route("/consumers/<int:app_user_id>/ledger", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a consumer's points and mall orders are not split by region")
@blp.arguments(AdminPointsLedgerQuerySchema, location="query")
@blp.response(200, AdminPointsEntrySchema(many=True))
@blp.paginate(SelectPage)
def consumer_ledger(query, app_user_id):
    """A consumer's points movements, newest first"""
    return ledger.list_ledger(app_user_id=app_user_id, **query)


@blp.route("/consumers/<int:app_user_id>/adjustments", methods=["POST"])
@roles(*WRITERS)
@national_only("a consumer's points and mall orders are not split by region")
@blp.arguments(AdminPointsAdjustSchema)
@blp.response(201, AdminPointsEntrySchema)
@blp.alt_response(202, schema=ApprovalRequestSchema, description="More points than DUAL_CONTROL_POINTS_ADJUST: "
                  "a second person approves the request")
def adjust(body, app_user_id):
    """Give or take a consumer's points (audited, once per key; never below zero; many: 202, a second person approves)"""
    with transaction():
        made = flows.adjust_points(actor=current_actor(), app_user_id=app_user_id, **body)
    return accepted_or(made)


# --- the mall: items -----------------------------------------------------------------------------

@blp.route("/mall/items", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("the points mall's catalogue is the brand's")
@blp.arguments(AdminMallItemQuerySchema, location="query")
@blp.response(200, AdminMallItemSchema(many=True))
@blp.paginate(SelectPage)
def list_items(query):
    """Mall items, newest first"""
    return mall.list_items(**query)


@blp.route("/mall/items", methods=["POST"])
@roles(*WRITERS)
@national_only("a consumer's points and mall orders are not split by region")
@blp.arguments(AdminMallItemCreateSchema)
@blp.response(201, AdminMallItemSchema)
def create_item(body):
    """Add a mall item (active)"""
    with transaction():
        return mall.create_item(actor=current_actor(), data=body)


@blp.route("/mall/items/<int:item_id>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("the points mall's catalogue is the brand's")
@blp.response(200, AdminMallItemSchema)
def get_item(item_id):
    """A mall item"""
    return mall.get_item(item_id)


@blp.route("/mall/items/<int:item_id>", methods=["PATCH"])
@roles(*WRITERS)
@national_only("a consumer's points and mall orders are not split by region")
@blp.arguments(AdminMallItemUpdateSchema)
@blp.response(200, AdminMallItemSchema)
def update_item(body, item_id):
    """Change a mall item (audited); active=false takes it off the shelf"""
    with transaction():
        return mall.update_item(actor=current_actor(), item_id=item_id, changes=body)


# --- the mall: orders ----------------------------------------------------------------------------

@blp.route("/mall/orders", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a consumer's points and mall orders are not split by region")
@blp.arguments(AdminMallOrderQuerySchema, location="query")
@blp.response(200, AdminMallOrderSchema(many=True))
@blp.paginate(SelectPage)
def list_orders(query):
    """Mall orders, newest first"""
    return mall.list_orders(**query)


@blp.route("/mall/orders/<int:order_id>", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("a consumer's points and mall orders are not split by region")
@blp.response(200, AdminMallOrderSchema)
def get_order(order_id):
    """A mall order"""
    return mall.get_order(order_id)


@blp.route("/mall/orders/<int:order_id>/ship", methods=["POST"])
@roles(*ORDER_HANDLERS)
@national_only("a consumer's points and mall orders are not split by region")
@blp.arguments(AdminMallShipSchema)
@blp.response(200, AdminMallOrderSchema)
def ship_order(body, order_id):
    """Ship a placed physical order with its tracking number"""
    with transaction():
        return mall.ship(actor=current_actor(), order_id=order_id, **body)


@blp.route("/mall/orders/<int:order_id>/deliver", methods=["POST"])
@roles(*ORDER_HANDLERS)
@national_only("a consumer's points and mall orders are not split by region")
@blp.response(200, AdminMallOrderSchema)
def deliver_order(order_id):
    """Mark a shipped order delivered"""
    with transaction():
        return mall.deliver(actor=current_actor(), order_id=order_id)


@blp.route("/mall/orders/<int:order_id>/cancel", methods=["POST"])
@roles(*ORDER_HANDLERS)
@national_only("a consumer's points and mall orders are not split by region")
@blp.arguments(AdminMallCancelSchema)
@blp.response(200, AdminMallOrderSchema)
def cancel_order(body, order_id):
    """Cancel an order: its points and its stock go back, once"""
    with transaction():
        return mall.cancel(actor=current_actor(), order_id=order_id, **body)
