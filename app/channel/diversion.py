"""Anti-diversion (窜货): a unit seen outside the territory of the dealer it was last shipped to.

Decisions (see docs/api.md, "Anti-diversion and rebates"):

- Alerts are raised per ITEM. A scanned case or pallet is checked through the items inside it, so a
  receipt of a pallet at a store and a later sale scan of one of its items at that store are one
  alert for that item (one alert per serial and place, the unique constraint decides).
- A place is inside a territory when the territory holds the place's region or one of its
  ancestors (a district inside a territory city), or one of its descendants (a store known only by
  its city, in a territory made of that city's districts): an alert needs the place to be outside
  for certain.
- A dealer with no territory is not restricted; a unit with no last dealer is never an alert; a
  place whose region is unknown (a consumer position that maps to no district) is never an alert.
- Dealer receipts: the receiver is normally the last dealer itself (shipping to a dealer makes it the
  last dealer), which is never an alert. Otherwise every region of the receiving dealer's territory
  must lie inside the last dealer's territory; the first one outside is the alert's region.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.channel.errors import AlertAlreadyClosed, AlertNotFound, ResolutionInvalid
from app.channel.models import (
    AlertStatus,
    DiversionAlert,
    SalesOrder,
    SeenKind,
    Shipment,
    ShipmentUnit,
)
from app.codes.models import Level
from app.codes.service import keyring
from app.db import insert_ignore, utcnow
from app.extensions import db
from app.identity.scope import NATIONAL, DataScope, scope_of
from app.identity.service import Actor, audit
from app.masterdata import refs, region_cache
from app.masterdata.models import (
    Dealer,
    Product,
    Store,
    dealer_territories,
)
from app.masterdata.rules import region_prefix
from app.platform.filters import Filters
from app.production.models import ProductionLot
from app.reports import facts, rollups
from app.units import unit_rows
from app.units.models import Event, EventKind, Unit
from app.webhooks.service import emit

PLACE_KINDS = ("store", "dealer", "region")
# Ancestors followed for a unit's shipment path (item → case → pallet, with room to spare).
_PATH_DEPTH = 4


class _Regions:
    """Region names and ancestor chains, from the process's region table (app.masterdata.region_cache)."""

    def __init__(self):
        self._table = region_cache.table()

    def _row(self, code: str) -> tuple[str, str | None]:
        row = self._table.get(code)
        return (row.name, row.parent_code) if row is not None else ("", None)  # unknown: a chain of itself

    def chain(self, code: str) -> list[str]:
        """The code and its ancestors, nearest first."""
        chain, seen = [], set()
        while code and code not in seen:
            chain.append(code)
            seen.add(code)
            code = self._row(code)[1]
        return chain

    def name(self, code: str | None) -> str | None:
        if not code:
            return None
        names = [self._row(c)[0] for c in reversed(self.chain(code)) if self._row(c)[0]]
        return "".join(dict.fromkeys(names)) or None  # 浙江省杭州市西湖区 (市辖区 rows included once)

    def inside(self, code: str, territory: set[str]) -> bool:
        """Whether a place in region `code` lies inside a territory (ancestors or descendants count)."""
        if not territory:
            return True
        if territory.intersection(self.chain(code)):
            return True
        return any(code in self.chain(t) for t in territory)


class _Territories:
    def __init__(self, known: dict[int, set[str]] | None = None):
        # dealer id -> its territory's region codes (`known`: already read by the caller in this transaction)
        self._codes: dict[int, set[str]] = {d: set(codes) for d, codes in (known or {}).items()}

    def of(self, dealer_ids) -> None:
        todo = sorted({d for d in dealer_ids if d is not None and d not in self._codes})
        if not todo:
            return
        for dealer_id in todo:
            self._codes[dealer_id] = set()
        for dealer_id, code in db.session.execute(
                sa.select(dealer_territories.c.dealer_id, dealer_territories.c.region_code)
                .where(dealer_territories.c.dealer_id.in_(todo))):
            self._codes[dealer_id].add(code)

    def __getitem__(self, dealer_id: int) -> set[str]:
        self.of([dealer_id])
        return self._codes[dealer_id]


