"""Bulk reads and writes every unit use case shares: decode codes, lock units, write events and state.

The line upload moves a hundred thousand records per request, so these work on plain rows in
chunks (Core statements, no ORM objects): one locking read per chunk, one multi-row insert of
events, one multi-row upsert of unit state. Units are always locked in serial order, so two
transactions that touch the same units queue up instead of deadlocking.
"""
from __future__ import annotations

import bisect
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite

from app.codes.format import ALPHABET, CODE_LENGTH, MAC_BITS, MAX_SERIAL, SERIAL_BITS, normalise
from app.codes.models import BatchStatus, CodeBatch, Level
from app.codes.service import keyring
from app.extensions import db
from app.identity.service import Actor
from app.units.models import Event, LocationKind, Unit, UnitStatus
from app.warehouse.models import Stock

CHUNK = 5000
_CODE = re.compile(f"[{ALPHABET}]{{{CODE_LENGTH}}}")
# Crockford digits to the digits int(x, 32) reads: the parse runs in C.
_TO_BASE32 = str.maketrans(ALPHABET, "0123456789abcdefghijklmnopqrstuv")


def source_of(actor: Actor) -> str:
    """The events' ``source`` for an actor: the namespace of its record ids."""
    return f"{actor.kind}:{actor.id if actor.id is not None else actor.name}"


# --- codes --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Decoded:
    """A code that verifies: its canonical text, key version and serial."""

    code: str
    key_version: int
    serial: int


class CodeReader:
    """Decodes many codes fast, remembering each (a parent code is scanned once per child)."""

    def __init__(self):
        self._ring = keyring()
        self._seen: dict[str, Decoded | str] = {}

    def read(self, text: str) -> Decoded | str:
        """The decoded code, or the reason it is refused: "forged" (malformed, unknown key, bad MAC)."""
        known = self._seen.get(text)
        if known is not None:
            return known
        code = normalise(text)
        if not _CODE.fullmatch(code):
            result: Decoded | str = "forged"
        else:
            value = int(code.translate(_TO_BASE32), 32)
            version, serial = value >> (SERIAL_BITS + MAC_BITS), (value >> MAC_BITS) & MAX_SERIAL
            if version not in self._ring.versions or not hmac.compare_digest(self._ring.encode(serial, version), code):
                result = "forged"
            else:
                result = Decoded(code, version, serial)
        if len(self._seen) < 1_000_000:
            self._seen[text] = result
        return result


@dataclass
class BatchIndex:
    """The code batches holding a set of serials, found by bisection (batches are serial ranges)."""

    batches: list[CodeBatch] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)

    @classmethod
    def covering(cls, serials: Iterable[int]) -> "BatchIndex":
        serials = list(serials)
        if not serials:
            return cls()
        low, high = min(serials), max(serials)
        floor = db.session.scalar(sa.select(sa.func.max(CodeBatch.serial_start))
                                  .where(CodeBatch.serial_start <= low))
        batches = list(db.session.scalars(
            sa.select(CodeBatch).where(CodeBatch.serial_start >= (floor if floor is not None else low),
                                       CodeBatch.serial_start <= high)
            .order_by(CodeBatch.serial_start)))
        return cls(batches, [b.serial_start for b in batches])

    def batch_of(self, decoded: Decoded) -> CodeBatch | None:
        """The batch that issued this code (same key version), or None: the code was never issued."""
        i = bisect.bisect_right(self.starts, decoded.serial) - 1
        if i < 0:
            return None
        batch = self.batches[i]
        if not batch.holds(decoded.serial) or batch.key_version != decoded.key_version:
            return None
        return batch


def issue_reason(batch: CodeBatch | None) -> str | None:
    """Why an issued code can't be used at all: "unknown" (never issued), "voided" (batch voided)."""
    if batch is None:
        return "unknown"
    if batch.status is BatchStatus.VOIDED:
        return "voided"
    return None


# --- units --------------------------------------------------------------------------------------

UNIT_COLUMNS = (
    Unit.serial, Unit.key_version, Unit.batch_id, Unit.level, Unit.product_id, Unit.lot_id, Unit.status,
    Unit.parent_serial, Unit.child_count, Unit.partial, Unit.location_kind, Unit.location_id,
    Unit.in_transit, Unit.replaces_serial, Unit.replaced_by_serial, Unit.recall_id, Unit.commissioned_at,
)
UNIT_FIELDS = tuple(c.key for c in UNIT_COLUMNS)


@dataclass(slots=True)
class UnitState:
    """A unit's row as plain data, changed in memory and written back with ``save_units``."""

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

    def as_row(self) -> dict:
        return {name: getattr(self, name) for name in UNIT_FIELDS}


