"""What a consumer scan needs of a unit, kept in Redis in step with the database by the unit's writers.

A consumer scan reads, besides reference data the process caches, the unit's state (level, status,
recall, product, lot, last dealer, place) and its consumer-scan counter. Both are kept in Redis so a
scan needs no database read, in buckets of 64 units (`unit:scan:<serial // 64>`, a hash small enough
for Redis's compact encoding), two fields a unit:

- `f<r>` (r = serial % 64): the facts, `F|<level>|<status>|<recall>|<product>|<lot>|<dealer>|<place>|
  <place id>|<in transit>`, or a writer's mark `D|<unix ms>|<nonce>` while they are being changed;
- `c<r>`: the counter, `<scans>|<first at, µs>|<first user>|<first region>` (`0|||`: never scanned), moved
  by the scan's script (app.consumers.scan_log) and written by the scan-log worker to unit_scan_stats.

The bucket's key has no braces, so on a Redis Cluster it hashes whole, and the copy windows of its units
(app.consumers.scan_log.copy_keys) carry it as their hash tag: the scan's call on a unit stays in one slot.

Kept in step (`changed`): a transaction that changes a unit's facts names it (ORM changes to Unit rows
are found by a flush hook; bulk writers call `changed`). Before it commits, each unit's facts field is
overwritten with the transaction's mark (Redis down: the commit fails, nothing is half-kept). After it
commits, the units are read again from the database and each field still holding this transaction's
mark gets the new facts (a later writer's mark is left alone), and a missing counter is set from
unit_scan_stats. A scan that finds no facts, or a mark, reads the unit from the database; it puts what
it read in Redis only over what it found and only if that is not a mark younger than DIRTY_SECONDS
(a transaction that marked it may not have committed yet). So Redis never holds facts older than a
committed change, whatever the interleaving; a writer that dies between commit and its refresh leaves
its mark, and scans read the database until the mark is old.

Redis flushed: every scan reads the database and puts the facts back; `flask units warm-scan-facts`
fills Redis from the database at once.
"""
from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.codes.models import Level
from app.extensions import by_slot, db, pipeline_eval, redis
from app.units.models import LocationKind, Unit, UnitScanStats, UnitStatus

log = logging.getLogger(__name__)

BUCKET = 64
DIRTY_SECONDS = 60  # a mark younger than this may belong to a transaction not yet committed
FACT_COLUMNS = ("level", "status", "recall_id", "product_id", "lot_id", "last_dealer_id", "location_kind",
                "location_id", "in_transit")
NEVER_SCANNED = "0|||"

_LEVEL = {Level.ITEM: "i", Level.CASE: "c", Level.PALLET: "p"}
_STATUS = {UnitStatus.ACTIVE: "a", UnitStatus.SCRAPPED: "s", UnitStatus.VOIDED: "v"}
_PLACE = {LocationKind.LINE: "l", LocationKind.WAREHOUSE: "w", LocationKind.DEALER: "d", LocationKind.STORE: "s",
          LocationKind.CONSUMER: "c"}
_LEVEL_OF = {v: k for k, v in _LEVEL.items()}
_STATUS_OF = {v: k for k, v in _STATUS.items()}
_PLACE_OF = {v: k for k, v in _PLACE.items()}


@dataclass(frozen=True, slots=True)
class UnitFacts:
    """A unit as a consumer scan sees it (the names of the Unit columns)."""

    serial: int
    level: Level
    status: UnitStatus
    recall_id: int | None
    product_id: int | None
    lot_id: int | None
    last_dealer_id: int | None
    location_kind: LocationKind
    location_id: int | None
    in_transit: bool


def slot(serial: int) -> tuple[str, str, str]:
    """(the bucket's key, the facts field, the counter field) of a unit."""
    bucket, r = divmod(serial, BUCKET)
    return f"unit:scan:{bucket}", f"f{r}", f"c{r}"


def _number(value) -> str:
    return "" if value is None else str(value)


