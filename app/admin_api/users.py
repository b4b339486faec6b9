"""Back-office users (admin only)."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.db import transaction
from app.http import SelectPage, authenticate_back_office, current_actor, national_only, roles
from app.identity import service as identity
from app.identity.models import Role
from app.schemas import Int

blp = Blueprint("admin_users", __name__, url_prefix="/api/admin/users",
                description="Back-office users and their roles (admins only).")
blp.before_request(authenticate_back_office)

ROLE_NAMES = [r.value for r in Role]


class UserReadSchema(ma.Schema):
    id = Int()
    username = ma.fields.String()
    display_name = ma.fields.String()
    role = ma.fields.Enum(Role, by_value=True)
    is_active = ma.fields.Boolean()
    locked_until = ma.fields.DateTime(allow_none=True)
    last_login_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    regions = ma.fields.Function(lambda user: identity.regions_of(user.id), metadata={
        "description": "Data scope: region codes whose rows the user sees; empty: the whole country"})


def _regions_field():
    return ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=12)),
                          validate=ma.validate.Length(max=100), metadata={
                              "description": "Data scope: 12-digit region codes (provinces, cities, districts) "
                                             "whose rows the user sees; empty: the whole country"})


class UserCreateSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=[
        ma.validate.Length(min=3, max=64),
        ma.validate.Regexp(r"^[A-Za-z0-9_.@-]+$", error="letters, digits and _ . @ - only"),
    ])
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=10, max=256))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLE_NAMES))
    display_name = ma.fields.String(load_default="", validate=ma.validate.Length(max=128))
    regions = _regions_field()


class UserUpdateSchema(ma.Schema):
    password = ma.fields.String(load_only=True, validate=ma.validate.Length(min=10, max=256))
    role = ma.fields.String(validate=ma.validate.OneOf(ROLE_NAMES))
    display_name = ma.fields.String(validate=ma.validate.Length(max=128))
    is_active = ma.fields.Boolean()
    regions = _regions_field()


class UserQuerySchema(ma.Schema):
    role = ma.fields.String(validate=ma.validate.OneOf(ROLE_NAMES))
    q = ma.fields.String(metadata={"description": "Part of the username"})


@blp.route("", methods=["GET"])
@roles(Role.ADMIN)
@national_only("managing users sets data scopes: a regional admin must not widen one")
@blp.arguments(UserQuerySchema, location="query")
@blp.response(200, UserReadSchema(many=True))
@blp.paginate(SelectPage)
def list_users(query):
    """List users"""
    return identity.list_users(**query)


@blp.route("", methods=["POST"])
@roles(Role.ADMIN)
@national_only("managing users sets data scopes: a regional admin must not widen one")
@blp.arguments(UserCreateSchema)
@blp.response(201, UserReadSchema)
def create_user(body):
    """Create a user"""
    with transaction():
        return identity.create_user(actor=current_actor(), **body)


@blp.route("/<int:user_id>", methods=["GET"])
@roles(Role.ADMIN)
@national_only("managing users sets data scopes: a regional admin must not widen one")
@blp.response(200, UserReadSchema)
def get_user(user_id):
    """Get a user"""
    return identity.get_user(user_id)


@blp.route("/<int:user_id>", methods=["PATCH"])
@roles(Role.ADMIN)
@national_only("managing users sets data scopes: a regional admin must not widen one")
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserReadSchema)
def update_user(body, user_id):
    """Change a user's role, name, password or active flag"""
    with transaction():
        return identity.update_user(actor=current_actor(), user_id=user_id, changes=body)


@blp.route("/<int:user_id>/unlock", methods=["POST"])
@roles(Role.ADMIN)
@national_only("managing users sets data scopes: a regional admin must not widen one")
@blp.response(200, UserReadSchema)
def unlock_user(user_id):
    """Lift a lock-out after failed logins"""
    with transaction():
        return identity.unlock_user(actor=current_actor(), user_id=user_id)
