"""The consumer mini-program: my scans, prizes, points and payouts at a glance."""
from __future__ import annotations

from flask_smorest import Blueprint

from app.accounts.models import AppName
from miniprogram_api.security import authenticate

CONSUMER = AppName.CONSUMER

blp = Blueprint("mp_consumer_profile", __name__, url_prefix="/api/consumer/me", description="The consumer's own record: scans, prizes, points and payouts at a glance.")
blp.before_request(authenticate(CONSUMER))
