"""A consumer scan is counted in Redis and written to the database in batches, off the request.

On one Redis server the request makes one Redis round trip (`count_and_log`, a Lua script) that, atomically:

- checks the signed access token's revocation (`auth:mp:<hash>`, app.accounts.tokens);
- reads the unit's facts and counter from its bucket (app.units.scan_facts): its status and recall
  decide the verdict, its product and lot go in the record (a unit Redis has not got, or a writer has
  marked, is answered "ask the database": the caller reads it and runs the script again with it);
- counts the rate-limit windows (per openid, IP and code) and stops at the first one past its limit;
- hands out the scan's id (a Redis sequence, seeded above the database's highest id);
- adds the scan to the unit's copy windows (sorted sets of the users and regions that scanned the
  unit within CONSUMER_COPY_WINDOW_HOURS, whatever the verdict) and, for a genuine unit, counts it
  (count, first time, first scanner, first region) and decides scanned-before or suspected copy;
- keeps the record (`{consumer:scans}:scan:<id>`, a hash) and appends its id to the stream
  `{consumer:scans}:log`.

On a Redis Cluster one script's keys must share a hash slot, and these belong to several owners, so
the same steps run as calls that are each atomic (docs/redis-cluster.md): the token's key (read); each
rate-limit window (app.platform.ratelimit, one call per key, in the same order); the id; the unit (its
bucket and its copy windows, whose keys carry the bucket's key as hash tag: one slot); the record and
its stream entry (both tagged `{consumer:scans}`, with the id sequence). A scan is counted once: only
the unit's call counts it, and its record is kept under the id taken before it; if keeping the record
fails after the unit was counted, the request writes the record itself (`Counted.logged` False).

With CONSUMER_SCAN_WRITER = "inline" (tests) the request writes its record in its own transaction,
through the same writer, instead of appending it to the stream.

If Redis loses its data, scans not yet written are lost with it (the units and their counters are read
again from the database): run Redis with persistence (appendonly) in production.

The records are written by app.consumers.scan_writer, from the stream by app.consumers.scan_worker.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import sqlalchemy as sa
from flask import current_app

from app import faults
from app.accounts import tokens
from app.accounts.errors import TokenInvalid
from app.consumers import legacy_keys
from app.consumers.models import ConsumerScan, Verdict
from app.extensions import db, is_cluster, redis, script
from app.platform import ratelimit
from app.units import scan_facts

log = logging.getLogger(__name__)

# The scan log's keys share the hash tag {consumer:scans}: the sequence, the stream and the records.
LOG_TAG = "{consumer:scans}"
STREAM = f"{LOG_TAG}:log"
GROUP = "persist"
IDS = f"{LOG_TAG}:ids"
ID_MARGIN = 1000  # ids handed out above the database's highest when the sequence is seeded again
RECORD_SECONDS = 7 * 86400  # a record not yet written is kept this long
_FIELDS = ("serial", "code", "app_user_id", "verdict", "hidden_code_ok", "product_id", "lot_id", "latitude",
           "longitude", "region_code", "ip", "scanned_at", "check_diversion")


def copy_keys(serial: int) -> tuple[str, str]:
    """The unit's copy windows (the users, the regions that scanned it): tagged with its bucket's key, whose
    name has no braces, so both lie in the bucket's hash slot."""
    bucket = scan_facts.slot(serial)[0]
    return f"consumer:unit:{{{bucket}}}:{serial}:users", f"consumer:unit:{{{bucket}}}:{serial}:regions"


# The script is put together from these parts: one script on a server, a script per owner on a cluster.
# ARGV[1]: one JSON document (one argument: redis-py encodes each argument in Python), with
#   limits: the rate limits, in KEYS' order; window: their window (s);
#   mode: '0' no unit (not a code of ours), 'f' the record's verdict stands (the unit is seen in the copy
#     window only), 'u' the unit's facts decide (a genuine unit is counted);
#   copy: [window (µs), users, regions] of the copy check; r: the unit's place in its bucket (fields f<r>,
#   c<r>); facts: its facts ('' : read them from the bucket); seed: put those facts in the bucket ('1') over
#   expect (what the field must hold, '' : nothing); counter: the counter to start from when the bucket has
#   none ('' : none given); ttl: the record's (s); stream: append it ('1') or not; prefix: the record's key;
#   record: the ConsumerScan columns as text (the facts fill verdict, product_id, lot_id, check_diversion).

# The token: {-2} unknown to Redis, {-3} revoked.
_TOKEN = """
if token_key ~= '' then
  local token = redis.call('GET', token_key)
  if not token then return {-2} end
  if token ~= 'ok' then return {-3} end
end
"""

# The unit's facts and counter, read before anything is counted: {-5, what the facts field holds} when
# they must be read from the database (no facts, a writer's mark, or no counter).
_UNIT_READ = """
local p = cjson.decode(ARGV[1])
local record = p['record']
local mode = p['mode']
local facts, counter = '', nil
local facts_field, counter_field = 'f' .. p['r'], 'c' .. p['r']
if mode == 'u' then
  facts = p['facts']
  if facts == '' then
    local there = redis.call('HGET', bucket, facts_field)
    if not there or string.sub(there, 1, 2) ~= 'F|' then return {-5, there or ''} end
    facts = there
  end
  counter = redis.call('HGET', bucket, counter_field)
  if not counter then
    if p['counter'] == '' then return {-5, ''} end
    counter = p['counter']
  end
end
"""

