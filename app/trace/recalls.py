"""Recalls: recall a production lot, or every production lot that consumed a raw-material lot; preview,
read and list recalls.

A recall marks every active unit whose lot is a recalled lot — items and the cases and pallets whose
lot it is — so a consumer scanning any of them is told: ``units.recall_id`` and one ``recall`` event
per unit. Scrapped and voided units are not marked. Recalling a lot again marks only units not yet
recalled (those commissioned since); when there are none, it is refused (409 ``lot_already_recalled``).
A raw-material lot's recall is one recall of every production lot that consumed it, under the same rules.

The same transaction posts a notice to each dealer and store the recall reaches (``app.trace.reach``)
and emits one ``recall.created`` event with the counts (not one event per unit: a large lot would flood
the ERP's feed; the ERP pages the units at ``units_url``).
"""
from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa

from app.codes.models import Level
from app.db import certify_lock, utcnow
from app.errors import Conflict
from app.extensions import db
from app.identity.service import Actor, audit
from app.masterdata import refs
from app.masterdata import rules as masterdata_rules
from app.notices import service as notices
from app.notices.models import NoticeKind, Recipient
from app.platform.filters import Filters
from app.production import service as production
from app.production.models import ProductionLot, RawMaterialLot
from app.trace import lots
from app.trace.reach import Preview, Reach, preview, reach
from app.trace.errors import (LotAlreadyRecalled, RawMaterialLotAlreadyRecalled, RawMaterialLotNotConsumed,
                              RecallNotFound)
from app.units import scan_facts, unit_rows
from app.units.models import EventKind, Recall, RecallLot, Unit, UnitStatus
from app.webhooks.service import emit


def recallable(lot_ids: list[int]) -> list[unit_rows.UnitState]:
    """The units a recall of these lots would mark (active, not yet recalled), locked."""
    candidates = db.session.scalars(sa.select(Unit.serial).where(
        Unit.lot_id.in_(lot_ids), Unit.status == UnitStatus.ACTIVE, Unit.recall_id.is_(None))).all()
    wanted = set(lot_ids)
    return [u for u in unit_rows.load_units(candidates).values()
            if u.lot_id in wanted and u.status is UnitStatus.ACTIVE and u.recall_id is None]


def mark(*, actor: Actor, recall: Recall, lots: list[ProductionLot], units: list[unit_rows.UnitState]) -> None:
    """Mark the units recalled, with a ``recall`` event each, and record the lots the recall covers."""
    serials = [u.serial for u in units]
    scan_facts.changed(serials)
    for i in range(0, len(serials), unit_rows.CHUNK):
        db.session.execute(sa.update(Unit).where(Unit.serial.in_(serials[i:i + unit_rows.CHUNK]))
                           .values(recall_id=recall.id, updated_at=utcnow()))
    now, source = utcnow(), unit_rows.source_of(actor)
    unit_rows.write_events([unit_rows.event_row(
        kind=EventKind.RECALL, serial=u.serial, lot_id=u.lot_id, occurred_at=now, recorded_at=now, source=source,
        location_kind=u.location_kind, location_id=u.location_id,
        data={"recall_id": recall.id, "reason": recall.reason}) for u in units], units={u.serial: u for u in units})
    per_lot: dict[int, int] = defaultdict(int)
    for unit in units:
        per_lot[unit.lot_id] += 1
    db.session.add_all([RecallLot(recall_id=recall.id, lot_id=lot.id, units=per_lot[lot.id]) for lot in lots])
    db.session.flush()


def units_url(recall_id: int) -> str:
    return f"/api/integration/recalls/{recall_id}/units"


