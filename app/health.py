"""Liveness and readiness probes (public by design)."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask_smorest import Blueprint

from app.errors import error_response
from app.extensions import db, redis
from app.http import public

log = logging.getLogger(__name__)

blp = Blueprint("health", __name__, description="Probes for load balancers and orchestrators.")


@blp.route("/healthz", methods=["GET"])
@public
def healthz():
    """The process is alive"""
    return {"status": "ok"}


@blp.route("/readyz", methods=["GET"])
@public
def readyz():
    """The database and Redis are reachable (503 otherwise)"""
    checks = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        log.warning("readiness: database unreachable: %s", exc)
        checks["database"] = "unreachable"
        db.session.rollback()
    try:
        redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        log.warning("readiness: redis unreachable: %s", exc)
        checks["redis"] = "unreachable"
    if all(v == "ok" for v in checks.values()):
        return {"status": "ready", "checks": checks}
    return error_response(503, "not_ready", "A dependency is unreachable.", checks)
