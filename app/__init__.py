"""The Matong application factory.

Its steps import the app's modules inside them: importing any ``app.<module>`` runs this file first,
and must not build the whole app.
"""
from __future__ import annotations

import logging

from flask import Flask
from flask.sessions import SessionInterface
from flask_swagger_ui import get_swaggerui_blueprint

from config import Base as BaseConfig
from config import ConfigError, get_config


def create_app(config: BaseConfig | str | None = None) -> Flask:
    """Build the app: settings, extensions, HTTP APIs, error handlers, CLI commands."""
    app = Flask(__name__)
    configure(app, config)
    trust_proxies(app)
    register_extensions(app)
    register_apis(app)
    wire_reactions(app)
    register_approval_actions(app)
    register_error_handlers(app)
    register_request_hooks(app)
    register_commands(app)
    return app


def configure(app: Flask, config) -> None:
    from app.http import JSONProvider
    from app.platform import logs

    if config is None or isinstance(config, str):
        config = get_config(config)
    app.config.from_object(config)
    app.config["MATONG_ENV"] = config.ENV_NAME
    check_code_keys(app.config)
    app.json = JSONProvider(app)
    app.session_interface = NoCookieSessions()
    logs.configure(app.config["LOG_FORMAT"])
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


class NoCookieSessions(SessionInterface):
    """No Flask cookie session: every caller is named by a bearer token or an API key, never by a cookie.

    Flask's default would derive a signing key from SECRET_KEY and look for a cookie on every request
    (some 100 µs of the consumer scan's); ``flask.session`` is then a null session that refuses writes.
    """

    def open_session(self, app, request):
        return None  # Flask makes its null session

    def save_session(self, app, session, response):
        return None


def trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, the client's address is what they say in X-Forwarded-For.

    Per-IP rate limits and the scans' recorded IP need the consumer's address, not the proxy's; with no
    proxy configured the header is ignored, so a client cannot choose its own address.
    """
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def check_code_keys(config) -> None:
    """Refuse to start with code keys that cannot issue or verify (not at the first scan)."""
    from app.codes.format import CodeKeyring

    try:
        CodeKeyring.from_setting(config["CODE_KEYS"], config["CODE_KEY_VERSION"])
    except ValueError as exc:
        raise ConfigError(f"CODE_KEYS / CODE_KEY_VERSION: {exc}") from exc


def register_extensions(app: Flask) -> None:
    from app import wechat
    from app.epcis import identifiers as epcis_identifiers, rfid_epcs
    from app.units import scan_facts
    from app.db import tune_connections
    from app.extensions import api, db, migrate, redis_ext
    from app.openapi_tags import HumanTagNames
    from app.platform import after_commit

    db.init_app(app)
    with app.app_context():
        tune_connections(db.engine, sync_wait=app.config["DATABASE_SYNC_WAIT"])
    migrate.init_app(app, db, directory=str(app.config.get("MIGRATIONS_DIR", "migrations")),
                     render_as_batch=True)
    redis_ext.init_app(app)
    wechat.init_app(app)
    api.init_app(app, spec_kwargs={"extra_plugins": (HumanTagNames(),)})
    _import_models()
    after_commit.install()
    epcis_identifiers.register_epc_reader(rfid_epcs.read_sgtin_uri)  # RFID tags in partners' EPCIS documents
    scan_facts.watch_commits()


def _import_models() -> None:
    """Import every models module so the metadata is complete (Alembic, relationships)."""
    import app.identity.models  # noqa: F401
    import app.masterdata.models  # noqa: F401
    import app.codes.models  # noqa: F401
    import app.accounts.models  # noqa: F401
    import app.production.models  # noqa: F401
    import app.units.models  # noqa: F401
    import app.stock.models  # noqa: F401
    import app.channel.models  # noqa: F401
    import app.retail.models  # noqa: F401
    import app.rebates.models  # noqa: F401
    import app.webhooks.models  # noqa: F401
    import app.consumers.models  # noqa: F401
    import app.payouts.models  # noqa: F401
    import app.campaigns.models  # noqa: F401
    import app.points.models  # noqa: F401
    import app.approvals.models  # noqa: F401
    import app.reports.models  # noqa: F401
    import app.notices.models  # noqa: F401
    import app.exports.models  # noqa: F401
    import app.epcis.models  # noqa: F401


def register_apis(app: Flask) -> None:
    from app import admin_api, console, health, integration_api, metrics
    from app.exports import web as exports
    from app.extensions import api
    from app.http import retry_writes
    from app.openapi_tags import name_tags
    from app.schemas import IdConverter
    import miniprogram_api

    app.url_map.converters["int"] = IdConverter
    blueprints = (health.blp, *admin_api.BLUEPRINTS, *integration_api.BLUEPRINTS, *miniprogram_api.BLUEPRINTS)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    api.spec.options["security"] = [{"bearerAuth": []}]
    name_tags(api.spec, blueprints)
    app.register_blueprint(console.blp)
    app.register_blueprint(metrics.blp)  # Prometheus text, not JSON: outside the OpenAPI document
    app.register_blueprint(
        get_swaggerui_blueprint("/docs", "/openapi.json", config={"app_name": "Matong API"}),
        url_prefix="/docs",
    )
    retry_writes(app)
    exports.install(app, admin_api.BLUEPRINTS)


def wire_reactions(app: Flask) -> None:
    """The domains that react to another's facts, registered with it (app/bootstrap.py); refuses to start
    when a payout purpose has no settlement handler."""
    from app import bootstrap

    bootstrap.wire()


def register_approval_actions(app: Flask) -> None:
    """The actions under dual control: who approves each and what approving it runs."""
    from app.approvals import flows

    flows.register_actions()


def register_error_handlers(app: Flask) -> None:
    from app.errors import register_error_handlers as register

    register(app)


def register_request_hooks(app: Flask) -> None:
    from app import idempotency, inputs
    from app.extensions import db
    from app.http import forbid_storing
    from app.platform import logs, request_metrics

    logs.init_app(app)  # first: every later hook's log line carries the request id
    with app.app_context():
        request_metrics.init_app(app, db.engine)
    inputs.init_app(app)  # first: nothing reads a body before its size and JSON are checked
    idempotency.init_app(app)
    app.after_request(forbid_storing)


def register_commands(app: Flask) -> None:
    from app.commands import COMMANDS

    for command in COMMANDS:
        app.cli.add_command(command)
