"""Bulk reads and writes of unit rows every unit use case shares: lock units, write events and state.

The line upload moves a hundred thousand records per request, so these work on plain rows in
chunks (Core statements, no ORM objects): one locking read per chunk, one multi-row insert of
events, one multi-row upsert of unit state. Units are always locked in serial order, so two
transactions that touch the same units queue up instead of deadlocking. Codes are read by
``app.units.code_reader``; the stock the units' moves change is kept by ``app.units.stock_moves``.
"""
from __future__ import annotations

import contextvars
import enum
import operator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timezone
from typing import Callable, Iterable, Mapping

import msgspec
import sqlalchemy as sa

from app.codes.models import Level
from app.db import utcnow
from app.extensions import db
from app.identity.service import Actor
from app.reports import facts, rollups
from app.units import scan_facts
from app.units.models import EpcBinding, Event, LocationKind, Unit, UnitStatus

CHUNK = 5000


def source_of(actor: Actor) -> str:
    """The events' ``source`` for an actor: the namespace of its record ids."""
    return f"{actor.kind}:{actor.id if actor.id is not None else actor.name}"


# --- units --------------------------------------------------------------------------------------

UNIT_COLUMNS = (
    Unit.serial, Unit.key_version, Unit.batch_id, Unit.level, Unit.product_id, Unit.lot_id, Unit.status,
    Unit.parent_serial, Unit.child_count, Unit.partial, Unit.location_kind, Unit.location_id,
    Unit.in_transit, Unit.replaces_serial, Unit.replaced_by_serial, Unit.recall_id, Unit.commissioned_at,
    Unit.received_on,
)
UNIT_FIELDS = tuple(c.key for c in UNIT_COLUMNS)


class UnitState(msgspec.Struct, array_like=True, gc=False):
    """A unit's row as plain data, changed in memory and written back with ``save_units``.

    A msgspec struct: on MySQL a hundred thousand of them decode straight from one JSON document
    (enums, booleans and the time included), and, holding only scalars, they are no work for the
    garbage collector.
    """

    serial: int
    key_version: int
    batch_id: int
    level: Level
    product_id: int | None
    lot_id: int | None
    status: UnitStatus
    parent_serial: int | None
    child_count: int
    partial: bool
    location_kind: LocationKind
    location_id: int | None
    in_transit: bool
    replaces_serial: int | None
    replaced_by_serial: int | None
    recall_id: int | None
    commissioned_at: datetime
    received_on: date | None = None

    def as_row(self) -> dict:
        return {name: getattr(self, name) for name in UNIT_FIELDS}


# Rows are read by position: a UnitState's fields are UNIT_COLUMNS, in that order.
assert UnitState.__struct_fields__ == UNIT_FIELDS


def chunks(values: list, size: int = CHUNK):
    """The values in lists of at most ``size`` (statements' parameters stay bounded)."""
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _mysql() -> bool:
    return db.session.get_bind().dialect.name in ("mysql", "mariadb")


def _select_units(column, keys: list[int], lock: bool) -> dict[int, UnitState]:
    """Units whose `column` (serial or parent_serial) is one of keys, locked in serial order."""
    found: dict[int, UnitState] = {}
    if _mysql():
        # One JSON document per chunk instead of a row per unit: PyMySQL decodes rows in Python,
        # ten times slower than msgspec decodes the document.
        statement = sa.text(
            f"SELECT JSON_ARRAYAGG(JSON_ARRAY({_UNIT_JSON_COLUMNS})) FROM units"
            f" WHERE {column.key} IN (SELECT k FROM JSON_TABLE(:keys, '$[*]' COLUMNS (k BIGINT PATH '$')) AS j)"
            + (" FOR UPDATE" if lock else ""))
        rows: list[UnitState] = []
        for chunk in chunks(keys, JSON_CHUNK):
            document = db.session.scalar(statement, {"keys": _encode(chunk)})
            if document:
                rows += _decode_units(document)
        rows.sort(key=_by_serial)
        return {row.serial: row for row in rows}
    for chunk in chunks(keys):
        query = sa.select(*UNIT_COLUMNS).where(column.in_(chunk)).order_by(Unit.serial)
        if lock:
            query = query.with_for_update()
        for row in db.session.execute(query):
            found[row[0]] = UnitState(*row)
    return found


def load_units(serials: Iterable[int], *, lock: bool = True) -> dict[int, UnitState]:
    """The units of these serials that exist, locked for update (in serial order) unless lock=False."""
    return _select_units(Unit.serial, sorted(set(serials)), lock)


