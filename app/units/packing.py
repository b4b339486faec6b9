"""Unpacking: the rules the line and the holders of goods (warehouses, dealers) share, and the holders' use case.

A whole unpack (scan the parent) takes every child out of a case or pallet: one UNPACK event per
child. A partial unpack (scan a child) takes that one child out of its parent: one REMOVE event.
The rules are the line's (``app.units.line_engine`` calls the same functions): the unit is active, a parent
holds something, a child is in the parent named; only where the unit must be differs — in the
factory for the line, in the holder's own stock for a warehouse or a dealer (``unpack_held``).

Packing is not a consumer scan's fact and stock counts items wherever they are packed, so unpacking
moves no stock and needs no Redis refresh (``unit_rows.save_units`` names the units to
``app.units.scan_facts`` if a watched column ever changes).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from app.codes.models import Level
from app.db import utcnow
from app.units import code_reader, rules, unit_rows
from app.units.models import EventKind, UnitStatus

WHOLE, PARTIAL = "whole", "partial"
MODES = (WHOLE, PARTIAL)
ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"
IN_OPEN_SHIPMENT = "in_open_shipment"
REASONS = {IN_OPEN_SHIPMENT: "Goods inside are scanned into an open shipment: undo that scan (or ship it) first."}


class Refused(Exception):
    """A record refused: the reason (``rules.REASONS`` or the caller's), the failing codes when several."""

    def __init__(self, reason: str, codes: list[str] | None = None):
        self.reason, self.codes = reason, codes


# --- the rules ------------------------------------------------------------------------------------

def check_active(unit: unit_rows.UnitState) -> None:
    if unit.status is UnitStatus.SCRAPPED:
        raise Refused(rules.SCRAPPED)
    if unit.status is UnitStatus.VOIDED:
        raise Refused(rules.VOIDED)


def take_all_out(parent: unit_rows.UnitState, children: dict[int, set[int]], units: Mapping[int, unit_rows.UnitState],
                 *, where: Callable[[unit_rows.UnitState], None]) -> list[unit_rows.UnitState]:
    """Every child out of an active parent (``where`` refuses a parent in the wrong place); the children
    released, in serial order. ``children``: parent serial -> its children's serials, kept in step."""
    if parent.level is Level.ITEM:
        raise Refused(rules.NOT_PACKED)
    where(parent)
    kids = children.pop(parent.serial, None)
    if not kids:
        raise Refused(rules.NOT_PACKED)
    released = [units[serial] for serial in sorted(kids)]
    for child in released:
        child.parent_serial = None
    parent.child_count = 0
    return released


def take_out(child: unit_rows.UnitState, children: dict[int, set[int]], units: Mapping[int, unit_rows.UnitState], *,
             parent_serial: int | None = None, where: Callable[[unit_rows.UnitState], None]) -> unit_rows.UnitState:
    """One active child out of its parent (which, when given, must be the one it is in); the parent."""
    if child.parent_serial is None or (parent_serial is not None and parent_serial != child.parent_serial):
        raise Refused(rules.NOT_PACKED)
    where(child)
    parent = units[child.parent_serial]
    detach(child, parent, children)
    return parent


def detach(child: unit_rows.UnitState, parent: unit_rows.UnitState, children: dict[int, set[int]]) -> None:
    parent.child_count -= 1
    children[parent.serial].discard(child.serial)
    child.parent_serial = None


# --- warehouses and dealers unpack what they hold -----------------------------------------------

@dataclass(slots=True)
class Result:
    """What became of one unpack record (``index``: its position in the request)."""

    index: int
    code: str
    status: str  # accepted | duplicate | rejected
    record_id: str | None = None
    reason: str | None = None
    message: str | None = None
    released: int | None = None  # accepted: the children taken out (a partial unpack: 1)
    previously_applied: bool = False  # duplicate because this record id was applied before


def unpack_held(*, source: str, records: list[dict],
                where: Callable[[dict, unit_rows.UnitState], str | None],
                busy: Callable[[list[int]], set[int]] = lambda serials: set(),
                messages: Mapping[str, str] | None = None) -> list[Result]:
    """Apply unpack records of a holder of goods in the caller's transaction; an answer per record.

    A record: ``code``, ``mode`` (whole: the code is a parent; partial: a child), ``scanned_at``,
    optionally ``record_id`` (the client's idempotency key: applied once, ever) and ``parent`` (partial:
    the parent the child must be in). ``where(record, unit)``: why the unit isn't the holder's to
    unpack (None: it is). ``busy(serials)``: those of these items scanned into an open shipment (the
    scan would no longer hold what it held), refused as ``in_open_shipment``. Records apply in
    scan-time order.
    """
    messages = {**rules.REASONS, **REASONS, **(messages or {})}
    now = utcnow()
    results: list[Result | None] = [None] * len(records)
    applied = unit_rows.applied_record_ids(source, [r["record_id"] for r in records if r.get("record_id")])
    reader = code_reader.CodeReader()
    texts = {r["code"] for r in records} | {r["parent"] for r in records if r.get("parent")}
    decoded = {text: reader.read(text) for text in texts}
    batches = code_reader.BatchIndex.covering(d.serial for d in decoded.values() if type(d) is code_reader.Decoded)

    def serial_of(text: str) -> int:
        code = decoded[text]
        if type(code) is not code_reader.Decoded:
            raise Refused(code)
        reason = code_reader.issue_reason(batches.batch_of(code))
        if reason:
            raise Refused(reason)
        return code.serial

    # Lock the scanned units, then what the whole unpacks take out and the parents partial ones leave.
    wanted = {d.serial for d in decoded.values() if type(d) is code_reader.Decoded}
    units = unit_rows.load_units(wanted)
    parents = {u.parent_serial for u in units.values() if u.parent_serial is not None}
    units.update(unit_rows.load_units(parents - units.keys()))
    units.update(unit_rows.children_of(s for s, u in units.items() if u.level is not Level.ITEM))
    children: dict[int, set[int]] = {}
    for unit in units.values():
        if unit.parent_serial is not None:
            children.setdefault(unit.parent_serial, set()).add(unit.serial)
    # Everything inside (read again, the rows locked): which items an open shipment holds, and what each
    # unit holds as this request unpacks (``contents``, kept in step below).
    everything = {**unit_rows.subtree(s for s, u in units.items() if u.level is not Level.ITEM), **units}
    held = busy(sorted(s for s, u in everything.items() if u.level is Level.ITEM))
    contents = unit_rows.children_map(everything.values())

    changed: dict[int, unit_rows.UnitState] = {}
    events: list[dict] = []
    seen: dict[str, int] = {}
    for i in sorted(range(len(records)), key=lambda i: (records[i]["scanned_at"], i)):
        record = records[i]
        record_id = record.get("record_id")
        if record_id and record_id in applied:
            results[i] = Result(i, record["code"], DUPLICATE, record_id, previously_applied=True)
            continue
        if record_id and record_id in seen:
            continue  # answered below, as the first of its id
        if record_id:
            seen[record_id] = i
        try:
            if rules.scan_time_invalid(record["scanned_at"], now):
                raise Refused(rules.SCAN_TIME_INVALID)
            unit = units.get(serial_of(record["code"]))
            if unit is None:
                raise Refused(rules.NOT_COMMISSIONED)
            check_active(unit)

            def here(each: unit_rows.UnitState) -> None:
                reason = where(record, each)
                if reason:
                    raise Refused(reason)
                items = unit_rows.items_under(each, contents)
                if held.intersection(items):
                    raise Refused(IN_OPEN_SHIPMENT)

            if record["mode"] == WHOLE:
                released = take_all_out(unit, children, units, where=here)
                moved = [(child, EventKind.UNPACK) for child in released]
                parent = unit
            else:
                expected = serial_of(record["parent"]) if record.get("parent") else None
                parent = take_out(unit, children, units, parent_serial=expected, where=here)
                moved = [(unit, EventKind.REMOVE)]
        except Refused as refused:
            results[i] = Result(i, record["code"], REJECTED, record_id, refused.reason,
                                messages.get(refused.reason, refused.reason))
            continue
        changed[parent.serial] = parent
        out = {child.serial for child, _ in moved}
        contents[parent.serial] = [each for each in contents.get(parent.serial, ()) if each.serial not in out]
        for n, (child, kind) in enumerate(moved):
            changed[child.serial] = child
            events.append(unit_rows.event_row(
                kind=kind, serial=child.serial, parent_serial=parent.serial, lot_id=child.lot_id,
                occurred_at=record["scanned_at"], recorded_at=now, location_kind=child.location_kind,
                location_id=child.location_id, source=source, record_id=record_id if n == 0 else None,
                data={"mode": record["mode"]}))
        results[i] = Result(i, record["code"], ACCEPTED, record_id, released=len(moved))

    unit_rows.save_units(changed.values(), ["parent_serial", "child_count"])
    unit_rows.write_events(events, units=units)
    for i, record in enumerate(records):
        if results[i] is None:
            first = results[seen[record["record_id"]]]
            results[i] = Result(i, record["code"], first.status, first.record_id, first.reason, first.message,
                                first.released)
    return results


def holder_records(records: Iterable[dict]) -> list[dict]:
    """Records as ``unpack_held`` reads them (a request's dicts, with the keys it may leave out)."""
    return [{"record_id": None, "parent": None, **record} for record in records]