def _chunks(values: list, size: int = CHUNK):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def load_units(serials: Iterable[int], *, lock: bool = True) -> dict[int, UnitState]:
    """The units of these serials that exist, locked for update (in serial order) unless lock=False."""
    found: dict[int, UnitState] = {}
    for chunk in _chunks(sorted(set(serials))):
        query = sa.select(*UNIT_COLUMNS).where(Unit.serial.in_(chunk)).order_by(Unit.serial)
        if lock:
            query = query.with_for_update()
        for row in db.session.execute(query):
            found[row[0]] = UnitState(*row)
    return found


def children_of(parent_serials: Iterable[int], *, lock: bool = True) -> dict[int, UnitState]:
    """The units directly inside these parents (locked unless lock=False)."""
    found: dict[int, UnitState] = {}
    for chunk in _chunks(sorted(set(parent_serials))):
        query = sa.select(*UNIT_COLUMNS).where(Unit.parent_serial.in_(chunk)).order_by(Unit.serial)
        if lock:
            query = query.with_for_update()
        for row in db.session.execute(query):
            found[row[0]] = UnitState(*row)
    return found


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


def insert_units(units: Iterable[UnitState]) -> None:
    """Insert new unit rows (commissioning, a parent's first use) in multi-row statements."""
    rows = [u.as_row() for u in units]
    for chunk in _chunks(rows):
        db.session.execute(sa.insert(Unit), chunk)


def save_units(units: Iterable[UnitState], fields: Iterable[str]) -> None:
    """Write these fields of existing units back in multi-row upserts (the rows must exist)."""
    fields = tuple(fields)
    rows = [u.as_row() for u in units]
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    for chunk in _chunks(rows):
        if dialect in ("mysql", "mariadb"):
            statement = mysql.insert(Unit)
            statement = statement.on_duplicate_key_update({f: statement.inserted[f] for f in fields})
        else:
            statement = sqlite.insert(Unit)
            statement = statement.on_conflict_do_update(
                index_elements=[Unit.serial], set_={f: statement.excluded[f] for f in fields})
        db.session.execute(statement, chunk)


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


def write_events(rows: list[dict]) -> None:
    """Append events (rows from ``event_row``) in multi-row inserts."""
    for chunk in _chunks(rows):
        db.session.execute(sa.insert(Event), chunk)


def applied_record_ids(source: str, record_ids: Iterable[str]) -> set[str]:
    """Which of a client's record ids were already applied (the retry of an upload)."""
    found: set[str] = set()
    for chunk in _chunks(sorted(set(record_ids))):
        found.update(db.session.scalars(
            sa.select(Event.record_id).where(Event.source == source, Event.record_id.in_(chunk))))
    return found


# --- stock --------------------------------------------------------------------------------------

def stock_key(unit: UnitState) -> tuple[int, int, int] | None:
    """The stock row an item counts in, or None (not an item, not in a warehouse, in transit, gone)."""
    if (unit.level is not Level.ITEM or unit.status is not UnitStatus.ACTIVE or unit.in_transit
            or unit.location_kind is not LocationKind.WAREHOUSE or unit.lot_id is None):
        return None
    return unit.location_id, unit.product_id, unit.lot_id


def adjust_stock(deltas: dict[tuple[int, int, int], int]) -> None:
    """Add to stock rows (warehouse, product, lot) with atomic SQL, in key order (no deadlocks).

    The check constraint refuses a negative quantity, so a bug can't hide as negative stock.
    """
    dialect = db.session.get_bind().dialect.name
    for (warehouse_id, product_id, lot_id), delta in sorted(deltas.items()):
        if not delta:
            continue
        if delta < 0:
            # The row exists (the units were counted in it). An upsert would check the negative
            # insert value against the constraint before reaching its update, on both backends.
            result = db.session.execute(sa.update(Stock).where(
                Stock.warehouse_id == warehouse_id, Stock.product_id == product_id, Stock.lot_id == lot_id)
                .values(quantity=Stock.quantity + delta))
            if result.rowcount != 1:
                raise RuntimeError(f"stock {warehouse_id}/{product_id}/{lot_id} was never counted; can't take {-delta}")
            continue
        values = {"warehouse_id": warehouse_id, "product_id": product_id, "lot_id": lot_id, "quantity": delta}
        if dialect in ("mysql", "mariadb"):
            statement = mysql.insert(Stock).values(values)
            statement = statement.on_duplicate_key_update(quantity=Stock.quantity + delta)
        else:
            statement = sqlite.insert(Stock).values(values)
            statement = statement.on_conflict_do_update(
                index_elements=[Stock.warehouse_id, Stock.product_id, Stock.lot_id],
                set_={"quantity": Stock.quantity + delta})
        db.session.execute(statement)


def stock_deltas(before: dict[int, tuple | None], after: Iterable[UnitState]) -> dict[tuple, int]:
    """The stock changes between units' keys before (serial -> stock_key) and their states now."""
    deltas: dict[tuple, int] = {}
    for unit in after:
        old, new = before.get(unit.serial), stock_key(unit)
        if old == new:
            continue
        if old is not None:
            deltas[old] = deltas.get(old, 0) - 1
        if new is not None:
            deltas[new] = deltas.get(new, 0) + 1
    return deltas
