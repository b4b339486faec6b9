"""The one package that talks to WeChat (wechatpy, wechatpayv3), and the sandbox that stands in for it.

`runtime()` answers where each WeChat API is and with which credentials: WeChat itself with the
configured appids and merchant keys, or the sandbox with the credentials it generated at start-up.
The in-process sandbox starts on first use, so commands that never talk to WeChat don't start it.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import requests
from flask import Flask, current_app

from app.wechat.sandbox.credentials import SandboxCredentials

SANDBOX = "sandbox"
CREDENTIALS_PATH = "/__sandbox__/credentials"


@dataclass(frozen=True)
class PaySettings:
    """What the WeChat Pay adapters need: the merchant's ids, keys (PEM text) and WeChat Pay's public key."""

    mchid: str
    appid: str
    apiv3_key: str
    private_key: str
    cert_serial_no: str
    public_key: str
    public_key_id: str
    notify_url: str | None
    v2_key: str | None
    # The APIv2 client certificate red packets need in production; the sandbox does without.
    v2_cert_path: str | None = None
    v2_key_path: str | None = None


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
                # Loaded only where the sandbox stands in for WeChat: production never imports it.
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

    def pay_settings(self) -> PaySettings:
        """The merchant's WeChat Pay settings: from the configuration, or the sandbox's generated ones."""
        config = self.config
        if self.uses_sandbox("WECHATPAY_API_BASE"):
            credentials = self.sandbox_credentials()
            pay = credentials.pay
            # Transfers are paid under a mini-program's appid; the consumer's unless one is set.
            appid = config.get("WECHATPAY_APPID") or credentials.apps["consumer"].appid
            return PaySettings(mchid=credentials.mchid, appid=appid, apiv3_key=credentials.apiv3_key,
                               private_key=pay["merchant_private_key"],
                               cert_serial_no=pay["merchant_cert_serial_no"],
                               public_key=pay["platform_public_key"],
                               public_key_id=pay["platform_public_key_id"],
                               notify_url=config.get("WECHATPAY_NOTIFY_URL"), v2_key=credentials.v2_key)
        return PaySettings(mchid=config["WECHATPAY_MCHID"], appid=config["WECHATPAY_APPID"],
                           apiv3_key=config["WECHATPAY_APIV3_KEY"],
                           private_key=_read(config["WECHATPAY_PRIVATE_KEY_PATH"]),
                           cert_serial_no=config["WECHATPAY_CERT_SERIAL_NO"],
                           public_key=_read(config["WECHATPAY_PUBLIC_KEY_PATH"]),
                           public_key_id=config["WECHATPAY_PUBLIC_KEY_ID"],
                           notify_url=config.get("WECHATPAY_NOTIFY_URL"), v2_key=config.get("WECHATPAY_V2_KEY"),
                           v2_cert_path=config.get("WECHATPAY_V2_CERT_PATH"),
                           v2_key_path=config.get("WECHATPAY_V2_KEY_PATH"))


def _read(path: str | None) -> str:
    if not path:
        raise RuntimeError("WeChat Pay key paths are not configured (WECHATPAY_*_KEY_PATH)")
    return Path(path).read_text(encoding="utf-8")


def init_app(app: Flask) -> None:
    app.extensions["wechat"] = WeChatRuntime(app)


def runtime() -> WeChatRuntime:
    return current_app.extensions["wechat"]
