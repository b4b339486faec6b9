"""A consumer scan is counted in Redis and written to the database in batches, off the request.

The request makes one Redis round trip (`count_and_log`, a Lua script) that, atomically:

- checks the signed access token's revocation (`auth:mp:<hash>`, app.accounts.tokens);
- reads the unit's facts and counter from its bucket (app.units.scan_facts): its status and recall
  decide the verdict, its product and lot go in the record (a unit Redis has not got, or a writer has
  marked, is answered "ask the database": the caller reads it and runs the script again with it);
- counts the rate-limit windows (per openid, IP and code) and stops at the first one past its limit;
- hands out the scan's id (a Redis sequence, seeded above the database's highest id);
- adds the scan to the unit's copy windows (sorted sets of the users and regions that scanned the
  unit within CONSUMER_COPY_WINDOW_HOURS, whatever the verdict) and, for a genuine unit, counts it
  (count, first time, first scanner, first region) and decides scanned-before or suspected copy;
- keeps the record (`consumer:scan:<id>`, a hash) and appends its id to the stream
  `consumer:scans:log`.

`persist()` (`flask consumers persist-scans`, a worker; a thread of the web process in the embedded
default) reads the stream as the consumer group `persist`, writes the records to consumer_scans and
their counts to unit_scan_stats in one transaction per batch, then acknowledges them. Writing is
idempotent (INSERT IGNORE by id; counts only grow), so a batch delivered twice (a worker killed
before its acknowledgement; its entries are claimed by the next worker after a minute) writes
nothing twice. A claim does not wait for the worker: `persist_one` writes the claimed scan itself.

With CONSUMER_SCAN_WRITER = "inline" (tests) the request writes its record in its own transaction,
through the same writer, instead of appending it to the stream.

If Redis loses its data, scans not yet written are lost with it (the units and their counters are read
again from the database): run Redis with persistence (appendonly) in production.
"""
from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import sqlalchemy as sa
from flask import current_app

from app.channel import diversion
from app.channel.models import SeenKind
from app.consumers import facts
from app.consumers.models import (
    CodeLeakAlert,
    ConsumerScan,
    LeakAlertStatus,
    Verdict,
)
from app import faults
from app.accounts.models import AppName
from app.accounts.errors import TokenInvalid
from app.db import greatest, insert_ignore, mysql_like, upsert
from app.errors import NotFound
from app.extensions import db, redis
from app.platform import ratelimit
from app.reports import facts as report_facts, rollups
from app.units import scan_facts, unit_rows
from app.units.models import UnitScanStats

log = logging.getLogger(__name__)

STREAM = "consumer:scans:log"
GROUP = "persist"
IDS = "consumer:scans:ids"
ID_MARGIN = 1000  # ids handed out above the database's highest when the sequence is seeded again
RECORD_SECONDS = 7 * 86400  # a record not yet written is kept this long
CLAIM_IDLE_MS = 60_000  # a worker's delivered, unacknowledged entries are taken over after this long

_FIELDS = ("serial", "code", "app_user_id", "verdict", "hidden_code_ok", "product_id", "lot_id", "latitude",
           "longitude", "region_code", "ip", "scanned_at", "check_diversion")

# KEYS: 1 the id sequence, 2 the stream, 3 the unit's bucket (app.units.scan_facts; '' none), 4 and 5 its
# users and regions seen, 6 the token's key ('' none: not checked), then the rate-limit keys.
# ARGV[1]: one JSON document (one argument: redis-py encodes each argument in Python), with
#   limits: the rate limits, in KEYS' order; window: their window (s);
#   mode: '0' no unit (not a code of ours), 'f' the record's verdict stands (the unit is seen in the copy
#     window only), 'u' the unit's facts decide (a genuine unit is counted);
#   copy: [window (µs), users, regions] of the copy check; r: the unit's place in its bucket (fields f<r>,
#   c<r>); facts: its facts ('' : read them from the bucket); seed: put those facts in the bucket ('1') over
#   expect (what the field must hold, '' : nothing); counter: the counter to start from when the bucket has
#   none ('' : none given); ttl: the record's (s); stream: append it ('1') or not; prefix: the record's key;
#   record: the ConsumerScan columns as text (the facts fill verdict, product_id, lot_id, check_diversion).
# Answers, before anything is counted: {-1} the id sequence needs seeding; {-2} the token is unknown to
# Redis; {-3} the token is revoked; {-5, what the facts field holds} the unit must be read from the database
# (no facts, a writer's mark, or no counter); {i, ttl} rate limit i is past its limit. Else
# {0, id, count, first time, first user, first region, verdict, facts, product id, lot id, check_diversion}
# (count 0: not counted).
_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
if KEYS[6] ~= '' then
  local token = redis.call('GET', KEYS[6])
  if not token then return {-2} end
  if token ~= 'ok' then return {-3} end