def _items_of(units: list[unit_rows.UnitState]) -> list[unit_rows.UnitState]:
    items = {u.serial: u for u in units if u.level is Level.ITEM}
    containers = [u.serial for u in units if u.level is not Level.ITEM]
    if containers:
        for serial, unit in unit_rows.subtree(containers, lock=False).items():
            if unit.level is Level.ITEM:
                items.setdefault(serial, unit)
    return [items[s] for s in sorted(items)]


def _last_dealers(items: list[unit_rows.UnitState], known: dict[int, int | None] | None = None) -> dict[int, int]:
    """serial -> the dealer each item was last shipped to (items without one are left out).

    `known`: serial -> last dealer (or None) already read by the caller in this transaction.
    """
    if "last_dealer_id" in unit_rows.UnitState.__struct_fields__:
        return {u.serial: u.last_dealer_id for u in items if u.last_dealer_id is not None}
    known = known or {}
    serials = {u.serial for u in items}
    found = {serial: dealer_id for serial, dealer_id in known.items() if dealer_id is not None and serial in serials}
    todo = [u.serial for u in items if u.serial not in known]
    for chunk in unit_rows.key_chunks(todo):
        for serial, dealer_id in db.session.execute(
                sa.select(Unit.serial, Unit.last_dealer_id)
                .where(unit_rows.one_of(Unit.serial, chunk), Unit.last_dealer_id.is_not(None))):
            found[serial] = dealer_id
    return found


def _outside_region(regions: _Regions, territories: _Territories, *, dealer_id: int, place_kind: str,
                    place_id: int | None, region_code: str | None) -> str | None:
    """The region where the place lies outside the dealer's territory, or None when it is inside."""
    territory = territories[dealer_id]
    if not territory:
        return None
    if place_kind == "dealer":
        if place_id == dealer_id:
            return None
        for code in sorted(territories[place_id]):
            if not regions.inside(code, territory):
                return code
        return None
    if not region_code or regions.inside(region_code, territory):
        return None
    return region_code


def outside_territory(region_code: str | None, territory: set[str] | frozenset[str]) -> bool:
    """Whether a region lies outside a dealer's territory (no region, or no territory: it does not)."""
    return bool(region_code) and bool(territory) and not _Regions().inside(region_code, territory)


def _place_name(place_kind: str, place_id: int | None, region_code: str | None, regions: _Regions) -> str | None:
    if place_kind == "store" and place_id is not None:
        return db.session.scalar(sa.select(Store.name).where(Store.id == place_id))
    if place_kind == "dealer" and place_id is not None:
        return db.session.scalar(sa.select(Dealer.name).where(Dealer.id == place_id))
    return regions.name(region_code)


def _ancestors(items: list[unit_rows.UnitState]) -> dict[int, list[int]]:
    """serial -> its current parents, nearest first (up to _PATH_DEPTH)."""
    parent_of = {u.serial: u.parent_serial for u in items}
    todo = {p for p in parent_of.values() if p is not None}
    for _ in range(_PATH_DEPTH):
        todo -= parent_of.keys()
        if not todo:
            break
        found = dict(db.session.execute(sa.select(Unit.serial, Unit.parent_serial)
                                        .where(Unit.serial.in_(sorted(todo)))).all())
        for serial in todo:
            parent_of[serial] = found.get(serial)
        todo = {p for p in found.values() if p is not None}
    chains = {}
    for unit in items:
        chain, parent = [], unit.parent_serial
        while parent is not None and len(chain) < _PATH_DEPTH and parent not in chain:
            chain.append(parent)
            parent = parent_of.get(parent)
        chains[unit.serial] = chain
    return chains


def _moves(serials: set[int]) -> dict[int, list[Event]]:
    """SHIP and RECEIVE events by serial."""
    moves: dict[int, list[Event]] = {}
    for chunk in unit_rows.key_chunks(sorted(serials)):
        for event in db.session.scalars(sa.select(Event).where(
                unit_rows.one_of(Event.serial, chunk), Event.kind.in_((EventKind.SHIP, EventKind.RECEIVE)))):
            moves.setdefault(event.serial, []).append(event)
    return moves


