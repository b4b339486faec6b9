"""The line upload engine: commission, pack, unpack, remove, replace, scrap (records: ``line_records``).

An upload is applied in one transaction (the caller's): records are sorted by scan time (an
offline line uploading late is applied in the order things happened), every code is decoded with
one reader, batches are found by one bisection index, every unit involved is locked up front in
serial order, then the records are applied one after the other on plain in-memory rows (a later
record sees what an earlier one did) and everything is written back in a few multi-row statements.
No ORM object and no query per record.

Each record answers accepted, duplicate (the fact is already true, or the record id was applied
before — harmless) or rejected with a reason (``app.units.rules.REASONS``). A rejected record is
kept in ``rejected_records`` for its reason; a record that was a duplicate by fact is kept there too
under the reason ``duplicate``, so that a retry of it counts once in the session's figures.
"""
from __future__ import annotations

import gc
import logging
import operator
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

from app import rfid
from app.codes.models import Level
from app.codes.service import keyring
from app.db import utcnow
from app.extensions import db
from app.identity.service import Actor
from app.masterdata import refs
from app.masterdata.models import Product
from app.production.models import LotStatus, ProductionLot
from app.reports import facts, rollups
from app.units import code_reader, line_sessions, packing, rules, stock_moves, unit_rows
from app.units.line_records import (
    MAX_CODES_PER_RECORD, MAX_RECORDS, Commission, Pack, Record, Remove, Replace, Result, Scrap, Unpack, as_records,
)
from app.units.models import (
    Event, EventKind, LineSession, LocationKind, SessionStatus, UnitStatus,
)
from app.webhooks.service import emit

log = logging.getLogger(__name__)

CODES_REPORTED = 20  # failing codes named in the answer to a list or range record

class _Batch(NamedTuple):
    """What the engine reads of a code batch, as plain data (not an ORM attribute per record)."""

    id: int
    level: Level
    product_id: int | None
    key_version: int


_Rejected = packing.Refused


_DUPLICATE = "duplicate"
_ACCEPTED = "accepted"
_PARENT_LEVEL = {Level.ITEM: Level.CASE, Level.CASE: Level.PALLET}
_IN_FACTORY = (LocationKind.LINE, LocationKind.WAREHOUSE)
SAVED_FIELDS = ("status", "parent_serial", "child_count", "partial", "replaced_by_serial")
_saved = operator.attrgetter(*SAVED_FIELDS)


def apply_records(*, actor: Actor, session_id: int, records: list) -> list[Result]:
    """Apply a line's records (in scan-time order) in the caller's transaction; one result per record."""
    records = as_records(records)
    if not 1 <= len(records) <= MAX_RECORDS:
        raise rules.TooManyRecords(f"An upload holds 1 to {MAX_RECORDS:,} records; this one has {len(records):,}.")
    session = db.session.scalar(sa.select(LineSession).where(LineSession.id == session_id).with_for_update())
    if session is None:
        raise rules.LineSessionNotFound()
    if session.status is not SessionStatus.OPEN:
        raise rules.LineSessionStopped()
    with _collector_paused(), unit_rows.Meanwhile() as meanwhile:
        engine = _Engine(session, unit_rows.source_of(actor), records, meanwhile)
        engine.prepare()
        engine.apply()
        engine.write()
    return engine.results


@contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector for the length of an upload.

    An upload makes hundreds of thousands of small objects (event rows, sets, results) that all live
    until it ends; the collector would walk them again and again looking for cycles there are none
    of — over a second of a 100,000-record upload. Reference counting still frees everything; the
    collector resumes (if it was on) when the upload ends. (The pause is process-wide: other threads
    go without cycle collection for those few seconds, which costs them nothing but memory.)
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Scrapped(NamedTuple):
    """A scrap record applied: its code, the unit it named (and took everything inside), its counts."""

    code: str
    root: unit_rows.UnitState
    record_id: str
    at: datetime
    units: int
    items: int


