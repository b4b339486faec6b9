"""Draws and prize redemptions (coupons and gifts) in the back office (every role reads; admin and marketer write)."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.admin_api.consumer_profiles import UtcTime as _time
from app.campaigns import redemptions
from app.campaigns.models import DrawOutcome, PrizeKind, RedemptionStatus
from app.db import transaction
from app.http import ALL_ROLES, SelectPage, authenticate_back_office, current_actor, current_scope, regional, roles
from app.identity.models import Role
from app.payouts.models import PayoutStatus
from app.identity.personal_data import PHONE
from app.schemas import Int, MaskedWithin, RedemptionSchema

WRITERS = (Role.ADMIN, Role.MARKETER)

blp = Blueprint("admin_claims", __name__, url_prefix="/api/admin/draws",
                description="Draws and prize redemptions (coupons and gifts) in the back office.")
blp.before_request(authenticate_back_office)
BLUEPRINTS = (blp,)


class AdminDrawQuerySchema(ma.Schema):
    campaign_id = Int()
    outcome = ma.fields.String(validate=ma.validate.OneOf([o.value for o in DrawOutcome]))
    prize_kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in PrizeKind]))
    app_user_id = Int()
    since = _time(data_key="from", metadata={"description": "Drawn at or after"})
    until = _time(data_key="to", metadata={"description": "Drawn before"})


class AdminDrawSchema(ma.Schema):
    id = Int()
    serial = Int()
    scan_id = Int()
    campaign_id = Int()
    app_user_id = Int()
    outcome = ma.fields.Enum(DrawOutcome, by_value=True)
    prize_id = Int(allow_none=True)
    prize_kind = ma.fields.Enum(PrizeKind, by_value=True, allow_none=True)
    amount = Int(metadata={"description": "Fen (cash) or points won"})
    day = ma.fields.Date(metadata={"description": "China day"})
    region_code = ma.fields.String(allow_none=True)
    held_reason = ma.fields.String(allow_none=True)
    drawn_at = ma.fields.DateTime()


class AdminDrawDetailSchema(AdminDrawSchema):
    random_ppm = Int(metadata={"description": "The random number, uniform in 0..999999"})
    odds = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "The odds in force: [{prize_id, kind, amount, probability_ppm, from, to}]"})
    campaign_name = ma.fields.String()
    redemption_id = Int(allow_none=True)
    redemption_status = ma.fields.Enum(RedemptionStatus, by_value=True, allow_none=True)
    payout_id = Int(allow_none=True)
    payout_status = ma.fields.Enum(PayoutStatus, by_value=True, allow_none=True)


class AdminRedemptionQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in RedemptionStatus]))
    kind = ma.fields.String(validate=ma.validate.OneOf([PrizeKind.COUPON.value, PrizeKind.GIFT.value]))
    campaign_id = Int()
    app_user_id = Int()
    since = _time(data_key="from", metadata={"description": "Created at or after"})
    until = _time(data_key="to", metadata={"description": "Created before"})


class AdminRedemptionSchema(RedemptionSchema):
    address = MaskedWithin({"phone": PHONE}, allow_none=True, metadata={
        "description": "{name, phone, region_code, region_name, detail}"})
    app_user_id = Int()
    prize_id = Int()


class RedemptionShipSchema(ma.Schema):
    tracking_no = ma.fields.String(required=True, validate=ma.validate.Regexp(
        r"^[A-Za-z0-9\-]{4,64}$", error="4 to 64 letters, digits or dashes."))


class RedemptionCancelSchema(ma.Schema):
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


@blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.arguments(AdminDrawQuerySchema, location="query")
@blp.response(200, AdminDrawSchema(many=True))
@blp.paginate(SelectPage)
def list_draws(query):
    """Draws, newest first, by campaign, outcome, prize kind, consumer and period"""
    return redemptions.list_draws(**query, scope=current_scope())


@blp.route("/redemptions", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.arguments(AdminRedemptionQuerySchema, location="query")
@blp.response(200, AdminRedemptionSchema(many=True))
@blp.paginate(SelectPage)
def list_redemptions(query):
    """Prize redemptions (coupons and gifts), newest first"""
    return redemptions.list_redemptions(**query, scope=current_scope())


@blp.route("/redemptions/<int:redemption_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.response(200, AdminRedemptionSchema)
def get_redemption(redemption_id):
    """A prize redemption"""
    return redemptions.get_redemption(redemption_id, scope=current_scope())


@blp.route("/redemptions/<int:redemption_id>/ship", methods=["POST"])
@roles(*WRITERS)
@regional
@blp.arguments(RedemptionShipSchema)
@blp.response(200, AdminRedemptionSchema)
def ship(body, redemption_id):
    """Ship a gift (to_ship → shipped) with its tracking number; another state: 409 redemption_not_shippable"""
    with transaction():
        return redemptions.ship(actor=current_actor(), redemption_id=redemption_id, **body)


@blp.route("/redemptions/<int:redemption_id>/redeem", methods=["POST"])
@roles(*WRITERS)
@regional
@blp.response(200, AdminRedemptionSchema)
def redeem(redemption_id):
    """A coupon used (issued → redeemed) or a gift delivered (shipped → redeemed); else 409"""
    with transaction():
        return redemptions.redeem(actor=current_actor(), redemption_id=redemption_id)


@blp.route("/redemptions/<int:redemption_id>/cancel", methods=["POST"])
@roles(*WRITERS)
@regional
@blp.arguments(RedemptionCancelSchema)
@blp.response(200, AdminRedemptionSchema)
def cancel(body, redemption_id):
    """Cancel a redemption not yet shipped or redeemed; else 409 redemption_not_cancellable"""
    with transaction():
        return redemptions.cancel(actor=current_actor(), redemption_id=redemption_id, **body)


@blp.route("/<int:draw_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.response(200, AdminDrawDetailSchema)
def get_draw(draw_id):
    """A draw with its random number, the odds in force, and its redemption and payout"""
    return redemptions.get_draw(draw_id, scope=current_scope())
