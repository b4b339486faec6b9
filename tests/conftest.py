"""Test set-up: one app per session, the schema built by `alembic upgrade head`, clean rows per test.

Set DATABASE_URL / REDIS_URL to run against MariaDB/MySQL and a Redis server (CI does);
otherwise a temporary SQLite file and an in-process Redis are used. Every row of that database is
deleted and that Redis database flushed, so a database whose name lacks "test" is refused
(tests/database_guard.py; MATONG_TEST_ALLOW_ANY_DB=1 overrides).
"""
from __future__ import annotations

import os
import re
import secrets
import tempfile

import fakeredis
import pytest
import redis as redis_lib
import requests
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from config import get_config
from app.campaigns import eligibility
from app.extensions import db, redis
from app.units import scan_facts
from app.wechat import runtime
from tests import database_guard, galera
from tests.factories import AuthActions

# The factory modules whose fixtures every test may ask for (a test module never imports a fixture).
pytest_plugins = (  # a module before the plugins that import it (so pytest can rewrite its asserts)
    "tests.mp_factories",
    "tests.channel_factories",
    "tests.order_factories",
    "tests.payout_factories",
    "tests.campaign_factories",
    "tests.consumer_factories",
    "tests.diversion_factories",
    "tests.rebate_factories",
    "tests.recall_factories",
    "tests.resolver_factories",
    "tests.webhook_receiver",
)

# Rows that migrations load (reference data) survive between tests.
REFERENCE_TABLES = {"alembic_version", "regions"}


def pytest_configure(config):
    """Stop before connecting when DATABASE_URL is not a test database (the suite wipes it)."""
    reason = database_guard.refusal(os.environ)
    if reason:
        raise pytest.UsageError(f"refusing to run the tests: {reason}")


def pytest_report_header(config):
    return database_guard.describe(os.environ)


@pytest.fixture(scope="session")
def app():
    tmp = tempfile.TemporaryDirectory(prefix="matong-test-")
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp.name}/test.db"
    os.environ.setdefault("CODE_EXPORT_DIR", f"{tmp.name}/exports")
    os.environ.setdefault("MATONG_VAR_DIR", f"{tmp.name}/var")  # the demo's kept password, not the repo's var/
    os.environ.setdefault("WORKER_HEARTBEAT_DIR", f"{tmp.name}/heartbeats")  # worker loops under test beat here
    app = create_app(_config())
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            downgrade(revision="base")  # a previous run may have left a schema behind
        upgrade()
        sa.event.listen(db.engine, "before_cursor_execute", _unnamed_unit_writes)
        yield app
        db.session.remove()
    tmp.cleanup()


def _config():
    """The testing settings; on a Galera cluster (tests/galera.py), connections spread over its nodes."""
    config = get_config("testing")
    nodes = galera.node_urls()
    if nodes:
        config.SQLALCHEMY_DATABASE_URI = nodes[0]
        config.SQLALCHEMY_ENGINE_OPTIONS = galera.engine_options(nodes)
    return config


# A statement that writes the units table's scan facts (app.units.scan_facts) in a transaction that did not
# name the units it changes would leave Redis behind the database: such a write fails the test that made it.
_UNIT_WRITE = re.compile(r"^\s*(INSERT\s+(IGNORE\s+|OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+`?units`?\s", re.I)
_wiping = False


def _unnamed_unit_writes(conn, cursor, statement, parameters, context, executemany):
    if _wiping or not _UNIT_WRITE.match(statement):
        return
    if statement.lstrip()[:6].upper() == "UPDATE" and not any(
            re.search(rf"\b{name}\b", statement.split(" SET ", 1)[-1].split(" WHERE ", 1)[0])
            for name in scan_facts.FACT_COLUMNS):
        return  # no scan fact written (received_on, updated_at)
    if not db.session().info.get(scan_facts.CHANGED):
        raise AssertionError("units' scan facts written without scan_facts.changed(serials) in the transaction: "
                             + statement[:120])