def emit_scrapped(scraps: list[Scrapped], *, session_id: int, recorded_at: datetime) -> None:
    """One ``unit.scrapped`` event per scrap record applied (in the upload's transaction)."""
    products = refs.products(s.root.product_id for s in scraps)
    places = refs.parties((s.root.location_kind, s.root.location_id) for s in scraps)
    lots = {row.id: {"id": row.id, "lot_no": row.lot_no, "external_id": row.external_id}
            for row in db.session.execute(sa.select(ProductionLot.id, ProductionLot.lot_no, ProductionLot.external_id)
                                          .where(ProductionLot.id.in_({s.root.lot_id for s in scraps})))}
    for scrap in scraps:
        root = scrap.root
        emit("unit.scrapped", {
            "code": scrap.code, "level": root.level.value, "units": scrap.units, "items": scrap.items,
            "product": products.get(root.product_id),
            "lot": lots.get(root.lot_id),
            "place": places.get((root.location_kind.value, root.location_id)),
            "session_id": session_id, "record_id": scrap.record_id, "scrapped_at": scrap.at.isoformat(),
            "recorded_at": recorded_at.isoformat()})


class _Engine:
    def __init__(self, session: LineSession, source: str, records: list[Record], meanwhile: unit_rows.Meanwhile):
        self.session_id, self.line_id, self.lot_id = session.id, session.line_id, session.lot_id
        # The record-id checks run while the codes are decoded, the events are inserted while the
        # records are applied: neither needs the other's result until write().
        self.meanwhile = meanwhile
        self.source, self.records, self.now = source, records, utcnow()
        self.reader = code_reader.CodeReader(epcs=False)  # records name codes; EPCs only as epc/parent_epc
        self.issued: dict[str, tuple | str] = {}
        self.plain_batches: dict = {}  # CodeBatch -> _Batch
        self.units: dict[int, unit_rows.UnitState] = {}
        self.before: dict[int, tuple | None] = {}
        self.new: dict[int, unit_rows.UnitState] = {}
        self.changed: dict[int, unit_rows.UnitState] = {}
        self.children: dict[int, set[int]] = defaultdict(set)
        self.events: list[dict] = []
        self.tally: dict[tuple, int] = {}  # the events' facts for the reports (facts.event_tally_key)
        self.results: list[Result | None] = [None] * len(records)
        self.ranges: dict[int, tuple | str] = {}
        self.outcomes: dict[str, tuple[int, str, str | None]] = {}  # record id -> (index, status, reason)
        self.epcs: dict[str, rfid.Epc | None] = {}  # the records' EPC texts, read (None: not an EPC)
        self.epc_serials: dict[str, int] = {}  # EPC hex -> the serial it is bound to (before and now)
        self.new_epcs: list[dict] = []
        self.scraps: list[Scrapped] = []

    # -- prepare: decode, find batches, lock units, read lots, products, prior outcomes ----------

    def prepare(self) -> None:
        record_ids = {r.record_id for r in self.records}
        outcomes = self.meanwhile.submit(self._record_outcomes, record_ids)
        texts: set[str] = set()  # every code the records name (a parent is named once per child)
        roots_with_children: set[str] = set()
        scrap_roots: set[str] = set()
        lot_ids = {self.lot_id}
        for record in self.records:
            kind = type(record)
            epc = record.epc if kind is Commission else record.parent_epc if kind is Pack else None
            if epc is not None and epc not in self.epcs:
                try:
                    self.epcs[epc] = rfid.parse_epc(epc)
                except rfid.EpcInvalid:
                    self.epcs[epc] = None
            if kind is Pack:
                texts.add(record.code)
                texts.add(record.parent)
            elif kind is Commission:
                if record.codes is not None:
                    texts.update(record.codes)
                else:
                    texts.add(record.code)
                    if record.last_code is not None:
                        texts.add(record.last_code)
                if record.lot_id is not None:
                    lot_ids.add(record.lot_id)
            else:
                texts.add(record.code)
                if kind is Remove and record.parent is not None:
                    texts.add(record.parent)
                elif kind is Replace:
                    texts.add(record.new_code)
                    roots_with_children.add(record.code)
                elif kind is Unpack:
                    roots_with_children.add(record.code)
                elif kind is Scrap:
                    scrap_roots.add(record.code)
        # Each distinct code is decoded once, then checked against its batch once.
        read = self.reader.read
        decoded = {text: read(text) for text in texts}
        serials = {code.serial for code in decoded.values() if type(code) is code_reader.Decoded}
        self.meanwhile.wait()  # the database is ours again
        self.applied, self.prior = outcomes.result()
        self.batches = code_reader.BatchIndex.covering(serials)
        issue = self._issue
        self.issued = {text: issue(code) for text, code in decoded.items()}
        roots_with_children = self._serials(roots_with_children, decoded)
        scrap_roots = self._serials(scrap_roots, decoded)
        for i, record in enumerate(self.records):
            if type(record) is Commission and record.last_code is not None:
                self.ranges[i] = found = self._range(record)
                if type(found) is tuple:
                    serials.update(range(found[1], found[2] + 1))

        units = self.units
        units.update(unit_rows.load_units(serials))
        if scrap_roots:
            # A scrap takes everything inside: what is inside now, and what this upload packs first.
            scrap_roots.update(s for s, u in units.items() if u.level is not Level.ITEM)
            for serial, unit in unit_rows.subtree(scrap_roots).items():
                units.setdefault(serial, unit)
        if roots_with_children:
            for serial, unit in unit_rows.children_of(roots_with_children).items():
                units.setdefault(serial, unit)
        parents = {u.parent_serial for u in units.values() if u.parent_serial is not None} - units.keys()
        if parents:
            units.update(unit_rows.load_units(parents))
        self.saved = {serial: _saved(unit) for serial, unit in units.items()}
        for serial, unit in units.items():
            self.before[serial] = stock_moves.stock_key(unit)
            if unit.parent_serial is not None:
                self.children[unit.parent_serial].add(serial)

        self.lots = {row.id: row for row in db.session.execute(
            sa.select(ProductionLot.id, ProductionLot.product_id, ProductionLot.status)
            .where(ProductionLot.id.in_(lot_ids)))}
        product_ids = {lot.product_id for lot in self.lots.values()}
        product_ids.update(u.product_id for u in units.values() if u.product_id is not None)
        product_ids.update(b.product_id for b in self.batches.batches if b.product_id is not None)
        self.capacity = {}  # (product id, parent level) -> children it holds
        self.gtins = {}  # product id -> GTIN-14 or None
        for row in db.session.execute(sa.select(Product.id, Product.units_per_case, Product.cases_per_pallet,
                                                Product.gtin).where(Product.id.in_(product_ids))):
            self.capacity[row.id, Level.CASE] = row.units_per_case
            self.capacity[row.id, Level.PALLET] = row.cases_per_pallet
            self.gtins[row.id] = row.gtin
        if self.epcs:
            self.epc_serials = unit_rows.epc_bindings(e.hex for e in self.epcs.values() if e is not None)

        corrected = {r.corrects for r in self.records if r.corrects is not None}
        self.corrected = self._event_ids(corrected) if corrected else {}

    def _issue(self, decoded: code_reader.Decoded | str) -> tuple[code_reader.Decoded, _Batch] | str:
        """A decoded code with its batch, or why it can't be used (forged, unknown, voided)."""
        if type(decoded) is not code_reader.Decoded:
            return rules.FORGED
        batch = self.batches.batch_of(decoded)
        reason = code_reader.issue_reason(batch)
        if reason:
            return reason
        plain = self.plain_batches.get(batch)
        if plain is None:
            plain = self.plain_batches[batch] = _Batch(batch.id, batch.level, batch.product_id, batch.key_version)
        return decoded, plain

    @staticmethod
    def _serials(texts: set[str], decoded: dict) -> set[int]:
        return {code.serial for text in texts if type(code := decoded[text]) is code_reader.Decoded}

    def _range(self, record: Commission) -> tuple | str:
        first, last = self.reader.read(record.code), self.reader.read(record.last_code)
        if type(first) is not code_reader.Decoded or type(last) is not code_reader.Decoded:
            return rules.FORGED
        batch = self.batches.batch_of(first)
        reason = code_reader.issue_reason(batch)
        if reason:
            return reason
        if (not batch.holds(last.serial) or last.key_version != first.key_version
                or not 0 <= last.serial - first.serial < MAX_CODES_PER_RECORD):
            return rules.RANGE_INVALID
        return batch, first.serial, last.serial

    def _record_outcomes(self, record_ids: set[str]) -> tuple[set[str], dict[str, tuple[int | None, str]]]:
        """The record ids applied before, and the prior outcome of the others (rejected or duplicate)."""
        applied = unit_rows.applied_record_ids(self.source, record_ids)
        return applied, line_sessions.prior_outcomes(self.source, record_ids - applied)

    def _event_ids(self, record_ids: set[str]) -> dict[str, int]:
        found = {}
        for chunk in _chunks(sorted(record_ids)):
            found.update(db.session.execute(
                sa.select(Event.record_id, Event.id)
                .where(Event.source == self.source, Event.record_id.in_(chunk))).all())
        return found

    # -- apply: in scan-time order, on plain rows ------------------------------------------------

    def apply(self) -> None:
        records, results, outcomes = self.records, self.results, self.outcomes
        handlers = {Commission: self._commission, Pack: self._pack, Unpack: self._unpack, Remove: self._remove,
                    Replace: self._replace, Scrap: self._scrap}
        # The first of a record id (by position) is the record; a later one is its duplicate.
        firsts = {}
        for i, record in enumerate(records):
            firsts.setdefault(record.record_id, i)
        # Scan-time order; the sort is stable, so records scanned at the same time keep upload order.
        order = sorted(range(len(records)), key=[record.scanned_at for record in records].__getitem__)
        for i in order:
            record = records[i]
            record_id = record.record_id
            if record_id in self.applied:
                results[i] = Result(i, record_id, _DUPLICATE, previously_applied=True)
                continue
            if firsts[record_id] != i:
                continue  # answered below, once the first is known
            self.record_id = record_id
            self.corrects = None
            try:
                if rules.scan_time_invalid(record.scanned_at, self.now):
                    raise _Rejected(rules.SCAN_TIME_INVALID)
                if record.corrects is not None:
                    self.corrects = self.corrected.get(record.corrects)
                    if self.corrects is None:
                        raise _Rejected(rules.UNKNOWN_RECORD)
                self.at = record.scanned_at
                status = handlers[type(record)](record, i)
                results[i] = Result(i, record_id, status)
                outcomes[record_id] = (i, status, None)
            except _Rejected as rejected:
                results[i] = Result(i, record_id, "rejected", rejected.reason, rules.REASONS[rejected.reason],
                                    rejected.codes)
                outcomes[record_id] = (i, "rejected", rejected.reason)
        for i, record in enumerate(records):
            if results[i] is None:
                results[i] = Result(i, record.record_id, _DUPLICATE)

    def _event(self, kind: EventKind, unit: unit_rows.UnitState, parent_serial: int | None = None,
               data: dict | None = None) -> None:
        """Append an event; the first event of a record carries its record id (and what it corrects)."""
        self.events.append({
            "kind": kind, "serial": unit.serial, "parent_serial": parent_serial, "lot_id": unit.lot_id,
            "occurred_at": self.at, "recorded_at": self.now, "location_kind": unit.location_kind,
            "location_id": unit.location_id, "session_id": self.session_id, "source": self.source,
            "record_id": self.record_id, "corrects_event_id": self.corrects, "data": data})
        # The event's facts for the reports, tallied in facts.event_tally_key's order (inline: the hot path).
        tally = (kind, self.at, unit.lot_id, unit.location_kind, unit.location_id, unit.level, unit.product_id, None)
        self.tally[tally] = self.tally.get(tally, 0) + 1
        self.record_id = self.corrects = None
        if len(self.events) == unit_rows.JSON_CHUNK:  # events are final once made: insert them meanwhile
            self.meanwhile.submit(unit_rows.write_events, self.events)
            self.events = []

    def _issued(self, text: str) -> tuple[code_reader.Decoded, _Batch]:
        """(decoded code, its batch) of an issued code; rejected when forged, unknown or voided."""
        found = self.issued[text]  # prepare() resolved every code the records name
        if type(found) is str:
            raise _Rejected(found)
        return found

    def _unit(self, text: str) -> unit_rows.UnitState:
        """The commissioned unit of a code, active."""
        decoded, _ = self._issued(text)
        unit = self.units.get(decoded.serial)
        if unit is None:
            raise _Rejected(rules.NOT_COMMISSIONED)
        _check_active(unit)
        return unit

    def _touch(self, unit: unit_rows.UnitState) -> None:
        if unit.serial not in self.new:
            self.changed[unit.serial] = unit

    def _commission(self, record: Commission, i: int) -> str:
        lot = self.lots.get(record.lot_id or self.lot_id)
        if lot is None:
            raise _Rejected(rules.LOT_UNKNOWN)
        if lot.status is not LotStatus.OPEN:
            raise _Rejected(rules.LOT_CLOSED)
        many = record.codes is not None or record.last_code is not None
        failures: list[tuple[str, str]] = []
        fresh: list[tuple[int, int, int]] = []  # serial, key version, batch id
        units = self.units

        def check(serial: int, batch) -> str | None:
            if batch.level is not Level.ITEM:
                return rules.WRONG_LEVEL
            if batch.product_id is not None and batch.product_id != lot.product_id:
                return rules.WRONG_PRODUCT
            unit = units.get(serial)
            if unit is None:
                return None
            if unit.status is UnitStatus.SCRAPPED:
                return rules.SCRAPPED
            if unit.status is UnitStatus.VOIDED:
                return rules.VOIDED
            return _DUPLICATE if unit.lot_id == lot.id else rules.COMMISSIONED_ELSEWHERE

        if record.last_code is not None:
            found = self.ranges[i]
            if type(found) is str:
                raise _Rejected(found, [record.code])
            batch, first, last = found
            encode = keyring().encode
            for serial in range(first, last + 1):
                reason = check(serial, batch)
                if reason is None:
                    fresh.append((serial, batch.key_version, batch.id))
                elif reason != _DUPLICATE:
                    failures.append((reason, encode(serial, batch.key_version)) if len(failures) < CODES_REPORTED
                                    else (reason, ""))
        else:
            seen = set()
            for text in (record.codes if record.codes is not None else [record.code]):
                try:
                    decoded, batch = self._issued(text)
                except _Rejected as rejected:
                    failures.append((rejected.reason, text))
                    continue
                if decoded.serial in seen:
                    continue
                seen.add(decoded.serial)
                reason = check(decoded.serial, batch)
                if reason is None:
                    fresh.append((decoded.serial, decoded.key_version, batch.id))
                elif reason != _DUPLICATE:
                    failures.append((reason, text))
        if failures:
            raise _Rejected(failures[0][0], [code for _, code in failures[:CODES_REPORTED]] if many else None)
        epc = None
        if record.epc is not None:
            epc = self._new_epc(record.epc, self.issued[record.code][0].serial, lot.product_id)
        if not fresh:
            if epc is None:
                return _DUPLICATE
            return self._tag_late(self._unit(record.code), epc)  # commissioned before, tagged now
        for serial, key_version, batch_id in fresh:
            unit = unit_rows.UnitState(
                serial, key_version, batch_id, Level.ITEM, lot.product_id, lot.id, UnitStatus.ACTIVE, None, 0,
                False, LocationKind.LINE, self.line_id, False, None, None, None, self.at)
            units[serial] = self.new[serial] = unit
            self.before[serial] = None
            self._event(EventKind.COMMISSION, unit, data={"epc": epc.hex} if epc is not None else None)
            if epc is not None:
                self._bind(epc, serial)
        return _ACCEPTED

    def _new_epc(self, text: str, serial: int, product_id: int | None) -> rfid.Epc | None:
        """The EPC to bind to this serial, None when it is bound to it already; rejected when it is not
        an EPC, names another product's GTIN (an SGTIN), or is bound to another code."""
        epc = self.epcs[text]
        if epc is None:
            raise _Rejected(rules.EPC_INVALID)
        if epc.gtin is not None and epc.gtin != self.gtins.get(product_id):
            raise _Rejected(rules.EPC_MISMATCH)
        bound = self.epc_serials.get(epc.hex)
        if bound == serial:
            return None
        if bound is not None:
            raise _Rejected(rules.EPC_TAKEN)
        return epc

    def _bind(self, epc: rfid.Epc, serial: int) -> None:
        self.epc_serials[epc.hex] = serial
        self.new_epcs.append({"epc": epc.hex, "kind": epc.kind, "serial": serial, "source": self.source,
                              "bound_at": self.now})

    def _tag_late(self, unit: unit_rows.UnitState, epc: rfid.Epc) -> str:
        """Bind a tag to a unit commissioned (or packed) before, only while it is at the line: a tag event."""
        _check_in_factory(unit)
        self._bind(epc, unit.serial)
        self._event(EventKind.TAG, unit, data={"epc": epc.hex})
        return _ACCEPTED

    def _pack(self, record: Pack, i: int) -> str:
        child = self._unit(record.code)
        decoded, batch = self._issued(record.parent)
        epc = None
        if record.parent_epc is not None:
            epc = self._new_epc(record.parent_epc, decoded.serial, child.product_id)
        if child.parent_serial == decoded.serial:
            if epc is None:
                return _DUPLICATE
            _check_in_factory(child)  # packed before, its parent tagged now
            return self._tag_late(self._unit(record.parent), epc)
        if batch.level is not _PARENT_LEVEL.get(child.level):
            raise _Rejected(rules.WRONG_LEVEL)
        _check_in_factory(child)
        if child.parent_serial is not None:
            raise _Rejected(rules.PACKED_ELSEWHERE)
        if batch.product_id is not None and batch.product_id != child.product_id:
            raise _Rejected(rules.WRONG_PRODUCT)
        parent = self.units.get(decoded.serial)
        if parent is None:
            parent = unit_rows.UnitState(
                decoded.serial, decoded.key_version, batch.id, batch.level, child.product_id, child.lot_id,
                UnitStatus.ACTIVE, None, 0, record.partial, child.location_kind, child.location_id, False,
                None, None, None, self.at)
            self.units[parent.serial] = self.new[parent.serial] = parent
            self.before[parent.serial] = None
        else:
            _check_active(parent)
            if parent.product_id != child.product_id:
                raise _Rejected(rules.WRONG_PRODUCT)
            _check_in_factory(parent)
            if parent.location_kind is not child.location_kind or parent.location_id != child.location_id:
                raise _Rejected(rules.LOCATION_MISMATCH)
            capacity = self.capacity.get((parent.product_id, parent.level), 1)
            if not (parent.partial or record.partial) and parent.child_count >= capacity:
                raise _Rejected(rules.OVER_CAPACITY)
            if record.partial:
                parent.partial = True
            self._touch(parent)
        child.parent_serial = parent.serial
        parent.child_count += 1
        self.children[parent.serial].add(child.serial)
        self._touch(child)
        self._event(EventKind.PACK, child, parent.serial, {"parent_epc": epc.hex} if epc is not None else None)
        if epc is not None:
            self._bind(epc, parent.serial)
        return _ACCEPTED

    def _unpack(self, record: Unpack, i: int) -> str:
        parent = self._unit(record.code)
        for child in packing.take_all_out(parent, self.children, self.units, where=_check_in_factory):
            self._touch(child)
            self._event(EventKind.UNPACK, child, parent.serial)
        self._touch(parent)
        return _ACCEPTED

    def _remove(self, record: Remove, i: int) -> str:
        child = self._unit(record.code)
        # The parent named is read only for a packed child (an unpacked one is not_packed, whatever it names).
        expected = (self._issued(record.parent)[0].serial
                    if record.parent is not None and child.parent_serial is not None else None)
        parent = packing.take_out(child, self.children, self.units, parent_serial=expected, where=_check_in_factory)
        self._touch(parent)
        self._touch(child)
        self._event(EventKind.REMOVE, child, parent.serial)
        return _ACCEPTED

    def _detach(self, child: unit_rows.UnitState) -> None:
        parent = self.units[child.parent_serial]
        packing.detach(child, parent, self.children)
        self._touch(parent)
        self._touch(child)

    def _replace(self, record: Replace, i: int) -> str:
        decoded_old, _ = self._issued(record.code)
        old = self.units.get(decoded_old.serial)
        if old is None:
            raise _Rejected(rules.NOT_COMMISSIONED)
        decoded, batch = self._issued(record.new_code)
        if old.replaced_by_serial == decoded.serial:
            return _DUPLICATE
        _check_active(old)
        if batch.level is not old.level:
            raise _Rejected(rules.WRONG_LEVEL)
        if batch.product_id is not None and batch.product_id != old.product_id:
            raise _Rejected(rules.WRONG_PRODUCT)
        if decoded.serial in self.units:
            raise _Rejected(rules.COMMISSIONED_ELSEWHERE)
        new = unit_rows.UnitState(
            decoded.serial, decoded.key_version, batch.id, old.level, old.product_id, old.lot_id, UnitStatus.ACTIVE,
            old.parent_serial, old.child_count, old.partial, old.location_kind, old.location_id, old.in_transit,
            old.serial, None, old.recall_id, old.commissioned_at, old.received_on)
        self.units[new.serial] = self.new[new.serial] = new
        # The new label takes the old one's place in stock (same holder, same day received).
        self.before[new.serial], self.before[old.serial] = self.before.get(old.serial), None
        if old.parent_serial is not None:
            siblings = self.children[old.parent_serial]
            siblings.discard(old.serial)
            siblings.add(new.serial)
        kids = self.children.pop(old.serial, set())
        for serial in kids:
            self.units[serial].parent_serial = new.serial
            self._touch(self.units[serial])
        if kids:
            self.children[new.serial] = kids
        old.status, old.replaced_by_serial, old.parent_serial, old.child_count = \
            UnitStatus.VOIDED, new.serial, None, 0
        self._touch(old)
        data = {"old_serial": old.serial, "new_serial": new.serial}
        self._event(EventKind.REPLACE, old, new.parent_serial, data)
        self._event(EventKind.REPLACE, new, new.parent_serial, data)
        return _ACCEPTED

    def _scrap(self, record: Scrap, i: int) -> str:
        decoded, _ = self._issued(record.code)
        root = self.units.get(decoded.serial)
        if root is None:
            raise _Rejected(rules.NOT_COMMISSIONED)
        if root.status is UnitStatus.SCRAPPED:
            return _DUPLICATE
        _check_active(root)
        if root.parent_serial is not None:
            self._detach(root)
        doomed, stack = [root], [root.serial]
        while stack:
            for serial in sorted(self.children.get(stack.pop(), ())):
                unit = self.units[serial]
                if unit.status is UnitStatus.ACTIVE:
                    doomed.append(unit)
                    stack.append(serial)
        record_id = self.record_id
        for unit in doomed:
            unit.status = UnitStatus.SCRAPPED
            self._touch(unit)
            self._event(EventKind.SCRAP, unit, unit.parent_serial)
        self.scraps.append(Scrapped(code=decoded.code, root=root, record_id=record_id, at=self.at,
                                    units=len(doomed), items=sum(u.level is Level.ITEM for u in doomed)))
        return _ACCEPTED

    # -- write: state, events, stock, rejected records, session counts ---------------------------

    def write(self) -> None:
        self.meanwhile.submit(unit_rows.write_events, self.events)
        self.meanwhile.wait()
        if self.scraps:
            emit_scrapped(self.scraps, session_id=self.session_id, recorded_at=self.now)
        rollups.add_all(facts.unit_event_sums(self.tally))
        unit_rows.insert_units(self.new.values())
        unit_rows.bind_epcs(self.new_epcs)
        self._save_changes()
        stock_moves.adjust_stock(stock_moves.stock_deltas(self.before, [*self.changed.values(), *self.new.values()]))
        self._write_outcomes()

    def _save_changes(self) -> None:
        """Write back the units that changed, and only the fields that changed in any of them."""
        changed, fields = [], set()
        for unit in self.changed.values():
            now, then = _saved(unit), self.saved.get(unit.serial)
            if then is None:
                changed.append(unit)
                fields.update(SAVED_FIELDS)
            elif now != then:
                changed.append(unit)
                fields.update(name for name, a, b in zip(SAVED_FIELDS, now, then) if a != b)
        unit_rows.save_units(changed, [name for name in SAVED_FIELDS if name in fields])

    def _write_outcomes(self) -> None:
        line_sessions.keep_outcomes(
            session_id=self.session_id, source=self.source, prior=self.prior, now=self.now,
            outcomes=[(record_id, status, reason, self.records[i])
                      for record_id, (i, status, reason) in self.outcomes.items()])


_check_active = packing.check_active


def _check_in_factory(unit: unit_rows.UnitState) -> None:
    if unit.in_transit or unit.location_kind not in _IN_FACTORY:
        raise _Rejected(rules.IN_TRANSIT_OR_SHIPPED)


def _chunks(values: list, size: int = unit_rows.CHUNK):
    for i in range(0, len(values), size):
        yield values[i:i + size]
