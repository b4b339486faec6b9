"""Warehouse moves (inbound from a line or a transfer, outbound to a dealer or a transfer).

A scan moves the scanned code and everything inside it, with ONE event for the scanned code (the
units inside read it in their timelines through their packing intervals). Scans are applied in
scan-time order, each against the state the previous ones left; the units' rows, the events and
the stock change in one transaction. Stock counts items that are active, at a holder and not in
transit (``stock_moves.stock_key``), so every move adjusts it from the units' keys before and after
(``app.stock`` reads it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite

from app.channel import rules as channel_rules
from app.channel import shipments as channel_shipments
from app.codes.models import Level
from app.db import utcnow
from app.extensions import db
from app.identity.service import Actor
from app.masterdata.models import Dealer, Status, Warehouse
from app.units import rules as unit_rules
from app.units import code_reader, packing, scan_facts, stock_moves, unit_rows
from app.units.models import EventKind, LocationKind, RejectedRecord, Unit, UnitStatus
from app.warehouse import rules
from app.warehouse.errors import ScanRecordsInvalid
from app.warehouse.orders import WarehouseOrders

MAX_RECORDS = 10_000
INBOUND, OUTBOUND = "inbound", "outbound"
FROM_LINE, FROM_TRANSFER = "line", "transfer"
_CHUNK = 1000


@dataclass(slots=True)
class Result:
    """What became of one scan record (``index``: its position in the request)."""

    index: int
    record_id: str
    status: str  # accepted | duplicate | rejected
    reason: str | None = None
    message: str | None = None
    units: int | None = None  # items moved (accepted scans)
    previously_applied: bool = False  # duplicate because this record id was applied before


@dataclass(frozen=True, slots=True)
class Place:
    """Where a unit is: location kind and id, and whether it is still on its way there."""

    kind: LocationKind
    id: int | None
    in_transit: bool

    @classmethod
    def of(cls, unit: unit_rows.UnitState) -> "Place":
        return cls(unit.location_kind, unit.location_id, unit.in_transit)

    def as_data(self) -> dict:
        return {"kind": self.kind.value, "id": self.id, "in_transit": self.in_transit}


class _Refused(Exception):
    def __init__(self, reason: str):
        self.reason = reason


class _AlreadyThere(Exception):
    pass


# --- scans --------------------------------------------------------------------------------------

def apply_scans(*, actor: Actor, records: list[dict]) -> list[Result]:
    """Apply warehouse scan records; answer each (accepted, duplicate, rejected with a reason).

    A record: ``record_id``, ``scanned_at``, ``action`` (inbound | outbound), ``code``,
    ``warehouse_id``; inbound: ``source`` (line | transfer); outbound: exactly one of
    ``to_dealer_id`` / ``to_warehouse_id``; optional ``order_no``: an outbound scan with one lands in
    a shipment of that order (``app.warehouse.orders.WarehouseOrders``), refused when it doesn't fit.
    """
    _check_shapes(records)
    source, now = unit_rows.source_of(actor), utcnow()
    results: list[Result | None] = [None] * len(records)
    applied = unit_rows.applied_record_ids(source, (r["record_id"] for r in records))

    # The same record id twice in one request is one record: the later copies answer as the first.
    first_index: dict[str, int] = {}
    copies: list[tuple[int, int]] = []
    candidates: list[int] = []
    reader = code_reader.CodeReader()
    reader.prefetch(r["code"] for r in records)
    decoded: dict[int, code_reader.Decoded] = {}
    for i, record in enumerate(records):
        record_id = record["record_id"]
        if record_id in applied:
            results[i] = Result(i, record_id, rules.DUPLICATE, message="This record was applied before.",
                                previously_applied=True)
        elif record_id in first_index:
            copies.append((i, first_index[record_id]))
        else:
            first_index[record_id] = i
            if unit_rules.scan_time_invalid(record["scanned_at"], now):
                results[i] = _rejected(i, record, rules.SCAN_TIME_INVALID)
                continue
            code = reader.read(record["code"])
            if isinstance(code, str):
                results[i] = _rejected(i, record, code)
                continue
            decoded[i] = code
            candidates.append(i)

    batches = code_reader.BatchIndex.covering(d.serial for d in decoded.values())
    warehouses, dealers = _active_places(records[i] for i in candidates)
    ready: list[int] = []
    for i in candidates:
        reason = code_reader.issue_reason(batches.batch_of(decoded[i])) or _place_reason(records[i], warehouses, dealers)
        if reason:
            results[i] = _rejected(i, records[i], reason)
        else:
            ready.append(i)

    # Lock the scanned units, then everything inside them (each in serial order).
    scanned = unit_rows.load_units(decoded[i].serial for i in ready)
    units = unit_rows.subtree(s for s, u in scanned.items() if u.level is not Level.ITEM)
    units.update(scanned)
    children = unit_rows.children_map(units.values())
    before = {s: stock_moves.stock_key(u) for s, u in units.items()}

    orders = WarehouseOrders(
        actor_label=source, records=[records[i] for i in ready if records[i]["action"] == OUTBOUND])
    changed: dict[int, unit_rows.UnitState] = {}
    events: list[dict] = []
    for i in sorted(ready, key=lambda i: (records[i]["scanned_at"], i)):
        record = records[i]
        unit = units.get(decoded[i].serial)
        try:
            if unit is None:
                raise _Refused(rules.NOT_COMMISSIONED)
            moved, target = _check_move(record, unit, children)
            if record["action"] == OUTBOUND:
                reason = orders.take(record, decoded[i].code, unit, moved)
                if reason:
                    raise _Refused(reason)
        except _Refused as refusal:
            results[i] = _rejected(i, record, refusal.reason)
            continue
        except _AlreadyThere:
            results[i] = Result(i, record["record_id"], rules.DUPLICATE,
                                message="The units are already where this scan puts them.")
            continue
        origin = Place.of(unit)
        for each in moved:
            each.location_kind, each.location_id, each.in_transit = target.kind, target.id, target.in_transit
            changed[each.serial] = each
        items = sum(1 for each in moved if each.level is Level.ITEM)
        events.append(unit_rows.event_row(
            kind=EventKind.RECEIVE if record["action"] == INBOUND else EventKind.SHIP, serial=unit.serial,
            lot_id=unit.lot_id, occurred_at=record["scanned_at"], recorded_at=now,
            location_kind=LocationKind.WAREHOUSE, location_id=record["warehouse_id"], source=source,
            record_id=record["record_id"],
            data={"from": origin.as_data(), "to": target.as_data(), "order_no": record.get("order_no"),
                  "units": items}))
        results[i] = Result(i, record["record_id"], rules.ACCEPTED, units=items)

    _write_places(changed.values())
    stock_moves.adjust_stock(stock_moves.stock_deltas(before, changed.values()))
    unit_rows.write_events(events, units=units)
    orders.ship()
    _keep_rejections(source, records, results)

    for i, first in copies:
        answer = results[first]
        results[i] = Result(i, answer.record_id, answer.status, answer.reason, answer.message, answer.units,
                            answer.previously_applied)
    return results


# --- unpacking ----------------------------------------------------------------------------------

UNPACK_REASONS = {rules.WRONG_LOCATION: "The unit is not in this warehouse (elsewhere, or in transit: scan it in "
                                        "first).",
                  rules.WAREHOUSE_UNKNOWN: rules.REASONS[rules.WAREHOUSE_UNKNOWN]}


def apply_unpacks(*, actor: Actor, records: list[dict]) -> list[packing.Result]:
    """Apply unpack records (whole: a case or pallet, partial: a child out of its parent) of goods in a
    warehouse, by the line's packing rules; an answer per record, each record id applied once ever.

    A record: ``record_id``, ``scanned_at``, ``warehouse_id``, ``code``, ``mode`` (whole | partial),
    optionally ``parent`` (partial: the parent the child must be in).
    """
    if not 1 <= len(records) <= MAX_RECORDS:
        raise ScanRecordsInvalid(f"An unpack upload holds 1 to {MAX_RECORDS:,} records.")
    records = packing.holder_records(records)
    source = unit_rows.source_of(actor)
    warehouses = set(db.session.scalars(sa.select(Warehouse.id).where(
        Warehouse.id.in_({r["warehouse_id"] for r in records}), Warehouse.status == Status.ACTIVE)))

    def where(record: dict, unit: unit_rows.UnitState) -> str | None:
        if record["warehouse_id"] not in warehouses:
            return rules.WAREHOUSE_UNKNOWN
        if Place.of(unit) != Place(LocationKind.WAREHOUSE, record["warehouse_id"], False):
            return rules.WRONG_LOCATION
        return None

    results = packing.unpack_held(source=source, records=records, where=where,
                                  busy=channel_shipments.open_serials, messages=UNPACK_REASONS)
    _keep_rejections(source, [{**r, "action": "unpack" if r["mode"] == packing.WHOLE else "remove"}
                              for r in records], results)
    return results


def _check_shapes(records: list[dict]) -> None:
    """Refuse the whole request when a record lacks what its action needs (the HTTP schema checks too)."""
    errors: dict[int, list[str]] = {}
    if not 1 <= len(records) <= MAX_RECORDS:
        raise ScanRecordsInvalid(f"A scan upload holds 1 to {MAX_RECORDS:,} records.")
    for i, record in enumerate(records):
        problems = []
        action = record.get("action")
        if action == INBOUND:
            if record.get("source") not in (FROM_LINE, FROM_TRANSFER):
                problems.append("An inbound scan says where the goods come from: source line or transfer.")
            if record.get("to_dealer_id") is not None or record.get("to_warehouse_id") is not None:
                problems.append("An inbound scan has no destination (to_dealer_id, to_warehouse_id).")
        elif action == OUTBOUND:
            if (record.get("to_dealer_id") is None) == (record.get("to_warehouse_id") is None):
                problems.append("An outbound scan goes to exactly one of to_dealer_id, to_warehouse_id.")
            if record.get("source") is not None:
                problems.append("An outbound scan has no source.")
        else:
            problems.append("action is inbound or outbound.")
        if not record.get("record_id") or not isinstance(record.get("scanned_at"), datetime) \
                or not record.get("code") or record.get("warehouse_id") is None:
            problems.append("record_id, scanned_at, code and warehouse_id are required.")
        if problems:
            errors[i] = problems
    if errors:
        raise ScanRecordsInvalid(errors=errors)


def _active_places(records) -> tuple[set[int], set[int]]:
    """The active warehouses and dealers among those these records name."""
    warehouse_ids, dealer_ids = set(), set()
    for record in records:
        warehouse_ids.add(record["warehouse_id"])
        if record.get("to_warehouse_id") is not None:
            warehouse_ids.add(record["to_warehouse_id"])
        if record.get("to_dealer_id") is not None:
            dealer_ids.add(record["to_dealer_id"])
    warehouses = set(db.session.scalars(sa.select(Warehouse.id).where(
        Warehouse.id.in_(warehouse_ids), Warehouse.status == Status.ACTIVE))) if warehouse_ids else set()
    dealers = set(db.session.scalars(sa.select(Dealer.id).where(
        Dealer.id.in_(dealer_ids), Dealer.status == Status.ACTIVE))) if dealer_ids else set()
    return warehouses, dealers


def _place_reason(record: dict, warehouses: set[int], dealers: set[int]) -> str | None:
    if record["warehouse_id"] not in warehouses:
        return rules.WAREHOUSE_UNKNOWN
    if record["action"] == OUTBOUND:
        to_warehouse, to_dealer = record.get("to_warehouse_id"), record.get("to_dealer_id")
        if to_warehouse is not None and to_warehouse == record["warehouse_id"]:
            return rules.SAME_WAREHOUSE
        if (to_warehouse is not None and to_warehouse not in warehouses) or \
                (to_dealer is not None and to_dealer not in dealers):
            return rules.DESTINATION_UNKNOWN
    return None


def _target(record: dict) -> Place:
    """Where a scan puts the units."""
    if record["action"] == INBOUND:
        return Place(LocationKind.WAREHOUSE, record["warehouse_id"], False)
    if record.get("to_dealer_id") is not None:
        return Place(LocationKind.DEALER, record["to_dealer_id"], True)
    return Place(LocationKind.WAREHOUSE, record["to_warehouse_id"], True)


def _may_leave(record: dict, place: Place) -> bool:
    """Whether a unit at ``place`` is where this scan takes units from."""
    warehouse_id = record["warehouse_id"]
    if record["action"] == OUTBOUND:
        return place == Place(LocationKind.WAREHOUSE, warehouse_id, False)
    if record["source"] == FROM_LINE:
        return place.kind is LocationKind.LINE
    return place == Place(LocationKind.WAREHOUSE, warehouse_id, True)


def _check_move(record: dict, unit: unit_rows.UnitState,
                children: dict[int, list[unit_rows.UnitState]]) -> tuple[list[unit_rows.UnitState], Place]:
    """The units this scan moves (the scanned one and the active ones inside it) and where to."""
    if unit.status is UnitStatus.VOIDED:
        raise _Refused(rules.VOIDED)
    if unit.status is UnitStatus.SCRAPPED:
        raise _Refused(rules.SCRAPPED)
    if unit.parent_serial is not None:
        raise _Refused(rules.PACKED_ELSEWHERE)
    target, place = _target(record), Place.of(unit)
    if place == target:
        raise _AlreadyThere()
    if not _may_leave(record, place):
        raise _Refused(rules.WRONG_LOCATION)
    moved = unit_rows.with_contents(unit, children)
    if record["action"] == OUTBOUND and any(each.recall_id is not None for each in moved):
        raise _Refused(rules.RECALLED)
    return moved, target


def _write_places(units) -> None:
    """Write the units' new places: one UPDATE per place (a scan moves all its units to one place)."""
    by_place: dict[Place, list[int]] = {}
    for unit in units:
        by_place.setdefault(Place.of(unit), []).append(unit.serial)
    for place, serials in by_place.items():
        serials.sort()
        scan_facts.changed(serials)
        for start in range(0, len(serials), unit_rows.CHUNK):
            # Shipped to a dealer: the dealer whose territory the anti-diversion check compares against.
            dealer = {"last_dealer_id": place.id} if place.kind is LocationKind.DEALER else {}
            db.session.execute(sa.update(Unit).where(Unit.serial.in_(serials[start:start + unit_rows.CHUNK])).values(
                location_kind=place.kind, location_id=place.id, in_transit=place.in_transit, **dealer))


