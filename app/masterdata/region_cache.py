"""China's regions, read once per process: reference data that only `load_regions` changes.

The consumer scan names cities (a region and its ancestors) and the diversion check walks ancestor
chains; reading them a row at a time was half of a scan's SQL. Here the whole table (~3,600 rows)
is read once per app and kept, read-only, in the process.

Invalidation: `load_regions` (the only writer: `flask regions load`; the back office only reads
regions) calls `changed()` after its transaction commits, which bumps a version counter in Redis
and drops this process's copy. Every process compares the counter at most every CHECK_SECONDS and
reloads when it differs, so another process sees a reload within a few seconds.
"""
from __future__ import annotations

import threading
import uuid
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app

from app.extensions import db, redis
from app.masterdata.models import Region, RegionLevel

VERSION_KEY = "masterdata:regions:version"
CHECK_SECONDS = 5.0
_EXTENSION = "matong.region_cache"


class RegionRow(NamedTuple):
    name: str
    level: RegionLevel
    parent_code: str | None
    longitude: float | None
    latitude: float | None


@dataclass(eq=False)
class RegionTable:
    """One snapshot of the regions table. Never mutated once built (besides `derived`, a memo)."""

    rows: dict[str, RegionRow]
    version: bytes | None
    # What users compute from this snapshot once (the district centroids): dropped with the snapshot.
    derived: dict = field(default_factory=dict)

    def get(self, code: str | None) -> RegionRow | None:
        return self.rows.get(code) if code else None

    def chain(self, code: str | None, limit: int = 5) -> list[tuple[str, RegionLevel, str]]:
        """The region and its known ancestors as (code, level, name), the region first (at most limit)."""
        chain = []
        while code and len(chain) < limit:
            row = self.rows.get(code)
            if row is None:
                break
            chain.append((code, row.level, row.name))
            code = row.parent_code
        return chain


class _Holder:
    def __init__(self):
        self.lock = threading.Lock()
        self.table: RegionTable | None = None
        self.checked_at = 0.0


def _holder() -> _Holder:
    extensions = current_app.extensions
    holder = extensions.get(_EXTENSION)
    if holder is None:
        holder = extensions.setdefault(_EXTENSION, _Holder())
    return holder


def _read_version() -> bytes | None:
    value = redis.get(VERSION_KEY)
    return value if value is None or isinstance(value, bytes) else str(value).encode()


def _load(version: bytes | None) -> RegionTable:
    """The rows as committed now, read after the version: on MySQL on a connection of its own, since the
    caller's transaction may hold a snapshot older than the version it read (old rows, new version)."""
    query = sa.select(Region.code, Region.name, Region.level, Region.parent_code, Region.longitude, Region.latitude)
    if db.engine.dialect.name in ("mysql", "mariadb"):
        with db.engine.connect() as connection:
            rows = connection.execute(query).all()
    else:
        rows = db.session.execute(query).all()
    return RegionTable({row.code: RegionRow(row.name, row.level, row.parent_code, row.longitude, row.latitude)
                        for row in rows}, version)


def table() -> RegionTable:
    """The regions of this app's database (checked against the Redis version at most every CHECK_SECONDS)."""
    holder = _holder()
    current = holder.table
    now = time.monotonic()
    if current is not None and now - holder.checked_at < CHECK_SECONDS:
        return current
    with holder.lock:
        current, now = holder.table, time.monotonic()
        if current is not None and now - holder.checked_at < CHECK_SECONDS:
            return current
        version = _read_version()
        if current is None or current.version != version:
            current = holder.table = _load(version)
        holder.checked_at = now
        return current


def changed() -> None:
    """The regions table changed (call after the commit): every process reloads, this one at once."""
    redis.set(VERSION_KEY, uuid.uuid4().hex)  # never a value seen before, even after Redis lost its data
    holder = _holder()
    with holder.lock:
        holder.table = None
        holder.checked_at = 0.0


def forget() -> None:
    """Drop this process's copy only (the next use reads the table again)."""
    holder = _holder()
    with holder.lock:
        holder.table = None
        holder.checked_at = 0.0