def _shipments(serials: list[int]) -> dict[int, list[tuple[Shipment, ShipmentUnit]]]:
    """The shipments each item travelled in, oldest first."""
    found: dict[int, list[tuple[Shipment, ShipmentUnit]]] = {}
    for chunk in unit_rows.key_chunks(serials):
        rows = db.session.execute(
            sa.select(Shipment, ShipmentUnit).join(ShipmentUnit, ShipmentUnit.shipment_id == Shipment.id)
            .where(unit_rows.one_of(ShipmentUnit.serial, chunk)).order_by(Shipment.id)).all()
        for shipment, unit in rows:
            found.setdefault(unit.serial, []).append((shipment, unit))
    return found


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def check(*, units: list[unit_rows.UnitState], seen_kind: SeenKind, place_kind: str, place_id: int | None,
          region_code: str | None, seen_by: str, seen_at: datetime, shipment_id: int | None = None,
          order_id: int | None = None, last_dealers: dict[int, int | None] | None = None,
          territories: dict[int, set[str]] | None = None) -> int:
    """Raise a diversion alert for each item seen outside its last dealer's territory; the count raised.

    `units` may hold items, cases and pallets (those are checked through their items). One alert per
    item and place: seeing it there again raises nothing (duplicates are ignored by the database, so
    two requests racing agree). Call it in the transaction of the receipt or scan that saw the units.
    A caller that already read them in this transaction may pass `last_dealers` (serial -> last
    dealer id or None, for items among `units`) and `territories` (dealer id -> region codes); they
    are not read again.
    """
    if place_kind not in PLACE_KINDS:
        raise ValueError(f"unknown place kind {place_kind!r}")
    seen_kind = SeenKind(seen_kind)
    items = _items_of(units)
    dealers = _last_dealers(items, last_dealers)
    if not dealers:
        return 0
    regions, territories = _Regions(), _Territories(territories)
    territories.of(list(dealers.values()) + ([place_id] if place_kind == "dealer" else []))
    outside: dict[int, str] = {}
    verdicts: dict[int, str | None] = {}
    for serial, dealer_id in dealers.items():
        if dealer_id not in verdicts:
            verdicts[dealer_id] = _outside_region(regions, territories, dealer_id=dealer_id, place_kind=place_kind,
                                                  place_id=place_id, region_code=region_code)
        if verdicts[dealer_id] is not None:
            outside[serial] = verdicts[dealer_id]
    if not outside:
        return 0
    if place_kind == "region":
        place_key = f"region:{region_code}"
    else:
        place_key = f"{place_kind}:{place_id}"
    flagged = [u for u in items if u.serial in outside]
    rows = _alert_rows(flagged, dealers, outside, regions, territories, seen_kind=seen_kind, place_kind=place_kind,
                       place_id=place_id, place_key=place_key, seen_by=seen_by, seen_at=seen_at,
                       shipment_id=shipment_id, order_id=order_id)
    return _insert_ignoring_duplicates(rows)