def _rejected(index: int, record: dict, reason: str) -> Result:
    message = rules.REASONS.get(reason) or channel_rules.REASONS[reason]
    return Result(index, record["record_id"], rules.REJECTED, reason, message)


def _keep_rejections(source: str, records: list[dict], results: list[Result | None]) -> None:
    """Keep each rejected record (its latest reason); forget the earlier rejection of one now applied."""
    now = utcnow()
    rejected = [{"session_id": None, "source": source, "record_id": r.record_id,
                 "kind": records[r.index]["action"], "code": str(records[r.index]["code"])[:64],
                 "reason": r.reason, "scanned_at": records[r.index]["scanned_at"], "recorded_at": now}
                for r in results if r is not None and r.status == rules.REJECTED]
    accepted = [r.record_id for r in results if r is not None and r.status == rules.ACCEPTED]
    for start in range(0, len(accepted), _CHUNK):
        db.session.execute(sa.delete(RejectedRecord).where(
            RejectedRecord.source == source, RejectedRecord.record_id.in_(accepted[start:start + _CHUNK])))
    if not rejected:
        return
    refreshed = ("kind", "code", "reason", "scanned_at", "recorded_at")
    if db.session.get_bind().dialect.name in ("mysql", "mariadb"):
        statement = mysql.insert(RejectedRecord)
        statement = statement.on_duplicate_key_update({f: statement.inserted[f] for f in refreshed})
    else:
        statement = sqlite.insert(RejectedRecord)
        statement = statement.on_conflict_do_update(
            index_elements=[RejectedRecord.source, RejectedRecord.record_id],
            set_={f: statement.excluded[f] for f in refreshed})
    for start in range(0, len(rejected), _CHUNK):
        db.session.execute(statement, rejected[start:start + _CHUNK])
