"""Extensions, created unbound here and bound to the app in create_app()."""
from __future__ import annotations

import logging

import fakeredis
import redis as redis_lib
from flask import current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from redis.cluster import ClusterNode, RedisCluster, key_slot
from werkzeug.local import LocalProxy

from app.db import Base
from app.errors import Api

log = logging.getLogger(__name__)

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
api = Api()


class RedisExtension:
    """A redis-py client per app: the cluster of REDIS_CLUSTER_NODES, else the server at REDIS_URL, else an
    in-process fake."""

    def init_app(self, app) -> None:
        url, nodes = app.config.get("REDIS_URL"), app.config.get("REDIS_CLUSTER_NODES")
        if nodes:
            # Every script and transaction keeps its keys in one hash slot (docs/redis-cluster.md).
            client = RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in nodes],
                                  socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
        elif url:
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


def is_cluster(client=None) -> bool:
    """Whether the app's Redis (or this client) is a Redis Cluster: then one call's keys share a hash slot."""
    return isinstance(client if client is not None else redis._get_current_object(), RedisCluster)


def script(source: str):
    """A Lua script registered once per Redis client: sent by EVALSHA, its text only when the server lacks it."""
    client = redis._get_current_object()
    scripts = client.__dict__.setdefault("_matong_scripts", {})
    found = scripts.get(source)
    if found is None:
        found = scripts[source] = client.register_script(source)
    return found


def by_slot(keys):
    """The keys grouped as one call may take them: by hash slot on a cluster, all together on one server."""
    keys = list(keys)
    if not is_cluster():
        return [keys] if keys else []
    groups: dict[int, list] = {}
    for key in keys:
        groups.setdefault(key_slot(key.encode() if isinstance(key, str) else key), []).append(key)
    return list(groups.values())


def pipeline_eval(pipe, source: str, keys, *args) -> None:
    """Queue a script in a pipeline, on a server or a cluster (redis-py's cluster pipeline has no eval())."""
    keys = list(keys)
    pipe.execute_command("EVAL", source, len(keys), *keys, *args)
