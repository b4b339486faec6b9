"""Consumer profiles, segment counts and the consumer blacklist (every role reads; admin and marketer write)."""
from __future__ import annotations


import marshmallow as ma
from flask_smorest import Blueprint

from app.accounts.models import AppUserStatus
from app.consumers import blacklist
from app.flows import consumer_profiles as profiles
from app.db import transaction
from app.http import (ALL_ROLES, RowPage, authenticate_back_office, current_actor, current_scope, national_only,
                      regional, roles)
from app.identity.models import Role
from app.identity.personal_data import OPENID
from app.schemas import Int, Masked, UtcTime

WRITERS = (Role.ADMIN, Role.MARKETER)

blp = Blueprint("admin_consumer_profiles", __name__, url_prefix="/api/admin/consumer-profiles",
                description="Consumer profiles, segment counts and the consumer blacklist.")
blp.before_request(authenticate_back_office)
BLUEPRINTS = (blp,)


def _time(**kwargs):
    return UtcTime(**kwargs)


class ProfileQuerySchema(ma.Schema):
    region_code = ma.fields.String(validate=ma.validate.Length(min=2, max=12), metadata={
        "description": "A province, city or district adcode: consumers with a scan located in it"})
    product_id = Int(metadata={"description": "Consumers who scanned this product"})
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "Part of the nickname or openid"})


class _ConsumerSchema(ma.Schema):
    """What every view of a consumer shows first."""

    app_user_id = Int()
    openid = Masked(OPENID)
    nickname = ma.fields.String()
    avatar_url = ma.fields.String(allow_none=True)
    status = ma.fields.Enum(AppUserStatus, by_value=True)
    created_at = ma.fields.DateTime()


class ProfileRowSchema(_ConsumerSchema):
    scans = Int()
    first_seen_at = ma.fields.DateTime(allow_none=True)
    last_seen_at = ma.fields.DateTime(allow_none=True)
    blacklisted = ma.fields.Boolean()


class ProfileProductSchema(ma.Schema):
    id = Int()
    name = ma.fields.String()
    scans = Int()


class ProfileRegionSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    scans = Int()


class ProfileScanCountsSchema(ma.Schema):
    count = Int()
    by_verdict = ma.fields.Dict(keys=ma.fields.String(), values=Int(), metadata={
        "description": "Scans per verdict (genuine, scanned_before, suspected_copy, forged, ...)"})


class ProfileWonSchema(ma.Schema):
    draws = Int(metadata={"description": "Won draws"})
    cash_fen = Int()
    cash_prizes = Int()
    points = Int()
    coupons = Int()
    gifts = Int()


class ProfilePayoutTotalsSchema(ma.Schema):
    count = Int()
    paid_fen = Int(metadata={"description": "Paid (succeeded) payouts"})
    waiting = Int(metadata={"description": "Bills waiting for the user's confirmation"})


class ProfileSchema(_ConsumerSchema):
    last_login_at = ma.fields.DateTime(allow_none=True)
    scans = ma.fields.Nested(ProfileScanCountsSchema)
    first_seen_at = ma.fields.DateTime(allow_none=True)
    last_seen_at = ma.fields.DateTime(allow_none=True)
    products = ma.fields.List(ma.fields.Nested(ProfileProductSchema))
    regions = ma.fields.List(ma.fields.Nested(ProfileRegionSchema), metadata={
        "description": "Scans per city (a municipality by its own name)"})
    won = ma.fields.Nested(ProfileWonSchema)
    payouts = ma.fields.Nested(ProfilePayoutTotalsSchema)
    points_balance = Int()
    blacklisted = ma.fields.Boolean()
    blacklist_reason = ma.fields.String(allow_none=True)


class ConsumerSegmentQuerySchema(ma.Schema):
    group = ma.fields.String(required=True, validate=ma.validate.OneOf(profiles.SEGMENT_GROUPS))
    level = ma.fields.String(load_default="province", validate=ma.validate.OneOf(tuple(profiles.REGION_LEVELS)),
                             metadata={"description": "For group=region: count by province or by city"})
    since = _time(data_key="from", metadata={"description": "Scans at or after"})
    until = _time(data_key="to", metadata={"description": "Scans before"})


class ConsumerSegmentSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "Region adcode, product id or frequency bucket"})
    name = ma.fields.String()
    consumers = Int(metadata={"description": "Distinct consumers"})


class ConsumerSegmentsSchema(ma.Schema):
    group = ma.fields.String()
    level = ma.fields.String(allow_none=True)
    since = ma.fields.DateTime(data_key="from", allow_none=True)
    until = ma.fields.DateTime(data_key="to", allow_none=True)
    consumers = Int(metadata={"description": "Distinct consumers who scanned in the period"})
    segments = ma.fields.List(ma.fields.Nested(ConsumerSegmentSchema))


class BlacklistQuerySchema(ma.Schema):
    q = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "Part of the openid or the reason"})


class BlacklistAddSchema(ma.Schema):
    openid = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9_\-]{1,64}$"))
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))


class BlacklistEntrySchema(ma.Schema):
    id = Int()
    openid = Masked(OPENID)
    reason = ma.fields.String()
    created_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    app_user_id = Int(allow_none=True, metadata={"description": "The consumer with this openid, if known"})
    nickname = ma.fields.String(allow_none=True)


@blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.arguments(ProfileQuerySchema, location="query")
@blp.response(200, ProfileRowSchema(many=True))
@blp.paginate(RowPage)
def list_profiles(query):
    """Consumers with their scan count and first and last scan, last seen first"""
    return profiles.list_profiles(**query, scope=current_scope())


@blp.route("/segments", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.arguments(ConsumerSegmentQuerySchema, location="query")
@blp.response(200, ConsumerSegmentsSchema)
def segments(query):
    """Distinct consumers per region (province or city), per product or per scan-frequency bucket"""
    return profiles.segments(**query, scope=current_scope())


@blp.route("/blacklist", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("the blacklist is brand-wide: a blocked consumer is blocked everywhere")
@blp.arguments(BlacklistQuerySchema, location="query")
@blp.response(200, BlacklistEntrySchema(many=True))
@blp.paginate(RowPage)
def list_blacklist(query):
    """The consumer blacklist, newest first"""
    return blacklist.list_blocked(**query)


@blp.route("/blacklist", methods=["POST"])
@roles(*WRITERS)
@national_only("the blacklist is brand-wide: a blocked consumer is blocked everywhere")
@blp.arguments(BlacklistAddSchema)
@blp.response(201, BlacklistEntrySchema)
def add_to_blacklist(body):
    """Put an openid on the blacklist (no draw, no payout); listed already: 409 consumer_already_blacklisted"""
    # Holding the openid's payouts may meet the payout worker's hold: app.http.retry_writes runs it again.
    with transaction():
        entry = blacklist.block(actor=current_actor(), **body)
    return blacklist.get_entry(entry.id)


@blp.route("/blacklist/<int:entry_id>", methods=["DELETE"])
@roles(*WRITERS)
@national_only("the blacklist is brand-wide: a blocked consumer is blocked everywhere")
@blp.response(204)
def remove_from_blacklist(entry_id):
    """Take an entry off the blacklist"""
    with transaction():
        blacklist.unblock(actor=current_actor(), entry_id=entry_id)


@blp.route("/<int:app_user_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.response(200, ProfileSchema)
def get_profile(app_user_id):
    """A consumer's profile: scans, products, regions, first and last seen, winnings, payouts, points"""
    return profiles.profile(app_user_id=app_user_id, scope=current_scope())
