"""The consumer mini-program: scan a printed code, get the verdict and the unit's story; my scans."""
from __future__ import annotations

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint

from app.accounts.models import AppName
from app.consumers import service
from app.consumers.models import Verdict
from app.db import transaction
from app.http import SelectPage
from app.schemas import Int
from miniprogram_api.security import audience, authenticate, current_app_user

CONSUMER = AppName.CONSUMER

blp = Blueprint("mp_consumer_scans", __name__, url_prefix="/api/consumer/scans",
                description="The consumer mini-program: verify a printed code (verdict, product, lot, the "
                            "trace story, campaigns) and list my scans.")
blp.before_request(authenticate(CONSUMER))


class ConsumerScanRequestSchema(ma.Schema):
    url = ma.fields.String(validate=ma.validate.Length(min=1, max=500), metadata={
        "description": "The scanned URL (the mini-program's q parameter, decoded)"})
    code = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={"description": "A bare code"})
    hidden_code = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=16), metadata={
        "description": "The scratch-off hidden code, when the label has one"})
    latitude = ma.fields.Float(allow_none=True, allow_nan=False, validate=ma.validate.Range(-90, 90))
    longitude = ma.fields.Float(allow_none=True, allow_nan=False, validate=ma.validate.Range(-180, 180))

    @ma.validates_schema
    def one_of(self, data, **kwargs):
        if bool(data.get("url")) == bool(data.get("code")):
            raise ma.ValidationError("Send url or code (one of them).", "url")


class ConsumerScanProductSchema(ma.Schema):
    id = Int()
    name = ma.fields.String()
    specification = ma.fields.String()
    image_url = ma.fields.String(allow_none=True)
    gtin = ma.fields.String(allow_none=True)


class ConsumerScanLotSchema(ma.Schema):
    lot_no = ma.fields.String()
    production_date = ma.fields.Date()
    expiry_date = ma.fields.Date(allow_none=True)


class ConsumerScanMadeSchema(ma.Schema):
    city = ma.fields.String(allow_none=True, metadata={"description": "The city of the factory that made it"})
    date = ma.fields.Date(metadata={"description": "The production date"})


class ConsumerScanStoreSchema(ma.Schema):
    name = ma.fields.String()
    city = ma.fields.String(allow_none=True)
    sold = ma.fields.Boolean(metadata={"description": "Sold by this store (else on its shelf)"})


class ConsumerScanStorySchema(ma.Schema):
    made = ma.fields.Nested(ConsumerScanMadeSchema, allow_none=True, metadata={
        "description": "Where and when it was made"})
    dealer_regions = ma.fields.List(ma.fields.String(), metadata={
        "description": "The regions of the territory of the dealer the unit was shipped to"})
    store = ma.fields.Nested(ConsumerScanStoreSchema, allow_none=True, metadata={
        "description": "The store it is at or was sold by"})


class ConsumerScanCountSchema(ma.Schema):
    count = Int(metadata={"description": "Consumer scans of this unit, this one included"})
    first_at = ma.fields.DateTime(allow_none=True)
    first_city = ma.fields.String(allow_none=True)


class ConsumerHiddenCodeSchema(ma.Schema):
    required = ma.fields.Boolean()
    ok = ma.fields.Boolean(allow_none=True, metadata={"description": "None: not given (or not checked)"})
    locked = ma.fields.Boolean(metadata={"description": "Too many wrong hidden codes for this code"})


class ConsumerScanPrizeSchema(ma.Schema):
    kind = ma.fields.String(metadata={"description": "cash, points, coupon or gift"})
    name = ma.fields.String()
    amount = Int(metadata={"description": "Fen for cash, points for points"})


class ConsumerScanCampaignSchema(ma.Schema):
    id = Int()
    name = ma.fields.String()
    ends_at = ma.fields.DateTime()
    hidden_code_required = ma.fields.Boolean()
    prizes = ma.fields.List(ma.fields.Nested(ConsumerScanPrizeSchema))


class ConsumerScanResultSchema(ma.Schema):
    scan_id = Int()
    verdict = ma.fields.Enum(Verdict, by_value=True)
    message = ma.fields.String()
    product = ma.fields.Nested(ConsumerScanProductSchema, allow_none=True)
    lot = ma.fields.Nested(ConsumerScanLotSchema, allow_none=True)
    story = ma.fields.Nested(ConsumerScanStorySchema, allow_none=True)
    scans = ma.fields.Nested(ConsumerScanCountSchema)
    hidden_code = ma.fields.Nested(ConsumerHiddenCodeSchema)
    campaigns = ma.fields.List(ma.fields.Nested(ConsumerScanCampaignSchema), metadata={
        "description": "The campaigns this scan can enter: POST /api/consumer/scans/{scan_id}/claim"})


class MyConsumerScanSchema(ma.Schema):
    id = Int()
    code = ma.fields.String()
    verdict = ma.fields.Enum(Verdict, by_value=True)
    scan_number = Int()
    hidden_code_ok = ma.fields.Boolean(allow_none=True)
    product_id = Int(allow_none=True)
    region_code = ma.fields.String(allow_none=True)
    scanned_at = ma.fields.DateTime()


@blp.route("", methods=["POST"])
@audience(CONSUMER)
@blp.arguments(ConsumerScanRequestSchema)
@blp.response(201, ConsumerScanResultSchema)
def scan(body):
    """Verify a scanned code: the verdict, product and lot, the story (429 rate_limited when too fast)"""
    with transaction():
        return service.scan(user=current_app_user(), text=body.get("url") or body.get("code"),
                            hidden_code=body.get("hidden_code"), latitude=body.get("latitude"),
                            longitude=body.get("longitude"), ip=request.remote_addr)


@blp.route("", methods=["GET"])
@audience(CONSUMER)
@blp.response(200, MyConsumerScanSchema(many=True))
@blp.paginate(SelectPage)
def my_scans():
    """My scans, newest first"""
    return service.my_scans(user=current_app_user())