def wipe_rows() -> None:
    """Delete every row a test writes (reference data stays), after dropping the session's own work."""
    global _wiping
    db.session.rollback()
    db.session.remove()
    _wiping = True
    try:
        _delete_rows()
    finally:
        _wiping = False


def _delete_rows() -> None:
    with db.engine.begin() as conn:
        is_mysql = conn.dialect.name in ("mysql", "mariadb")
        if is_mysql:
            conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in REFERENCE_TABLES:
                conn.execute(table.delete())
        if is_mysql:
            conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 1"))


@pytest.fixture(autouse=True)
def clean_state(app):
    yield
    wipe_rows()
    redis.flushdb()
    eligibility.forget_listed_campaigns()  # the per-process list of campaigns the scans answer with


@pytest.fixture
def mariadb(app):
    """Skip on SQLite: it serialises writers with a file lock, so a race of row locks needs MariaDB/MySQL."""
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers with a file lock; the row-lock race needs MariaDB/MySQL")


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    """Every secret production needs, set in the environment; tests take one away."""
    from config import WECHAT_REQUIRED_ENV

    (tmp_path / "key.pem").write_text("not read at start-up")
    values = {"SECRET_KEY": secrets.token_urlsafe(40), "DATABASE_URL": "sqlite://",
              "REDIS_URL": "redis://localhost:6379/0", "CODE_KEYS": "1:" + secrets.token_hex(32)}
    values.update({name: "x" * 32 for name in WECHAT_REQUIRED_ENV})
    values["WECHATPAY_PRIVATE_KEY_PATH"] = values["WECHATPAY_PUBLIC_KEY_PATH"] = str(tmp_path / "key.pem")
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    for name in ("WECHAT_API_BASE", "WECHATPAY_API_BASE", "WECHAT_SANDBOX_URL", "REDIS_CLUSTER_NODES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.secrets = values
    return monkeypatch


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def sandbox(app):
    """The in-process WeChat sandbox, reset after the test (tokens, sessions, bills, faults)."""
    server = runtime().sandbox_server()
    yield server
    requests.post(server.url + "/__sandbox__/reset", timeout=5)


class Outage:
    """Takes the database or Redis away for real: the app's engine or client points at a closed port
    (SQLite: a file that can't be opened; the in-process Redis: a fake server disconnected), so the
    errors raised are the drivers' own. `end()` brings them back."""

    CLOSED = "127.0.0.1:9"  # the discard port: nothing listens there

    def __init__(self, app):
        self.app = app
        self.engines = db._app_engines[app]
        self.live_engine, self.live_redis = self.engines[None], app.extensions["redis"]
        self.dead_engines = []

    def database(self) -> None:
        if self.live_engine.dialect.name == "sqlite":
            url = "sqlite:////nonexistent-matong-dir/down.db"
        else:
            url = self.live_engine.url.set(host="127.0.0.1", port=9).render_as_string(hide_password=False)
        engine = sa.create_engine(url, connect_args={"connect_timeout": 2} if "mysql" in url else {})
        self.dead_engines.append(engine)
        db.session.remove()
        self.engines[None] = engine

    def redis(self) -> None:
        if isinstance(self.live_redis, fakeredis.FakeRedis):
            server = fakeredis.FakeServer()
            server.connected = False
            client = fakeredis.FakeRedis(server=server)
        else:
            client = redis_lib.Redis(host="127.0.0.1", port=9, socket_connect_timeout=1)
        self.app.extensions["redis"] = client

    def end(self) -> None:
        db.session.remove()
        self.engines[None] = self.live_engine
        self.app.extensions["redis"] = self.live_redis
        for engine in self.dead_engines:
            engine.dispose()


@pytest.fixture
def outage(app):
    taken = Outage(app)
    yield taken
    taken.end()


@pytest.fixture
def small_inline_limit(app, monkeypatch):
    """Exports of more than 2 rows run as jobs."""
    monkeypatch.setitem(app.config, "EXPORT_INLINE_MAX_ROWS", 2)
