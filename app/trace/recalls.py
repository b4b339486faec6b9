"""A recall's work and its reach: mark the units of the lots it covers, then say who holds them.

A recall covers one production lot, or every production lot that consumed a raw-material lot.
Marking writes ``units.recall_id`` and one ``recall`` event per unit. The reach is read back in
set-based SQL over the marked units, whatever their number (a lot of 100,000 units is a handful
of GROUP BY queries, never a Python loop over its units):

- ``by_place``: the recalled ITEMS by where they are now (line, warehouse, dealer, store, in
  transit, sold, and scrapped/voided since); ``scanned_by_consumers`` counts those a consumer has
  scanned (across places: a unit sold or still on a shelf may have been scanned).
- ``parties``: every dealer and store the items passed through — receivers and shippers of the
  shipments they were in (shipped or received; an open or cancelled shipment moved nothing),
  where they are now (held or on their way), and, for a store, sold there — each with its name,
  region(s) and counts: passed through, held now, in transit to it, sold there.

The same transaction posts a notice to each of those dealers and stores and emits one
``recall.created`` event with the counts (not one event per unit: a large lot would flood the
ERP's feed; the ERP pages the units at ``units_url``).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.channel.models import PartyKind, Shipment, ShipmentStatus, ShipmentUnit
from app.codes.models import Level
from app.db import utcnow
from app.extensions import db
from app.identity.service import Actor
from app.masterdata import refs
from app.masterdata.models import Dealer, Region, Store, dealer_territories
from app.notices import service as notices
from app.notices.models import NoticeKind, Recipient
from app.platform.filters import Filters
from app.production.models import ProductionLot, RawMaterialLot
from app.units import scan_facts, store
from app.units.models import EventKind, LocationKind, Recall, RecallLot, Unit, UnitScanStats, UnitStatus
from app.webhooks.service import emit

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


# --- marking ------------------------------------------------------------------------------------

def recallable(lot_ids: list[int]) -> list[store.UnitState]:
    """The units a recall of these lots would mark (active, not yet recalled), locked."""
    candidates = db.session.scalars(sa.select(Unit.serial).where(
        Unit.lot_id.in_(lot_ids), Unit.status == UnitStatus.ACTIVE, Unit.recall_id.is_(None))).all()
    wanted = set(lot_ids)
    return [u for u in store.load_units(candidates).values()
            if u.lot_id in wanted and u.status is UnitStatus.ACTIVE and u.recall_id is None]


def mark(*, actor: Actor, recall: Recall, lots: list[ProductionLot], units: list[store.UnitState]) -> None:
    """Mark the units recalled, with a ``recall`` event each, and record the lots the recall covers."""
    serials = [u.serial for u in units]
    scan_facts.changed(serials)
    for i in range(0, len(serials), store.CHUNK):
        db.session.execute(sa.update(Unit).where(Unit.serial.in_(serials[i:i + store.CHUNK]))
                           .values(recall_id=recall.id, updated_at=utcnow()))
    now, source = utcnow(), store.source_of(actor)
    store.write_events([store.event_row(
        kind=EventKind.RECALL, serial=u.serial, lot_id=u.lot_id, occurred_at=now, recorded_at=now, source=source,
        location_kind=u.location_kind, location_id=u.location_id,
        data={"recall_id": recall.id, "reason": recall.reason}) for u in units], units={u.serial: u for u in units})
    per_lot: dict[int, int] = defaultdict(int)
    for unit in units:
        per_lot[unit.lot_id] += 1
    db.session.add_all([RecallLot(recall_id=recall.id, lot_id=lot.id, units=per_lot[lot.id]) for lot in lots])
    db.session.flush()


# --- reach --------------------------------------------------------------------------------------

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
    for start in range(0, max(len(dealer_ids), len(store_ids)), store.CHUNK):
        dealers, stores = dealer_ids[start:start + store.CHUNK], store_ids[start:start + store.CHUNK]
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


UNIT_FILTERS = Filters(
    location_kind=lambda value: Unit.location_kind == LocationKind(value),
    location_id=lambda value: Unit.location_id == value,
    status=lambda value: Unit.status == UnitStatus(value),
    in_transit=lambda value: Unit.in_transit == bool(value),
    recalled=lambda value: Unit.recall_id.is_not(None) if value else Unit.recall_id.is_(None),
)


def recalled_units(*, recall_id: int, level=None, location_kind=None, in_transit=None, status=None):
    """A select of a recall's units (items unless ``level`` says otherwise), in serial order, for paging."""
    query = sa.select(Unit).where(Unit.recall_id == recall_id, Unit.level == Level(level or Level.ITEM))
    return UNIT_FILTERS.apply(query, location_kind=location_kind, in_transit=in_transit,
                              status=status).order_by(Unit.serial)


# --- telling the channel and the ERP ------------------------------------------------------------

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
