"""The one rate limiter: fixed-window counters in Redis, and growing delays after repeated failures.

A window's counter is created with its expiry and incremented atomically (SET NX EX, then INCR), so
concurrent hits are all counted and a window always ends. ``check`` counts several keys in one round
trip (on a Redis Cluster, whose keys of one call must share a hash slot, one atomic call per key, in
the same order: no key ever lets more through than its limit) and ``enforce`` refuses past a limit
(consumer scans and claims, the GS1 resolver, mini-program logins); the consumer scan's own script
counts its windows with the same Lua (``windows_lua``), in its single round trip on one server.
``fail`` / ``waiting`` throttle whoever keeps failing (a back-office login, a hidden code guessed
wrong): a few failures are free, then each one makes the key wait twice as long as the last, up to a
cap.
"""
from __future__ import annotations

from app.errors import TooManyRequests
from app.extensions import is_cluster, redis, script

WINDOW_SECONDS = 60  # the window of the per-minute limits


def hit(key: str, window: int) -> tuple[int, int]:
    """Count one hit in the key's window; (hits so far, seconds left in the window)."""
    pipe = redis.pipeline(transaction=True)  # one key: a MULTI on a cluster too (its default is none)
    pipe.set(key, 0, ex=window, nx=True)
    pipe.incr(key)
    pipe.ttl(key)
    _, count, ttl = pipe.execute()
    return int(count), max(1, int(ttl))


def count(key: str) -> tuple[int, int]:
    """(hits so far, seconds left) of the key's window, counting nothing."""
    pipe = redis.pipeline(transaction=True)
    pipe.get(key)
    pipe.ttl(key)
    value, ttl = pipe.execute()
    return int(value or 0), max(1, int(ttl or 1))


def windows_lua(*, key: str, limits: str, window: str) -> str:
    """Lua that counts a hit in each window in turn (SET NX with expiry, INCR) and returns, from the first
    one past its limit, {its 1-based index, seconds left}; keys after it are not counted.

    ``key`` is the Lua expression of the i-th key, ``limits`` of the table of limits, ``window`` of the
    window's seconds: the consumer scan's script embeds the same counting in its own round trip.
    """
    return f"""
for i, limit in ipairs({limits}) do
  local key = {key}
  redis.call('SET', key, 0, 'EX', {window}, 'NX')
  if redis.call('INCR', key) > tonumber(limit) then return {{i, redis.call('TTL', key)}} end
end
"""


_CHECK_LUA = "local limits = {unpack(ARGV, 2)}" + windows_lua(key="KEYS[i]", limits="limits", window="ARGV[1]") \
    + "return {0, 0}"


def check(limits: list[tuple[str, int]], window: int = WINDOW_SECONDS) -> tuple[int, int]:
    """Count a hit under each (key, limit) in one round trip; (1-based index of the first past its
    limit, seconds left), or (0, 0). Keys after the first past its limit are not counted."""
    if is_cluster():
        return _check_each(limits, window)
    index, ttl = script(_CHECK_LUA)(keys=[key for key, _ in limits], args=[window, *(limit for _, limit in limits)])
    return int(index), max(1, int(ttl)) if int(index) else 0


def _check_each(limits: list[tuple[str, int]], window: int) -> tuple[int, int]:
    """``check`` on a Redis Cluster: the keys (of several owners: an openid, an address, a code) lie in
    different hash slots, so each is counted by its own atomic call, in turn, stopping at the first past its
    limit. Each key's count still moves only by its own atomic SET NX + INCR, so no key lets more hits
    through than its limit; and, as in the single script, the keys before the refusing one are counted,
    those after it are not."""
    for index, (key, limit) in enumerate(limits, 1):
        refused, ttl = script(_CHECK_LUA)(keys=[key], args=[window, limit])
        if int(refused):
            return index, max(1, int(ttl))
    return 0, 0


def enforce(limits: list[tuple[str, int]], *, refuse: type[TooManyRequests], window: int = WINDOW_SECONDS) -> None:
    """``check``, raising ``refuse`` (429 with Retry-After) when a window is past its limit."""
    index, ttl = check(limits, window)
    if index:
        raise refuse(**retry_after(ttl))


def retry_after(seconds: int) -> dict:
    """The keyword arguments that make a TooManyRequests say when to come back."""
    return {"errors": {"retry_after": seconds}, "headers": {"Retry-After": str(seconds)}}


def _wait_key(key: str) -> str:
    return f"{key}:wait"


def waiting(*keys: str) -> int:
    """Seconds until none of these keys is made to wait any longer (0: go ahead)."""
    pipe = redis.pipeline(transaction=False)  # reads of keys in any slots
    for key in keys:
        pipe.ttl(_wait_key(key))
    return max([0, *(int(ttl) for ttl in pipe.execute())])


def fail(key: str, *, window: int, free: int, cap: int) -> int:
    """Count a failure under key; past ``free`` failures in the window the key waits 1, 2, 4, ... seconds
    (at most ``cap``) before its next try. The seconds it now waits (0: none)."""
    failures, _ = hit(key, window)
    if failures <= free:
        return 0
    delay = min(cap, 2 ** min(failures - free - 1, 30))
    redis.set(_wait_key(key), 1, ex=delay)
    return delay


def forget(*keys: str) -> None:
    """Drop the keys' counts and waits (an admin lifted them); on a cluster, one DEL per hash slot."""
    redis.delete(*keys, *(_wait_key(key) for key in keys))


def forget_prefix(prefix: str) -> None:
    """Drop every count and wait whose key starts with prefix (a prefix without pattern characters)."""
    keys = list(redis.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        redis.delete(*keys)
