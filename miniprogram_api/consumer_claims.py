"""The consumer mini-program: claim a scan's draw, my draws and prizes (coupons, gifts and their address)."""
from __future__ import annotations

from flask_smorest import Blueprint

from app.accounts.models import AppName
from miniprogram_api.security import authenticate

CONSUMER = AppName.CONSUMER

blp = Blueprint("mp_consumer_claims", __name__, url_prefix="/api/consumer", description="The consumer's draws: claim a scan's draw, my prizes and their redemption.")
blp.before_request(authenticate(CONSUMER))
