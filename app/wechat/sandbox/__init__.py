"""The WeChat sandbox: a small WSGI app that answers WeChat's and WeChat Pay's paths with their
payloads, signatures and callbacks, so no test, demo or benchmark calls Tencent.

It is a separate app with its own state (what WeChat would hold): it runs on a loopback port in a
thread of our process (the embedded default and tests) or standalone (`flask wechat-sandbox run`).
Its credentials (app secrets, merchant keys, its own RSA key pair) are generated at start-up.
"""
from __future__ import annotations

import logging
import threading

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from app.wechat.sandbox import blueprints
from app.wechat.sandbox.credentials import SandboxCredentials
from app.wechat.sandbox.state import SandboxState

log = logging.getLogger(__name__)


def create_sandbox_app(credentials: SandboxCredentials | None = None) -> Flask:
    """The sandbox WSGI app, with fresh state and the given (or freshly generated) credentials."""
    sandbox = Flask("wechat_sandbox")
    sandbox.config["SANDBOX_CREDENTIALS"] = credentials or SandboxCredentials.generate()
    sandbox.extensions["sandbox_state"] = SandboxState()
    for blueprint in blueprints.BLUEPRINTS:
        sandbox.register_blueprint(blueprint)
    return sandbox


class PathOnlyLog(WSGIRequestHandler):
    """Request lines without their query strings: WeChat's code2session carries the app secret there."""

    def log_request(self, code="-", size="-") -> None:
        self.log("info", '"%s %s" %s %s', self.command, self.path.split("?", 1)[0], code, size)


class SandboxServer:
    """The sandbox served on a loopback port by a daemon thread of this process."""

    def __init__(self, sandbox: Flask, host: str = "127.0.0.1", port: int = 0):
        self.app = sandbox
        self._server = make_server(host, port, sandbox, threaded=True, request_handler=PathOnlyLog)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="wechat-sandbox",
                                        daemon=True)

    @property
    def credentials(self) -> SandboxCredentials:
        return self.app.config["SANDBOX_CREDENTIALS"]

    @property
    def state(self) -> SandboxState:
        return self.app.extensions["sandbox_state"]

    def start(self) -> "SandboxServer":
        self._thread.start()
        log.info("WeChat sandbox listening on %s (in-process)", self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
