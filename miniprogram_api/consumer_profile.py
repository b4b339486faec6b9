"""The consumer mini-program: my scans, prizes, points and payouts at a glance; my gifts' addresses.

Only the signed-in consumer's own rows: another consumer's redemption answers 404.
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.accounts.models import AppName
from app.campaigns import redemptions
from app.campaigns.models import PrizeKind, RedemptionStatus
from app.flows import consumer_profiles as profiles
from app.db import transaction
from app.http import RowPage, SelectPage
from app.payouts.models import PayoutStatus
from app.schemas import Int, RedemptionSchema
from miniprogram_api.consumer_payouts import MyPayoutSchema
from miniprogram_api.security import audience, authenticate, current_app_user

CONSUMER = AppName.CONSUMER

blp = Blueprint("mp_consumer_profile", __name__, url_prefix="/api/consumer/me",
                description="The consumer's own record: scans, prizes, points and payouts at a glance.")
blp.before_request(authenticate(CONSUMER))


class ConsumerPrizeTotalsSchema(ma.Schema):
    count = Int(metadata={"description": "Prizes won"})
    cash_fen = Int()
    points = Int()
    coupons = Int()
    gifts = Int()


class MyPayoutTotalsSchema(ma.Schema):
    count = Int()
    paid_fen = Int()
    waiting = Int(metadata={"description": "Payouts waiting for my confirmation in WeChat"})


class ConsumerSummarySchema(ma.Schema):
    scans = Int()
    prizes = ma.fields.Nested(ConsumerPrizeTotalsSchema)
    points_balance = Int()
    payouts = ma.fields.Nested(MyPayoutTotalsSchema)


class MyPrizeSchema(ma.Schema):
    draw_id = Int()
    campaign_id = Int()
    campaign_name = ma.fields.String()
    prize_id = Int(allow_none=True)
    prize_name = ma.fields.String(allow_none=True)
    prize_kind = ma.fields.Enum(PrizeKind, by_value=True, allow_none=True)
    amount = Int(metadata={"description": "Fen (cash) or points"})
    drawn_at = ma.fields.DateTime()
    redemption_id = Int(allow_none=True)
    redemption_status = ma.fields.Enum(RedemptionStatus, by_value=True, allow_none=True)
    payout_id = Int(allow_none=True)
    payout_status = ma.fields.Enum(PayoutStatus, by_value=True, allow_none=True)


class MyRedemptionQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in RedemptionStatus]))


class GiftAddressSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=50))
    phone = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=20))
    region_code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=12), metadata={
        "description": "The district's 12-digit adcode"})
    detail = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


@blp.route("/summary", methods=["GET"])
@audience(CONSUMER)
@blp.response(200, ConsumerSummarySchema)
def summary():
    """My scans, prizes won, points balance and payouts at a glance"""
    return profiles.summary(app_user=current_app_user())


@blp.route("/prizes", methods=["GET"])
@audience(CONSUMER)
@blp.response(200, MyPrizeSchema(many=True))
@blp.paginate(RowPage)
def my_prizes():
    """My prizes (won draws), newest first, with their redemption and payout"""
    return profiles.my_prizes(app_user=current_app_user())


@blp.route("/payouts", methods=["GET"])
@audience(CONSUMER)
@blp.response(200, MyPayoutSchema(many=True))
@blp.paginate(SelectPage)
def my_payouts():
    """My payouts, newest first (confirm one with GET /api/consumer/payouts/<id>)"""
    return profiles.my_payouts(app_user=current_app_user())


@blp.route("/redemptions", methods=["GET"])
@audience(CONSUMER)
@blp.arguments(MyRedemptionQuerySchema, location="query")
@blp.response(200, RedemptionSchema(many=True))
@blp.paginate(SelectPage)
def my_redemptions(query):
    """My coupons and gifts, newest first"""
    return redemptions.my_redemptions(app_user=current_app_user(), **query)


@blp.route("/redemptions/<int:redemption_id>", methods=["GET"])
@audience(CONSUMER)
@blp.response(200, RedemptionSchema)
def my_redemption(redemption_id):
    """One of my coupons or gifts"""
    return redemptions.get_user_redemption(app_user=current_app_user(), redemption_id=redemption_id)


@blp.route("/redemptions/<int:redemption_id>/address", methods=["PUT"])
@audience(CONSUMER)
@blp.arguments(GiftAddressSchema)
@blp.response(200, RedemptionSchema)
def set_address(body, redemption_id):
    """Give or change my gift's shipping address (until it is shipped): awaiting_address | to_ship → to_ship"""
    with transaction():
        return redemptions.set_address(app_user=current_app_user(), redemption_id=redemption_id, address=body)
