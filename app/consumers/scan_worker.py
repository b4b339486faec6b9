"""The scan-log worker and its dead letters.

`persist()` (`flask consumers persist-scans`, a worker; a thread of the web process in the embedded
default) reads the stream as the consumer group `persist`, writes the records to consumer_scans and
their counts to unit_scan_stats in one transaction per batch, then acknowledges them. While the stream
of the release before the hash tags is there (app.consumers.legacy_keys) it is read first, the same way,
and deleted once empty. Writing is
idempotent (INSERT IGNORE by id; counts only grow), so a batch delivered twice (a worker killed
before its acknowledgement; its entries are claimed by the next worker after a minute) writes
nothing twice.
"""
from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from app import faults
from app.consumers import legacy_keys, scan_writer
from app.consumers.models import ConsumerScan
from app.consumers.scan_log import GROUP, ID_MARGIN, IDS, STREAM, _record_key
from app.consumers.scan_writer import REFUSED, IdCollision, _decoded
from app.extensions import by_slot, db, pipeline_eval, redis

log = logging.getLogger(__name__)

CLAIM_IDLE_MS = 60_000  # a worker's delivered, unacknowledged entries are taken over after this long


@dataclass(frozen=True, slots=True)
class Log:
    """A stream of logged scans and where its records are kept."""

    stream: str
    record_key: Callable[[int], str]


CURRENT = Log(STREAM, _record_key)
LEGACY = Log(legacy_keys.STREAM, legacy_keys.record_key)  # drained, then deleted

# Delete a stream that holds no entry (delivered or not); an old process's XADD after it makes a new one.
_DROP_IF_EMPTY_LUA = "if redis.call('XLEN', KEYS[1]) == 0 then return redis.call('DEL', KEYS[1]) end return 0"


def _ensure_group(stream: str = STREAM, *, make: bool = True) -> bool:
    """The group exists on the stream (made with the stream when `make`); False: there is no stream."""
    try:
        redis.xgroup_create(stream, GROUP, id="0", mkstream=make)
    except Exception as exc:  # noqa: BLE001 - BUSYGROUP: it exists already
        if "BUSYGROUP" in str(exc):
            return True
        if not make and "requires the key to exist" in str(exc):
            return False
        raise
    return True


def consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


DEAD = "consumer:scans:dead"  # records no write could take (each with its error), for a person to look at

# The id sequence never below the highest id written (a Redis that came back from an older snapshot would
# hand out ids the database has: INSERT IGNORE would drop those scans).
# Raise the id sequence to ARGV[1]. A missing sequence (Redis flushed) is set only when ARGV[2] is '1' (from the
# database's highest id and the margin): a batch's highest id is no floor, since a claim may have written
# later scans itself (persist_one), and the next scan seeds the sequence from the database.
_RAISE_IDS_LUA = """
local current = redis.call('GET', KEYS[1])
if (current or ARGV[2] == '1') and tonumber(current or '0') < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
"""


def _raise_ids_above_database() -> None:
    highest = db.session.scalar(sa.select(sa.func.max(ConsumerScan.id))) or 0
    db.session.rollback()
    redis.eval(_RAISE_IDS_LUA, 1, IDS, highest + ID_MARGIN, "1")


def _entries(stream: str, consumer: str, limit: int, block_ms: int | None) -> list:
    """This consumer's own unacknowledged entries (a failed batch), then others' idle ones (a worker that
    died), then new ones."""
    entries = []
    for _, batch in redis.xreadgroup(GROUP, consumer, {stream: "0"}, count=limit) or []:
        entries += batch
    if len(entries) < limit:
        entries += redis.xautoclaim(stream, GROUP, consumer, min_idle_time=CLAIM_IDLE_MS, start_id="0-0",
                                    count=limit - len(entries))[1]
    if len(entries) < limit:
        for _, batch in redis.xreadgroup(GROUP, consumer, {stream: ">"}, count=limit - len(entries),
                                         block=block_ms) or []:
            entries += batch
    return entries


def _commit(records: list[dict]) -> None:
    try:
        scan_writer.write(records)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def persist(*, limit: int = 500, consumer: str | None = None, block_ms: int | None = None) -> int:
    """Write one batch of logged scans in one transaction; the number of log entries handled.

    A batch that fails is written record by record: a record the database refuses itself (REFUSED) goes
    to the dead-letter list (`consumer:scans:dead`) and the others are written. A batch or a record that
    fails otherwise (the database down or gone meanwhile, a deadlock) raises: the whole batch stays in
    the log and is read again (`flask consumers dead-scans` lists and replays the dead letters).
    The old release's stream, while there is one, goes first (a batch of its own).
    """
    consumer = consumer or consumer_name()
    handled = _persist(LEGACY, consumer, limit, None) if redis.exists(LEGACY.stream) else 0
    if handled < limit:
        handled += _persist(CURRENT, consumer, limit - handled, None if handled else block_ms)
    return handled