def announce(found: Reach) -> None:
    """Post a notice to each dealer and store reached, and emit ``recall.created`` (current transaction)."""
    recall = found.recall
    lot_nos = ", ".join(lot.lot_no for lot in found.lots)
    notices.post(kind=NoticeKind.RECALL, recall_id=recall.id, notices=[{
        "recipient_kind": Recipient(party.kind), "recipient_id": party.id,
        "title": f"召回通知 Recall: lot {lot_nos}"[:200],
        "body": (f"Lot {lot_nos} is recalled: {recall.reason}. You hold {party.held_now} of its items now "
                 f"({party.in_transit_to} more on their way to you); take them off sale and set them aside. "
                 f"Scanning them out or selling them is refused.")[:2000],
        "data": {"recall_id": recall.id, "lots": [lot.lot_no for lot in found.lots], "reason": recall.reason,
                 "passed_through": party.passed_through, "held_now": party.held_now,
                 "in_transit_to": party.in_transit_to, "sold": party.sold},
    } for party in found.parties])
    raw = found.raw_material_lot
    origin = ({"kind": "raw_material_lot", "id": raw.id, "lot_no": raw.lot_no, "external_id": raw.external_id}
              if raw is not None else
              {"kind": "production_lot", "id": recall.lot_id, "lot_no": lot_nos,
               "external_id": db.session.scalar(sa.select(ProductionLot.external_id)
                                                .where(ProductionLot.id == recall.lot_id))})
    products = refs.products(lot.product_id for lot in found.lots)
    lot_ids = dict(db.session.execute(sa.select(ProductionLot.id, ProductionLot.external_id)
                                      .where(ProductionLot.id.in_([lot.lot_id for lot in found.lots]))).all())
    named = refs.parties((p.kind, p.id) for p in found.parties)
    emit("recall.created", {
        "recall_id": recall.id, "reason": recall.reason, "origin": origin,
        "lots": [{"lot_id": lot.lot_id, "lot_no": lot.lot_no, "external_id": lot_ids.get(lot.lot_id),
                  "product_id": lot.product_id, "product": products[lot.product_id], "units": lot.units}
                 for lot in found.lots],
        "units": recall.units, "items": found.items, "by_place": found.by_place,
        "scanned_by_consumers": found.scanned_by_consumers,
        "parties": [{**named[p.kind, p.id], "passed_through": p.passed_through, "held_now": p.held_now,
                     "in_transit_to": p.in_transit_to, "sold": p.sold} for p in found.parties],
        "units_url": units_url(recall.id), "created_at": recall.created_at.isoformat(),
    })


def _recall(*, actor: Actor, lots: list[ProductionLot], reason: str, public_notice: str | None, already: Conflict,
            lot_id: int | None = None, raw_material_lot_id: int | None = None) -> Recall:
    """Mark the lots' active units not yet recalled, tell the dealers and stores reached and the ERP."""
    for lot in lots:
        certify_lock(lot)  # two recalls of a lot on two Galera nodes conflict, even with no unit to mark
    units = recallable([lot.id for lot in lots])
    if not units and db.session.scalar(sa.select(RecallLot.recall_id)
                                       .where(RecallLot.lot_id.in_([lot.id for lot in lots])).limit(1)):
        raise already
    recall = Recall(lot_id=lot_id, raw_material_lot_id=raw_material_lot_id, reason=reason,
                    public_notice=public_notice, units=len(units), created_by=actor.name, created_at=utcnow())
    db.session.add(recall)
    db.session.flush()
    mark(actor=actor, recall=recall, lots=lots, units=units)
    announce(reach(recall))
    audit(actor, "recall.create", recall, {"lot_id": [None, lot_id], "raw_material_lot_id": [None, raw_material_lot_id],
                                           "reason": [None, reason], "public_notice": [None, public_notice],
                                           "units": [None, len(units)]})
    return recall


def recall_lot(*, actor: Actor, lot_id: int, reason: str, public_notice: str | None = None) -> Recall:
    """Recall a lot: mark its active units (items, and parents whose lot it is) and write a RECALL each."""
    lot = db.session.scalar(sa.select(ProductionLot).where(ProductionLot.id == lot_id).with_for_update())
    if lot is None:
        raise masterdata_rules.not_found("production_lot")
    return _recall(actor=actor, lots=[lot], reason=reason, public_notice=public_notice, lot_id=lot.id,
                   already=LotAlreadyRecalled(f"Every unit of lot {lot.lot_no} is already recalled."))