def children_of(parent_serials: Iterable[int], *, lock: bool = True) -> dict[int, UnitState]:
    """The units directly inside these parents (locked unless lock=False)."""
    return _select_units(Unit.parent_serial, sorted(set(parent_serials)), lock)


def subtree(roots: Iterable[int], *, lock: bool = True) -> dict[int, UnitState]:
    """Every unit inside these roots, at any depth (not the roots themselves)."""
    found: dict[int, UnitState] = {}
    level = set(roots)
    while level:
        children = children_of(level, lock=lock)
        children = {s: u for s, u in children.items() if s not in found}
        found.update(children)
        level = {s for s, u in children.items() if u.level is not Level.ITEM}
    return found


def children_map(units: Iterable[UnitState]) -> dict[int, list[UnitState]]:
    """Each parent serial's loaded children."""
    children: dict[int, list[UnitState]] = {}
    for unit in units:
        if unit.parent_serial is not None:
            children.setdefault(unit.parent_serial, []).append(unit)
    return children


def with_contents(unit: UnitState, children: dict[int, list[UnitState]]) -> list[UnitState]:
    """The unit and every active unit inside it, at any depth."""
    found, stack = [], [unit]
    while stack:
        each = stack.pop()
        found.append(each)
        stack.extend(c for c in children.get(each.serial, ()) if c.status is UnitStatus.ACTIVE)
    return found


def items_under(unit: UnitState, children: dict[int, list[UnitState]]) -> list[int]:
    """The serials of the active items in this unit (itself, if an item)."""
    return [u.serial for u in with_contents(unit, children) if u.level is Level.ITEM]


def insert_units(units: Iterable[UnitState]) -> None:
    """Insert new unit rows (commissioning, a parent's first use) in multi-row statements."""
    rows = [u.as_row() for u in units]
    scan_facts.changed(row["serial"] for row in rows)
    _insert(Unit.__table__, rows)


def save_units(units: Iterable[UnitState], fields: Iterable[str]) -> None:
    """Write these fields of existing units back (and their updated_at), in bulk."""
    fields = tuple(fields)
    units = list(units)
    if not units or not fields:
        return
    table, now = Unit.__table__, utcnow()
    if scan_facts.WATCHED.intersection(fields):
        scan_facts.changed(u.serial for u in units)
    if _mysql():
        columns = [table.c.serial, *(table.c[f] for f in fields)]
        statement = sa.text(
            f"UPDATE units AS u JOIN {_json_table(columns)} ON u.serial = j.serial"
            f" SET {', '.join(f'u.`{f}` = j.`{f}`' for f in fields)}, u.updated_at = :now"
        ).bindparams(sa.bindparam("now", now, type_=table.c.updated_at.type))
        row = _json_row(columns)
        for chunk in chunks(units, JSON_CHUNK):
            db.session.execute(statement, {"rows": _encode([row(u) for u in chunk])})
        return
    statement = (sa.update(Unit).where(Unit.serial == sa.bindparam("b_serial"))
                 .values({**{f: sa.bindparam(f"b_{f}") for f in fields}, "updated_at": now}))
    for chunk in chunks(units):
        db.session.connection().execute(
            statement, [{"b_serial": u.serial, **{f"b_{f}": getattr(u, f) for f in fields}} for u in chunk])


# --- database work overlapping the caller's Python work ----------------------------------------

