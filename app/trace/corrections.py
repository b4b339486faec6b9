"""Corrections: an item commissioned into the wrong lot is moved by a CORRECT event pointing at its COMMISSION."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.codes.models import Level
from app.db import utcnow
from app.extensions import db
from app.identity.service import Actor, audit
from app.production.errors import ProductionLotClosed
from app.production.models import LotStatus, ProductionLot
from app.trace.errors import (CorrectionItemsOnly, CorrectionWrongProduct, LotUnchanged, LotUnknown,
                              UnitNotCommissioned, UnitVoided)
from app.trace.resolution import SerialCodes, issued_resolution
from app.trace.timeline import TimelineEntry, entries_of, label_chain
from app.units import stock_moves, unit_rows
from app.units.models import Event, EventKind, UnitStatus


@dataclass
class Correction:
    code: str
    event: TimelineEntry
    unit_lot_id: int


def correct_unit_lot(*, actor: Actor, code: str, lot_id: int, reason: str) -> Correction:
    """Move an item commissioned into the wrong lot: a CORRECT event pointing at its COMMISSION."""
    resolution = issued_resolution(code)
    unit = unit_rows.load_units([resolution.serial]).get(resolution.serial)
    if unit is None:
        raise UnitNotCommissioned()
    if unit.level is not Level.ITEM:
        raise CorrectionItemsOnly()
    if unit.status is UnitStatus.VOIDED:
        raise UnitVoided()
    lot = db.session.get(ProductionLot, lot_id)
    if lot is None:
        raise LotUnknown(errors={"lot_id": ["unknown"]})
    if lot.product_id != unit.product_id:
        raise CorrectionWrongProduct(errors={"lot_id": ["other product"]})
    if lot.id == unit.lot_id:
        raise LotUnchanged()
    if lot.status is LotStatus.CLOSED:
        raise ProductionLotClosed(f"The production lot {lot.lot_no} is closed; reopen it first.")
    commissioned = db.session.scalar(
        sa.select(Event).where(Event.serial.in_(label_chain(unit.serial, forward=False)),
                               Event.kind == EventKind.COMMISSION).order_by(Event.id.desc()).limit(1))
    before = {unit.serial: stock_moves.stock_key(unit)}
    old_lot = unit.lot_id
    unit.lot_id = lot.id
    unit_rows.save_units([unit], ["lot_id"])
    stock_moves.adjust_stock(stock_moves.stock_deltas(before, [unit]))
    now = utcnow()
    event = Event(**unit_rows.event_row(
        kind=EventKind.CORRECT, serial=unit.serial, lot_id=lot.id, occurred_at=now, recorded_at=now,
        source=unit_rows.source_of(actor), location_kind=unit.location_kind, location_id=unit.location_id,
        corrects_event_id=commissioned.id if commissioned is not None else None,
        data={"field": "lot_id", "from": old_lot, "to": lot.id, "reason": reason}))
    db.session.add(event)
    db.session.flush()
    audit(actor, "unit.correct_lot", None, {"lot_id": [old_lot, lot.id], "reason": [None, reason]},
          entity_type="unit", entity_id=resolution.code)
    entry = entries_of([(event, True)], SerialCodes({unit.serial: unit}))[0]
    return Correction(code=resolution.code, event=entry, unit_lot_id=lot.id)
