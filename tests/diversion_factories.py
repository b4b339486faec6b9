"""Anti-diversion for tests: goods shipped to a dealer with a territory, and the diversion check at a place."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.channel import diversion
from app.channel.models import PartyKind, SalesOrder, SeenKind, Shipment, ShipmentScan, ShipmentStatus, ShipmentUnit
from app.codes.models import Level
from app.db import transaction
from app.extensions import db
from app.units import unit_rows
from app.units.models import EventKind, LocationKind, Unit
from tests.masterdata_factories import HANGZHOU, make_dealer
from tests.production_factories import make_production_lot
from tests.unit_factories import SOURCE, commission, pack, serial, set_units

SEEN = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)


def ship_to_dealer(codes: list[str], dealer_id: int, *, order_no: str | None = None) -> Shipment:
    """What a warehouse outbound to a dealer leaves behind: a shipment, SHIP events, the last dealer."""
    roots = [serial(c) for c in codes]
    with transaction():
        units = unit_rows.load_units(roots)
        units.update(unit_rows.subtree(roots))
        order = None
        if order_no:
            order = SalesOrder(order_no=order_no, seller_kind=PartyKind.WAREHOUSE, seller_id=1,
                               buyer_kind=PartyKind.DEALER, buyer_id=dealer_id)
            db.session.add(order)
            db.session.flush()
        shipment = Shipment(order_id=order.id if order else None, shipper_kind=PartyKind.WAREHOUSE, shipper_id=1,
                            receiver_kind=PartyKind.DEALER, receiver_id=dealer_id, status=ShipmentStatus.SHIPPED,
                            created_by="tests", shipped_at=SEEN, items=0)
        db.session.add(shipment)
        db.session.flush()
        scan = ShipmentScan(shipment_id=shipment.id, code=codes[0], serial=roots[0], level=Level.ITEM, items=0,
                            scanned_by="tests")
        db.session.add(scan)
        db.session.flush()
        for unit in units.values():
            if unit.level is Level.ITEM:
                db.session.add(ShipmentUnit(shipment_id=shipment.id, scan_id=scan.id, serial=unit.serial,
                                            product_id=unit.product_id, lot_id=unit.lot_id))
        set_units(Unit.serial.in_(list(units)), last_dealer_id=dealer_id, location_kind=LocationKind.DEALER,
                                   location_id=dealer_id, in_transit=True)
        unit_rows.write_events([unit_rows.event_row(
            kind=EventKind.SHIP, serial=s, occurred_at=SEEN, recorded_at=SEEN, location_kind=LocationKind.DEALER,
            location_id=dealer_id, source=SOURCE, data={"shipment_id": shipment.id}) for s in roots])
    return shipment


@pytest.fixture
def dealer_goods():
    """A Hangzhou dealer holding a case of 3 items, a loose item, and an item never shipped to a dealer."""
    lot = make_production_lot()
    items = commission(lot, 6)
    case = pack(items[:3])
    dealer = make_dealer(territory=[HANGZHOU])
    shipment = ship_to_dealer([case, items[3]], dealer.id, order_no="SO-1")
    return {"lot": lot, "items": items, "case": case, "dealer": dealer, "shipment": shipment}


def units_of(codes: list[str]) -> list[unit_rows.UnitState]:
    """The units of the codes, as the diversion check reads them."""
    return list(unit_rows.load_units([serial(c) for c in codes], lock=False).values())


def check(codes, *, place_kind="store", place_id=None, region_code=None, seen_kind=SeenKind.RECEIPT, **kw):
    """Run the diversion check on the units seen at the place (a store receipt unless told); how many alerts it raised."""
    with transaction():
        return diversion.check(units=units_of(codes), seen_kind=seen_kind, place_kind=place_kind, place_id=place_id,
                               region_code=region_code, seen_by="clerk:1", seen_at=SEEN, **kw)