end
local p = cjson.decode(ARGV[1])
local record = p['record']
local mode = p['mode']
local facts, counter = '', nil
local facts_field, counter_field = 'f' .. p['r'], 'c' .. p['r']
if mode == 'u' then
  facts = p['facts']
  if facts == '' then
    local there = redis.call('HGET', KEYS[3], facts_field)
    if not there or string.sub(there, 1, 2) ~= 'F|' then return {-5, there or ''} end
    facts = there
  end
  counter = redis.call('HGET', KEYS[3], counter_field)
  if not counter then
    if p['counter'] == '' then return {-5, ''} end
    counter = p['counter']
  end
end
""" + ratelimit.windows_lua(key="KEYS[6 + i]", limits="p['limits']", window="p['window']") + """
if mode == 'u' and p['seed'] == '1' then
  local there = redis.call('HGET', KEYS[3], facts_field)
  if (p['expect'] == '' and not there) or there == p['expect'] then
    redis.call('HSET', KEYS[3], facts_field, facts)
  end
end
local counted = false
local region = record['region_code']
if mode == 'u' then
  local f = {}
  for part in string.gmatch(facts .. '|', '([^|]*)|') do f[#f + 1] = part end
  -- F|level|status|recall|product|lot|dealer|place|place id|in transit
  if f[3] == 'v' then record['verdict'] = 'voided'
  elseif f[3] == 's' then record['verdict'] = 'scrapped'
  elseif f[4] ~= '' then record['verdict'] = 'recalled'
  else record['verdict'] = 'genuine'; counted = true end
  if f[5] ~= '' then record['product_id'] = f[5] end
  record['lot_id'] = f[6]
  -- A genuine unit with a last dealer, scanned at a known place: the writer checks the place against the
  -- dealer's territory (an item: 'd' and its dealer's id; a case or a pallet, whose items decide: '*').
  if counted and f[7] ~= '' and region ~= '' then
    if f[2] == 'i' then record['check_diversion'] = 'd' .. f[7] else record['check_diversion'] = '*' end
  end
end
local id = redis.call('INCR', KEYS[1])
local count, first_at, first_user, first_region = 0, '', '', ''
if mode ~= '0' then
  local now, user = record['scanned_at'], record['app_user_id']
  local copy = p['copy']
  local since = tonumber(now) - copy[1]
  local window = math.ceil(copy[1] / 1000000)
  redis.call('ZADD', KEYS[4], now, user)
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. since)
  redis.call('EXPIRE', KEYS[4], window)
  if region ~= '' then
    redis.call('ZADD', KEYS[5], now, region)
    redis.call('EXPIRE', KEYS[5], window)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. since)
  if counted then
    local scans
    scans, first_at, first_user, first_region = string.match(counter, '^(%d+)|([^|]*)|([^|]*)|(.*)$')
    count = tonumber(scans) + 1
    if count == 1 then first_at, first_user, first_region = now, user, region end
    redis.call('HSET', KEYS[3], counter_field, count .. '|' .. first_at .. '|' .. first_user .. '|' .. first_region)
    if count > 1 then
      if redis.call('ZCARD', KEYS[4]) >= copy[2] or redis.call('ZCARD', KEYS[5]) >= copy[3] then
        record['verdict'] = 'suspected_copy'
      else
        record['verdict'] = 'scanned_before'
      end
    end
  end
