"""Extensions, created unbound here and bound to the app in create_app()."""
from __future__ import annotations

import logging

import fakeredis
import redis as redis_lib
from flask import current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from werkzeug.local import LocalProxy

from app.db import Base
from app.errors import Api

log = logging.getLogger(__name__)

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
api = Api()


class RedisExtension:
    """A redis-py client per app: the real server at REDIS_URL, else an in-process fake."""

    def init_app(self, app) -> None:
        url = app.config.get("REDIS_URL")
        if url:
            client = redis_lib.Redis.from_url(url, socket_timeout=5, health_check_interval=30)
        else:
            # One fake server per app; it supports Lua through lupa.
            client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
            if not app.testing:
                log.warning(
                    "REDIS_URL is not set: using an in-process Redis; run a single process only"
                )
        app.extensions["redis"] = client


redis_ext = RedisExtension()
redis: redis_lib.Redis = LocalProxy(lambda: current_app.extensions["redis"])  # type: ignore[assignment]
