"""The consumer mini-program: claim a scan's draw, my draws and what they won."""
from __future__ import annotations

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint

from app.accounts.models import AppName
from app.campaigns import claims
from app.campaigns.models import DrawOutcome, PrizeKind
from app.db import transaction
from app.http import SelectPage
from app.inputs import SMALL_BODY_BYTES, body_limit
from app.schemas import Int
from miniprogram_api.security import audience, authenticate, current_app_user

CONSUMER = AppName.CONSUMER

blp = Blueprint("mp_consumer_claims", __name__, url_prefix="/api/consumer",
                description="The consumer's draws: claim a scan's draw (one per unit, ever) and see what it won.")
blp.before_request(authenticate(CONSUMER))


class ClaimRequestSchema(ma.Schema):
    campaign_id = Int(allow_none=True, metadata={
        "description": "The campaign to enter (one of the scan's `campaigns`); none: the first open to the scan"})


class DrawPrizeSchema(ma.Schema):
    kind = ma.fields.Enum(PrizeKind, by_value=True)
    name = ma.fields.String()
    amount = Int(metadata={"description": "Fen for cash, points for points"})


class DrawReadSchema(ma.Schema):
    draw_id = Int()
    campaign_id = Int()
    outcome = ma.fields.Enum(DrawOutcome, by_value=True)
    prize = ma.fields.Nested(DrawPrizeSchema, allow_none=True, metadata={"description": "What was won, if anything"})
    points = Int(allow_none=True, metadata={"description": "Points added to my balance"})
    payout_id = Int(allow_none=True, metadata={
        "description": "A cash prize's payout: GET /api/consumer/payouts/{id} to confirm it"})
    payout_held = ma.fields.Boolean(metadata={"description": "The payout waits for a review before it is paid"})
    redemption_id = Int(allow_none=True, metadata={"description": "A coupon's or gift's redemption"})
    random_number = Int(metadata={"description": "The draw's random number (0..999,999 parts per million)"})
    drawn_at = ma.fields.DateTime()


class MyDrawSchema(ma.Schema):
    id = Int()
    campaign_id = Int()
    outcome = ma.fields.Enum(DrawOutcome, by_value=True)
    prize_kind = ma.fields.Enum(PrizeKind, by_value=True, allow_none=True)
    amount = Int(metadata={"description": "Fen or points won (0: nothing)"})
    drawn_at = ma.fields.DateTime()


def _answer(result: claims.ClaimResult) -> dict:
    draw = result.draw
    return {"draw_id": draw.id, "campaign_id": draw.campaign_id, "outcome": draw.outcome, "prize": result.prize,
            "points": result.points, "payout_id": result.payout_id, "payout_held": bool(draw.held_reason),
            "redemption_id": result.redemption_id, "random_number": draw.random_ppm, "drawn_at": draw.drawn_at}


@blp.route("/scans/<int:scan_id>/claim", methods=["POST"])
@audience(CONSUMER)
@body_limit(SMALL_BODY_BYTES)
@blp.arguments(ClaimRequestSchema)
@blp.response(201, DrawReadSchema)
@blp.alt_response(200, schema=DrawReadSchema, description="The unit was drawn before for me: the same draw")
def claim(body, scan_id):
    """Claim my scan's draw: one draw per unit, ever (409 unit_already_drawn, claim_limit_reached, ...)"""
    claims.limit_rate(user=current_app_user(), ip=request.remote_addr)

    with transaction():
        result = claims.claim(user=current_app_user(), scan_id=scan_id, campaign_id=body.get("campaign_id"))
    return _answer(result), 200 if result.repeat else 201


@blp.route("/draws", methods=["GET"])
@audience(CONSUMER)
@blp.response(200, MyDrawSchema(many=True))
@blp.paginate(SelectPage)
def my_draws():
    """My draws, newest first"""
    return claims.my_draws(user=current_app_user())


@blp.route("/draws/<int:draw_id>", methods=["GET"])
@audience(CONSUMER)
@blp.response(200, DrawReadSchema)
def my_draw(draw_id):
    """One of my draws and what it won"""
    return _answer(claims.get_my_draw(user=current_app_user(), draw_id=draw_id))
