"""The scan log's Redis keys as the release before the hash tags named them, and how a deploy leaves them.

The scan log's keys now share the hash tag `{consumer:scans}` and a unit's copy windows carry its bucket's
key as tag (app.consumers.scan_log, docs/redis-cluster.md), on one server as on a cluster. What the earlier
names still hold when the new release starts:

- the stream `consumer:scans:log` and its records `consumer:scan:<id>`: scans logged, not yet written. The
  scan-log worker drains that stream beside the new one and deletes it once it is empty
  (app.consumers.scan_worker), so a deploy loses no logged scan, even from web processes of the old
  release still serving during a rolling deploy;
- the id sequence `consumer:scans:ids`: the new sequence is seeded ID_GAP above it, so the ids of the two
  releases' processes, serving side by side for a while, never meet;
- the copy windows `consumer:unit:<serial>:users|regions` (CONSUMER_COPY_WINDOW_HOURS of who scanned each
  unit): `flask consumers move-copy-windows` merges them into the new keys, once, after the deploy.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from app.extensions import redis

STREAM = "consumer:scans:log"
IDS = "consumer:scans:ids"
# Ids the old sequence may still hand out after the new one is seeded above it (a rolling deploy's old
# processes would need ten million scans to reach the new ids).
ID_GAP = 10_000_000
_COPY_WINDOW = re.compile(r"^consumer:unit:(\d+):(users|regions)$")


def record_key(scan_id: int) -> str:
    return f"consumer:scan:{scan_id}"


# KEYS: 1 the window's new key. ARGV: its seconds left, then score, member pairs. A member the new key has
# already seen later keeps its later time (GT); the key lives as long as the longer of the two.
_MERGE_LUA = """
redis.call('ZADD', KEYS[1], 'GT', unpack(ARGV, 2))
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
"""
_CHUNK = 500  # members merged per call (Lua's unpack takes a few thousand values at most)


def move_copy_windows(copy_keys: Callable[[int], tuple[str, str]]) -> int:
    """Merge every copy window under its old name into its new key (``copy_keys(serial)``: the users' and the
    regions' windows, app.consumers.scan_log) and delete the old one (safe to run again, and while scans go on:
    they write only the new keys). The number of windows moved."""
    moved = 0
    for name in redis.scan_iter(match="consumer:unit:[0-9]*", count=1000):
        found = _COPY_WINDOW.match(name.decode() if isinstance(name, bytes) else name)
        if found is None:
            continue
        users, regions = copy_keys(int(found[1]))
        target = users if found[2] == "users" else regions
        seconds = redis.ttl(name)
        members = redis.zrange(name, 0, -1, withscores=True)
        for start in range(0, len(members), _CHUNK):
            pairs = [part for member, score in members[start:start + _CHUNK] for part in (int(score), member)]
            if seconds > 0:
                redis.eval(_MERGE_LUA, 1, target, seconds, *pairs)
        redis.delete(name)
        moved += 1
    return moved