def _alert_rows(items, dealers, outside, regions: _Regions, territories: _Territories, *, seen_kind, place_kind,
                place_id, place_key, seen_by, seen_at, shipment_id, order_id) -> list[dict]:
    ring = keyring()
    ancestors = _ancestors(items)
    moves = _moves({s for u in items for s in [u.serial, *ancestors[u.serial]]})
    travels = _shipments([u.serial for u in items])
    dealer_rows = {d.id: d for d in db.session.scalars(sa.select(Dealer).where(Dealer.id.in_(set(dealers.values()))))}
    products = {p.id: p for p in db.session.scalars(
        sa.select(Product).where(Product.id.in_({u.product_id for u in items if u.product_id})))}
    lots = {lot.id: lot for lot in db.session.scalars(
        sa.select(ProductionLot).where(ProductionLot.id.in_({u.lot_id for u in items if u.lot_id})))}
    order_ids = {o for o in [order_id, *(s.order_id for pairs in travels.values() for s, _ in pairs)] if o}
    orders = dict(db.session.execute(sa.select(SalesOrder.id, SalesOrder.order_no)
                                     .where(SalesOrder.id.in_(order_ids))).all()) if order_ids else {}
    place_name = _place_name(place_kind, place_id, None if place_kind == "dealer" else next(iter(outside.values())),
                             regions)
    rows = []
    for unit in items:
        dealer = dealer_rows.get(dealers[unit.serial])
        if dealer is None:
            continue
        region = outside[unit.serial]
        path = []
        for serial in [unit.serial, *ancestors[unit.serial]]:
            for event in moves.get(serial, []):
                path.append({"kind": event.kind.value, "code": ring.encode(serial, unit.key_version)
                             if serial == unit.serial else None, "serial": serial,
                             "at": _iso(event.occurred_at),
                             "location": {"kind": event.location_kind.value if event.location_kind else None,
                                          "id": event.location_id},
                             "data": event.data or {}})
        path.sort(key=lambda entry: entry["at"] or "")
        shipments = [{"id": s.id, "order_id": s.order_id, "order_no": orders.get(s.order_id),
                      "shipper": {"kind": s.shipper_kind.value, "id": s.shipper_id},
                      "receiver": {"kind": s.receiver_kind.value, "id": s.receiver_id},
                      "status": s.status.value, "shipped_at": _iso(s.shipped_at), "received_at": _iso(s.received_at),
                      "received": su.received}
                     for s, su in travels.get(unit.serial, [])]
        # Without the caller's shipment, the evidence points at the one that brought it to its dealer.
        unit_shipment, unit_order = shipment_id, order_id
        if unit_shipment is None:
            to_dealer = [s for s, _ in travels.get(unit.serial, [])
                         if s.receiver_kind.value == "dealer" and s.receiver_id == dealer.id]
            if to_dealer:
                unit_shipment, unit_order = to_dealer[-1].id, order_id or to_dealer[-1].order_id
        code = ring.encode(unit.serial, unit.key_version)
        product = products.get(unit.product_id)
        lot = lots.get(unit.lot_id)
        evidence = {
            "unit": {"code": code, "serial": unit.serial,
                     "product": {"id": product.id, "sku": product.sku, "name": product.name} if product else None,
                     "lot": {"id": lot.id, "lot_no": lot.lot_no} if lot else None},
            "dealer": {"id": dealer.id, "name": dealer.name, "tier": dealer.tier,
                       "territory": [{"code": c, "name": regions.name(c)}
                                     for c in sorted(territories[dealer.id])]},
            "order": {"id": unit_order, "order_no": orders.get(unit_order)} if unit_order else None,
            "shipment_id": unit_shipment,
            "seen": {"kind": seen_kind.value, "place_kind": place_kind, "place_id": place_id,
                     "place_name": place_name, "region_code": region, "region_name": regions.name(region),
                     "by": seen_by, "at": _iso(seen_at)},
            "path": path,
            "shipments": shipments,
        }
        rows.append({"serial": unit.serial, "code": code, "product_id": unit.product_id, "lot_id": unit.lot_id,
                     "dealer_id": dealer.id, "order_id": unit_order, "shipment_id": unit_shipment,
                     "seen_kind": seen_kind, "place_key": place_key, "region_code": region, "seen_by": seen_by,
                     "seen_at": seen_at, "evidence": evidence, "status": AlertStatus.OPEN, "resolution": ""})
    return rows


def _insert_ignoring_duplicates(rows: list[dict]) -> int:
    """Insert alert rows, skipping (serial, place) pairs already alerted; the count inserted."""
    if not rows:
        return 0
    now = utcnow()
    for row in rows:
        row["created_at"] = now
    statement = insert_ignore(DiversionAlert.__table__)
    raised = 0
    for i in range(0, len(rows), 500):
        result = db.session.execute(statement, rows[i:i + 500])
        raised += max(result.rowcount, 0)
    if raised:  # the alerts this call raised (a twin's, skipped, were made at another instant)
        serials = sorted({row["serial"] for row in rows})
        made = []
        for start in range(0, len(serials), 500):
            for alert in db.session.scalars(sa.select(DiversionAlert).where(
                    DiversionAlert.created_at == now, DiversionAlert.serial.in_(serials[start:start + 500]))):
                rollups.add_all(facts.diversion_alert(alert))
                made.append(alert)
        _emit_raised(made)
    return raised


ALERTS_PER_EVENT = 500


