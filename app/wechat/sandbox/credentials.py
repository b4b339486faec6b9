"""Credentials the sandbox makes up at start-up: nothing secret is ever committed."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from config import WECHAT_APP_NAMES


@dataclass(frozen=True)
class SandboxApp:
    appid: str
    secret: str


@dataclass(frozen=True)
class SandboxCredentials:
    """Everything both sides must agree on: what WeChat would issue to a brand."""

    apps: dict[str, SandboxApp]  # "dealer" | "clerk" | "consumer" -> appid/secret
    mchid: str
    apiv3_key: str  # 32 characters
    v2_key: str  # 32 characters, APIv2 MD5 signing key
    # Filled in by the WeChat Pay part: PEM keys and ids (merchant key pair, platform key pair).
    pay: dict = field(default_factory=dict)

    @classmethod
    def generate(cls) -> "SandboxCredentials":
        apps = {name: SandboxApp(appid=f"wxsb{name[:2]}{secrets.token_hex(6)}", secret=secrets.token_hex(16))
                for name in WECHAT_APP_NAMES}
        from app.wechat.sandbox import pay_keys  # generated RSA keys live with the Pay part

        return cls(apps=apps, mchid=str(1900000000 + secrets.randbelow(99999999)),
                   apiv3_key=secrets.token_hex(16), v2_key=secrets.token_hex(16),
                   pay=pay_keys.generate())

    def as_dict(self) -> dict:
        return {"apps": {k: {"appid": a.appid, "secret": a.secret} for k, a in self.apps.items()},
                "mchid": self.mchid, "apiv3_key": self.apiv3_key, "v2_key": self.v2_key, "pay": self.pay}

    @classmethod
    def from_dict(cls, data: dict) -> "SandboxCredentials":
        return cls(apps={k: SandboxApp(**a) for k, a in data["apps"].items()}, mchid=data["mchid"],
                   apiv3_key=data["apiv3_key"], v2_key=data["v2_key"], pay=data.get("pay", {}))
