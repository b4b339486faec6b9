"""Settings classes, read from the environment when the app is created.

`MATONG_ENV` picks one of development (the default), testing and production.
Production refuses to start while a secret it needs is missing; development and
testing get safe, local defaults (SQLite, an in-process Redis, the WeChat sandbox).
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


WECHAT_APP_NAMES = ("dealer", "clerk", "consumer")


# What real WeChat needs: each mini-program's appid and secret, and the WeChat Pay merchant's keys.
WECHAT_REQUIRED_ENV = (
    *(f"WECHAT_{name.upper()}_{part}" for name in WECHAT_APP_NAMES for part in ("APPID", "SECRET")),
    "WECHATPAY_MCHID", "WECHATPAY_APPID", "WECHATPAY_APIV3_KEY", "WECHATPAY_PRIVATE_KEY_PATH",
    "WECHATPAY_CERT_SERIAL_NO", "WECHATPAY_PUBLIC_KEY_PATH", "WECHATPAY_PUBLIC_KEY_ID",
    "WECHATPAY_NOTIFY_URL",
)


class ConfigError(RuntimeError):
    """A setting is missing or wrong; start-up stops with this message."""


def env(name: str, default=None):
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value


def env_int(name: str, default: int) -> int:
    value = env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Base:
    """Settings every environment shares; subclasses change defaults, never names."""

    ENV_NAME = "base"
    # Environment variable names of secrets this environment cannot run without.
    REQUIRED_ENV: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.DEBUG = False
        self.TESTING = False
        self.SECRET_KEY = env("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = env("DATABASE_URL")
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.REDIS_URL = env("REDIS_URL")

        # OpenAPI (flask-smorest); the docs UI is served from a bundled copy at /docs.
        self.API_TITLE = "Matong API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.API_SPEC_OPTIONS = {
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer"},
                    "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                }
            }
        }

        # Back-office identity
        self.ADMIN_TOKEN_TTL_SECONDS = env_int("ADMIN_TOKEN_TTL_SECONDS", 8 * 3600)
        self.LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
        self.LOGIN_LOCK_SECONDS = env_int("LOGIN_LOCK_SECONDS", 15 * 60)

        # Mini-program accounts: token lifetimes, how long WeChat's session_key is kept, login limits.
        self.MP_ACCESS_TOKEN_TTL_SECONDS = env_int("MP_ACCESS_TOKEN_TTL_SECONDS", 2 * 3600)
        self.MP_REFRESH_TOKEN_TTL_SECONDS = env_int("MP_REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600)
        self.MP_SESSION_KEY_TTL_SECONDS = env_int("MP_SESSION_KEY_TTL_SECONDS", 3 * 24 * 3600)
        self.MP_LOGIN_WINDOW_SECONDS = env_int("MP_LOGIN_WINDOW_SECONDS", 60)
        self.MP_LOGIN_LIMIT_PER_IP = env_int("MP_LOGIN_LIMIT_PER_IP", 30)  # logins per window per address
        self.MP_LOGIN_LIMIT_PER_OPENID = env_int("MP_LOGIN_LIMIT_PER_OPENID", 10)  # per window per WeChat user

        # Codes: "version:hexkey" pairs, comma separated (keys of at least 32 bytes).
        # CODE_KEY_VERSION picks the version that issues new codes (default: the highest).
        self.CODE_KEYS = env("CODE_KEYS")
        self.CODE_KEY_VERSION = env_int("CODE_KEY_VERSION", 0)
        self.CODE_BATCH_MAX = env_int("CODE_BATCH_MAX", 50_000_000)
        self.CODE_EXPORT_FILE_ROWS = env_int("CODE_EXPORT_FILE_ROWS", 1_000_000)
        self.CODE_EXPORT_DIR = env("CODE_EXPORT_DIR", str(ROOT / "var" / "exports"))
        # "thread": exports run in a thread of the web process (embedded default);
        # "worker": a separate `flask codes work` process runs them (production);
        # "inline": they run before the request returns (tests).
        self.CODE_EXPORT_RUNNER = env("CODE_EXPORT_RUNNER", "thread")
        # A running export whose progress has not moved for this long lost its worker.
        self.CODE_EXPORT_STALE_SECONDS = env_int("CODE_EXPORT_STALE_SECONDS", 300)
        self.LABEL_DOMAIN = env("LABEL_DOMAIN", "m.example.com")
        self.LABEL_PREFIX = env("LABEL_PREFIX", "c")
        self.GS1_COMPANY_PREFIX = env("GS1_COMPANY_PREFIX")  # enables SSCC-18 on pallet codes

        # Workers (app.workers): where each writes its liveness file (<dir>/<name>.alive, touched at least
        # every WORKER_HEARTBEAT_SECONDS, also while it waits out an outage), and the longest pause
        # between two tries while the database or Redis is down.
        self.WORKER_HEARTBEAT_DIR = env("WORKER_HEARTBEAT_DIR", str(ROOT / "var" / "heartbeat"))
        self.WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 10)
        self.WORKER_MAX_BACKOFF_SECONDS = env_int("WORKER_MAX_BACKOFF_SECONDS", 30)

        # Channel and stores.
        self.WITHDRAWAL_MIN_FEN = env_int("WITHDRAWAL_MIN_FEN", 100)  # a clerk's smallest cash withdrawal
        self.WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 10)
        self.WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5)
        # Pulls skip events younger than this, so a cursor never passes a lower id still committing.
        self.EVENT_PULL_SETTLE_SECONDS = env_int("EVENT_PULL_SETTLE_SECONDS", 2)

        # Consumer scans: suspected copies, hidden-code lock-outs, rate limits (per minute).
        self.CONSUMER_COPY_USERS = env_int("CONSUMER_COPY_USERS", 3)  # distinct users within the window
        self.CONSUMER_COPY_REGIONS = env_int("CONSUMER_COPY_REGIONS", 2)  # or distinct regions
        self.CONSUMER_COPY_WINDOW_HOURS = env_int("CONSUMER_COPY_WINDOW_HOURS", 24)
        self.HIDDEN_CODE_MAX_FAILURES_PER_CODE = env_int("HIDDEN_CODE_MAX_FAILURES_PER_CODE", 5)  # locks the code
        self.HIDDEN_CODE_LOCK_HOURS = env_int("HIDDEN_CODE_LOCK_HOURS", 24)
        self.HIDDEN_CODE_MAX_FAILURES_PER_USER = env_int("HIDDEN_CODE_MAX_FAILURES_PER_USER", 20)  # per hour
        self.CONSUMER_SCANS_PER_MINUTE_USER = env_int("CONSUMER_SCANS_PER_MINUTE_USER", 30)
        self.CONSUMER_SCANS_PER_MINUTE_IP = env_int("CONSUMER_SCANS_PER_MINUTE_IP", 120)
        self.CONSUMER_SCANS_PER_MINUTE_CODE = env_int("CONSUMER_SCANS_PER_MINUTE_CODE", 60)
        # Reverse proxies in front of the app whose X-Forwarded-For is believed (0: none, the header is ignored).
        self.TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
        # Claims: how long a scan can be claimed, and the velocity rules that hold a cash prize for review.
        self.CLAIM_WINDOW_HOURS = env_int("CLAIM_WINDOW_HOURS", 24)
        self.CAMPAIGN_CACHE_SECONDS = env_int("CAMPAIGN_CACHE_SECONDS", 5)  # how long a scan's campaign list may lag
        # How long a scan's code batches, products and dealer territories may lag a change (per process).
        self.SCAN_CACHE_SECONDS = env_int("SCAN_CACHE_SECONDS", 5)
        # "stream": a scan's record goes to a Redis stream, written to the database in batches by
        # `flask consumers persist-scans`; "inline": the request writes it (tests, and the embedded
        # default, whose in-process Redis would lose the log with the process).
        self.CONSUMER_SCAN_WRITER = env("CONSUMER_SCAN_WRITER", "stream" if self.REDIS_URL else "inline")
        if self.CONSUMER_SCAN_WRITER not in ("stream", "inline"):
            raise RuntimeError("CONSUMER_SCAN_WRITER must be stream or inline")
        self.CLAIMS_PER_MINUTE_USER = env_int("CLAIMS_PER_MINUTE_USER", 10)
        self.CLAIMS_PER_MINUTE_IP = env_int("CLAIMS_PER_MINUTE_IP", 120)
        self.CLAIM_VELOCITY_CITIES = env_int("CLAIM_VELOCITY_CITIES", 3)  # distinct cities claimed from ...
        self.CLAIM_VELOCITY_HOURS = env_int("CLAIM_VELOCITY_HOURS", 24)  # ... within this many hours
        self.CLAIM_HOLD_DAILY_FEN = env_int("CLAIM_HOLD_DAILY_FEN", 10_000)  # cash won in a China day above it
        self.POINTS_EXPIRE_DAYS = env_int("POINTS_EXPIRE_DAYS", 365)  # consumers' points expire after

        # Payouts: the channel this merchant pays by (transfer: APIv3 transfer bills; redpack: APIv2),
        # and how long a transfer waits for the user to confirm before it is cancelled.
        self.PAYOUT_CHANNEL = env("PAYOUT_CHANNEL", "transfer")
        if self.PAYOUT_CHANNEL not in ("transfer", "redpack"):
            raise ConfigError(f"PAYOUT_CHANNEL is transfer or redpack, got {self.PAYOUT_CHANNEL!r}")
        self.PAYOUT_CONFIRM_HOURS = env_int("PAYOUT_CONFIRM_HOURS", 24)

        # WeChat. Each API base is "sandbox" (the project's sandbox, started in-process, with keys
        # generated at start-up), the URL of a standalone sandbox (`flask wechat-sandbox run`),
        # or WeChat itself. Production refuses anything but WeChat.
        self.WECHAT_API_BASE = env("WECHAT_API_BASE", "sandbox")
        self.WECHATPAY_API_BASE = env("WECHATPAY_API_BASE", "sandbox")
        # Where "sandbox" is: unset = in this process; else a standalone sandbox's URL.
        self.WECHAT_SANDBOX_URL = env("WECHAT_SANDBOX_URL")
        self.WECHAT_TIMEOUT_SECONDS = float(env("WECHAT_TIMEOUT_SECONDS", "5"))
        # One mini-program per audience: WECHAT_DEALER_APPID / _SECRET, WECHAT_CLERK_..., WECHAT_CONSUMER_...
        self.WECHAT_APPS = {
            name: {"appid": env(f"WECHAT_{name.upper()}_APPID"), "secret": env(f"WECHAT_{name.upper()}_SECRET")}
            for name in WECHAT_APP_NAMES
        }
        # WeChat Pay (APIv3 transfer bills; APIv2 cash red packets as a second channel).
        self.WECHATPAY_MCHID = env("WECHATPAY_MCHID")
        self.WECHATPAY_APPID = env("WECHATPAY_APPID")  # the appid transfers are paid under
        self.WECHATPAY_APIV3_KEY = env("WECHATPAY_APIV3_KEY")
        self.WECHATPAY_PRIVATE_KEY_PATH = env("WECHATPAY_PRIVATE_KEY_PATH")  # merchant API private key (PEM)
        self.WECHATPAY_CERT_SERIAL_NO = env("WECHATPAY_CERT_SERIAL_NO")
        self.WECHATPAY_PUBLIC_KEY_PATH = env("WECHATPAY_PUBLIC_KEY_PATH")  # WeChat Pay public key (PEM)
        self.WECHATPAY_PUBLIC_KEY_ID = env("WECHATPAY_PUBLIC_KEY_ID")
        self.WECHATPAY_NOTIFY_URL = env("WECHATPAY_NOTIFY_URL")
        self.WECHATPAY_V2_KEY = env("WECHATPAY_V2_KEY")  # APIv2 key (MD5 signatures)
        self.WECHATPAY_V2_CERT_PATH = env("WECHATPAY_V2_CERT_PATH")  # client certificate for red packets
        self.WECHATPAY_V2_KEY_PATH = env("WECHATPAY_V2_KEY_PATH")

    def validate(self) -> None:
        missing = [name for name in self.REQUIRED_ENV if env(name) is None]
        if missing:
            raise ConfigError(
                f"{missing[0]} is not set: {self.ENV_NAME} refuses to start without it"
                + (f" (also missing: {', '.join(missing[1:])})" if missing[1:] else "")
            )


class Development(Base):
    ENV_NAME = "development"

    def __init__(self) -> None:
        super().__init__()
        self.DEBUG = env_bool("FLASK_DEBUG", False)
        self.SECRET_KEY = env("SECRET_KEY", "dev-only-secret-key")
        self.SQLALCHEMY_DATABASE_URI = env("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'matong.db'}")
        # Fixed development keys, so demo codes keep verifying after a restart.
        self.CODE_KEYS = env("CODE_KEYS", "1:" + "11" * 32)


class Testing(Base):
    ENV_NAME = "testing"

    def __init__(self) -> None:
        super().__init__()
        self.TESTING = True
        self.SECRET_KEY = "testing-secret-key"
        self.SQLALCHEMY_DATABASE_URI = env("DATABASE_URL", "sqlite://")
        self.CODE_KEYS = "1:" + "aa" * 32 + ",2:" + "bb" * 32
        self.CODE_EXPORT_RUNNER = "inline"
        self.CONSUMER_SCAN_WRITER = "inline"
        self.SCAN_CACHE_SECONDS = 0  # tests change batches and territories between scans
        self.EVENT_PULL_SETTLE_SECONDS = 0
        self.CODE_EXPORT_DIR = env("CODE_EXPORT_DIR", str(ROOT / "var" / "test-exports"))


class Production(Base):
    ENV_NAME = "production"
    REQUIRED_ENV = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CODE_KEYS")

    def __init__(self) -> None:
        super().__init__()
        self.CODE_EXPORT_RUNNER = env("CODE_EXPORT_RUNNER", "worker")
        self.WECHAT_API_BASE = env("WECHAT_API_BASE", "https://api.weixin.qq.com")
        self.WECHATPAY_API_BASE = env("WECHATPAY_API_BASE", "https://api.mch.weixin.qq.com")

    def validate(self) -> None:
        super().validate()
        for name in ("WECHAT_API_BASE", "WECHATPAY_API_BASE"):
            if getattr(self, name) == "sandbox":
                raise ConfigError(f"{name}=sandbox: production refuses the WeChat sandbox")
        missing = [name for name in WECHAT_REQUIRED_ENV if env(name) is None]
        if missing:
            raise ConfigError(f"{missing[0]} is not set: production refuses to start without it"
                              + (f" (also missing: {', '.join(missing[1:])})" if missing[1:] else ""))
        for name in ("WECHATPAY_PRIVATE_KEY_PATH", "WECHATPAY_PUBLIC_KEY_PATH"):
            if not os.path.isfile(env(name)):
                raise ConfigError(f"{name}={env(name)!r} is not a readable file")


CONFIGS = {"development": Development, "testing": Testing, "production": Production}


def get_config(name: str | None = None) -> Base:
    """The settings of the named environment (default: $MATONG_ENV), validated."""
    name = name or env("MATONG_ENV", "development")
    try:
        config = CONFIGS[name]()
    except KeyError as exc:
        raise ConfigError(f"MATONG_ENV must be one of {', '.join(CONFIGS)}, got {name!r}") from exc
    config.validate()
    return config
