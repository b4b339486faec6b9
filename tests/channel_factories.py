"""Channel factories: a brand warehouse with goods, dealers, orders, goods in a dealer's stock, signed-in owners.

Each helper commits like a use case. Orders are written straight to the tables (the ERP's order
service is tested on its own), shipments go through the real channel services.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from app.channel import receipts, shipments
from app.channel.models import OrderLine, PartyKind, SalesOrder
from app.db import transaction
from app.extensions import db
from app.masterdata import places, stores
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, make_dealer, make_factory, make_product
from tests.mp_factories import make_invitation
from tests.production_factories import make_line, make_production_lot

_order_numbers = itertools.count(1)
BRAND = "system:tests"


@dataclass
class Brand:
    """A factory with a line and a warehouse, one product (24 a case, 50 cases a pallet) and two lots."""

    warehouse_id: int
    product: object
    lot: object
    other_lot: object
    line_id: int


def make_brand() -> Brand:
    factory = make_factory()
    line = make_line(factory.id)
    with transaction():
        warehouse = places.create_warehouse(actor=ACTOR, data={"name": "Brand DC", "factory_id": factory.id})
    product = make_product(units_per_case=24, cases_per_pallet=50)
    lot = make_production_lot(product_id=product.id, factory_id=factory.id, line_id=line.id)
    other = make_production_lot(product_id=product.id, factory_id=factory.id, line_id=line.id)
    return Brand(warehouse.id, product, lot, other, line.id)


def make_order(*, seller: tuple[str, int], buyer: tuple[str, int], lines: list[tuple], order_no: str | None = None):
    """An order; lines are (product_id, quantity) or (product_id, quantity, lot_id)."""
    with transaction():
        order = SalesOrder(order_no=order_no or f"SO-{next(_order_numbers)}", seller_kind=PartyKind(seller[0]),
                           seller_id=seller[1], buyer_kind=PartyKind(buyer[0]), buyer_id=buyer[1])
        for n, line in enumerate(lines, 1):
            product_id, quantity, lot_id = (*line, None)[:3]
            order.lines.append(OrderLine(line_no=n, product_id=product_id, quantity=quantity, lot_id=lot_id,
                                         shipped=0, received=0))
        db.session.add(order)
    return order


def cases(lot, count: int, *, per_case: int = 24, warehouse_id: int) -> list[str]:
    """`count` cases of `per_case` items of the lot, in the warehouse; the case codes."""
    items = uf.commission(lot, count * per_case)
    result = [uf.pack(items[i:i + per_case], level="case") for i in range(0, len(items), per_case)]
    uf.receive(result, warehouse_id=warehouse_id)
    return result


def pallet(lot, *, cases_: int = 50, per_case: int = 24, warehouse_id: int) -> str:
    """A pallet of cases of items of the lot, in the warehouse; the pallet code."""
    items = uf.commission(lot, cases_ * per_case)
    case_codes = [uf.pack(items[i:i + per_case], level="case") for i in range(0, len(items), per_case)]
    code = uf.pack(case_codes, level="pallet")
    uf.receive([code], warehouse_id=warehouse_id)
    return code


def ship_to(codes: list[str], *, shipper: tuple[str, int], receiver: tuple[str, int], order_id: int | None = None):
    """Open, scan and ship a shipment through the services (the shipper must hold the codes)."""
    with transaction():
        if order_id is None and shipper[0] == "warehouse":
            shipment = _warehouse_shipment(shipper[1], receiver)
        else:
            shipment = shipments.open_shipment(actor_label=BRAND, shipper_kind=shipper[0], shipper_id=shipper[1],
                                               order_id=order_id, receiver_kind=receiver[0],
                                               receiver_id=receiver[1])
        outcome = shipments.scan(actor_label=BRAND, shipper_kind=shipper[0], shipper_id=shipper[1],
                                 shipment_id=shipment.id, codes=codes)
        refused = [r for r in outcome.results if r.status != "accepted"]
        assert not refused, refused
        shipments.ship(actor_label=BRAND, shipper_kind=shipper[0], shipper_id=shipper[1], shipment_id=shipment.id)
    return shipment


def _warehouse_shipment(warehouse_id: int, receiver: tuple[str, int]):
    from app.channel.models import Shipment

    shipment = Shipment(shipper_kind=PartyKind.WAREHOUSE, shipper_id=warehouse_id,
                        receiver_kind=PartyKind(receiver[0]), receiver_id=receiver[1], created_by=BRAND)
    db.session.add(shipment)
    db.session.flush()
    return shipment


def receive(shipment_id: int, *, receiver: tuple[str, int], codes: list[str] | None = None):
    with transaction():
        return receipts.confirm_receipt(actor_label=BRAND, receiver_kind=receiver[0], receiver_id=receiver[1],
                                        shipment_id=shipment_id, codes=codes)


def dealer_stock(brand: Brand, dealer_id: int, *, cases_: int = 2, lot=None) -> list[str]:
    """Cases in a dealer's stock: shipped from the brand warehouse and received by the dealer."""
    codes = cases(lot or brand.lot, cases_, warehouse_id=brand.warehouse_id)
    shipment = ship_to(codes, shipper=("warehouse", brand.warehouse_id), receiver=("dealer", dealer_id))
    receive(shipment.id, receiver=("dealer", dealer_id))
    return codes


