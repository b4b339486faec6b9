"""Settings classes, read from the environment when the app is created.

`MATONG_ENV` picks one of development (the default), testing and production.
Production refuses to start while a secret it needs is missing, short or one that was ever
committed to this repository; development and testing get safe, local defaults (SQLite, an
in-process Redis, the WeChat sandbox). Development's secrets are generated on its first start and
kept in `var/` (never committed); only the testing settings hold fixed keys.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

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


# The brand's contacts become tel:, mailto: and https links on a public page: only these shapes.
_BRAND_CONTACTS = {
    "BRAND_SERVICE_PHONE": (re.compile(r"\+?[0-9][0-9 -]{2,30}"), "digits, spaces and dashes (400-820-8820)"),
    "BRAND_REPORT_EMAIL": (re.compile(r"[^@\s<>\"'&]+@[^@\s<>\"'&]+\.[^@\s<>\"'&]+"), "an e-mail address"),
    "BRAND_REPORT_URL": (re.compile(r"https://[^\s/?#<>\"']+[^\s<>\"']*"), "an https:// URL"),
}


def _check_brand_contacts(config) -> None:
    for name, (shape, meaning) in _BRAND_CONTACTS.items():
        value = getattr(config, name)
        if value and not shape.fullmatch(value):
            raise ConfigError(f"{name} must be {meaning}, got {value!r}")


# Every key and secret this repository has ever held (`git log -p -- config/ tests/`): anyone can read
# them, so a code signed with one is forgeable and production refuses them. Add to it, never remove.
KNOWN_CODE_KEYS = frozenset(byte * 32 for byte in ("11", "aa", "bb", "ab", "cd"))
KNOWN_SECRET_KEYS = frozenset({"dev-only-secret-key", "testing-secret-key", "s" * 40})
MIN_SECRET_KEY_CHARS = 32
# A random 32-byte key has about 30 distinct bytes; fewer than this is a pattern someone typed.
MIN_DISTINCT_KEY_BYTES = 16
LOCAL_SECRETS_FILE = "development-secrets.json"


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


def env_threshold(name: str, default: int | None) -> int | None:
    """An amount above which a rule applies, or None (the word "off"): the rule never applies."""
    value = env(name)
    if value is None:
        return default
    if value.strip().lower() == "off":
        return None
    return env_int(name, 0)


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def redis_cluster_nodes(value: str | None) -> list[tuple[str, int]]:
    """REDIS_CLUSTER_NODES as (host, port) pairs: `host:port` entries, comma separated ([::1]:7001 for IPv6)."""
    nodes = []
    for entry in (value or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        host, _, port = entry.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c in host for c in "/@[] "):
            raise ConfigError(f"REDIS_CLUSTER_NODES holds {entry!r}: each entry is host:port "
                              "(e.g. 10.0.0.5:6379), entries comma separated")
        nodes.append((host, int(port)))
    return nodes


def var_dir() -> Path:
    """Where the embedded default keeps its files: the SQLite database, its generated secrets."""
    return Path(env("MATONG_VAR_DIR", str(ROOT / "var")))


def local_secrets(folder: Path) -> dict:
    """The development SECRET_KEY and CODE_KEYS: made on the first start, then read from folder.

    The file is created whole or not at all (written aside, then hard-linked into place), so gunicorn
    workers and `flask` commands starting together all end up with the first one's keys; mode 0600.
    """
    path = folder / LOCAL_SECRETS_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        made = {"SECRET_KEY": secrets.token_urlsafe(48), "CODE_KEYS": "1:" + secrets.token_hex(32)}
        fd, aside = tempfile.mkstemp(dir=folder, prefix=".secrets-")  # mkstemp creates it 0600
        try:
            with os.fdopen(fd, "w") as file:
                json.dump(made, file)
            os.link(aside, path)
        except FileExistsError:
            pass  # another process was first: its keys are the ones
        finally:
            os.unlink(aside)
    return json.loads(path.read_text())


def weak_code_key(setting: str) -> str | None:
    """Why CODE_KEYS holds a key nobody may sign with (known from this repository, or a pattern); else None."""
    for part in setting.split(","):
        key = part.partition(":")[2].strip().lower()
        if key in KNOWN_CODE_KEYS:
            return f"key version {part.partition(':')[0].strip()} is a key committed to the Matong repository"
        try:
            raw = bytes.fromhex(key)
        except ValueError:
            continue  # malformed or short: the keyring's own check names it
        if len(raw) >= 32 and len(set(raw)) < MIN_DISTINCT_KEY_BYTES:
            return f"key version {part.partition(':')[0].strip()} is a pattern, not random bytes"
    return None


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
        # On a Galera cluster: which statements wait for the node to apply others' commits first
        # (wsrep_sync_wait; 7: reads, updates and deletes, inserts), so a request sees what an earlier one
        # wrote on another node, its foreign keys included (docs/galera.md). Ignored elsewhere.
        self.DATABASE_SYNC_WAIT = env_int("DATABASE_SYNC_WAIT", 7)
        self.REDIS_URL = env("REDIS_URL")
        # A Redis Cluster instead (docs/redis-cluster.md): some of its nodes, `host:port` comma separated (the
        # client learns the others from them). Set, it wins over REDIS_URL.
        self.REDIS_CLUSTER_NODES = redis_cluster_nodes(env("REDIS_CLUSTER_NODES"))
        # /metrics answers a scrape that sends this as a bearer token (unset: /metrics is off).
        self.METRICS_TOKEN = env("METRICS_TOKEN")
        # One JSON object per log line (json: what a log collector reads) or plain text (text).
        self.LOG_FORMAT = env("LOG_FORMAT", "text")
        # Request bodies above this many bytes are refused (413 payload_too_large) before they are
        # read; the line upload, whose 100,000 records take 17 to 43 MB, has a limit of its own.
        self.MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)
        self.LINE_UPLOAD_MAX_BYTES = env_int("LINE_UPLOAD_MAX_BYTES", 64 * 1024 * 1024)
        self.VAR_DIR = str(var_dir())  # the embedded default's files: database, generated secrets, demo password

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
        # Failed logins, counted per window: free ones, then each makes its address (or the account) wait
        # 1, 2, 4, ... seconds, up to the cap. Per address on one account, per address on any account
        # (spraying), per account from every address.
        self.LOGIN_WINDOW_SECONDS = env_int("LOGIN_WINDOW_SECONDS", 15 * 60)
        self.LOGIN_FREE_FAILURES = env_int("LOGIN_FREE_FAILURES", 3)
        self.LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 10)
        self.LOGIN_MAX_FAILURES_PER_ACCOUNT = env_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 50)
        self.LOGIN_MAX_DELAY_SECONDS = env_int("LOGIN_MAX_DELAY_SECONDS", 15 * 60)

        # Dual control: what one back-office user may not do alone (a second one approves).
        # Thresholds are "off" (never) or an amount above which approval is needed.
        self.DUAL_CONTROL_REBATE_APPROVAL = env_bool("DUAL_CONTROL_REBATE_APPROVAL", True)
        self.DUAL_CONTROL_CAMPAIGN_BUDGET_FEN = env_threshold("DUAL_CONTROL_CAMPAIGN_BUDGET_FEN", 1_000_000)
        self.DUAL_CONTROL_POINTS_ADJUST = env_threshold("DUAL_CONTROL_POINTS_ADJUST", 10_000)
        self.DUAL_CONTROL_CODE_PACK_HIDDEN = env_bool("DUAL_CONTROL_CODE_PACK_HIDDEN", True)
        self.APPROVAL_PENDING_HOURS = env_int("APPROVAL_PENDING_HOURS", 72)  # a request not decided by then expires
        self.APPROVAL_GRANT_MINUTES = env_int("APPROVAL_GRANT_MINUTES", 60)  # an approved download is usable for

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
        # Exports of back-office lists and reports (?format=xlsx|csv): up to EXPORT_INLINE_MAX_ROWS rows
        # the file is the response, above it a job (EXPORT_RUNNER as CODE_EXPORT_RUNNER) writes it under
        # CODE_EXPORT_DIR/lists, where it is kept EXPORT_RETENTION_HOURS. No export exceeds EXPORT_MAX_ROWS
        # (nor, in .xlsx, a sheet's 1,048,575 rows).
        self.EXPORT_INLINE_MAX_ROWS = env_int("EXPORT_INLINE_MAX_ROWS", 50_000)
        self.EXPORT_MAX_ROWS = env_int("EXPORT_MAX_ROWS", 5_000_000)
        self.EXPORT_RUNNER = env("EXPORT_RUNNER", "thread")
        self.EXPORT_RETENTION_HOURS = env_int("EXPORT_RETENTION_HOURS", 24)
        self.EXPORT_STALE_SECONDS = env_int("EXPORT_STALE_SECONDS", 300)
        self.LABEL_DOMAIN = env("LABEL_DOMAIN", "m.example.com")
        self.LABEL_PREFIX = env("LABEL_PREFIX", "c")
        self.GS1_COMPANY_PREFIX = env("GS1_COMPANY_PREFIX")  # enables SSCC-18 on pallet codes
        # Whom a person holding a forged, scrapped or recalled product calls or writes to, shown on the
        # printed URL's browser page (unset: that line is left out; the page always names 12315).
        self.BRAND_SERVICE_PHONE = env("BRAND_SERVICE_PHONE", "")
        self.BRAND_REPORT_EMAIL = env("BRAND_REPORT_EMAIL", "")
        self.BRAND_REPORT_URL = env("BRAND_REPORT_URL", "")
        _check_brand_contacts(self)

        # Workers (app.platform.workers): where each writes its liveness file (<dir>/<name>, written at least
        # every WORKER_HEARTBEAT_SECONDS, also while it waits out an outage), and the longest pause
        # between two tries while the database or Redis is down.
        self.WORKER_HEARTBEAT_DIR = env("WORKER_HEARTBEAT_DIR", str(ROOT / "var" / "heartbeats"))
        self.WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 10)
        self.WORKER_MAX_BACKOFF_SECONDS = env_int("WORKER_MAX_BACKOFF_SECONDS", 30)

        # Channel and stores.
        self.WITHDRAWAL_MIN_FEN = env_int("WITHDRAWAL_MIN_FEN", 100)  # a clerk's smallest cash withdrawal
        self.WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 10)
        self.WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5)
        # Webhooks may post to loopback, private and link-local addresses (app/webhooks/targets.py): only
        # where the receiver is on this machine (development, tests); production posts to public https.
        self.WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
        self.WEBHOOK_HTTPS_ONLY = env_bool("WEBHOOK_HTTPS_ONLY", False)
        # Pulls skip events younger than this, so a cursor never passes a lower id still committing.
        self.EVENT_PULL_SETTLE_SECONDS = env_int("EVENT_PULL_SETTLE_SECONDS", 2)

        # Consumer scans: suspected copies, hidden-code guessing limits, rate limits (per minute).
        self.CONSUMER_COPY_USERS = env_int("CONSUMER_COPY_USERS", 3)  # distinct users within the window
        self.CONSUMER_COPY_REGIONS = env_int("CONSUMER_COPY_REGIONS", 2)  # or distinct regions
        self.CONSUMER_COPY_WINDOW_HOURS = env_int("CONSUMER_COPY_WINDOW_HOURS", 24)
        # Wrong hidden-code guesses on one code per window; past it, who guessed wrong on it is not checked again.
        self.HIDDEN_CODE_MAX_FAILURES_PER_CODE = env_int("HIDDEN_CODE_MAX_FAILURES_PER_CODE", 20)
        self.HIDDEN_CODE_LOCK_HOURS = env_int("HIDDEN_CODE_LOCK_HOURS", 24)
        self.HIDDEN_CODE_MAX_FAILURES_PER_USER = env_int("HIDDEN_CODE_MAX_FAILURES_PER_USER", 20)  # per hour
        self.HIDDEN_CODE_MAX_FAILURES_PER_IP = env_int("HIDDEN_CODE_MAX_FAILURES_PER_IP", 60)  # per hour
        self.CONSUMER_SCANS_PER_MINUTE_USER = env_int("CONSUMER_SCANS_PER_MINUTE_USER", 30)
        self.CONSUMER_SCANS_PER_MINUTE_IP = env_int("CONSUMER_SCANS_PER_MINUTE_IP", 120)
        self.CONSUMER_SCANS_PER_MINUTE_CODE = env_int("CONSUMER_SCANS_PER_MINUTE_CODE", 60)
        # The GS1 Digital Link resolver and its pages, per address (public, nothing recorded).
        self.GS1_RESOLVER_PER_MINUTE_IP = env_int("GS1_RESOLVER_PER_MINUTE_IP", 120)
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
        self.CONSUMER_SCAN_WRITER = env("CONSUMER_SCAN_WRITER",
                                        "stream" if self.REDIS_URL or self.REDIS_CLUSTER_NODES else "inline")
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
        # A payout WeChat Pay has not answered definitively for this long is listed for people.
        self.PAYOUT_DOUBT_ALERT_MINUTES = env_int("PAYOUT_DOUBT_ALERT_MINUTES", 60)
        # A create sent without a definitive answer may still make its bill for this long (a day, to be
        # safe): until then a refused create with no bill in sight leaves the payout in doubt, not failed.
        self.PAYOUT_CREATE_SETTLE_MINUTES = env_int("PAYOUT_CREATE_SETTLE_MINUTES", 24 * 60)
        # How many of a day's finished payouts reconciliation asks WeChat Pay about again (all open ones always).
        self.PAYOUT_RECONCILE_SAMPLE = env_int("PAYOUT_RECONCILE_SAMPLE", 200)

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
        if not 0 <= self.DATABASE_SYNC_WAIT <= 15:
            raise ConfigError(f"DATABASE_SYNC_WAIT is {self.DATABASE_SYNC_WAIT}: Galera's wsrep_sync_wait is a "
                              "bit mask from 0 to 15 (7: reads, updates, deletes and inserts wait for the cluster's earlier commits)")
        if self.LOG_FORMAT not in ("json", "text"):
            raise ConfigError(f"LOG_FORMAT is {self.LOG_FORMAT!r}: json or text")
        if self.METRICS_TOKEN is not None and len(self.METRICS_TOKEN) < 24:
            raise ConfigError("METRICS_TOKEN is shorter than 24 characters: anyone could guess it")
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
        self.SQLALCHEMY_DATABASE_URI = env("DATABASE_URL", f"sqlite:///{var_dir() / 'matong.db'}")
        self.WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", True)  # a receiver on this machine
        # Made on the first start and kept in var/, so demo codes keep verifying after a restart and
        # every process of this machine signs alike, while no two machines share a key.
        if self.SECRET_KEY is None or self.CODE_KEYS is None:
            made = local_secrets(var_dir())
            self.SECRET_KEY = self.SECRET_KEY or made["SECRET_KEY"]
            self.CODE_KEYS = self.CODE_KEYS or made["CODE_KEYS"]


class Testing(Base):
    ENV_NAME = "testing"

    def __init__(self) -> None:
        super().__init__()
        self.TESTING = True
        self.SECRET_KEY = "testing-secret-key"
        self.SQLALCHEMY_DATABASE_URI = env("DATABASE_URL", "sqlite://")
        self.CODE_KEYS = "1:" + "aa" * 32 + ",2:" + "bb" * 32
        self.CODE_EXPORT_RUNNER = "inline"
        self.EXPORT_RUNNER = "inline"
        self.CONSUMER_SCAN_WRITER = "inline"
        self.WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", True)  # the tests' receiver is on loopback
        self.SCAN_CACHE_SECONDS = 0  # tests change batches and territories between scans
        self.EVENT_PULL_SETTLE_SECONDS = 0
        # Off, so each test of another rule acts alone; the dual-control tests turn it on.
        self.DUAL_CONTROL_REBATE_APPROVAL = False
        self.DUAL_CONTROL_CAMPAIGN_BUDGET_FEN = None
        self.DUAL_CONTROL_POINTS_ADJUST = None
        self.DUAL_CONTROL_CODE_PACK_HIDDEN = False
        self.CODE_EXPORT_DIR = env("CODE_EXPORT_DIR", str(ROOT / "var" / "test-exports"))


class Production(Base):
    ENV_NAME = "production"
    REQUIRED_ENV = ("SECRET_KEY", "DATABASE_URL", "CODE_KEYS")

    def __init__(self) -> None:
        super().__init__()
        self.CODE_EXPORT_RUNNER = env("CODE_EXPORT_RUNNER", "worker")
        self.EXPORT_RUNNER = env("EXPORT_RUNNER", "worker")
        self.LOG_FORMAT = env("LOG_FORMAT", "json")
        self.WEBHOOK_HTTPS_ONLY = env_bool("WEBHOOK_HTTPS_ONLY", True)
        self.WECHAT_API_BASE = env("WECHAT_API_BASE", "https://api.weixin.qq.com")
        self.WECHATPAY_API_BASE = env("WECHATPAY_API_BASE", "https://api.mch.weixin.qq.com")

    def validate(self) -> None:
        super().validate()
        if self.REDIS_URL is None and not self.REDIS_CLUSTER_NODES:
            raise ConfigError("REDIS_URL is not set (nor REDIS_CLUSTER_NODES): production refuses to start without "
                              "a Redis server or cluster (the in-process one would lose scans with the process)")
        if len(self.SECRET_KEY) < MIN_SECRET_KEY_CHARS or self.SECRET_KEY in KNOWN_SECRET_KEYS:
            raise ConfigError(f"SECRET_KEY is shorter than {MIN_SECRET_KEY_CHARS} characters or committed to the "
                              "Matong repository: production needs a random one of its own")
        weak = weak_code_key(self.CODE_KEYS)
        if weak:
            raise ConfigError(f"CODE_KEYS: {weak}; production refuses it (anyone could forge codes): "
                              "generate one with `python -c 'import secrets; print(secrets.token_hex(32))'`")
        for name in ("WECHAT_API_BASE", "WECHATPAY_API_BASE"):
            if getattr(self, name) == "sandbox":
                raise ConfigError(f"{name}=sandbox: production refuses the WeChat sandbox")
        # Secrets and money go over these: plain http would hand them to anyone on the path.
        for name in ("WECHAT_API_BASE", "WECHATPAY_API_BASE", "WECHAT_SANDBOX_URL"):
            value = getattr(self, name)
            if value is not None and urlsplit(value).scheme.lower() != "https":
                raise ConfigError(f"{name}={value!r}: production talks to WeChat over https only")
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
