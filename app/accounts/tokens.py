"""Mini-program access tokens that say whose they are, so a hot view checks one without the database.

An access token reads `m2.<user id>.<app>.<openid>.<expiry>.<nonce>.<mac>`: the expiry in Unix seconds,
a random nonce, and an HMAC-SHA256 of the rest under a key derived from SECRET_KEY. Only the token's
holder learns what it says (their own id and openid). The database keeps the token's SHA-256 as
before (logout, refresh, the login's family), and Redis keeps one key per token, `auth:mp:<hash>`:
"ok" from issue to expiry, "revoked" from its revocation to its expiry (written before the revoking
transaction commits, over whatever was there).

A view that checks only the signature (the consumer scan, `verify`) checks that key in the Redis call
it makes anyway. A missing key (Redis lost its data, or the token predates the key) is answered from
the database, which puts the key back (`seed`, never over "revoked"). Tokens of the older opaque form
(random text) are still accepted by the database check until they expire.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from app.accounts.models import AppName
from app.extensions import redis

PREFIX = "m2"
OK, REVOKED = "ok", "revoked"


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says: whose it is, for which mini-program, until when; and its key."""

    user_id: int
    app: str
    openid: str
    expires: int  # Unix seconds
    token_hash: str

    @property
    def key(self) -> str:
        return key_of(self.token_hash)


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a signed token, as it says: enough for a view that reads no user row."""

    id: int
    openid: str
    app: AppName


@dataclass(frozen=True, slots=True)
class Check:
    """A signed token whose revocation a view checks in its own Redis call."""

    key: str  # its key in Redis
    confirm: Callable[[], None]  # the database's word on it when Redis has none (raises when it is bad)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def key_of(hash_: str) -> str:
    return f"auth:mp:{hash_}"


def _mac_key() -> bytes:
    cached = current_app.extensions.get("mp_token_key")
    if cached is None:
        secret = str(current_app.config["SECRET_KEY"]).encode()
        cached = current_app.extensions["mp_token_key"] = hmac.new(secret, b"matong mini-program access token",
                                                                   hashlib.sha256).digest()
    return cached


def _mac(body: str) -> str:
    digest = hmac.new(_mac_key(), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def sign(*, user_id: int, app: str, openid: str, expires_at: datetime) -> str:
    if "." in openid:
        raise ValueError("an openid holds no dot")
    body = f"{PREFIX}.{user_id}.{app}.{openid}.{int(expires_at.timestamp())}.{secrets.token_urlsafe(16)}"
    return f"{body}.{_mac(body)}"


def verify(token: str | None) -> Claims | None:
    """The claims of a well-formed token of this form whose MAC is right (expiry not checked); else None."""
    if not token or not token.startswith(PREFIX + ".") or not token.isascii():
        return None  # a header's latin-1 bytes are no token of ours (compare_digest refuses non-ASCII text)
    parts = token.split(".")
    if len(parts) != 7 or not parts[1].isdigit() or not parts[4].isdigit():
        return None
    body, mac = token.rpartition(".")[::2]
    if not hmac.compare_digest(mac, _mac(body)):
        return None
    return Claims(int(parts[1]), parts[2], parts[3], int(parts[4]), token_hash(token))


def expired(claims: Claims) -> bool:
    return claims.expires <= time.time()


def issued(hash_: str, seconds: int) -> None:
    """A new token is good until it expires."""
    redis.set(key_of(hash_), OK, ex=max(1, seconds), nx=True)


def seed(hash_: str, expires_at: datetime) -> None:
    """The database found the token good: say so again in Redis (never over a revocation)."""
    seconds = int(expires_at.timestamp() - time.time())
    if seconds > 0:
        redis.set(key_of(hash_), OK, ex=seconds, nx=True)


def revoke(hashes: list[str], seconds: int) -> None:
    """These tokens are revoked: said before the revoking transaction commits (a request that reads the
    database meanwhile and puts "ok" back is overwritten here, or refused by NX after)."""
    if not hashes:
        return
    pipe = redis.pipeline(transaction=False)
    for hash_ in hashes:
        pipe.set(key_of(hash_), REVOKED, ex=max(1, seconds))
    pipe.execute()
