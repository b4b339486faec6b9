"""The consumer mini-program: no binding; a nickname, an avatar and a phone."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.accounts import profiles
from app.accounts.models import AppName
from app.db import transaction
from miniprogram_api.schemas import SessionUserSchema
from miniprogram_api.security import audience, authenticate, current_app_user

CONSUMER = AppName.CONSUMER

blp = Blueprint("mp_consumer", __name__, url_prefix="/api/consumer",
                description="The consumer mini-program: the signed-in consumer's profile.")
blp.before_request(authenticate(CONSUMER))


class ProfileUpdateSchema(ma.Schema):
    nickname = ma.fields.String(validate=ma.validate.Length(max=profiles.NICKNAME_MAX))
    avatar_url = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=profiles.AVATAR_URL_MAX))


@blp.route("/me", methods=["GET"])
@audience(CONSUMER)
@blp.response(200, SessionUserSchema)
def me():
    """The signed-in consumer and what to do next"""
    user = current_app_user()
    return {"user": user, "next_steps": profiles.next_steps(user)}


@blp.route("/me", methods=["PATCH"])
@audience(CONSUMER)
@blp.arguments(ProfileUpdateSchema)
@blp.response(200, SessionUserSchema)
def update_me(body):
    """Set my nickname and avatar"""
    with transaction():
        user = profiles.update_profile(user=current_app_user(), changes=body)
        return {"user": user, "next_steps": profiles.next_steps(user)}
