"""ERP orders for tests: the channel an order names, an order's body, and a shipment against an order line."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from app.channel import order_lines, orders
from app.channel.models import OrderLine, PartyKind, Shipment, ShipmentScan, ShipmentStatus
from app.codes.models import Level
from app.db import transaction
from app.extensions import db
from app.masterdata import places
from tests.masterdata_factories import ACTOR, make_dealer, make_product, make_store
from tests.production_factories import make_production_lot


@dataclass
class Channel:
    """The ids (and SKUs, lot number) an order can name."""
    warehouse: int
    province: int  # tier 1
    city: int  # tier 2, under province
    other_city: int  # tier 2, under another tier-1 dealer
    store: int  # served by city
    lonely_store: int  # served by nobody
    sku: str
    sku2: str
    lot_no: str



@pytest.fixture
def channel(app) -> Channel:
    """A brand warehouse, a two-tier dealer chain with its stores, and two products (see Channel)."""
    with transaction():
        warehouse = places.create_warehouse(actor=ACTOR, data={"name": "Brand DC", "external_id": "WH-1"})
    province = make_dealer(external_id="D-PROV")
    city = make_dealer(parent_id=province.id, external_id="D-CITY")
    other_city = make_dealer(parent_id=make_dealer().id)
    store = make_store(dealer_ids=[city.id], external_id="S-1")
    lonely = make_store()
    product, product2 = make_product(), make_product(external_id="P-2")
    lot = make_production_lot(product_id=product.id)
    return Channel(warehouse.id, province.id, city.id, other_city.id, store.id, lonely.id, product.sku,
                   product2.sku, lot.lot_no)


def order_data(ch: Channel, *, version=1, seller=None, buyer=None, lines=None, note="", order_no="SO-1"):
    """An ERP order body: the warehouse sells two lines (100 and 50) to the province dealer unless told."""
    return {"order_no": order_no, "version": version,
            "seller": seller or {"kind": "warehouse", "id": ch.warehouse},
            "buyer": buyer or {"kind": "dealer", "id": ch.province},
            "lines": lines if lines is not None else [{"line_no": 1, "sku": ch.sku, "quantity": 100},
                                                       {"line_no": 2, "sku": ch.sku2, "quantity": 50}],
            "note": note, "ordered_at": datetime(2026, 3, 5, 8, 0, tzinfo=timezone.utc)}


def ship(order_id: int, line_no: int, n: int, *, ready=None):
    """What the shipment service does: a shipment and its scan against the line, the line's shipped count
    grown atomically (locking the line), then the order locked and its status refreshed."""
    with transaction():
        if ready is not None:
            ready()
        line = db.session.scalar(sa.select(OrderLine).where(OrderLine.order_id == order_id,
                                                            OrderLine.line_no == line_no))
        order_lines.lock_lines_of(order_id)
        shipment = Shipment(order_id=order_id, shipper_kind=PartyKind.WAREHOUSE, shipper_id=1,
                            receiver_kind=PartyKind.DEALER, receiver_id=1, status=ShipmentStatus.SHIPPED,
                            items=n, created_by="tests")
        db.session.add(shipment)
        db.session.flush()
        db.session.add(ShipmentScan(shipment_id=shipment.id, code="X" * 18, serial=1, level=Level.ITEM, items=n,
                                    order_line_id=line.id, scanned_by="tests"))
        assert db.session.execute(sa.text(
            "UPDATE sales_order_lines SET shipped = shipped + :n WHERE id = :id AND shipped + :n <= quantity"),
            {"n": n, "id": line.id}).rowcount == 1
        orders.refresh_status(orders.lock_order(order_id))
