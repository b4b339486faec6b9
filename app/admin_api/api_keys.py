"""API keys of machine clients (admin only). The raw key is shown once, at creation."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.db import transaction
from app.http import SelectPage, authenticate_back_office, current_actor, national_only, roles
from app.identity import service as identity
from app.identity.models import Role, Scope
from app.schemas import Int

blp = Blueprint("admin_api_keys", __name__, url_prefix="/api/admin/api-keys",
                description="API keys for ERP, line controllers and PDAs (admins only).")
blp.before_request(authenticate_back_office)


class ApiKeyReadSchema(ma.Schema):
    id = Int()
    name = ma.fields.String()
    prefix = ma.fields.String()
    scopes = ma.fields.List(ma.fields.String())
    created_at = ma.fields.DateTime()
    revoked_at = ma.fields.DateTime(allow_none=True)
    last_used_at = ma.fields.DateTime(allow_none=True)


class ApiKeyCreatedSchema(ApiKeyReadSchema):
    key = ma.fields.String(metadata={"description": "The key itself; shown only this once"})


class ApiKeyCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128))
    scopes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([s.value for s in Scope])),
        required=True, validate=ma.validate.Length(min=1),
    )


@blp.route("", methods=["GET"])
@roles(Role.ADMIN)
@national_only("machine clients act for the whole brand")
@blp.response(200, ApiKeyReadSchema(many=True))
@blp.paginate(SelectPage)
def list_keys():
    """List API keys (without the keys themselves)"""
    return identity.list_api_keys()


@blp.route("", methods=["POST"])
@roles(Role.ADMIN)
@national_only("machine clients act for the whole brand")
@blp.arguments(ApiKeyCreateSchema)
@blp.response(201, ApiKeyCreatedSchema)
def create_key(body):
    """Create an API key; the response holds the key, which is never shown again"""
    with transaction():
        raw, key = identity.create_api_key(actor=current_actor(), **body)
    return {**{name: getattr(key, name) for name in ApiKeyReadSchema().fields}, "key": raw}


@blp.route("/<int:key_id>/revoke", methods=["POST"])
@roles(Role.ADMIN)
@national_only("machine clients act for the whole brand")
@blp.response(200, ApiKeyReadSchema)
def revoke_key(key_id):
    """Revoke an API key"""
    with transaction():
        return identity.revoke_api_key(actor=current_actor(), key_id=key_id)
