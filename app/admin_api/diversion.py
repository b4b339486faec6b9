"""Anti-diversion (窜货) alerts: units seen outside their dealer's territory, with their evidence."""
from __future__ import annotations


import marshmallow as ma
from flask_smorest import Blueprint

from app.channel import diversion as service
from app.channel.models import AlertStatus, SeenKind
from app.db import transaction
from app.http import ALL_ROLES, SelectPage, authenticate_back_office, current_actor, current_scope, regional, roles
from app.identity.models import Role
from app.schemas import Int, UtcTime

blp = Blueprint("admin_diversion", __name__, url_prefix="/api/admin/diversion-alerts",
                description="Diversion alerts: a unit seen (store receipt, sale scan, consumer scan) outside the "
                            "territory of the dealer it was last shipped to, with the evidence; resolve or dismiss.")
blp.before_request(authenticate_back_office)

RESOLVERS = (Role.ADMIN, Role.OPS)


class AlertReadSchema(ma.Schema):
    id = Int()
    code = ma.fields.String(metadata={"description": "The item's code"})
    product_id = Int(allow_none=True)
    lot_id = Int(allow_none=True)
    dealer_id = Int(metadata={"description": "The dealer it was last shipped to"})
    order_id = Int(allow_none=True)
    shipment_id = Int(allow_none=True)
    seen_kind = ma.fields.Enum(SeenKind, by_value=True)
    place_key = ma.fields.String(metadata={"description": "store:<id>, dealer:<id> or region:<adcode>"})
    region_code = ma.fields.String(allow_none=True, metadata={"description": "Where it was seen (adcode)"})
    seen_by = ma.fields.String()
    seen_at = ma.fields.DateTime()
    status = ma.fields.Enum(AlertStatus, by_value=True)
    resolved_by = ma.fields.String(allow_none=True)
    resolved_at = ma.fields.DateTime(allow_none=True)
    resolution = ma.fields.String()
    created_at = ma.fields.DateTime()


class AlertDetailSchema(AlertReadSchema):
    evidence = ma.fields.Dict(metadata={
        "description": "unit (code, product, lot), dealer (id, name, territory), order, seen (place, region, "
                       "by, at), path (SHIP/RECEIVE events of the unit and its parents), shipments"})


class AlertQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in AlertStatus]))
    dealer_id = Int()
    product_id = Int()
    region_code = ma.fields.String(validate=ma.validate.Length(min=2, max=12), metadata={
        "description": "A province, city or district adcode: alerts seen in it"})
    seen_kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in SeenKind]))
    seen_from = UtcTime(metadata={"description": "seen_at ≥ this"})
    seen_to = UtcTime(metadata={"description": "seen_at < this"})


class AlertResolveSchema(ma.Schema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(
        [AlertStatus.RESOLVED.value, AlertStatus.DISMISSED.value]))
    resolution = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


@blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.arguments(AlertQuerySchema, location="query")
@blp.response(200, AlertReadSchema(many=True))
@blp.paginate(SelectPage)
def list_alerts(query):
    """List diversion alerts (newest first)"""
    return service.list_alerts(**query, scope=current_scope())


@blp.route("/<int:alert_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.response(200, AlertDetailSchema)
def get_alert(alert_id):
    """Get a diversion alert with its evidence"""
    return service.get_alert(alert_id, scope=current_scope())


@blp.route("/<int:alert_id>/resolve", methods=["POST"])
@roles(*RESOLVERS)
@regional
@blp.arguments(AlertResolveSchema)
@blp.response(200, AlertDetailSchema)
def resolve_alert(body, alert_id):
    """Resolve (a finding) or dismiss (not a diversion) an open alert; a closed one answers 409"""
    with transaction():
        return service.resolve_alert(actor=current_actor(), alert_id=alert_id, **body)
