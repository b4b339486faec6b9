"""A lot's units and where they are (the recall view), and the raw-material forward trace.

The recall view lists a lot's ITEMS (what stock, dealers, stores and consumers hold); a case or
pallet's lot is informative only (its first child's). A raw-material lot's trace is the production
lots that consumed it, each with where its items are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app.codes.models import Level
from app.extensions import db
from app.production import service as production
from app.production.models import LotConsumption, ProductionLot
from app.platform.filters import Filters
from app.trace.resolution import Place, SerialCodes, place_names
from app.units.models import LocationKind, Recall, RecallLot, Unit, UnitStatus


@dataclass
class UnitRow:
    """One unit of a listing (the recall view)."""

    code: str
    level: Level
    status: UnitStatus
    product_id: int | None
    lot_id: int | None
    location: Place
    in_transit: bool
    parent_code: str | None
    recall_id: int | None
    commissioned_at: datetime


@dataclass
class PlaceCount:
    kind: LocationKind
    id: int | None
    name: str | None
    in_transit: bool
    units: int


@dataclass
class LotSummary:
    lot: ProductionLot
    units: int = 0  # items of the lot, whatever their state
    active: int = 0
    in_transit: int = 0
    scrapped: int = 0
    voided: int = 0
    recalled: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)  # active items per location kind
    by_location: list[PlaceCount] = field(default_factory=list)
    recalls: list[Recall] = field(default_factory=list)


@dataclass
class LotUsage:
    """A production lot that used a raw-material lot, with where its items are."""

    consumption: LotConsumption
    summary: LotSummary


@dataclass
class RawMaterialTrace:
    raw_material_lot: object
    lots: list[LotUsage]
    units: int = 0


def _lot(lot_id: int) -> ProductionLot:
    return production.get_production_lot(lot_id)


UNIT_FILTERS = Filters(
    location_kind=lambda value: Unit.location_kind == LocationKind(value),
    location_id=lambda value: Unit.location_id == value,
    status=lambda value: Unit.status == UnitStatus(value),
    in_transit=lambda value: Unit.in_transit == bool(value),
    recalled=lambda value: Unit.recall_id.is_not(None) if value else Unit.recall_id.is_(None),
)


def _units_query(lot_ids, *, level=None, location_kind=None, location_id=None, status=None,
                 in_transit=None, recalled=None):
    query = sa.select(Unit).where(Unit.lot_id.in_(lot_ids), Unit.level == Level(level or Level.ITEM))
    return UNIT_FILTERS.apply(query, location_kind=location_kind, location_id=location_id, status=status,
                              in_transit=in_transit, recalled=recalled).order_by(Unit.serial)


def lot_units(*, lot_id: int, level=None, location_kind=None, location_id=None, status=None,
              in_transit=None, recalled=None):
    """The recall view: a select of the lot's units (items unless ``level`` says otherwise), in serial order.

    Page it, then turn the page into rows with ``unit_rows``.
    """
    _lot(lot_id)
    return _units_query([lot_id], level=level, location_kind=location_kind, location_id=location_id,
                        status=status, in_transit=in_transit, recalled=recalled)


def unit_rows(units) -> list[UnitRow]:
    """A page of units as rows with codes, parent codes and place names."""
    units = list(units)
    encode = SerialCodes()
    encode.learn(units)
    encode.many(u.parent_serial for u in units)
    names = place_names((u.location_kind, u.location_id) for u in units)
    return [UnitRow(
        code=encode(u.serial), level=u.level, status=u.status, product_id=u.product_id, lot_id=u.lot_id,
        location=Place(u.location_kind, u.location_id, names.get((u.location_kind, u.location_id)), u.in_transit),
        in_transit=u.in_transit, parent_code=encode(u.parent_serial), recall_id=u.recall_id,
        commissioned_at=u.commissioned_at) for u in units]


def _summaries(lots: list[ProductionLot]) -> dict[int, LotSummary]:
    """Counts of each lot's items by state and place: one GROUP BY query for all the lots."""
    summaries = {lot.id: LotSummary(lot=lot) for lot in lots}
    if not lots:
        return summaries
    recalled = sa.case((Unit.recall_id.is_(None), 0), else_=1)
    rows = db.session.execute(
        sa.select(Unit.lot_id, Unit.status, Unit.location_kind, Unit.location_id, Unit.in_transit,
                  sa.func.count(), sa.func.sum(recalled))
        .where(Unit.lot_id.in_(list(summaries)), Unit.level == Level.ITEM)
        .group_by(Unit.lot_id, Unit.status, Unit.location_kind, Unit.location_id, Unit.in_transit)).all()
    names = place_names((r[2], r[3]) for r in rows)
    for lot_id, status, kind, place_id, in_transit, count, recalled_count in rows:
        summary = summaries[lot_id]
        summary.units += count
        summary.recalled += int(recalled_count or 0)
        if status is UnitStatus.SCRAPPED:
            summary.scrapped += count
        elif status is UnitStatus.VOIDED:
            summary.voided += count
        else:
            summary.active += count
            summary.in_transit += count if in_transit else 0
            summary.by_kind[kind.value] = summary.by_kind.get(kind.value, 0) + count
            summary.by_location.append(PlaceCount(kind, place_id, names.get((kind, place_id)), in_transit, count))
    for lot_id, summary in summaries.items():
        summary.by_location.sort(key=lambda p: (p.kind.value, p.id or 0, p.in_transit))
    for lot_id, recall in db.session.execute(
            sa.select(RecallLot.lot_id, Recall).join(Recall, Recall.id == RecallLot.recall_id)
            .where(RecallLot.lot_id.in_(list(summaries))).order_by(Recall.id)):
        summaries[lot_id].recalls.append(recall)
    return summaries


def lot_summary(lot_id: int) -> LotSummary:
    """Where a lot's items are now: counts by place (active items), in transit, scrapped, recalled."""
    lot = _lot(lot_id)
    return _summaries([lot])[lot.id]


def raw_material_trace(raw_lot_id: int) -> RawMaterialTrace:
    """Trace forward: the production lots that used a raw-material lot, each with where its items are."""
    raw = production.get_raw_material_lot(raw_lot_id)
    consumptions = production.consumptions_of_raw_material_lot(raw_lot_id)
    summaries = _summaries([c.production_lot for c in consumptions])
    usages = [LotUsage(c, summaries[c.production_lot_id]) for c in consumptions]
    return RawMaterialTrace(raw, usages, sum(u.summary.units for u in usages))


def units_using(*, raw_lot_id: int, level=None, location_kind=None, status=None, recalled=None):
    """A select of the units of every production lot that used a raw-material lot (page it, then ``unit_rows``)."""
    production.get_raw_material_lot(raw_lot_id)
    lot_ids = production.production_lot_ids_using([raw_lot_id])
    return _units_query(lot_ids, level=level, location_kind=location_kind, status=status, recalled=recalled)
