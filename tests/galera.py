"""The suite on a Galera cluster: MATONG_TEST_DATABASE_NODES names its nodes (comma-separated database URLs of
one database, .ci/galera starts three), and each new connection of the app's pool goes to the next node in
turn, so the sessions of a race (one connection each) land on different nodes and meet only in Galera's
certification, as requests served by several app nodes would.
"""
from __future__ import annotations

import itertools
import os
import threading

import pymysql
from sqlalchemy.engine import make_url

from app import faults

NODES_ENV = "MATONG_TEST_DATABASE_NODES"


def node_urls(environ=os.environ) -> list[str]:
    return [url.strip() for url in environ.get(NODES_ENV, "").split(",") if url.strip()]


def round_robin(urls: list[str]):
    """A connection creator handing out connections to each node in turn."""
    parsed = [make_url(url) for url in urls]
    turn, lock = itertools.count(), threading.Lock()

    def connect():
        with lock:
            url = parsed[next(turn) % len(parsed)]
        return pymysql.connect(host=url.host, port=url.port or 3306, user=url.username, password=url.password,
                               database=url.database, charset=url.query.get("charset", "utf8mb4"))
    return connect


def engine_options(urls: list[str]) -> dict:
    return {"pool_pre_ping": True, "creator": round_robin(urls)}


def on_galera() -> bool:
    """Whether the suite runs on a Galera cluster: there a hot row contended from several nodes may lose
    every retry, and the request is refused as busy (503, Retry-After) rather than made to wait."""
    return len(node_urls()) > 1


def refused_as_busy(error: BaseException) -> bool:
    """A use case that lost every retry on a Galera cluster (never accepted on one server)."""
    return on_galera() and faults.is_busy(error)