# The unit counted: its facts decide the verdict, its copy windows take the scan, its counter moves.
_UNIT_COUNT = """
if mode == 'u' and p['seed'] == '1' then
  local there = redis.call('HGET', bucket, facts_field)
  if (p['expect'] == '' and not there) or there == p['expect'] then
    redis.call('HSET', bucket, facts_field, facts)
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
local count, first_at, first_user, first_region = 0, '', '', ''
if mode ~= '0' then
  local now, user = record['scanned_at'], record['app_user_id']
  local copy = p['copy']
  local since = tonumber(now) - copy[1]
  local window = math.ceil(copy[1] / 1000000)
  redis.call('ZADD', users_key, now, user)
  redis.call('ZREMRANGEBYSCORE', users_key, '-inf', '(' .. since)
  redis.call('EXPIRE', users_key, window)
  if region ~= '' then
    redis.call('ZADD', regions_key, now, region)
    redis.call('EXPIRE', regions_key, window)
  end
  redis.call('ZREMRANGEBYSCORE', regions_key, '-inf', '(' .. since)
  if counted then
    local scans
    scans, first_at, first_user, first_region = string.match(counter, '^(%d+)|([^|]*)|([^|]*)|(.*)$')
    count = tonumber(scans) + 1
    if count == 1 then first_at, first_user, first_region = now, user, region end
    redis.call('HSET', bucket, counter_field, count .. '|' .. first_at .. '|' .. first_user .. '|' .. first_region)
    if count > 1 then
      if redis.call('ZCARD', users_key) >= copy[2] or redis.call('ZCARD', regions_key) >= copy[3] then
        record['verdict'] = 'suspected_copy'
      else
        record['verdict'] = 'scanned_before'
      end
    end
  end
end
"""

# One server. KEYS: 1 the id sequence, 2 the stream, 3 the unit's bucket (app.units.scan_facts; '' none),
# 4 and 5 its users and regions seen, 6 the token's key ('' none: not checked), then the rate-limit keys.
# Answers, before anything is counted: {-1} the id sequence needs seeding; {-2}, {-3} (the token), {-5, ...}
# (the unit), {i, ttl} rate limit i is past its limit. Else {0, id, count, first time, first user, first
# region, verdict, facts, product id, lot id, check_diversion} (count 0: not counted).
_LUA = """
local bucket, users_key, regions_key, token_key = KEYS[3], KEYS[4], KEYS[5], KEYS[6]
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
""" + _TOKEN + _UNIT_READ + ratelimit.windows_lua(key="KEYS[6 + i]", limits="p['limits']", window="p['window']") \
    + _UNIT_COUNT + """
local id = redis.call('INCR', KEYS[1])
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

# A cluster, the unit's call. KEYS: 1 its bucket, 2 and 3 its users and regions seen (one hash slot).
# Answers {-5, ...} as above, else {0, count, first time, first user, first region, verdict, facts, product
# id, lot id, check_diversion}.
_UNIT_LUA = """
local bucket, users_key, regions_key = KEYS[1], KEYS[2], KEYS[3]
""" + _UNIT_READ + _UNIT_COUNT + """
return {0, count, first_at, first_user, first_region, record['verdict'], facts,
        record['product_id'], record['lot_id'], record['check_diversion']}
"""

# A cluster, the id. KEYS: 1 the id sequence. Answers the id, or -1: the sequence needs seeding.
_NEXT_ID_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('INCR', KEYS[1])
"""

# A cluster, the record. KEYS: 1 the stream, 2 the record's key (one hash slot). ARGV: the scan's id, the
# record's ttl, then its fields and values. A record already kept (the call sent again after its answer was
# lost) is not logged twice: answers 0.
_LOG_LUA = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('XADD', KEYS[1], '*', 'id', ARGV[1])
return 1
"""

SCRIPTS = {"scan": _LUA, "unit": _UNIT_LUA, "next_id": _NEXT_ID_LUA, "log": _LOG_LUA}


def _record_key(scan_id: int) -> str:
    return f"{LOG_TAG}:scan:{scan_id}"


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
    start = highest + ID_MARGIN
    before = redis.get(legacy_keys.IDS)
    if before is not None:  # the sequence of the release before the hash tags, maybe still in use (a rolling deploy)
        start = max(start, int(before) + legacy_keys.ID_GAP)
    redis.set(IDS, start, nx=True)


class TokenUnknown(Exception):
    """Redis has no word on the scan's token: the database must decide, then the scan runs again."""


