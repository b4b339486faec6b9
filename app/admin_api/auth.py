"""Back-office login and logout."""
from __future__ import annotations

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint

from app.db import transaction
from app.http import ALL_ROLES, authenticate_back_office, bearer_token, current_actor, not_regional, public, roles
from app.identity import service as identity
from app.inputs import SMALL_BODY_BYTES, body_limit
from app.schemas import Int

blp = Blueprint("admin_auth", __name__, url_prefix="/api/admin/auth",
                description="Back-office login: bearer tokens with an expiry.")
blp.before_request(authenticate_back_office)


class LoginSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=256))


class MeSchema(ma.Schema):
    id = Int()
    username = ma.fields.String()
    role = ma.fields.String()
    regions = ma.fields.List(ma.fields.String(), metadata={
        "description": "Data scope: the region codes whose rows this user sees; empty: the whole country"})


class TokenSchema(ma.Schema):
    token = ma.fields.String()
    token_type = ma.fields.String()
    expires_at = ma.fields.DateTime()
    expires_in = Int()
    user = ma.fields.Nested(MeSchema)


@blp.route("/login", methods=["POST"])
@public
@body_limit(SMALL_BODY_BYTES)
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
def login(body):
    """Log in with username and password; get a bearer token"""
    raw, token = identity.login(username=body["username"], password=body["password"], ip=request.remote_addr or "-")
    return {
        "token": raw,
        "token_type": "Bearer",
        "expires_at": token.expires_at,
        "expires_in": int((token.expires_at - token.created_at).total_seconds()),
        "user": {"id": token.user.id, "username": token.user.username, "role": token.user.role.value,
                 "regions": identity.regions_of(token.user.id)},
    }


@blp.route("/logout", methods=["POST"])
@roles(*ALL_ROLES)
@not_regional("the caller's own session")
@blp.response(204)
def logout():
    """Revoke the token of this request"""
    with transaction():
        identity.logout(bearer_token())


@blp.route("/me", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("the caller's own session")
@blp.response(200, MeSchema)
def me():
    """Who the token belongs to"""
    actor = current_actor()
    return {"id": actor.id, "username": actor.name, "role": actor.role.value, "regions": list(actor.regions)}