def _persist(log_: Log, consumer: str, limit: int, block_ms: int | None) -> int:
    if not _ensure_group(log_.stream, make=log_ is CURRENT):
        return 0
    entries = _entries(log_.stream, consumer, limit, block_ms)
    if not entries:
        if log_ is LEGACY:
            redis.eval(_DROP_IF_EMPTY_LUA, 1, log_.stream)
        return 0
    entry_ids, scan_ids = [], []
    for entry_id, fields in entries:
        entry_ids.append(entry_id)
        if fields:  # an entry deleted meanwhile comes back empty
            scan_ids.append(int(_decoded(fields)["id"]))
    pipe = redis.pipeline(transaction=False)
    for scan_id in scan_ids:
        pipe.hgetall(log_.record_key(scan_id))
    records = []
    for scan_id, raw in zip(scan_ids, pipe.execute()):
        fields = _decoded(raw)
        if not fields:
            log.warning("consumer scan %s: its record has expired from Redis; not written", scan_id)
            continue
        fields["id"] = str(scan_id)
        records.append(fields)
    dead = []
    try:
        _commit(records)
    except Exception as error:  # noqa: BLE001 - find the record that fails
        if faults.is_outage(error):
            raise  # the batch stays in the log, read again when the database is back
        log.exception("consumer scans: a batch of %s failed; writing them one by one", len(records))
        failures = []
        for fields in records:
            try:
                _commit([fields])
            except REFUSED as exc:
                failures.append((fields, exc))
            # Anything else (the database went away meanwhile, a deadlock, a bug) is not this record's
            # fault: it goes up and the whole batch stays in the log (what was written is written again
            # as a no-op). Only a record the database refuses itself is moved aside.
        if any(isinstance(exc, IdCollision) for _, exc in failures):
            _raise_ids_above_database()
        for fields, exc in failures:
            log.error("consumer scan %s could not be written (%s); moved to %s", fields["id"], exc, DEAD)
            dead.append(json.dumps({**fields, "error": str(exc)[:500]}))
    # Not a transaction: these keys lie in several hash slots on a cluster; each step is safe to repeat.
    pipe = redis.pipeline(transaction=False)
    if scan_ids:
        pipeline_eval(pipe, _RAISE_IDS_LUA, [IDS], max(scan_ids), "0")
    if dead:
        pipe.rpush(DEAD, *dead)
    pipe.xack(log_.stream, GROUP, *entry_ids)
    pipe.xdel(log_.stream, *entry_ids)
    for keys in by_slot(log_.record_key(scan_id) for scan_id in scan_ids):
        pipe.execute_command("DEL", *keys)  # by name: redis-py's cluster pipeline refuses delete() of several keys
    pipe.execute()
    return len(entry_ids)


def pending() -> int:
    """Logged scans not yet written (delivered or not; no stream yet is 0), the old release's stream's
    included. Redis away raises: "none pending" would say the figures are current when no one knows."""
    pipe = redis.pipeline(transaction=False)
    pipe.xlen(STREAM)
    pipe.xlen(LEGACY.stream)
    return sum(int(length) for length in pipe.execute())


# --- the dead letters -----------------------------------------------------------------------------------

def dead_letters() -> list[dict]:
    """The records no write took, oldest first, each with its `error`."""
    return [json.loads(raw) for raw in redis.lrange(DEAD, 0, -1)]


@dataclass(slots=True)
class Replayed:
    scan_id: int
    outcome: str  # "written", "already_written" or "refused"
    error: str = ""


def replay_dead_letters() -> list[Replayed]:
    """Write each dead letter again through the writer (idempotent: a scan written before stays one row);
    a record written or found written leaves the list, a record refused again stays (its error is printed).
    An outage stops the replay (raised): what is left stays in the list."""
    done = []
    for raw in redis.lrange(DEAD, 0, -1):
        fields = json.loads(raw)
        fields.pop("error", None)
        scan_id = int(fields["id"])
        there = db.session.get(ConsumerScan, scan_id) is not None
        db.session.rollback()
        try:
            _commit([fields])
        except REFUSED as exc:
            done.append(Replayed(scan_id, "refused", str(exc)[:500]))
            continue
        redis.lrem(DEAD, 1, raw)
        done.append(Replayed(scan_id, "already_written" if there else "written"))
    return done
