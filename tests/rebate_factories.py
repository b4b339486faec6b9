"""Rebates for tests: a dealer's store with rebate rules, shipments received by stores, and sales, in March 2026."""
from __future__ import annotations

import itertools
from datetime import date, datetime, timezone

import pytest

from app.accounts.models import AppName, AppUser, Person
from app.channel.models import PartyKind, Receipt, ReceiptMode, Shipment, ShipmentScan, ShipmentStatus, ShipmentUnit
from app.codes.models import Level
from app.db import transaction
from app.extensions import db
from app.rebates import service
from app.retail.models import SaleScan
from tests.masterdata_factories import ACTOR, DONGCHENG, make_dealer, make_product, make_store

MARCH = (date(2026, 3, 1), date(2026, 3, 31))
_serials = itertools.count(10_000)


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    """Noon (UTC) of a day of March 2026 unless told."""
    return datetime(2026, month, day, hour, 0, tzinfo=timezone.utc)


def shipment_to_store(dealer_id: int, store_id: int, product_id: int, *, received: int, missing: int = 0,
                      confirmed_at: datetime | None = at(10), shipper_kind=PartyKind.DEALER) -> list[int]:
    """A shipment of `received + missing` items from a dealer to a store, confirmed with `missing` not found."""
    serials = [next(_serials) for _ in range(received + missing)]
    with transaction():
        shipment = Shipment(shipper_kind=shipper_kind, shipper_id=dealer_id, receiver_kind=PartyKind.STORE,
                            receiver_id=store_id, created_by="tests", items=len(serials),
                            status=ShipmentStatus.RECEIVED if confirmed_at else ShipmentStatus.SHIPPED,
                            shipped_at=at(1), received_at=confirmed_at)
        db.session.add(shipment)
        db.session.flush()
        scan = ShipmentScan(shipment_id=shipment.id, code="X", serial=serials[0], level=Level.ITEM,
                            items=len(serials), scanned_by="tests")
        db.session.add(scan)
        db.session.flush()
        for i, serial in enumerate(serials):
            db.session.add(ShipmentUnit(shipment_id=shipment.id, scan_id=scan.id, serial=serial,
                                        product_id=product_id,
                                        received=(i < received) if confirmed_at else None))
        if confirmed_at:
            db.session.add(Receipt(shipment_id=shipment.id, receiver_kind=PartyKind.STORE, receiver_id=store_id,
                                   mode=ReceiptMode.SCANNED, expected=len(serials), received=received,
                                   missing=missing, confirmed_by="clerk", confirmed_at=confirmed_at))
    return serials


def sold(serials: list[int], store_id: int, product_id: int, *, scanned_at: datetime = at(20)) -> None:
    """The items sale-scanned at the store by a new clerk."""
    with transaction():
        person = Person()
        db.session.add(person)
        db.session.flush()
        clerk = AppUser(app=AppName.CLERK, openid=f"o-{next(_serials)}", person_id=person.id)
        db.session.add(clerk)
        db.session.flush()
        clerk_id = clerk.id
        for serial in serials:
            db.session.add(SaleScan(serial=serial, code=str(serial), store_id=store_id, app_user_id=clerk_id,
                                    product_id=product_id, region_code=DONGCHENG, scanned_at=scanned_at))


def make_rule(**data):
    """A rebate rule valid in March."""
    with transaction():
        return service.create_rule(actor=ACTOR, data={"name": "Rule", "starts_on": MARCH[0], "ends_on": MARCH[1],
                                                      **data})


@pytest.fixture
def rebate_world():
    """A dealer, a store, a product in cases of 6; rules: 500 fen a case received by a store, 20 a unit sold."""
    product = make_product(units_per_case=6)
    dealer = make_dealer()
    store = make_store()
    make_rule(basis="case_to_store", product_id=product.id, amount_fen=500)
    make_rule(basis="unit_sold", amount_fen=20)  # any product
    return {"product": product, "dealer": dealer, "store": store}
