"""Draws and prize redemptions (coupons and gifts) in the back office."""
from __future__ import annotations

from flask_smorest import Blueprint

from app.http import authenticate_back_office

blp = Blueprint("admin_claims", __name__, url_prefix="/api/admin/draws", description="Draws and prize redemptions (coupons and gifts) in the back office.")
blp.before_request(authenticate_back_office)
BLUEPRINTS = (blp,)
