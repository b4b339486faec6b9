"""The consumer mini-program: scan a printed code, get the verdict and the unit's story; my scans."""
from __future__ import annotations

from typing import Annotated

import marshmallow as ma
import msgspec
from flask import Response, request
from flask_smorest import Blueprint

from app.accounts.models import AppName
from app.consumers import service
from app.consumers.models import Verdict
from app.db import transaction
from app.flows import consumer_scans
from app.http import SelectPage, body_documented, parse_body
from app.inputs import SMALL_BODY_BYTES, body_limit, check_json_text, decodes_own_body, read_body
from app.schemas import Int
from miniprogram_api.schemas import ProductNamedSchema
from miniprogram_api.security import audience, authenticate, current_app_user, revocation_checked_by_view, token_check

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


class ConsumerClosedCampaignSchema(ma.Schema):
    id = Int()
    name = ma.fields.String()
    reason = ma.fields.String(metadata={"description": "hidden_code_needed, location_needed, not_first_scan, "
                                                       "not_first_proof, daily_limit_reached or total_limit_reached"})
    message = ma.fields.String(metadata={"description": "What it means for the consumer, in Chinese and English"})


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
        "description": "The campaigns this consumer can claim with this scan now: POST /api/consumer/scans/{scan_id}/claim"})
    closed_campaigns = ma.fields.List(ma.fields.Nested(ConsumerClosedCampaignSchema), metadata={
        "description": "Campaigns closed to this scan for a reason the consumer can act on or should know "
                       "(enter the hidden code, share the location, the daily limit reached)"})


class ConsumerHiddenCodeRequestSchema(ma.Schema):
    hidden_code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=16), metadata={
        "description": "The scratch-off hidden code"})


class ConsumerHiddenCodeResultSchema(ma.Schema):
    scan_id = Int()
    verdict = ma.fields.Enum(Verdict, by_value=True, metadata={"description": "The scan's verdict, unchanged"})
    message = ma.fields.String()
    hidden_code = ma.fields.Nested(ConsumerHiddenCodeSchema)
    campaigns = ma.fields.List(ma.fields.Nested(ConsumerScanCampaignSchema), metadata={
        "description": "The campaigns this consumer can claim with this scan now"})
    closed_campaigns = ma.fields.List(ma.fields.Nested(ConsumerClosedCampaignSchema))


class MyConsumerScanSchema(ProductNamedSchema):
    id = Int()
    code = ma.fields.String()
    verdict = ma.fields.Enum(Verdict, by_value=True)
    scan_number = Int()
    hidden_code_ok = ma.fields.Boolean(allow_none=True)
    product_id = Int(allow_none=True)
    region_code = ma.fields.String(allow_none=True)
    scanned_at = ma.fields.DateTime()


# The scan is the product's hottest request: its body is decoded and its answer encoded by msgspec, under
# the same OpenAPI description. What the fast decoder refuses goes through the schema, which answers as
# everywhere (or accepts what it accepts: a latitude sent as a string); a test holds the encoder to the
# schema's dump.


class _ScanBody(msgspec.Struct, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | msgspec.UnsetType = msgspec.UNSET
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | msgspec.UnsetType = msgspec.UNSET
    hidden_code: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    latitude: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    longitude: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None


_decode_scan_body = msgspec.json.Decoder(_ScanBody).decode
_encode = msgspec.json.Encoder().encode


def _scan_body() -> dict:
    # As the schema's parser: a body sent as anything but JSON is no body.
    raw = read_body() if request.is_json else b""
    body = None
    if raw:
        try:
            body = _decode_scan_body(raw)
        except (msgspec.MsgspecError, UnicodeDecodeError):  # msgspec raises the latter for bytes not UTF-8
            pass
    refused = body is None or (body.url is msgspec.UNSET) == (body.code is msgspec.UNSET)
    if refused or b"\\u" in raw:  # the checks every other body has before its parser (app.inputs)
        check_json_text(raw)
    if refused:
        return parse_body(blp, ConsumerScanRequestSchema)
    return {"url": body.url or None, "code": body.code or None, "hidden_code": body.hidden_code,
            "latitude": body.latitude, "longitude": body.longitude}


def scan_answer(result: service.ScanResult) -> dict:
    """The scan's answer as ConsumerScanResultSchema dumps it (times in ISO 8601 with their offset)."""
    scans = result.scans
    if scans["first_at"] is not None:
        scans = {**scans, "first_at": scans["first_at"].isoformat()}
    return {"scan_id": result.scan_id, "verdict": result.verdict.value, "message": result.message,
            "product": result.product, "lot": result.lot, "story": result.story, "scans": scans,
            "hidden_code": result.hidden_code,
            "campaigns": [{**c, "ends_at": c["ends_at"].isoformat()} for c in result.campaigns],
            "closed_campaigns": result.closed_campaigns}


@blp.route("", methods=["POST"])
@audience(CONSUMER)
@revocation_checked_by_view
@decodes_own_body(max_bytes=lambda: SMALL_BODY_BYTES)
@body_documented(blp, ConsumerScanRequestSchema)
@blp.response(201, ConsumerScanResultSchema)
def scan():
    """Verify a scanned code: the verdict, product and lot, the story (429 rate_limited when too fast)"""
    body = _scan_body()
    with transaction(only_if_begun=True):
        result = consumer_scans.scan(user=current_app_user(), text=body.get("url") or body.get("code"),
                              hidden_code=body.get("hidden_code"), latitude=body.get("latitude"),
                              longitude=body.get("longitude"), ip=request.remote_addr, token=token_check(),
                              # counted once if the view is run again (kept in the request: g is the app
                              # context's, which tests share across requests)
                              once=request.environ.setdefault("matong.consumer_scan", {}))
    return Response(_encode(scan_answer(result)), status=201, mimetype="application/json")


@blp.route("/<int:scan_id>/hidden-code", methods=["POST"])
@audience(CONSUMER)
@body_limit(SMALL_BODY_BYTES)
@blp.arguments(ConsumerHiddenCodeRequestSchema)
@blp.response(200, ConsumerHiddenCodeResultSchema)
def prove_hidden_code(body, scan_id):
    """The hidden-code step of my scan: check the scratched-off digits (not another scan; the verdict stays)

    A right code opens the campaigns that need it; the first consumer to prove a unit's code takes a
    first-scan-only campaign's draw. 404 scan_not_found, 409 no_hidden_code, 429 too_many_attempts.
    """
    with transaction():
        return consumer_scans.prove_hidden_code(user=current_app_user(), scan_id=scan_id,
                                                hidden_code=body["hidden_code"], ip=request.remote_addr)


@blp.route("", methods=["GET"])
@audience(CONSUMER)
@blp.response(200, MyConsumerScanSchema(many=True))
@blp.paginate(SelectPage)
def my_scans():
    """My scans, newest first"""
    return service.my_scans(user=current_app_user())
