"""A recall's reach: where its goods are now and who they passed through, read in set-based SQL.

The reach is read over the marked units, whatever their number (a lot of 100,000 units is a handful
of GROUP BY queries, never a Python loop over its units):

- ``by_place``: the recalled ITEMS by where they are now (line, warehouse, dealer, store, in
  transit, sold, and scrapped/voided since); ``scanned_by_consumers`` counts those a consumer has
  scanned (across places: a unit sold or still on a shelf may have been scanned).
- ``parties``: every dealer and store the items passed through — receivers and shippers of the
  shipments they were in (shipped or received; an open or cancelled shipment moved nothing),
  where they are now (held or on their way), and, for a store, sold there — each with its name,
  region(s) and counts: passed through, held now, in transit to it, sold there.

A preview reads the same counts for the units a recall would mark, before anything is marked.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from app.channel.models import PartyKind, Shipment, ShipmentStatus, ShipmentUnit
from app.codes.models import Level
from app.extensions import db
from app.masterdata.models import Dealer, Region, Store, dealer_territories
from app.production.models import ProductionLot, RawMaterialLot
from app.units import unit_rows
from app.units.models import LocationKind, Recall, RecallLot, Unit, UnitScanStats, UnitStatus

PLACES = ("line", "warehouse", "dealer", "store", "in_transit", "sold", "scrapped", "voided")
_MOVED = (ShipmentStatus.SHIPPED, ShipmentStatus.RECEIVED)


@dataclass
class LotShare:
    lot_id: int
    lot_no: str
    product_id: int
    units: int  # units this recall marked in the lot (items, cases, pallets)


@dataclass
class Party:
    """A dealer or store the recalled goods passed through, with its counts of recalled items."""

    kind: str
    id: int
    name: str | None = None
    tier: int | None = None  # dealers
    regions: list[dict] = field(default_factory=list)  # a store's region; a dealer's territory
    passed_through: int = 0
    held_now: int = 0
    in_transit_to: int = 0
    sold: int = 0  # stores: sale-scanned there


@dataclass
class Spread:
    """Where recalled goods went: the lots and their items, by place now, scanned by consumers, and the
    dealers and stores they passed through (a recall's reach, or a preview's)."""

    lots: list[LotShare]
    items: int  # recalled items (the units a shelf holds; cases and pallets are counted in the units)
    by_place: dict[str, int]
    scanned_by_consumers: int
    parties: list[Party]

    @property
    def dealers(self) -> int:
        return sum(1 for p in self.parties if p.kind == "dealer")

    @property
    def stores(self) -> int:
        return sum(1 for p in self.parties if p.kind == "store")


@dataclass(kw_only=True)
class Reach(Spread):
    recall: Recall
    raw_material_lot: RawMaterialLot | None


def _items(recall_id: int):
    return (Unit.recall_id == recall_id, Unit.level == Level.ITEM)


def _would_recall(lot_ids: list[int]):
    """The items a recall of these lots would mark now (``recallable``'s filter, as SQL), for its preview."""
    return (Unit.lot_id.in_(lot_ids), Unit.status == UnitStatus.ACTIVE, Unit.recall_id.is_(None),
            Unit.level == Level.ITEM)


def _by_place(items: tuple) -> dict[str, int]:
    counts = dict.fromkeys(PLACES, 0)
    rows = db.session.execute(sa.select(Unit.status, Unit.location_kind, Unit.in_transit, sa.func.count())
                              .where(*items)
                              .group_by(Unit.status, Unit.location_kind, Unit.in_transit)).all()
    for status, kind, in_transit, count in rows:
        if status is not UnitStatus.ACTIVE:
            place = status.value
        elif in_transit:
            place = "in_transit"
        else:
            place = "sold" if kind is LocationKind.CONSUMER else kind.value
        counts[place] += count
    return counts


def _parties(items: tuple) -> dict[tuple[str, int], Party]:
    """Every dealer and store the items (``_items`` or ``_would_recall``) passed through, with their counts
    (set-based)."""
    kind = sa.String(16)
    moved = (sa.select(ShipmentUnit.serial, Shipment.shipper_kind, Shipment.shipper_id, Shipment.receiver_kind,
                       Shipment.receiver_id)
             .join(Shipment, Shipment.id == ShipmentUnit.shipment_id)
             .join(Unit, Unit.serial == ShipmentUnit.serial)
             .where(*items, Shipment.status.in_(_MOVED)).subquery())
    parties = (PartyKind.DEALER.value, PartyKind.STORE.value)
    received = sa.select(sa.cast(moved.c.receiver_kind, kind).label("kind"), moved.c.receiver_id.label("id"),
                         moved.c.serial).where(moved.c.receiver_kind.in_([PartyKind.DEALER, PartyKind.STORE]))
    sent = sa.select(sa.cast(moved.c.shipper_kind, kind), moved.c.shipper_id, moved.c.serial).where(
        moved.c.shipper_kind.in_([PartyKind.DEALER, PartyKind.STORE]))
    here = sa.select(sa.cast(Unit.location_kind, kind), Unit.location_id, Unit.serial).where(
        *items, Unit.location_kind.in_([LocationKind.DEALER, LocationKind.STORE]))
    # A sold unit's location id is the store that sold it.
    sold_at = sa.select(sa.literal(PartyKind.STORE.value, kind), Unit.location_id, Unit.serial).where(
        *items, Unit.location_kind == LocationKind.CONSUMER, Unit.location_id.is_not(None))
    passed = sa.union(received, sent, here, sold_at).subquery()  # UNION: each item once per party
    found: dict[tuple[str, int], Party] = {}
    for party_kind, party_id, count in db.session.execute(
            sa.select(passed.c.kind, passed.c.id, sa.func.count()).group_by(passed.c.kind, passed.c.id)):
        if party_kind in parties and party_id is not None:
            found[(party_kind, party_id)] = Party(kind=party_kind, id=party_id, passed_through=count)
    for location_kind, place_id, in_transit, count in db.session.execute(
            sa.select(Unit.location_kind, Unit.location_id, Unit.in_transit, sa.func.count())
            .where(*items, Unit.status == UnitStatus.ACTIVE,
                   Unit.location_kind.in_([LocationKind.DEALER, LocationKind.STORE, LocationKind.CONSUMER]))
            .group_by(Unit.location_kind, Unit.location_id, Unit.in_transit)):
        party_kind = PartyKind.STORE.value if location_kind is LocationKind.CONSUMER else location_kind.value
        party = found.get((party_kind, place_id))
        if party is None:
            continue
        if location_kind is LocationKind.CONSUMER:
            party.sold += count
        elif in_transit:
            party.in_transit_to += count
        else:
            party.held_now += count
    _describe(found)
    return found


def _describe(found: dict[tuple[str, int], Party]) -> None:
    """Names, tiers and regions of the parties: a few queries for all of them."""
    dealer_ids = [i for k, i in found if k == "dealer"]
    store_ids = [i for k, i in found if k == "store"]
    for start in range(0, max(len(dealer_ids), len(store_ids)), unit_rows.CHUNK):
        dealers, stores = dealer_ids[start:start + unit_rows.CHUNK], store_ids[start:start + unit_rows.CHUNK]
        for dealer_id, name, tier in db.session.execute(
                sa.select(Dealer.id, Dealer.name, Dealer.tier).where(Dealer.id.in_(dealers))):
            found[("dealer", dealer_id)].name, found[("dealer", dealer_id)].tier = name, tier
        for dealer_id, code, name in db.session.execute(
                sa.select(dealer_territories.c.dealer_id, Region.code, Region.name)
                .join(Region, Region.code == dealer_territories.c.region_code)
                .where(dealer_territories.c.dealer_id.in_(dealers)).order_by(Region.code)):
            found[("dealer", dealer_id)].regions.append({"code": code, "name": name})
        for store_id, name, code, region_name in db.session.execute(
                sa.select(Store.id, Store.name, Store.region_code, Region.name)
                .outerjoin(Region, Region.code == Store.region_code).where(Store.id.in_(stores))):
            found[("store", store_id)].name = name
            found[("store", store_id)].regions = [{"code": code, "name": region_name}]


def reach(recall: Recall) -> Reach:
    """Where a recall's items are now and every dealer and store they passed through."""
    lots = [LotShare(lot_id, lot_no, product_id, units) for lot_id, lot_no, product_id, units in db.session.execute(
        sa.select(RecallLot.lot_id, ProductionLot.lot_no, ProductionLot.product_id, RecallLot.units)
        .join(ProductionLot, ProductionLot.id == RecallLot.lot_id)
        .where(RecallLot.recall_id == recall.id).order_by(RecallLot.lot_id))]
    by_place, scanned, parties = _spread(_items(recall.id))
    raw = db.session.get(RawMaterialLot, recall.raw_material_lot_id) if recall.raw_material_lot_id else None
    return Reach(recall=recall, raw_material_lot=raw, lots=lots, items=sum(by_place.values()), by_place=by_place,
                 scanned_by_consumers=scanned, parties=parties)


def _spread(items: tuple) -> tuple[dict[str, int], int, list[Party]]:
    """Where the items are now, how many a consumer scanned, and every dealer and store they passed through."""
    by_place = _by_place(items)
    scanned = db.session.scalar(sa.select(sa.func.count()).select_from(Unit)
                                .join(UnitScanStats, UnitScanStats.serial == Unit.serial).where(*items))
    parties = sorted(_parties(items).values(), key=lambda p: (p.kind, -p.passed_through, p.id))
    return by_place, scanned or 0, parties


@dataclass(kw_only=True)
class Preview(Spread):
    """What a recall of these lots would reach if it were made now: the same counts as its ``Reach``, read
    without marking anything, so a person sees the dealers and stores involved before confirming."""

    lot_id: int | None
    raw_material_lot_id: int | None
    units: int  # units the recall would mark (items, cases, pallets)


def preview(*, lots: list[ProductionLot], lot_id: int | None = None, raw_material_lot_id: int | None = None) -> Preview:
    """The reach a recall of ``lots`` would have now (read only: nothing is marked, nobody is told)."""
    lot_ids = [lot.id for lot in lots]
    marked = dict(db.session.execute(
        sa.select(Unit.lot_id, sa.func.count()).where(Unit.lot_id.in_(lot_ids), Unit.status == UnitStatus.ACTIVE,
                                                      Unit.recall_id.is_(None)).group_by(Unit.lot_id)).all())
    shares = [LotShare(lot.id, lot.lot_no, lot.product_id, marked.get(lot.id, 0))
              for lot in sorted(lots, key=lambda lot: lot.id)]
    by_place, scanned, parties = _spread(_would_recall(lot_ids))
    return Preview(lot_id=lot_id, raw_material_lot_id=raw_material_lot_id, units=sum(marked.values()), lots=shares,
                   items=sum(by_place.values()), by_place=by_place, scanned_by_consumers=scanned, parties=parties)
