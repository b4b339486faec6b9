"""The audit trail of back-office changes (admins and auditors read it)."""
from __future__ import annotations


import marshmallow as ma
from flask_smorest import Blueprint

from app.http import SelectPage, authenticate_back_office, national_only, roles
from app.identity import service as identity
from app.identity.models import Role
from app.identity.personal_data import OPENID, PHONE
from app.schemas import Int, MaskedWithin, UtcTime

blp = Blueprint("admin_audit", __name__, url_prefix="/api/admin/audit",
                description="Who changed what, and when.")
blp.before_request(authenticate_back_office)


class AuditReadSchema(ma.Schema):
    id = Int()
    created_at = ma.fields.DateTime()
    actor_type = ma.fields.String()
    actor_id = Int(allow_none=True)
    actor_name = ma.fields.String()
    action = ma.fields.String()
    entity_type = ma.fields.String()
    entity_id = ma.fields.String(allow_none=True)
    # Blacklists, contacts and addresses changed hold openids and phone numbers.
    changes = MaskedWithin({"openid": OPENID, "blacklist": OPENID, "phone": PHONE})


class AuditQuerySchema(ma.Schema):
    entity_type = ma.fields.String()
    entity_id = ma.fields.String()
    actor_id = Int()
    action = ma.fields.String()
    since = UtcTime()
    until = UtcTime()


@blp.route("", methods=["GET"])
@roles(Role.ADMIN, Role.AUDITOR)
@national_only("audit records hold changes to every region's records")
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditReadSchema(many=True))
@blp.paginate(SelectPage)
def list_audit(query):
    """List audit records, newest first"""
    return identity.list_audit(**query)