def encode(unit) -> str:
    """A unit row (any object with the Unit columns) as its facts field."""
    return "|".join(("F", _LEVEL[unit.level], _STATUS[unit.status], _number(unit.recall_id),
                     _number(unit.product_id), _number(unit.lot_id), _number(unit.last_dealer_id),
                     _PLACE[unit.location_kind], _number(unit.location_id), "1" if unit.in_transit else "0"))


def decode(serial: int, value: str) -> UnitFacts | None:
    """The facts a field holds; None for a mark (or anything else)."""
    parts = value.split("|")
    if parts[0] != "F" or len(parts) != 10:
        return None
    number = lambda text: int(text) if text else None  # noqa: E731
    return UnitFacts(serial, _LEVEL_OF[parts[1]], _STATUS_OF[parts[2]], number(parts[3]), number(parts[4]),
                     number(parts[5]), number(parts[6]), _PLACE_OF[parts[7]], number(parts[8]), parts[9] == "1")


def counter(scans: int | None, first_at_micros: int | None, first_user: int | None, first_region: str | None) -> str:
    """A counter field from unit_scan_stats' values (no row: never scanned)."""
    if not scans:
        return NEVER_SCANNED
    return f"{scans}|{first_at_micros}|{first_user}|{first_region or ''}"


def seedable(found: str | None, now: float | None = None) -> bool:
    """Whether a scan that found this in the facts field may put what it read from the database there:
    nothing, or a mark old enough that its transaction has ended."""
    if found is None:
        return True
    if not found.startswith("D|"):
        return False
    marked_ms = int(found.split("|")[1])
    return (now or time.time()) * 1000 - marked_ms > DIRTY_SECONDS * 1000


# --- the writers ----------------------------------------------------------------------------------

CHANGED = "unit_scan_facts_changed"  # session.info: the serials this transaction changes
WATCHED = frozenset(FACT_COLUMNS)


def changed(serials: Iterable[int], session: Session | None = None) -> None:
    """These units' scan facts change in this transaction (see the module's docstring)."""
    (session or db.session()).info.setdefault(CHANGED, set()).update(serials)


def _note_orm_changes(session: Session) -> None:
    found = [obj.serial for obj in (*session.new, *session.deleted) if isinstance(obj, Unit)]
    for obj in session.dirty:
        if isinstance(obj, Unit):
            attrs = sa.inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in WATCHED):
                found.append(obj.serial)
    if found:
        changed(found, session)


def _before_flush(session, _context, _instances) -> None:
    _note_orm_changes(session)


# The writer's mark goes on a unit's facts field only; the counter is the scan's.
_MARK = "D|{ms}|{nonce}"