end
record['scan_number'] = tostring(math.max(count, 1))
record['first_at'] = first_at
record['first_user'] = first_user
record['first_region'] = first_region
if p['stream'] == '1' then
  local key = p['prefix'] .. id
  local pairs_ = {}
  for name, value in pairs(record) do
    pairs_[#pairs_ + 1] = name
    pairs_[#pairs_ + 1] = value
  end
  redis.call('HSET', key, unpack(pairs_))
  redis.call('EXPIRE', key, p['ttl'])
  redis.call('XADD', KEYS[2], '*', 'id', id)
end
return {0, id, count, first_at, first_user, first_region, record['verdict'], facts,
        record['product_id'], record['lot_id'], record['check_diversion']}
"""


def _record_key(scan_id: int) -> str:
    return f"consumer:scan:{scan_id}"


def _micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _moment(micros: str | int) -> datetime:
    micros = int(micros)
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Verdict):
        return value.value
    if isinstance(value, datetime):
        return str(_micros(value))
    return str(value)


def inline() -> bool:
    return current_app.config["CONSUMER_SCAN_WRITER"] == "inline"


def _seed_ids() -> None:
    highest = db.session.scalar(sa.select(sa.func.max(ConsumerScan.id))) or 0
    redis.set(IDS, highest + ID_MARGIN, nx=True)


class TokenUnknown(Exception):
    """Redis has no word on the scan's token: the database must decide, then the scan runs again."""


class UnitUnknown(Exception):
    """Redis has not got the unit's facts (or holds a writer's mark), or not its counter: read it from the
    database, then the scan runs again."""

    def __init__(self, found: str):
        super().__init__(found)
        self.found = found  # what the facts field held ('' : nothing)


@dataclass(frozen=True, slots=True)
class UnitSlot:
    """A unit's place in Redis, and what the scan read from the database where Redis had not got it."""

    serial: int
    counter: str | None = None  # the counter to start from when Redis has none (unit_scan_stats)
    facts: str | None = None  # facts read from the database (the scan uses them)
    seed: bool = False  # and puts them in Redis, over `expect`
    expect: str = ""  # what the facts field held when looked at ('' : nothing)


@dataclass(slots=True)
class Counted:
    """What Redis answered for a scan: its id, its verdict and the record's fields the unit's facts decided,
    the unit's facts, and, for a counted unit, its counter after it."""

    scan_id: int
    count: int  # 0: not counted (not a genuine unit)
    first_at: datetime | None
    first_user: int | None
    first_region: str | None
    verdict: Verdict
    facts: str  # '' : none
    product_id: int | None
    lot_id: int | None
    check_diversion: str  # '' : no; 'd<id>': an item and its last dealer; '*': a case or pallet (its items decide)


def count_and_log(record: dict, *, limits: list[tuple[str, int]], unit: UnitSlot | None,
                  token_key: str | None = None) -> Counted | tuple[int, int]:
    """Token, unit, rate limits, id, counters and the record in one round trip (see the module's docstring).

    `record` holds the ConsumerScan columns (without id and scan_number; its verdict stands unless `unit`
    is given, whose facts then decide it with product_id and lot_id); `unit` where the unit is in Redis
    (app.units.scan_facts), with what the database said where Redis had not got it; `token_key` the Redis
    key of the scan's signed token (None: the caller authenticated otherwise). Answers (limit index, seconds
    left) when a rate limit refused the scan: nothing was counted. Raises TokenUnknown, UnitUnknown or
    accounts' TokenInvalid (revoked) before anything is counted.
    """
    config = current_app.config
    serial = record["serial"]
    bucket, facts_field, _ = scan_facts.slot(serial) if serial is not None else ("", "f", "")
    keys = [IDS, STREAM, bucket, f"consumer:unit:{serial}:users", f"consumer:unit:{serial}:regions",
            token_key or "", *(key for key, _ in limits)]
    params = {"limits": [limit for _, limit in limits], "window": ratelimit.WINDOW_SECONDS,
              "mode": "u" if unit is not None else "f" if serial is not None else "0",
              "copy": [config["CONSUMER_COPY_WINDOW_HOURS"] * 3600 * 1_000_000, config["CONSUMER_COPY_USERS"],
                       config["CONSUMER_COPY_REGIONS"]],
              "r": facts_field[1:], "facts": "", "seed": "0", "expect": "", "counter": "",
              "ttl": RECORD_SECONDS, "stream": "0" if inline() else "1", "prefix": _record_key(""),
              "record": {name: _text(record[name]) for name in _FIELDS}}
    if unit is not None:
        params.update(facts=unit.facts or "", seed="1" if unit.seed else "0", expect=unit.expect,
                      counter=unit.counter or "")
    args = [_encode_params(params)]
    for _ in range(2):
        answer = _script()(keys=keys, args=args)
        if int(answer[0]) != -1:
            break
        _seed_ids()
    status = int(answer[0])
    if status == -2:
        raise TokenUnknown()
    if status == -3:
        raise TokenInvalid()
    if status == -5:
        raise UnitUnknown(_str(answer[1]))
    if status:
        return status, max(1, int(answer[1]))
    _, scan_id, count, first_at, first_user, first_region, verdict, facts, product_id, lot_id, diverted = (
        map(_str, answer))
    return Counted(int(scan_id), int(count), _moment(first_at) if first_at else None,
                   int(first_user) if first_user else None, first_region or None, Verdict(verdict), facts,
                   int(product_id) if product_id else None, int(lot_id) if lot_id else None,
                   "" if diverted in ("", "0") else diverted)


_encode_params = msgspec.json.Encoder().encode


def _str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _script():
    """The scan's script, registered once per Redis client (EVALSHA: the script's text is not sent each time)."""
    client = redis._get_current_object()
    script = getattr(client, "_matong_scan_script", None)
    if script is None:
        script = client._matong_scan_script = client.register_script(_LUA)
    return script


# --- writing ------------------------------------------------------------------------------------------

def _row(fields: dict) -> dict:
    """A record as Redis keeps it (text) -> the consumer_scans row and its counter's values."""
    def number(name, kind=int):
        value = fields.get(name, "")
        return kind(value) if value != "" else None

    ok = fields.get("hidden_code_ok", "")
    return {
        "id": int(fields["id"]), "serial": number("serial"), "code": fields["code"],
        "app_user_id": int(fields["app_user_id"]), "verdict": Verdict(fields["verdict"]),
        "scan_number": int(fields.get("scan_number") or 1), "hidden_code_ok": None if ok == "" else ok == "1",
        "product_id": number("product_id"), "lot_id": number("lot_id"),
        "latitude": number("latitude", float), "longitude": number("longitude", float),
        "region_code": fields.get("region_code") or None, "ip": fields.get("ip") or None,
        "scanned_at": _moment(fields["scanned_at"]),
        "_first_at": fields.get("first_at") or None, "_first_user": fields.get("first_user") or None,
        "_first_region": fields.get("first_region") or None,
        "_check_diversion": "" if fields.get("check_diversion", "") in ("", "0") else fields["check_diversion"],
    }


def record_fields(record: dict, counted: Counted) -> dict:
    """A record built in the request as the text fields Redis would keep (for the inline writer)."""
    fields = {name: _text(record[name]) for name in _FIELDS}
    fields.update(id=str(counted.scan_id), scan_number=str(max(counted.count, 1)),
                  first_at=_text(counted.first_at), first_user=_text(counted.first_user),
                  first_region=counted.first_region or "", verdict=counted.verdict.value,
                  product_id=_text(counted.product_id), lot_id=_text(counted.lot_id),
                  check_diversion=_text(counted.check_diversion))
    return fields


def write(records: list[dict]) -> None:
    """Write records (text fields, as Redis keeps them) to consumer_scans and unit_scan_stats, and raise the
    alerts they call for (a code never put on a product, a unit outside its dealer's territory): idempotent."""
    if not records:
        return
    rows = [_row(fields) for fields in records]
    insert = insert_ignore(ConsumerScan.__table__)
    columns = [name for name in rows[0] if not name.startswith("_")]
    written = _written_ids([row["id"] for row in rows])
    if written:  # some were written before (a claim's, a batch delivered again): the same scans?
        _check_written([row for row in rows if row["id"] in written])
    fresh = [row for row in rows if row["id"] not in written]
    inserted = db.session.execute(insert, [{name: row[name] for name in columns} for row in fresh]).rowcount \
        if fresh else 0
    if inserted < len(fresh):  # a twin writer (a claim's, a batch redelivered) wrote some since we read,
        # or the database refused some (INSERT IGNORE makes a foreign key's refusal a warning): which?
        missing = {row["id"] for row in fresh} - _written_ids([row["id"] for row in fresh], latest=True)
        if missing:
            raise RecordRefused(f"the database refused scan{'s' if len(missing) > 1 else ''} "
                                f"{', '.join(map(str, sorted(missing)))} (a foreign key or a bad value)")
        if inserted:
            raise ConcurrentWrite("some scans of this batch were written meanwhile by another writer")
        fresh = []  # it wrote them all, and counted them
    for row in fresh:
        if row["verdict"] is Verdict.NOT_COMMISSIONED and row["serial"] is not None:
            _count_leak(row)
    rollups.add_all(report_facts.consumer_scans(fresh))
    rollups.note_consumer_days(fresh)
    stats: dict[int, dict] = {}
    for row in rows:
        if row["serial"] is None or not row["_first_at"]:
            continue  # not a counted unit
        current = stats.get(row["serial"])
        if current is None or row["scan_number"] > current["scans"]:
            stats[row["serial"]] = {
                "serial": row["serial"], "scans": row["scan_number"], "first_scanned_at": _moment(row["_first_at"]),
                "first_app_user_id": int(row["_first_user"]), "first_region_code": row["_first_region"],
                "last_scanned_at": row["scanned_at"]}
    if stats:
        statement = upsert(UnitScanStats.__table__, ["serial"], lambda table, new: {
            "scans": greatest(table.c.scans, new.scans),
            "last_scanned_at": greatest(table.c.last_scanned_at, new.last_scanned_at)})
        db.session.execute(statement, [stats[serial] for serial in sorted(stats)])  # one lock order for all writers
    # A genuine unit seen at a place: an item inside its last dealer's territory (the process's cache of
    # territories) needs nothing more; the others are checked (a case or pallet through its items).
    diverted = [row for row in rows if row["_check_diversion"] and not (
        row["_check_diversion"].startswith("d") and not diversion.outside_territory(
            row["region_code"], facts.territory(int(row["_check_diversion"][1:]))))]
    if diverted:
        units = unit_rows.load_units({row["serial"] for row in diverted}, lock=False)
        for row in diverted:
            if row["serial"] in units:  # one alert per unit and region: a second check raises nothing
                diversion.check(units=[units[row["serial"]]], seen_kind=SeenKind.CONSUMER_SCAN, place_kind="region",
                                place_id=None, region_code=row["region_code"], seen_by=f"consumer:{row['app_user_id']}",
                                seen_at=row["scanned_at"])


class ConcurrentWrite(Exception):
    """Another writer wrote some scans of this batch between our read and our insert, so which ones we
    wrote (and count in the reports) is unknown: the batch is written again, and then reads them."""


def _written_ids(ids: list[int], *, latest: bool = False) -> set[int]:
    """The ids among these already in consumer_scans (a plain read: a lock would block every writer).
    ``latest``: as committed now, a twin's rows included (a locking read; this transaction's snapshot may
    predate them)."""
    query = sa.select(ConsumerScan.id).where(ConsumerScan.id.in_(ids))
    return set(db.session.scalars(query.with_for_update(read=True) if latest else query))


class RecordRefused(Exception):
    """The database refused a record itself (INSERT IGNORE skipped it: a consumer gone, a value it can't take)."""


class IdCollision(Exception):
    """A scan's id is another scan's in the database (the id sequence went back: Redis lost its data)."""


# What dead-letters a record: the database refuses the record itself (a constraint, a bad value), its id is
# another scan's, or its fields can't be read. Never a connection lost or a deadlock: those are retried.
REFUSED = (sa.exc.IntegrityError, sa.exc.DataError, IdCollision, RecordRefused, ValueError, KeyError, TypeError)


def _check_written(rows: list[dict]) -> None:
    """Raise IdCollision when a row already in consumer_scans under one of these ids is another scan."""
    written = {id_: (user_id, at) for id_, user_id, at in db.session.execute(
        sa.select(ConsumerScan.id, ConsumerScan.app_user_id, ConsumerScan.scanned_at)
        .where(ConsumerScan.id.in_([row["id"] for row in rows])))}
    for row in rows:
        there = written.get(row["id"])
        if there is not None and there != (row["app_user_id"], row["scanned_at"]):
            raise IdCollision(f"scan id {row['id']} is another scan's in the database")


def _count_leak(row: dict) -> None:
    """A scan of a code issued but never put on a product: its code-leak alert, one per code."""
    batch = facts.batch_holding(row["serial"])
    if batch is None:
        return
    # Whether this scan raised the alert (its first): SQLite serialises writers, so a read before tells;
    # on MySQL a read before would need a lock (gap locks: concurrent scans of the code deadlock), and the
    # upsert's affected rows tell instead (1: inserted, 2: updated).
    first = not mysql_like() and db.session.scalar(
        sa.select(CodeLeakAlert.id).where(CodeLeakAlert.serial == row["serial"])) is None
    statement = upsert(CodeLeakAlert.__table__, ["serial"], lambda table, new: {
        "scans": table.c.scans + 1, "last_seen_at": greatest(table.c.last_seen_at, new.last_seen_at)})
    result = db.session.execute(statement, {
        "serial": row["serial"], "code": row["code"], "batch_id": batch.id, "scans": 1,
        "first_seen_at": row["scanned_at"], "last_seen_at": row["scanned_at"], "status": LeakAlertStatus.OPEN,
        "resolution": ""})
    if first or mysql_like() and result.rowcount == 1:
        rollups.add_all(report_facts.leak_alert(first_seen_at=row["scanned_at"], product_id=batch.product_id))


def _decoded(raw: dict) -> dict:
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()}


def persist_one(scan_id: int) -> bool:
    """Write one scan not yet written (a claim's), in the caller's transaction; False when Redis has no record."""
    fields = _decoded(redis.hgetall(_record_key(scan_id)))
    if not fields:
        return False
    fields["id"] = str(scan_id)
    write([fields])
    return True


class ScanNotFound(NotFound):
    code = "scan_not_found"
    message = "No such scan."


def own_scan(scan_id: int, user) -> ConsumerScan:
    """A consumer's own scan as the database has it, written from the log first if the worker has not yet
    (404 scan_not_found for anyone else's, or none)."""
    scan = db.session.get(ConsumerScan, scan_id)
    if scan is None:
        # Not written yet (or written since this transaction's snapshot): write it from the scan log if the
        # worker has not, then read the latest committed row (a locking read, past the snapshot).
        persist_one(scan_id)
        scan = db.session.scalar(sa.select(ConsumerScan).where(ConsumerScan.id == scan_id)
                                 .with_for_update(read=True).execution_options(populate_existing=True))
    if scan is None or scan.app_user_id != user.id or user.app is not AppName.CONSUMER:
        raise ScanNotFound()
    return scan


# --- the worker -------------------------------------------------------------------------------------

def _ensure_group() -> None:
    try:
        redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except Exception as exc:  # noqa: BLE001 - BUSYGROUP: it exists already
        if "BUSYGROUP" not in str(exc):
            raise


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


def _entries(consumer: str, limit: int, block_ms: int | None) -> list:
    """This consumer's own unacknowledged entries (a failed batch), then others' idle ones (a worker that
    died), then new ones."""
    entries = []
    for _, batch in redis.xreadgroup(GROUP, consumer, {STREAM: "0"}, count=limit) or []:
        entries += batch
    if len(entries) < limit:
        entries += redis.xautoclaim(STREAM, GROUP, consumer, min_idle_time=CLAIM_IDLE_MS, start_id="0-0",
                                    count=limit - len(entries))[1]
    if len(entries) < limit:
        for _, batch in redis.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=limit - len(entries),
                                         block=block_ms) or []:
            entries += batch
    return entries


