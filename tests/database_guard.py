"""The test suite wipes the database and flushes the Redis database it is pointed at: refuse one that is
not marked as a test database, before anything connects (tests/conftest.py calls this at start-up)."""
from __future__ import annotations

from pathlib import PurePosixPath

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ALLOW = "MATONG_TEST_ALLOW_ANY_DB"
MARK = "test"


def refusal(environ) -> str | None:
    """Why the suite must not run against DATABASE_URL, or one of the Galera nodes it names instead
    (MATONG_TEST_DATABASE_NODES, tests/galera.py) (None: it may)."""
    if environ.get(ALLOW, "").strip().lower() in {"1", "true", "yes"}:
        return None
    nodes = [url.strip() for url in environ.get("MATONG_TEST_DATABASE_NODES", "").split(",") if url.strip()]
    for url in [environ.get("DATABASE_URL", "").strip(), *nodes]:
        reason = _refusal(url)
        if reason:
            return reason
    return None


def _refusal(url: str) -> str | None:
    if not url:
        return None  # unset: a temporary SQLite file of the suite's own
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"DATABASE_URL is not a database URL: {url!r}"
    name = parsed.database or ""
    if parsed.get_backend_name() == "sqlite":
        if name in ("", ":memory:"):
            return None
        name = PurePosixPath(name).name  # a file: its name marks it
    if MARK in name.lower():
        return None
    shown = parsed.render_as_string(hide_password=True)
    return (f"the tests wipe every row of the database they run against, and DATABASE_URL names {name!r} "
            f"({shown}), whose name does not contain {MARK!r}. Point DATABASE_URL at a database of the "
            f"tests' own (e.g. .../matong_test), or set {ALLOW}=1 if wiping this one is what you want. "
            f"The Redis database of REDIS_URL is flushed too.")


def describe(environ) -> str:
    """The line the test run's header prints: what it will wipe."""
    database = environ.get("DATABASE_URL", "").strip()
    redis = environ.get("REDIS_URL", "").strip()
    cluster = environ.get("REDIS_CLUSTER_NODES", "").strip()
    try:
        shown = make_url(database).render_as_string(hide_password=True) if database else "a temporary SQLite file"
    except ArgumentError:
        shown = "(not a database URL)"
    flushed = (f"the Redis Cluster of {cluster} (FLUSHDB on every master" if cluster
               else f"Redis database {redis} (FLUSHDB" if redis else "Redis in-process (fakeredis) (FLUSHDB")
    return f"wiped by these tests: database {shown}; {flushed} after every test)"
