"""The consumer mini-program: my points and their ledger, the points mall and my mall orders."""
from __future__ import annotations

from flask_smorest import Blueprint

from app.accounts.models import AppName
from miniprogram_api.security import authenticate

CONSUMER = AppName.CONSUMER

blp = Blueprint("mp_consumer_points", __name__, url_prefix="/api/consumer/points", description="The consumer's points and the points mall.")
blp.before_request(authenticate(CONSUMER))