def _commit(records: list[dict]) -> None:
    try:
        write(records)
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
    """
    _ensure_group()
    entries = _entries(consumer or consumer_name(), limit, block_ms)
    if not entries:
        return 0
    entry_ids, scan_ids = [], []
    for entry_id, fields in entries:
        entry_ids.append(entry_id)
        if fields:  # an entry deleted meanwhile comes back empty
            scan_ids.append(int(_decoded(fields)["id"]))
    pipe = redis.pipeline(transaction=False)
    for scan_id in scan_ids:
        pipe.hgetall(_record_key(scan_id))
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
    pipe = redis.pipeline(transaction=False)
    if scan_ids:
        pipe.eval(_RAISE_IDS_LUA, 1, IDS, max(scan_ids), "0")
    if dead:
        pipe.rpush(DEAD, *dead)
    pipe.xack(STREAM, GROUP, *entry_ids)
    pipe.xdel(STREAM, *entry_ids)
    if scan_ids:
        pipe.delete(*(_record_key(scan_id) for scan_id in scan_ids))
    pipe.execute()
    return len(entry_ids)


def pending() -> int:
    """Logged scans not yet written (delivered or not; no stream yet is 0). Redis away raises: "none
    pending" would say the figures are current when no one knows."""
    return int(redis.xlen(STREAM))


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