def _emit_raised(alerts: list[DiversionAlert]) -> None:
    """``diversion_alert.raised``: one event per dealer and place seen (a pallet seen out of territory is one
    event, not one per item), listing its alerts, ALERTS_PER_EVENT at most (more make more events)."""
    alerts.sort(key=lambda a: (a.dealer_id, a.place_key, a.id))
    products = refs.products(a.product_id for a in alerts)
    dealers = refs.parties(("dealer", a.dealer_id) for a in alerts)
    groups: dict[tuple, list[DiversionAlert]] = {}
    for alert in alerts:
        groups.setdefault((alert.dealer_id, alert.place_key), []).append(alert)
    for (dealer_id, _), group in groups.items():
        seen = group[0].evidence["seen"]
        place = (refs.party(seen["place_kind"], seen["place_id"]) if seen["place_kind"] != "region" else
                 {"kind": "region", "id": None, "name": seen["place_name"], "external_id": None})
        for start in range(0, len(group), ALERTS_PER_EVENT):
            emit("diversion_alert.raised", {
                "dealer": dealers["dealer", dealer_id],
                "seen": {"kind": seen["kind"], "place": place, "region_code": seen["region_code"],
                         "region_name": seen["region_name"], "by": seen["by"], "at": seen["at"]},
                "alerts": [{"alert_id": a.id, "code": a.code, "product": products.get(a.product_id),
                            "lot": a.evidence["unit"]["lot"], "order": a.evidence["order"],
                            "shipment_id": a.shipment_id}
                           for a in group[start:start + ALERTS_PER_EVENT]],
                "count": len(group[start:start + ALERTS_PER_EVENT])})


# --- alerts for the back office -----------------------------------------------------------------

_ALERT_FILTERS = Filters(
    status=lambda value: DiversionAlert.status == AlertStatus(value),
    dealer_id=lambda value: DiversionAlert.dealer_id == value,
    product_id=lambda value: DiversionAlert.product_id == value,
    region_code=lambda value: DiversionAlert.region_code.like(region_prefix(value) + "%"),
    seen_kind=lambda value: DiversionAlert.seen_kind == SeenKind(value),
    seen_from=lambda value: DiversionAlert.seen_at >= value,
    seen_to=lambda value: DiversionAlert.seen_at < value,
)


def list_alerts(*, status=None, dealer_id=None, product_id=None, region_code=None, seen_kind=None,
                seen_from: datetime | None = None, seen_to: datetime | None = None, scope: DataScope = NATIONAL):
    """A select of alerts, newest first; region_code matches the region or any region inside it.

    The data scope goes by where the unit was seen (the alert's region), not by the dealer's territory.
    """
    query = sa.select(DiversionAlert).where(scope.filter(DiversionAlert.region_code)).order_by(DiversionAlert.id.desc())
    return _ALERT_FILTERS.apply(query, status=status, dealer_id=dealer_id, product_id=product_id,
                                region_code=region_code, seen_kind=seen_kind, seen_from=seen_from, seen_to=seen_to)


def get_alert(alert_id: int, *, scope: DataScope = NATIONAL) -> DiversionAlert:
    alert = db.session.get(DiversionAlert, alert_id)
    if alert is None or not scope.allows(alert.region_code):
        raise AlertNotFound()
    return alert


def resolve_alert(*, actor: Actor, alert_id: int, status: str, resolution: str) -> DiversionAlert:
    """Close an open alert as resolved (a finding) or dismissed (not a diversion); audited."""
    try:
        status = AlertStatus(status)
    except ValueError:
        raise ResolutionInvalid(errors={"status": ["resolved or dismissed"]}) from None
    if status is AlertStatus.OPEN:
        raise ResolutionInvalid(errors={"status": ["resolved or dismissed"]})
    resolution = (resolution or "").strip()
    if not resolution:
        raise ResolutionInvalid(errors={"resolution": ["Say what was found."]})
    alert = db.session.scalar(sa.select(DiversionAlert).where(DiversionAlert.id == alert_id).with_for_update())
    if alert is None:
        raise AlertNotFound()
    scope_of(actor).require(alert.region_code)
    if alert.status is not AlertStatus.OPEN:
        raise AlertAlreadyClosed()
    now = utcnow()
    alert.status, alert.resolution, alert.resolved_by, alert.resolved_at = status, resolution[:500], actor.name, now
    rollups.add_all(facts.diversion_alert(alert, closed=True))
    audit(actor, f"diversion_alert.{status.value}", alert,
          {"status": [AlertStatus.OPEN, status], "resolution": ["", alert.resolution]})
    emit("diversion_alert.resolved", {
        "alert_id": alert.id, "code": alert.code, "status": status.value, "resolution": alert.resolution,
        "dealer": refs.party("dealer", alert.dealer_id), "product": refs.product(alert.product_id),
        "seen_kind": alert.seen_kind.value, "region_code": alert.region_code, "resolved_by": alert.resolved_by,
        "resolved_at": now.isoformat()})
    return alert
