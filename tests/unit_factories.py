"""Unit factories: issued codes, commissioned items, packed cases and pallets, written straight to the store.

They write the same rows and events the line upload writes, without going through it, so tests of the
warehouse and of traceability don't depend on the line engine. Each helper commits like a use case.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from datetime import datetime, timedelta, timezone

from app.codes import service as codes
from app.codes.models import CodeBatch, Level
from app.db import transaction, utcnow
from app.extensions import db
from app.units import scan_facts, stock_moves, unit_rows
from app.units.models import EventKind, LocationKind, Unit, UnitStatus
from tests.masterdata_factories import ACTOR

SOURCE = unit_rows.source_of(ACTOR)
SCANNED = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


@dataclass
class Codes:
    """An issued batch and its codes in serial order."""

    batch: CodeBatch
    codes: list[str]

    def __getitem__(self, i):
        return self.codes[i]

    def __len__(self):
        return len(self.codes)


def issue(count: int, *, level: str = "item", product_id: int | None = None) -> Codes:
    """Issue a batch of codes (not commissioned)."""
    with transaction():
        batch, _ = codes.issue_batch(actor=ACTOR, product_id=product_id, level=level, count=count)
    ring = codes.keyring()
    return Codes(batch, [ring.encode(batch.serial_start + i, batch.key_version) for i in range(count)])


def serial(code: str) -> int:
    return codes.keyring().decode(code).serial


def _state(batch: CodeBatch, code: str, *, level: Level, product_id, lot_id, location_kind, location_id,
           at: datetime) -> unit_rows.UnitState:
    decoded = codes.keyring().decode(code)
    return unit_rows.UnitState(
        serial=decoded.serial, key_version=decoded.key_version, batch_id=batch.id, level=level,
        product_id=product_id, lot_id=lot_id, status=UnitStatus.ACTIVE, parent_serial=None, child_count=0,
        partial=False, location_kind=location_kind, location_id=location_id, in_transit=False,
        replaces_serial=None, replaced_by_serial=None, recall_id=None, commissioned_at=at)


def commission(lot, count: int, *, line_id: int | None = None, warehouse_id: int | None = None,
               at: datetime = SCANNED) -> list[str]:
    """Issue and commission `count` item codes into a production lot; return the codes.

    With warehouse_id the items are also received into that warehouse (stock counted).
    """
    issued = issue(count, product_id=lot.product_id)
    line_id = line_id if line_id is not None else lot.line_id
    now = utcnow()
    with transaction():
        units = [_state(issued.batch, c, level=Level.ITEM, product_id=lot.product_id, lot_id=lot.id,
                        location_kind=LocationKind.LINE, location_id=line_id, at=at) for c in issued.codes]
        unit_rows.insert_units(units)
        unit_rows.write_events([unit_rows.event_row(
            kind=EventKind.COMMISSION, serial=u.serial, lot_id=lot.id, occurred_at=at, recorded_at=now,
            location_kind=LocationKind.LINE, location_id=line_id, source=SOURCE) for u in units])
    if warehouse_id is not None:
        receive(issued.codes, warehouse_id=warehouse_id, at=at + timedelta(minutes=1))
    return issued.codes


def pack(children: list[str], *, level: str = "case", at: datetime = SCANNED + timedelta(seconds=30)) -> str:
    """Issue one parent code (case or pallet) and pack these commissioned children into it."""
    child_serials = [serial(c) for c in children]
    now = utcnow()
    with transaction():
        kids = unit_rows.load_units(child_serials)
        first = kids[child_serials[0]]
        issued = issue(1, level=level, product_id=first.product_id)
        parent = _state(issued.batch, issued[0], level=Level(level), product_id=first.product_id,
                        lot_id=first.lot_id, location_kind=first.location_kind, location_id=first.location_id,
                        at=at)
        parent.child_count = len(kids)
        unit_rows.insert_units([parent])
        for kid in kids.values():
            kid.parent_serial = parent.serial
        unit_rows.save_units(kids.values(), ["parent_serial"])
        unit_rows.write_events([unit_rows.event_row(
            kind=EventKind.PACK, serial=s, parent_serial=parent.serial, occurred_at=at, recorded_at=now,
            location_kind=first.location_kind, location_id=first.location_id, source=SOURCE)
            for s in child_serials])
    return issued[0]


def receive(codes_: list[str], *, warehouse_id: int, at: datetime = SCANNED + timedelta(minutes=1)) -> None:
    """Put these codes (and everything inside them) into a warehouse, counting stock, with RECEIVE events."""
    roots = [serial(c) for c in codes_]
    now = utcnow()
    with transaction():
        units = unit_rows.load_units(roots)
        units.update(unit_rows.subtree(roots))
        before = {s: stock_moves.stock_key(u) for s, u in units.items()}
        for unit in units.values():
            unit.location_kind, unit.location_id, unit.in_transit = LocationKind.WAREHOUSE, warehouse_id, False
        unit_rows.save_units(units.values(), ["location_kind", "location_id", "in_transit"])
        stock_moves.adjust_stock(stock_moves.stock_deltas(before, units.values()))
        unit_rows.write_events([unit_rows.event_row(
            kind=EventKind.RECEIVE, serial=s, occurred_at=at, recorded_at=now,
            location_kind=LocationKind.WAREHOUSE, location_id=warehouse_id, source=SOURCE) for s in roots])


def contents(code: str) -> list[str]:
    """The codes directly inside a case or pallet, in serial order."""
    children = unit_rows.children_of([serial(code)], lock=False)
    ring = codes.keyring()
    return [ring.encode(u.serial, u.key_version) for u in sorted(children.values(), key=lambda u: u.serial)]


def set_units(where, **values) -> None:
    """Change units' columns directly, as a test sets a scene (in the caller's transaction): named to
    app.units.scan_facts like any writer's change, so Redis follows."""
    scan_facts.changed(db.session.scalars(sa.select(Unit.serial).where(where)))
    db.session.execute(sa.update(Unit).where(where).values(**values))
