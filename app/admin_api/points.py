"""Consumers' points and the points mall: items, orders, adjustments."""
from __future__ import annotations

from flask_smorest import Blueprint

from app.http import authenticate_back_office

blp = Blueprint("admin_points", __name__, url_prefix="/api/admin/points", description="Consumers' points and the points mall: items, orders, adjustments.")
blp.before_request(authenticate_back_office)
BLUEPRINTS = (blp,)