class UnitUnknown(Exception):
    """Redis has not got the unit's facts (or holds a writer's mark), or not its counter: read it from the
    database, then the scan runs again (without its rate limits where they were counted already)."""

    def __init__(self, found: str, *, limits_counted: bool = False):
        super().__init__(found)
        self.found = found  # what the facts field held ('' : nothing)
        self.limits_counted = limits_counted  # a cluster counts them before it reads the unit


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
    logged: bool = True  # False: counted, but its record could not be kept in Redis (a cluster): the caller writes it


def count_and_log(record: dict, *, limits: list[tuple[str, int]], unit: UnitSlot | None,
                  token_key: str | None = None) -> Counted | tuple[int, int]:
    """Token, unit, rate limits, id, counters and the record (see the module's docstring): one round trip on
    a server, calls that are each atomic on a cluster.

    `record` holds the ConsumerScan columns (without id and scan_number; its verdict stands unless `unit`
    is given, whose facts then decide it with product_id and lot_id); `unit` where the unit is in Redis
    (app.units.scan_facts), with what the database said where Redis had not got it; `token_key` the Redis
    key of the scan's signed token (None: the caller authenticated otherwise). Answers (limit index, seconds
    left) when a rate limit refused the scan: nothing was counted. Raises TokenUnknown, UnitUnknown or
    accounts' TokenInvalid (revoked) before the unit is counted.
    """
    config = current_app.config
    serial = record["serial"]
    facts_field = scan_facts.slot(serial)[1] if serial is not None else "f"
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
    unit_keys = [scan_facts.slot(serial)[0], *copy_keys(serial)] if serial is not None else ["", "", ""]
    if is_cluster():
        return _count_and_log_split(record, params, unit_keys=unit_keys, limits=limits, token_key=token_key)
    keys = [IDS, STREAM, *unit_keys, token_key or "", *(key for key, _ in limits)]
    args = [_encode_params(params)]
    for _ in range(2):
        answer = _script("scan")(keys=keys, args=args)
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
    return _counted(int(answer[1]), answer[2:])


def _counted(scan_id: int, answer) -> Counted:
    count, first_at, first_user, first_region, verdict, facts, product_id, lot_id, diverted = map(_str, answer)
    return Counted(scan_id, int(count), _moment(first_at) if first_at else None,
                   int(first_user) if first_user else None, first_region or None, Verdict(verdict), facts,
                   int(product_id) if product_id else None, int(lot_id) if lot_id else None,
                   "" if diverted in ("", "0") else diverted)


def _count_and_log_split(record: dict, params: dict, *, unit_keys: list[str], limits: list[tuple[str, int]],
                         token_key: str | None) -> Counted | tuple[int, int]:
    """count_and_log on a Redis Cluster: each owner's keys in a call of their own, each atomic, in an order
    that counts nothing a later refusal would have to take back (docs/redis-cluster.md)."""
    if token_key:
        token = redis.get(token_key)
        if token is None:
            raise TokenUnknown()
        if token.decode() != tokens.OK:
            raise TokenInvalid()
    if limits:
        index, ttl = ratelimit.check(limits)  # one atomic call per key, stopping at the first past its limit
        if index:
            return index, ttl
    scan_id = _next_id()  # before the unit: a scan counted always has an id to be written under
    if params["mode"] == "0":
        answer = ["0", "", "", "", params["record"]["verdict"], "", params["record"]["product_id"],
                  params["record"]["lot_id"], ""]
    else:
        answer = _script("unit")(keys=unit_keys, args=[_encode_params(params)])
        if int(answer[0]) == -5:
            raise UnitUnknown(_str(answer[1]), limits_counted=bool(limits))  # the id taken is left unused
        answer = answer[1:]
    counted = _counted(scan_id, answer)
    if params["stream"] == "1":
        fields = record_fields(record, counted)
        try:
            _script("log")(keys=[STREAM, _record_key(scan_id)],
                           args=[scan_id, RECORD_SECONDS, *(part for pair in fields.items() for part in pair)])
        except Exception as error:
            if not faults.is_outage(error):
                raise
            # The unit is counted: the scan must not be lost, nor counted again by the client's retry.
            log.warning("consumer scan %s: its record could not be logged (%s); the request writes it", scan_id, error)
            counted.logged = False
    return counted


def _next_id() -> int:
    for _ in range(2):
        scan_id = int(_script("next_id")(keys=[IDS]))
        if scan_id != -1:
            return scan_id
        _seed_ids()
    raise RuntimeError("the scan id sequence could not be seeded")


def record_fields(record: dict, counted: Counted) -> dict:
    """A record built in the request as the text fields Redis keeps (the inline writer, a cluster's log call)."""
    fields = {name: _text(record[name]) for name in _FIELDS}
    fields.update(id=str(counted.scan_id), scan_number=str(max(counted.count, 1)),
                  first_at=_text(counted.first_at), first_user=_text(counted.first_user),
                  first_region=counted.first_region or "", verdict=counted.verdict.value,
                  product_id=_text(counted.product_id), lot_id=_text(counted.lot_id),
                  check_diversion=_text(counted.check_diversion))
    return fields


_encode_params = msgspec.json.Encoder().encode


def _str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _script(name: str):
    """One of the scan's scripts (EVALSHA: its text is not sent each time)."""
    return script(SCRIPTS[name])
