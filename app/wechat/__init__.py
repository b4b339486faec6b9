"""The one package that talks to WeChat (wechatpy, wechatpayv3), and the sandbox that stands in for it.

`runtime()` answers where each WeChat API is and with which credentials: WeChat itself with the
configured appids and merchant keys, or the sandbox with the credentials it generated at start-up.
The in-process sandbox starts on first use, so commands that never talk to WeChat don't start it.
"""
from __future__ import annotations

import threading

import requests
from flask import Flask, current_app

from app.wechat.sandbox.credentials import SandboxCredentials

SANDBOX = "sandbox"
CREDENTIALS_PATH = "/__sandbox__/credentials"


class WeChatRuntime:
    def __init__(self, app: Flask):
        self.config = app.config
        self._lock = threading.Lock()
        self._server = None  # the in-process SandboxServer, once started
        self._standalone: SandboxCredentials | None = None

    # --- the sandbox ---------------------------------------------------------------------------

    def uses_sandbox(self, setting: str) -> bool:
        return self.config[setting] == SANDBOX

    def sandbox_url(self) -> str:
        if self.config.get("WECHAT_SANDBOX_URL"):
            return self.config["WECHAT_SANDBOX_URL"].rstrip("/")
        return self.sandbox_server().url

    def sandbox_server(self):
        """The in-process sandbox (started on first use)."""
        with self._lock:
            if self._server is None:
                from app.wechat.sandbox import SandboxServer, create_sandbox_app

                self._server = SandboxServer(create_sandbox_app()).start()
            return self._server

    def sandbox_credentials(self) -> SandboxCredentials:
        if not self.config.get("WECHAT_SANDBOX_URL"):
            return self.sandbox_server().credentials
        with self._lock:
            if self._standalone is None:
                response = requests.get(self.sandbox_url() + CREDENTIALS_PATH,
                                        timeout=self.config["WECHAT_TIMEOUT_SECONDS"])
                response.raise_for_status()
                self._standalone = SandboxCredentials.from_dict(response.json())
            return self._standalone

    # --- what the adapters need ------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        """Base URL of the mini-program API (no trailing slash)."""
        if self.uses_sandbox("WECHAT_API_BASE"):
            return self.sandbox_url()
        return self.config["WECHAT_API_BASE"].rstrip("/")

    @property
    def pay_base(self) -> str:
        """Base URL of WeChat Pay (no trailing slash)."""
        if self.uses_sandbox("WECHATPAY_API_BASE"):
            return self.sandbox_url()
        return self.config["WECHATPAY_API_BASE"].rstrip("/")

    def app_credentials(self, name: str) -> tuple[str, str]:
        """(appid, secret) of the dealer, clerk or consumer mini-program."""
        if self.uses_sandbox("WECHAT_API_BASE"):
            app = self.sandbox_credentials().apps[name]
            return app.appid, app.secret
        app = self.config["WECHAT_APPS"][name]
        return app["appid"], app["secret"]


def init_app(app: Flask) -> None:
    app.extensions["wechat"] = WeChatRuntime(app)


def runtime() -> WeChatRuntime:
    return current_app.extensions["wechat"]