class Meanwhile:
    """Runs database work of the caller's transaction in a background thread, in order, while the
    caller goes on computing: the server's time then overlaps Python's instead of adding to it.

    The thread shares the caller's context, so ``db.session`` is the same session (and transaction).
    A session serves one thread at a time: until ``wait()`` the caller must not use the database.
    On SQLite (whose connections belong to their thread) the work runs at once, in the caller.
    Use as a context manager: leaving it waits for the work, so nothing outlives the block.
    """

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="meanwhile") if _mysql() else None
        self._pending: list[Future] = []

    def submit(self, fn: Callable, *args) -> Future:
        if self._pool is None:
            future: Future = Future()
            future.set_result(fn(*args))
        else:
            future = self._pool.submit(contextvars.copy_context().run, fn, *args)
        self._pending.append(future)
        return future

    def wait(self) -> None:
        """Wait for all the work so far; raise its first error."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def __enter__(self) -> "Meanwhile":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
        finally:
            if kind is None:
                self.wait()


# --- bulk rows as one JSON document (MySQL/MariaDB) ----------------------------------------------
# PyMySQL escapes every value of a multi-row INSERT in Python; sending the rows as one JSON
# document read server-side by JSON_TABLE costs one escape of one string. The SQL text is built
# from our own table metadata only; every value travels as a bound parameter.

JSON_CHUNK = 20_000
_encoder = msgspec.json.Encoder()
_decode_units = msgspec.json.Decoder(list[UnitState]).decode
_by_serial = operator.attrgetter("serial")


def _unit_json_column(column) -> str:
    """A units column as JSON_ARRAY gives it to ``_decode_units``: booleans true/false, times RFC 3339 UTC."""
    if isinstance(column.type, sa.Boolean):
        return f"`{column.key}` <> 0"
    if isinstance(column.type, sa.TypeDecorator) and isinstance(column.type.impl, sa.DateTime):
        return f"DATE_FORMAT(`{column.key}`, '%Y-%m-%dT%H:%i:%s.%fZ')"
    return f"`{column.key}`"


_UNIT_JSON_COLUMNS = ", ".join(_unit_json_column(c) for c in UNIT_COLUMNS)


def _encode(value) -> str:
    return _encoder.encode(value).decode()


def _sql_type(column) -> str:
    kind = column.type
    if isinstance(kind, sa.Enum):
        return f"VARCHAR({kind.length})"
    if isinstance(kind, sa.String):
        return f"VARCHAR({kind.length})"
    if isinstance(kind, sa.Boolean):
        return "TINYINT"
    if isinstance(kind, sa.Integer):
        return "BIGINT"
    if isinstance(kind, sa.TypeDecorator) and isinstance(kind.impl, sa.DateTime):
        return "DATETIME(6)"
    if isinstance(kind, sa.Date):
        return "DATE"
    if isinstance(kind, sa.JSON):
        return "LONGTEXT"
    raise TypeError(f"no JSON_TABLE type for {column}")


def _json_table(columns) -> str:
    spec = ", ".join(f"`{c.key}` {_sql_type(c)} PATH '$[{i}]'" for i, c in enumerate(columns))
    return f"JSON_TABLE(:rows, '$[*]' COLUMNS ({spec})) AS j"


def _utc_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ")


def _json_value(column):
    """How a Python value of this column travels in the JSON document (None: as it is)."""
    kind = column.type
    if isinstance(kind, sa.Enum):
        return lambda v: v.value if isinstance(v, enum.Enum) else v
    if isinstance(kind, sa.Boolean):
        return lambda v: None if v is None else int(v)
    if isinstance(kind, sa.TypeDecorator) and isinstance(kind.impl, sa.DateTime):
        return _utc_text
    if isinstance(kind, sa.Date):
        return lambda v: None if v is None else v.isoformat()
    if isinstance(kind, sa.JSON):
        return lambda v: None if v is None else _encode(v)
    return None


def _json_row(columns, get=operator.attrgetter):
    """A function from an object (or, with get=itemgetter, a dict) to its JSON row of these columns."""
    values = get(*(c.key for c in columns))
    converters = [(i, f) for i, c in enumerate(columns) if (f := _json_value(c)) is not None]
    if len(columns) == 1:
        single = converters[0][1] if converters else None
        return (lambda o: [single(values(o))]) if single else (lambda o: [values(o)])
    if not converters:
        return values

    def row(obj):
        out = list(values(obj))
        for i, convert in converters:
            out[i] = convert(out[i])
        return out
    return row


def _all_equal(values: list) -> bool:
    try:
        return values.count(values[0]) == len(values)
    except TypeError:  # a dict that can't be compared with == cheaply is compared all the same
        return all(v == values[0] for v in values)


def _insert(table: sa.Table, rows: list[dict]) -> None:
    """Insert rows (dicts with the same keys) in bulk; on MySQL columns equal in every row travel once."""
    if not rows:
        return
    if not _mysql():
        for chunk in chunks(rows):
            db.session.connection().execute(sa.insert(table), chunk)
        return
    columns = [table.c[name] for name in rows[0]]
    # Client-side defaults (a Core insert would apply them; this text statement must say them).
    defaults = {c: c.default.arg(None) if c.default.is_callable else c.default.arg
                for c in table.columns
                if c.key not in rows[0] and c.default is not None and (c.default.is_scalar or c.default.is_callable)}
    for chunk in chunks(rows, JSON_CHUNK):
        first = chunk[0]
        same = [c for c in columns if _all_equal(list(map(operator.itemgetter(c.key), chunk)))]
        varying = [c for c in columns if c not in same] or [same.pop(0)]  # one row per row, always
        params = {f"c_{c.key}": first[c.key] for c in same}
        params.update({f"c_{c.key}": value for c, value in defaults.items()})
        same += list(defaults)
        select = ", ".join([*(f":c_{c.key}" for c in same), *(f"j.`{c.key}`" for c in varying)])
        statement = sa.text(
            f"INSERT INTO {table.name} ({', '.join(f'`{c.key}`' for c in [*same, *varying])})"
            f" SELECT {select} FROM {_json_table(varying)}"
        ).bindparams(*(sa.bindparam(f"c_{c.key}", type_=c.type) for c in same))
        row = _json_row(varying, operator.itemgetter)
        params["rows"] = _encode([row(r) for r in chunk])
        db.session.execute(statement, params)


# --- RFID bindings ------------------------------------------------------------------------------

def epc_bindings(epcs: Iterable[str]) -> dict[str, int]:
    """The serial each of these EPCs (canonical hex) is bound to, for those that are bound."""
    found: dict[str, int] = {}
    for chunk in chunks(sorted(set(epcs))):
        found.update(db.session.execute(
            sa.select(EpcBinding.epc, EpcBinding.serial).where(EpcBinding.epc.in_(chunk))).all())
    return found


def bind_epcs(rows: list[dict]) -> None:
    """Insert EPC bindings ({epc, kind, serial, source, bound_at}); the EPC's key refuses a second
    binding (a concurrent twin's insert fails and its use case runs again, app.db.retrying)."""
    _insert(EpcBinding.__table__, rows)


def epcs_of(serials: Iterable[int]) -> dict[int, list[EpcBinding]]:
    """The EPC bindings of these serials, oldest first."""
    found: dict[int, list[EpcBinding]] = {}
    for chunk in chunks(sorted(set(serials))):
        for binding in db.session.scalars(sa.select(EpcBinding).where(EpcBinding.serial.in_(chunk))
                                          .order_by(EpcBinding.bound_at, EpcBinding.epc)):
            found.setdefault(binding.serial, []).append(binding)
    return found


# --- events -------------------------------------------------------------------------------------

EVENT_FIELDS = ("kind", "serial", "parent_serial", "lot_id", "occurred_at", "recorded_at", "location_kind",
                "location_id", "session_id", "source", "record_id", "corrects_event_id", "data")


def event_row(*, kind, serial: int, occurred_at: datetime, source: str, recorded_at: datetime,
              parent_serial: int | None = None, lot_id: int | None = None, location_kind=None,
              location_id: int | None = None, session_id: int | None = None, record_id: str | None = None,
              corrects_event_id: int | None = None, data: dict | None = None) -> dict:
    """One event as a row for ``write_events`` (every key present: one multi-row statement)."""
    return {"kind": kind, "serial": serial, "parent_serial": parent_serial, "lot_id": lot_id,
            "occurred_at": occurred_at, "recorded_at": recorded_at, "location_kind": location_kind,
            "location_id": location_id, "session_id": session_id, "source": source, "record_id": record_id,
            "corrects_event_id": corrects_event_id, "data": data}


def write_events(rows: list[dict], *, units: Mapping[int, UnitState] | None = None) -> None:
    """Append events (rows from ``event_row``) in bulk, and count them in the reports' rollups from
    ``units`` (serial -> the unit; the line engine, which writes meanwhile, tallies its own instead)."""
    _insert(Event.__table__, rows)
    if units is not None:
        rollups.add_all(facts.unit_events(rows, units))


def one_of(column, keys: list):
    """``column IN keys``; on MySQL a semi-join on a JSON_TABLE, the keys bound as one string."""
    if not _mysql():
        return column.in_(keys)
    keys_table = sa.text(f"JSON_TABLE(:in_keys, '$[*]' COLUMNS (k {_sql_type(column)} PATH '$')) AS jk") \
        .bindparams(in_keys=_encode(keys))
    return column.in_(sa.select(sa.literal_column("jk.k")).select_from(keys_table))


def key_chunks(keys: Iterable) -> Iterable[list]:
    """Sorted distinct keys in chunks sized for ``one_of``."""
    return chunks(sorted(set(keys)), JSON_CHUNK if _mysql() else CHUNK)


def applied_record_ids(source: str, record_ids: Iterable[str]) -> set[str]:
    """Which of a client's record ids were already applied (the retry of an upload)."""
    found: set[str] = set()
    for chunk in key_chunks(record_ids):
        found.update(db.session.scalars(
            sa.select(Event.record_id).where(Event.source == source, one_of(Event.record_id, chunk))))
    return found
