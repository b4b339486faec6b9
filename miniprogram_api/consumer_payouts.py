"""A payout as the mini-program sees it: what wx.requestMerchantTransfer needs to let the user confirm it.

Consumers read their prizes' payouts, clerks their withdrawals' payouts; anyone else's answers 404.
Consumers list theirs under /api/consumer/me/payouts, clerks under /api/clerk/payouts (the same rows).
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.accounts.models import AppName
from app.payouts import service
from app.payouts.models import PayoutChannel, PayoutPurpose, PayoutStatus
from app.http import SelectPage
from app.schemas import Int
from miniprogram_api.security import audience, authenticate, current_app_user

consumer_blp = Blueprint("mp_consumer_payouts", __name__, url_prefix="/api/consumer/payouts",
                         description="The consumer's payouts (cash prizes) and how to confirm them.")
consumer_blp.before_request(authenticate(AppName.CONSUMER))
clerk_blp = Blueprint("mp_clerk_payouts", __name__, url_prefix="/api/clerk/payouts",
                      description="The clerk's payouts (withdrawals) and how to confirm them.")
clerk_blp.before_request(authenticate(AppName.CLERK))
BLUEPRINTS = (consumer_blp, clerk_blp)


class PayoutConfirmSchema(ma.Schema):
    id = Int()
    status = ma.fields.Enum(PayoutStatus, by_value=True)
    amount_fen = Int()
    channel = ma.fields.Enum(PayoutChannel, by_value=True)
    mch_id = ma.fields.String(data_key="mchId")
    app_id = ma.fields.String(data_key="appId")
    package = ma.fields.String(allow_none=True, metadata={
        "description": "package_info for wx.requestMerchantTransfer while the bill waits for the user"})
    created_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)


class MyPayoutSchema(ma.Schema):
    id = Int()
    purpose = ma.fields.Enum(PayoutPurpose, by_value=True)
    amount_fen = Int()
    channel = ma.fields.Enum(PayoutChannel, by_value=True)
    status = ma.fields.Enum(PayoutStatus, by_value=True, attribute="user_status")
    created_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)


@consumer_blp.route("/<int:payout_id>", methods=["GET"])
@audience(AppName.CONSUMER)
@consumer_blp.response(200, PayoutConfirmSchema)
def consumer_payout(payout_id):
    """My payout and what wx.requestMerchantTransfer needs (mchId, appId, package)"""
    return service.confirm_request(service.get_user_payout(app_user=current_app_user(), payout_id=payout_id))


@clerk_blp.route("/<int:payout_id>", methods=["GET"])
@audience(AppName.CLERK)
@clerk_blp.response(200, PayoutConfirmSchema)
def clerk_payout(payout_id):
    """My withdrawal's payout and what wx.requestMerchantTransfer needs (mchId, appId, package)"""
    return service.confirm_request(service.get_user_payout(app_user=current_app_user(), payout_id=payout_id))


@clerk_blp.route("", methods=["GET"])
@audience(AppName.CLERK)
@clerk_blp.response(200, MyPayoutSchema(many=True))
@clerk_blp.paginate(SelectPage)
def clerk_payouts():
    """My payouts (my withdrawals'), newest first (confirm one with GET /api/clerk/payouts/<id>)"""
    return service.list_payouts(app_user_id=current_app_user().id)
