"""Identity use cases: log in and out, resolve tokens and API keys, manage users and keys, audit."""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from app.db import utcnow
from app.errors import Conflict, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from app.extensions import db
from app.identity.models import AdminToken, AdminUser, ApiKey, AuditRecord, Role, Scope, admin_user_regions
from app.identity.scope import scope_of
from app.masterdata.errors import RegionUnknown
from app.platform import after_commit, ratelimit
from app.platform.filters import Filters

_hasher = PasswordHasher()
# Verified when the username is unknown, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

API_KEY_PREFIX = "mtk"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message = "Wrong username or password."


class LoginThrottled(TooManyRequests):
    code = "login_throttled"
    message = "Too many failed logins; wait before trying again."


class TokenInvalid(Unauthorized):
    code = "token_invalid"
    message = "The token is missing, unknown, expired or revoked; log in again."


class ApiKeyInvalid(Unauthorized):
    code = "api_key_invalid"
    message = "The API key is missing, unknown or revoked."


@dataclass(frozen=True)
class Actor:
    """Who is acting: a back-office user, a machine client, or the system itself."""

    kind: str  # "user" | "api_key" | "system"
    id: int | None
    name: str
    role: Role | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    regions: tuple[str, ...] = ()  # a user's data scope (app.identity.scope); empty: the whole country

    @classmethod
    def system(cls, name: str = "system") -> "Actor":
        return cls(kind="system", id=None, name=name)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- passwords and users ---------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
            code="password_too_short", errors={"password": ["too short"]},
        )
    return _hasher.hash(password)


