"""Login, token refresh, logout and phone binding: the same endpoints under each mini-program."""
from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from app.accounts import logins, profiles
from app.accounts.models import AppName
from app.db import transaction
from app.http import bearer_token, public
from app.inputs import SMALL_BODY_BYTES, body_limit
from miniprogram_api.schemas import MpLoginSchema, PhoneSchema, RefreshSchema, SessionUserSchema, TokenPairSchema
from miniprogram_api.security import audience, authenticate, current_app_user


def _session(pair: logins.TokenPair) -> dict:
    return {"token": pair.token, "refresh_token": pair.refresh_token, "expires_in": pair.expires_in,
            "user": pair.user, "next_steps": profiles.next_steps(pair.user)}


def auth_blueprint(app: AppName) -> Blueprint:
    """The /api/<app>/auth endpoints of one mini-program."""
    blp = Blueprint(f"mp_{app.value}_auth", __name__, url_prefix=f"/api/{app.value}/auth",
                    description=f"Sign-in to the {app.value} mini-program (wx.login code → our tokens).")
    blp.before_request(authenticate(app))

    @blp.route("/login", methods=["POST"])
    @public
    @body_limit(SMALL_BODY_BYTES)
    @blp.arguments(MpLoginSchema)
    @blp.response(200, TokenPairSchema)
    def login(body):
        """Log in with a wx.login code; the WeChat session key stays on the server"""
        with transaction():
            return _session(logins.login(app=app, code=body["code"], ip=request.remote_addr or "-"))

    @blp.route("/refresh", methods=["POST"])
    @public
    @body_limit(SMALL_BODY_BYTES)
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenPairSchema)
    def refresh(body):
        """Trade a refresh token (single use) for a new token pair"""
        with transaction():
            return _session(logins.refresh(app=app, refresh_token=body["refresh_token"]))

    @blp.route("/logout", methods=["POST"])
    @audience(app)
    @blp.response(204)
    def logout():
        """Log out: revoke this token and its refresh token"""
        with transaction():
            logins.logout(token=bearer_token())

    @blp.route("/phone", methods=["POST"])
    @audience(app)
    @blp.arguments(PhoneSchema)
    @blp.response(200, SessionUserSchema)
    def phone(body):
        """Bind the phone number: {code} from getPhoneNumber, or legacy {encrypted_data, iv}"""
        with transaction():
            user = profiles.bind_phone(user=current_app_user(), **body)
            return {"user": user, "next_steps": profiles.next_steps(user)}

    return blp