def recall_raw_material_lot(*, actor: Actor, raw_lot_id: int, reason: str,
                            public_notice: str | None = None) -> Recall:
    """Recall every production lot that consumed a raw-material lot, as one recall."""
    raw = db.session.scalar(sa.select(RawMaterialLot).where(RawMaterialLot.id == raw_lot_id).with_for_update())
    if raw is None:
        raise masterdata_rules.not_found("raw_material_lot")
    lot_ids = production.production_lot_ids_using([raw.id])
    if not lot_ids:
        raise RawMaterialLotNotConsumed(f"No production lot consumed raw-material lot {raw.lot_no}.")
    # Locked in id order, as a recall of one lot locks it: two recalls of overlapping lots queue.
    lots = list(db.session.scalars(sa.select(ProductionLot).where(ProductionLot.id.in_(lot_ids))
                                   .order_by(ProductionLot.id).with_for_update()))
    return _recall(actor=actor, lots=lots, reason=reason, public_notice=public_notice, raw_material_lot_id=raw.id,
                   already=RawMaterialLotAlreadyRecalled(
                       f"Every unit of the lots that consumed raw-material lot {raw.lot_no} is already recalled."))


def preview_lot_recall(lot_id: int) -> Preview:
    """What recalling a lot would reach now: the step a person reads before confirming the recall."""
    lot = db.session.get(ProductionLot, lot_id)
    if lot is None:
        raise masterdata_rules.not_found("production_lot")
    return preview(lots=[lot], lot_id=lot.id)


def preview_raw_material_recall(raw_lot_id: int) -> Preview:
    """What recalling a raw-material lot would reach now (every production lot that consumed it)."""
    raw = db.session.get(RawMaterialLot, raw_lot_id)
    if raw is None:
        raise masterdata_rules.not_found("raw_material_lot")
    lot_ids = production.production_lot_ids_using([raw.id])
    if not lot_ids:
        raise RawMaterialLotNotConsumed(f"No production lot consumed raw-material lot {raw.lot_no}.")
    lots = list(db.session.scalars(sa.select(ProductionLot).where(ProductionLot.id.in_(lot_ids))))
    return preview(lots=lots, raw_material_lot_id=raw.id)


def get_recall(recall_id: int) -> Recall:
    recall = db.session.get(Recall, recall_id)
    if recall is None:
        raise RecallNotFound()
    return recall


def set_recall_public_notice(*, actor: Actor, recall_id: int, public_notice: str | None) -> Recall:
    """Change what a recalled unit's printed URL tells the public (None: the general steps only)."""
    recall = db.session.scalar(sa.select(Recall).where(Recall.id == recall_id).with_for_update())
    if recall is None:
        raise RecallNotFound()
    audit(actor, "recall.public_notice", recall, {"public_notice": [recall.public_notice, public_notice]})
    recall.public_notice = public_notice
    return recall


def recall_reach(recall_id: int) -> Reach:
    """A recall with its reach: items by place now, every dealer and store they passed through."""
    return reach(get_recall(recall_id))


def recalled_units(*, recall_id: int, level=None, location_kind=None, in_transit=None, status=None):
    """A select of a recall's units (items unless ``level`` says otherwise), in serial order (page it, then
    ``lots.unit_rows``)."""
    get_recall(recall_id)
    query = sa.select(Unit).where(Unit.recall_id == recall_id, Unit.level == Level(level or Level.ITEM))
    return lots.UNIT_FILTERS.apply(query, location_kind=location_kind, in_transit=in_transit,
                                   status=status).order_by(Unit.serial)


_RECALL_FILTERS = Filters(
    lot_id=lambda value: sa.exists().where(RecallLot.recall_id == Recall.id, RecallLot.lot_id == value),
    raw_material_lot_id=lambda value: Recall.raw_material_lot_id == value,
)


def list_recalls(*, lot_id: int | None = None, raw_material_lot_id: int | None = None):
    """Recalls, newest first; ``lot_id``: those covering the production lot (by lot or raw material)."""
    return _RECALL_FILTERS.apply(sa.select(Recall).order_by(Recall.id.desc()), lot_id=lot_id,
                                 raw_material_lot_id=raw_material_lot_id)
