"""Consumer scans and code-leak alerts in the back office."""
from __future__ import annotations


import marshmallow as ma
from flask_smorest import Blueprint

from app.consumers import back_office
from app.consumers.models import LeakAlertStatus, Verdict
from app.db import transaction
from app.http import (ALL_ROLES, SelectPage, authenticate_back_office, current_actor, current_scope, national_only,
                      not_regional, regional, roles)
from app.identity.models import Role
from app.schemas import Int, UtcTime

RESOLVERS = (Role.ADMIN, Role.OPS)

leaks_blp = Blueprint("admin_code_leak_alerts", __name__, url_prefix="/api/admin/code-leak-alerts",
                      description="Code-leak alerts: an issued code scanned by a consumer before it was ever "
                                  "commissioned (a code pack leaked); one per code, with its scan count.")
leaks_blp.before_request(authenticate_back_office)

scans_blp = Blueprint("admin_consumer_scans", __name__, url_prefix="/api/admin/consumer-scans",
                      description="Consumers' scans with their verdicts.")
scans_blp.before_request(authenticate_back_office)


class LeakAlertSchema(ma.Schema):
    id = Int()
    code = ma.fields.String()
    serial = Int()
    batch_id = Int()
    scans = Int()
    first_seen_at = ma.fields.DateTime()
    last_seen_at = ma.fields.DateTime()
    status = ma.fields.Enum(LeakAlertStatus, by_value=True)
    resolved_by = ma.fields.String(allow_none=True)
    resolved_at = ma.fields.DateTime(allow_none=True)
    resolution = ma.fields.String()


class LeakQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in LeakAlertStatus]))


class LeakResolveSchema(ma.Schema):
    resolution = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


class AdminConsumerScanSchema(ma.Schema):
    id = Int()
    code = ma.fields.String()
    serial = Int(allow_none=True)
    app_user_id = Int()
    verdict = ma.fields.Enum(Verdict, by_value=True)
    scan_number = Int()
    hidden_code_ok = ma.fields.Boolean(allow_none=True)
    product_id = Int(allow_none=True)
    lot_id = Int(allow_none=True)
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    region_code = ma.fields.String(allow_none=True)
    ip = ma.fields.String(allow_none=True)
    scanned_at = ma.fields.DateTime()


class ScanQuerySchema(ma.Schema):
    verdict = ma.fields.String(validate=ma.validate.OneOf([v.value for v in Verdict]))
    product_id = Int()
    region_code = ma.fields.String(validate=ma.validate.Length(min=2, max=12), metadata={
        "description": "A province, city or district adcode: scans located in it"})
    scanned_from = UtcTime(data_key="from",
                                           metadata={"description": "scanned_at ≥ this"})
    scanned_to = UtcTime(data_key="to",
                                         metadata={"description": "scanned_at < this"})


@leaks_blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("a leaked code pack has no region: its alert counts scans anywhere")
@leaks_blp.arguments(LeakQuerySchema, location="query")
@leaks_blp.response(200, LeakAlertSchema(many=True))
@leaks_blp.paginate(SelectPage)
def list_leak_alerts(query):
    """List code-leak alerts (newest first)"""
    return back_office.list_leak_alerts(**query)


@leaks_blp.route("/<int:alert_id>/resolve", methods=["POST"])
@roles(*RESOLVERS)
@national_only("a code-pack leak is handled for the whole brand")
@leaks_blp.arguments(LeakResolveSchema)
@leaks_blp.response(200, LeakAlertSchema)
def resolve_leak_alert(body, alert_id):
    """Resolve an open code-leak alert; a resolved one answers 409"""
    with transaction():
        return back_office.resolve_leak_alert(actor=current_actor(), alert_id=alert_id, **body)


@scans_blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@scans_blp.arguments(ScanQuerySchema, location="query")
@scans_blp.response(200, AdminConsumerScanSchema(many=True))
@scans_blp.paginate(SelectPage)
def list_scans(query):
    """List consumer scans (newest first)"""
    return back_office.list_scans(**query, scope=current_scope())


BLUEPRINTS = (leaks_blp, scans_blp)