def create_user(*, actor: Actor, username: str, password: str, role: Role | str,
                display_name: str = "", regions: list[str] | None = None) -> AdminUser:
    """Create a back-office user; regions limit what they see (none: the whole country)."""
    scope_of(actor).require_national()  # a regional admin must not widen anyone's scope, their own included
    username = username.strip()
    if db.session.scalar(sa.select(AdminUser.id).where(AdminUser.username == username)):
        raise Conflict(f"The username {username!r} is taken.", code="username_taken",
                       errors={"username": ["taken"]})
    codes = _known_regions(regions or [])
    user = AdminUser(username=username, display_name=display_name, role=Role(role),
                     password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    changes = {"username": [None, username], "role": [None, user.role.value]}
    changes.update(_set_regions(user.id, codes))
    audit(actor, "user.create", user, changes)
    return user


def _known_regions(codes: list[str]) -> list[str]:
    """The codes, each checked against the regions table (an unknown one: 422 naming the field)."""
    codes = sorted({str(code).strip() for code in codes})
    if not codes:
        return []
    regions = sa.table("regions", sa.column("code"))  # master data's table; identity reads only its keys
    known = set(db.session.scalars(sa.select(regions.c.code).where(regions.c.code.in_(codes))))
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise RegionUnknown(f"Unknown region code(s): {', '.join(unknown)}.", errors={"regions": unknown})
    return codes


def regions_of(user_id: int) -> list[str]:
    """The region codes of a user's data scope (empty: the whole country)."""
    return list(db.session.scalars(sa.select(admin_user_regions.c.region_code)
                                   .where(admin_user_regions.c.user_id == user_id)
                                   .order_by(admin_user_regions.c.region_code)))


def _set_regions(user_id: int, codes: list[str]) -> dict:
    """Replace a user's data scope; {regions: [old, new]} when it changed."""
    old = regions_of(user_id)
    if old == codes:
        return {}
    db.session.execute(sa.delete(admin_user_regions).where(admin_user_regions.c.user_id == user_id))
    if codes:
        db.session.execute(sa.insert(admin_user_regions), [{"user_id": user_id, "region_code": code} for code in codes])
    return {"regions": [old, codes]}


def get_user(user_id: int) -> AdminUser:
    user = db.session.get(AdminUser, user_id)
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    return user


_USER_FILTERS = Filters(
    falsy_is_any=True,
    role=lambda value: AdminUser.role == Role(value),
    q=lambda value: AdminUser.username.contains(value, autoescape=True),
)


def list_users(*, role: str | None = None, q: str | None = None) -> sa.Select:
    """Users by id, of a role and with a part of the username when given."""
    return _USER_FILTERS.apply(sa.select(AdminUser).order_by(AdminUser.id), role=role, q=q)


def update_user(*, actor: Actor, user_id: int, changes: dict) -> AdminUser:
    """Change a user; a data scope (regions) is changed only by a user who sees the whole country."""
    scope_of(actor).require_national()
    user = get_user(user_id)
    values = dict(changes)
    regions = _known_regions(values.pop("regions")) if "regions" in values else None
    if "password" in values:
        user.password_hash = hash_password(values.pop("password"))
        _revoke_tokens_of(user.id)
        audit_changes = {"password": ["***", "***"]}
    else:
        audit_changes = {}
    if "role" in values:
        values["role"] = Role(values["role"])
    audit_changes.update(apply_changes(user, values))
    if values.get("is_active") is False:
        _revoke_tokens_of(user.id)
    if regions is not None:
        audit_changes.update(_set_regions(user.id, regions))
    if audit_changes:
        audit(actor, "user.update", user, audit_changes)
    return user


def _forget_throttles(username: str) -> None:
    ratelimit.forget(_login_key("account", username))
    ratelimit.forget_prefix(f"{_login_key('pair', username)}:")


def unlock_user(*, actor: Actor, user_id: int) -> AdminUser:
    """Lift the login throttles on this account (the account's own, and each address's on it) once the unlock commits."""
    user = get_user(user_id)
    after_commit.on_commit(functools.partial(_forget_throttles, user.username))
    changes = apply_changes(user, {"failed_logins": 0, "locked_until": None})
    audit(actor, "user.unlock", user, changes)
    return user


def _revoke_tokens_of(user_id: int) -> None:
    db.session.execute(
        sa.update(AdminToken)
        .where(AdminToken.user_id == user_id, AdminToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# --- login, tokens ------------------------------------------------------------------------------

def _login_key(kind: str, username: str, ip: str | None = None) -> str:
    # Hashed: a username may hold any character, and Redis patterns must match it literally.
    name = hashlib.sha256(username.encode()).hexdigest()[:24]
    if kind == "address":
        return f"admin:login:address:{ip}"
    return f"admin:login:{kind}:{name}" + (f":{ip}" if ip is not None else "")


def _login_throttles(username: str, ip: str) -> list[tuple[str, int]]:
    """(key, failures free before delays start): this address on this account, this address on any
    account (password spraying), this account from any address (a guess spread over many addresses).

    A few wrong passwords from one address slow that address only: the account's own throttle starts
    far above what one address can reach through its delays, so the owner logs in from elsewhere.
    """
    config = current_app.config
    return [(_login_key("pair", username, ip), config["LOGIN_FREE_FAILURES"]),
            (_login_key("address", username, ip), config["LOGIN_MAX_FAILURES_PER_ADDRESS"]),
            (_login_key("account", username), config["LOGIN_MAX_FAILURES_PER_ACCOUNT"])]


def login(*, username: str, password: str, ip: str) -> tuple[str, AdminToken]:
    """Check the password and issue a bearer token; failures slow down whoever keeps failing.

    Past a few failures, each one makes its address (and, past many more, the account) wait twice as
    long before the next try, up to LOGIN_MAX_DELAY_SECONDS: 429 login_throttled with Retry-After.
    """
    config = current_app.config
    now = utcnow()
    username = username.strip()
    throttles = _login_throttles(username, ip)
    wait = ratelimit.waiting(*(key for key, _ in throttles))
    if wait:
        raise LoginThrottled(f"Too many failed logins; try again in {wait} second(s).", **ratelimit.retry_after(wait))
    user = db.session.scalar(sa.select(AdminUser).where(AdminUser.username == username))
    if user is None or not _verify(user.password_hash, password) or not user.is_active:
        if user is None:
            _verify(_DUMMY_HASH, password)
        for key, free in throttles:
            ratelimit.fail(key, window=config["LOGIN_WINDOW_SECONDS"], free=free,
                           cap=config["LOGIN_MAX_DELAY_SECONDS"])
        raise InvalidCredentials()

    ratelimit.forget(throttles[0][0])  # this address got this account right: its own slate is clean
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now
    raw = secrets.token_urlsafe(32)
    token = AdminToken(token_hash=_sha256(raw), user=user, created_at=now,
                       expires_at=now + timedelta(seconds=config["ADMIN_TOKEN_TTL_SECONDS"]))
    db.session.add(token)
    db.session.commit()
    return raw, token


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate_token(raw: str | None) -> Actor:
    if not raw:
        raise TokenInvalid()
    token = db.session.scalar(sa.select(AdminToken).where(AdminToken.token_hash == _sha256(raw)))
    if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
        raise TokenInvalid()
    user = token.user
    if not user.is_active:
        raise TokenInvalid()
    return Actor(kind="user", id=user.id, name=user.username, role=user.role, regions=tuple(regions_of(user.id)))


def logout(raw: str) -> None:
    db.session.execute(
        sa.update(AdminToken)
        .where(AdminToken.token_hash == _sha256(raw), AdminToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# --- API keys ---------------------------------------------------------------------------------

def create_api_key(*, actor: Actor, name: str, scopes: list[str]) -> tuple[str, ApiKey]:
    """Create a key; the raw key is returned once and never stored."""
    scope_values = sorted({Scope(s).value for s in scopes})
    if not scope_values:
        raise ValidationFailed("An API key needs at least one scope.", code="scopes_required",
                               errors={"scopes": ["at least one scope"]})
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    raw = f"{API_KEY_PREFIX}_{prefix}_{secret}"
    key = ApiKey(name=name.strip(), prefix=prefix, key_hash=_sha256(raw), scopes=scope_values,
                 created_by_id=actor.id if actor.kind == "user" else None)
    db.session.add(key)
    db.session.flush()
    audit(actor, "api_key.create", key, {"name": [None, key.name], "scopes": [None, scope_values]})
    return raw, key


def revoke_api_key(*, actor: Actor, key_id: int) -> ApiKey:
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("No such API key.", code="api_key_not_found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit(actor, "api_key.revoke", key, {"revoked_at": [None, key.revoked_at]})
    return key


def list_api_keys() -> sa.Select:
    """Every API key (revoked ones too), by id."""
    return sa.select(ApiKey).order_by(ApiKey.id)


# Don't write last_used_at on every call of a busy line client: once a minute is enough.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def authenticate_api_key(raw: str | None) -> Actor:
    if not raw or raw.count("_") < 2:
        raise ApiKeyInvalid()
    _, prefix, _ = raw.split("_", 2)
    key = db.session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or key.revoked_at is not None or not hmac.compare_digest(key.key_hash, _sha256(raw)):
        raise ApiKeyInvalid()
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        db.session.execute(sa.update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now)
                           .execution_options(synchronize_session=False))
        db.session.commit()
    return Actor(kind="api_key", id=key.id, name=key.name, scopes=frozenset(key.scopes))


# --- audit ------------------------------------------------------------------------------------

def _plain(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def apply_changes(obj, values: dict) -> dict:
    """Set attributes on obj; return {field: [old, new]} for those that really changed."""
    changed = {}
    for name, new in values.items():
        old = getattr(obj, name)
        if old != new:
            setattr(obj, name, new)
            changed[name] = [_plain(old), _plain(new)]
    return changed


def audit(actor: Actor, action: str, entity, changes: dict | None = None, *,
          entity_type: str | None = None, entity_id=None) -> AuditRecord:
    """Add an audit record to the current transaction."""
    record = AuditRecord(
        actor_type=actor.kind, actor_id=actor.id, actor_name=actor.name, action=action,
        entity_type=entity_type or getattr(entity, "__tablename__", type(entity).__name__),
        entity_id=str(entity_id if entity_id is not None else getattr(entity, "id", "")),
        changes={k: [_plain(v) for v in pair] for k, pair in (changes or {}).items()},
    )
    db.session.add(record)
    return record


_AUDIT_FILTERS = Filters(
    falsy_is_any=True,
    entity_type=lambda value: AuditRecord.entity_type == value,
    entity_id=lambda value: AuditRecord.entity_id == str(value),
    actor_id=lambda value: sa.and_(AuditRecord.actor_type == "user", AuditRecord.actor_id == value),
    action=lambda value: AuditRecord.action == value,
    since=lambda value: AuditRecord.created_at >= value,
    until=lambda value: AuditRecord.created_at < value,
)


def list_audit(*, entity_type=None, entity_id=None, actor_id=None, action=None,
               since=None, until=None):
    """Audit records, newest first, narrowed by the filters given."""
    return _AUDIT_FILTERS.apply(sa.select(AuditRecord).order_by(AuditRecord.id.desc()), entity_type=entity_type,
                                entity_id=entity_id, actor_id=actor_id, action=action, since=since, until=until)
