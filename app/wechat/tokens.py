"""Access tokens shared by every worker through Redis, refreshed by one worker at a time.

WeChat allows few token requests a day and a new token soon retires the old one, so workers must
not each fetch their own: one takes a Redis lock and fetches, the others wait and reuse its token.
"""
from __future__ import annotations

import secrets
import time
from typing import Callable

import redis as redis_lib

from app.wechat.errors import WeChatUnavailable

# Refresh this long before WeChat's expiry, so a token is never used in its last moments.
EXPIRY_MARGIN_SECONDS = 300
POLL_SECONDS = 0.05

# Delete a key only while it still holds our value (a lock we own, a token no one has replaced).
_DELETE_IF_EQUAL = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class TokenCache:
    """The access token of one appid, cached in Redis."""

    def __init__(self, redis: redis_lib.Redis, appid: str, fetch: Callable[[], tuple[str, int]],
                 timeout: float):
        self.redis = redis
        self.appid = appid
        self.fetch = fetch  # -> (access_token, expires_in seconds), from WeChat
        self.timeout = timeout
        self.key = f"wechat:access-token:{appid}"
        self.lock_key = f"wechat:access-token-lock:{appid}"

    def get(self) -> str:
        """The cached token, or a fresh one (fetched by this worker or another)."""
        return self._cached() or self._refresh()

    def invalidate(self, token: str) -> None:
        """Forget a token WeChat refused, unless another worker has already replaced it."""
        self.redis.eval(_DELETE_IF_EQUAL, 1, self.key, token)

    def _cached(self) -> str | None:
        value = self.redis.get(self.key)
        return value.decode() if value is not None else None

    def _refresh(self) -> str:
        # Waiting covers the holder's whole fetch (a timeout and one retry), plus slack.
        lock_seconds = 2 * self.timeout + 2
        deadline = time.monotonic() + lock_seconds + self.timeout
        while True:
            owner = secrets.token_hex(16)
            if self.redis.set(self.lock_key, owner, nx=True, px=int(lock_seconds * 1000)):
                try:
                    # Another worker may have stored a token between our read and our lock.
                    token = self._cached()
                    if token:
                        return token
                    token, expires_in = self.fetch()
                    ttl = max(int(expires_in) - EXPIRY_MARGIN_SECONDS, 60)
                    self.redis.set(self.key, token, ex=ttl)
                    return token
                finally:
                    self.redis.eval(_DELETE_IF_EQUAL, 1, self.lock_key, owner)
            time.sleep(POLL_SECONDS)
            token = self._cached()
            if token:
                return token
            if time.monotonic() > deadline:
                raise WeChatUnavailable("Timed out waiting for another worker to refresh the WeChat access token.")