def _before_commit(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released (insert_once): the transaction, and its changes, go on
    # Flushed before the mark, not by the commit after this hook: the mark must go on after the transaction
    # holds the units' rows. A writer that marked first and then waited for a twin's lock would see the twin
    # refresh over its mark with the twin's facts, and its own refresh then leave those in place.
    if session.dirty or session.new or session.deleted:
        session.flush()
    serials = session.info.get(CHANGED)
    if not serials:
        return
    mark = _MARK.format(ms=int(time.time() * 1000), nonce=secrets.token_hex(6))
    pipe = redis.pipeline(transaction=False)
    for serial in serials:
        key, facts_field, _ = slot(serial)
        pipe.hset(key, facts_field, mark)
    pipe.execute()  # Redis away: raises, and the transaction does not commit
    session.info["unit_scan_facts_mark"] = mark


def _after_commit(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: nothing is committed yet
    serials, mark = session.info.pop(CHANGED, None), session.info.pop("unit_scan_facts_mark", None)
    if not serials or mark is None:
        return
    try:
        refresh(sorted(serials), mark=mark)
    except Exception:  # noqa: BLE001 - the marks stay: scans read the database until they are old
        log.exception("unit scan facts: %s units not refreshed after commit (scans read them from the database)",
                      len(serials))


def _after_rollback(session, transaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint rolled back: what the transaction changed before it is still to be committed
    session.info.pop(CHANGED, None)
    session.info.pop("unit_scan_facts_mark", None)


def watch_commits() -> None:
    """Hook every session (once per process)."""
    for name, hook in (("before_flush", _before_flush), ("before_commit", _before_commit),
                       ("after_commit", _after_commit), ("after_soft_rollback", _after_rollback)):
        if not sa.event.contains(Session, name, hook):
            sa.event.listen(Session, name, hook)


# KEYS: buckets (on a cluster, of one hash slot). ARGV[1]: the mark the facts must still hold ('' : the field
# must be empty), then per unit: the bucket's index in KEYS, r, the facts ('' : the unit is gone), the counter.
# Answers how many were set.
_PUT_LUA = """
local set = 0
for i = 2, #ARGV, 4 do
  local key, r = KEYS[tonumber(ARGV[i])], ARGV[i + 1]
  local there = redis.call('HGET', key, 'f' .. r)
  if (ARGV[1] == '' and not there) or there == ARGV[1] then
    if ARGV[i + 2] == '' then redis.call('HDEL', key, 'f' .. r) else redis.call('HSET', key, 'f' .. r, ARGV[i + 2]) end
    set = set + 1
  end
  redis.call('HSETNX', key, 'c' .. r, ARGV[i + 3])
end
return set
"""

_READ = None


def read_statement():
    global _READ
    if _READ is None:
        _READ = (sa.select(Unit.serial, *(Unit.__table__.c[name] for name in FACT_COLUMNS), UnitScanStats.scans,
                           UnitScanStats.first_scanned_at, UnitScanStats.first_app_user_id,
                           UnitScanStats.first_region_code)
                 .outerjoin(UnitScanStats, UnitScanStats.serial == Unit.serial))
    return _READ


def micros(moment) -> int | None:
    return None if moment is None else int(moment.timestamp()) * 1_000_000 + moment.microsecond


def counter_of(row) -> str:
    return counter(row.scans, micros(row.first_scanned_at), row.first_app_user_id, row.first_region_code)


def refresh(serials: list[int], *, mark: str = "", chunk: int = 1000) -> int:
    """Read these units from the database and put their facts in Redis where the field still holds `mark`
    ('': where it is empty); set missing counters. Reads on a connection of its own (after a commit the
    session's transaction is over). The number of facts fields set."""
    done = 0
    with db.engine.connect() as connection:
        for start in range(0, len(serials), chunk):
            part = serials[start:start + chunk]
            rows = {row.serial: row for row in connection.execute(read_statement().where(Unit.serial.in_(part)))}
            connection.rollback()
            done += put(part, rows, expect=mark)
    return done


def put(serials: list[int], rows: dict, *, expect: str) -> int:
    """Put these units' facts (rows: serial -> row; a serial without one is gone) where their fields hold
    `expect`, and their counters where none is; one script per hash slot (one call on a single server)."""
    units: dict[str, list[int]] = {}
    for serial in serials:
        units.setdefault(slot(serial)[0], []).append(serial)
    calls = []
    for keys in by_slot(units):  # a cluster: the buckets of each slot together (each unit is its own check)
        args: list = [expect]
        for index, key in enumerate(keys, 1):
            for serial in units[key]:
                row = rows.get(serial)
                args += [index, slot(serial)[1][1:], encode(row) if row is not None else "",
                         counter_of(row) if row is not None else NEVER_SCANNED]
        calls.append((keys, args))
    if len(calls) <= 1:
        return sum(int(redis.eval(_PUT_LUA, len(keys), *keys, *args)) for keys, args in calls)
    pipe = redis.pipeline(transaction=False)
    for keys, args in calls:
        pipeline_eval(pipe, _PUT_LUA, keys, *args)
    return sum(int(done) for done in pipe.execute())


def warm(*, batch: int = 5000, after: int = 0) -> int:
    """Fill Redis from the database for every unit whose facts field is empty (after a flush); how many."""
    done = 0
    while True:
        serials = list(db.session.scalars(sa.select(Unit.serial).where(Unit.serial > after)
                                          .order_by(Unit.serial).limit(batch)))
        db.session.rollback()
        if not serials:
            return done
        done += refresh(serials)
        after = serials[-1]
