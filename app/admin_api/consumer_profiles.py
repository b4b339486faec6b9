"""Consumer profiles, segment counts and the consumer blacklist."""
from __future__ import annotations

from flask_smorest import Blueprint

from app.http import authenticate_back_office

blp = Blueprint("admin_consumer_profiles", __name__, url_prefix="/api/admin/consumer-profiles", description="Consumer profiles, segment counts and the consumer blacklist.")
blp.before_request(authenticate_back_office)
BLUEPRINTS = (blp,)