def dealer_pallet(brand: Brand, dealer_id: int, *, cases_: int = 50, per_case: int = 24, lot=None) -> str:
    """A pallet in a dealer's stock."""
    code = pallet(lot or brand.lot, cases_=cases_, per_case=per_case, warehouse_id=brand.warehouse_id)
    shipment = ship_to([code], shipper=("warehouse", brand.warehouse_id), receiver=("dealer", dealer_id))
    receive(shipment.id, receiver=("dealer", dealer_id))
    return code


def make_store_of(dealer_id: int, **data):
    with transaction():
        return stores.create_store(actor=ACTOR, data={"name": "Store", "region_code": "110101000000",
                                                      "dealer_ids": [dealer_id], **data})


def dealer_owner(mp, dealer=None, *, role: str = "owner"):
    """(dealer, headers of a signed-in user of the dealer mini-program bound to it)."""
    dealer = dealer or make_dealer()
    code = make_invitation(kind="dealer_member", dealer_id=dealer.id, role=role).code
    return dealer, mp.bound("dealer", code)


def warehouse_outbound(codes: list[str], *, warehouse_id: int, dealer_id: int, order_no: str | None = None) -> list:
    """Warehouse outbound scans of these codes to a dealer (with an ERP order number): the results."""
    from datetime import timedelta

    from app.db import utcnow
    from app.warehouse import service as warehouse

    at = utcnow() - timedelta(minutes=1)
    with transaction():
        return warehouse.apply_scans(actor=ACTOR, records=[
            {"record_id": f"out-{next(_order_numbers)}", "scanned_at": at, "action": "outbound", "code": code,
             "warehouse_id": warehouse_id, "to_dealer_id": dealer_id, "order_no": order_no} for code in codes])


# --- a two-tier chain for the dealer app's tests -----------------------------------------------------

@dataclass
class Chain:
    brand: Brand
    t1: object
    h1: dict
    t2: object
    h2: dict
    store: object


@pytest.fixture
def chain(mp):
    brand = make_brand()
    t1, h1 = dealer_owner(mp)
    t2, h2 = dealer_owner(mp, make_dealer(parent_id=t1.id))
    return Chain(brand, t1, h1, t2, h2, make_store_of(t2.id))


def dealer_unpack(client, headers, mode, codes, **kw):
    """POST /api/dealer/unpacks: ``mode`` whole or partial, the codes scanned."""
    return client.post("/api/dealer/unpacks", json={"mode": mode, "codes": codes}, headers=headers, **kw)
