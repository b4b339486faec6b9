"""Dealer shipments: scanning out against an order (every refusal), undo, cancel, ship; the two-tier chain."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.channel import errors as channel_errors
from app.channel import shipments
from app.channel.models import OrderStatus, SalesOrder, Shipment, ShipmentStatus
from app.db import transaction
from app.extensions import db
from app.units.models import Event, EventKind, LocationKind, Unit
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import make_dealer


def _scan(dealer_id, shipment_id, codes):
    with transaction():
        return shipments.scan(actor_label="app_user:1", shipper_kind="dealer", shipper_id=dealer_id,
                              shipment_id=shipment_id, codes=codes)


def _open(dealer_id, **kw):
    with transaction():
        return shipments.open_shipment(actor_label="app_user:1", shipper_kind="dealer", shipper_id=dealer_id, **kw)


def test_smoke_a_dealer_ships_a_case_against_an_order():
    brand = cf.make_brand()
    dealer = make_dealer()
    sub = make_dealer(parent_id=dealer.id)
    codes = cf.dealer_stock(brand, dealer.id, cases_=2)
    order = cf.make_order(seller=("dealer", dealer.id), buyer=("dealer", sub.id), lines=[(brand.product.id, 48)])
    shipment = _open(dealer.id, order_id=order.id)
    outcome = _scan(dealer.id, shipment.id, codes)
    assert [r.status for r in outcome.results] == ["accepted", "accepted"]
    assert outcome.progress[0].picked == 48
    with transaction():
        shipments.ship(actor_label="app_user:1", shipper_kind="dealer", shipper_id=dealer.id, shipment_id=shipment.id)
    assert db.session.get(SalesOrder, order.id).status is OrderStatus.SHIPPED
    cf.receive(shipment.id, receiver=("dealer", sub.id))
    assert db.session.get(SalesOrder, order.id).status is OrderStatus.CLOSED
    unit = db.session.get(Unit, uf.serial(codes[0]))
    assert (unit.location_kind, unit.location_id, unit.in_transit, unit.last_dealer_id) == (
        LocationKind.DEALER, sub.id, False, sub.id)


# --- refusals -----------------------------------------------------------------------------------

def _world():
    brand = cf.make_brand()
    dealer = make_dealer()
    sub = make_dealer(parent_id=dealer.id)
    return brand, dealer, sub


def _reasons(outcome):
    return [r.reason for r in outcome.results]


def test_every_refusal_has_its_reason():
    from app.codes import service as codes_service
    from app.units.models import Recall, UnitStatus
    from tests.masterdata_factories import make_product
    from tests.production_factories import make_production_lot

    brand, dealer, sub = _world()
    mine = cf.dealer_stock(brand, dealer.id, cases_=6)
    other_lot = cf.dealer_stock(brand, dealer.id, cases_=1, lot=brand.other_lot)
    in_warehouse = cf.cases(brand.lot, 1, warehouse_id=brand.warehouse_id)
    in_transit = cf.cases(brand.lot, 1, warehouse_id=brand.warehouse_id)
    cf.ship_to(in_transit, shipper=("warehouse", brand.warehouse_id), receiver=("dealer", dealer.id))
    never_commissioned = uf.issue(1, product_id=brand.product.id)[0]
    issued = uf.issue(1)
    unknown = codes_service.keyring().encode(issued.batch.serial_start + 10_000, issued.batch.key_version)
    # A case of two products.
    product2 = make_product(units_per_case=24)
    lot2 = make_production_lot(product_id=product2.id, factory_id=brand.lot.factory_id, line_id=brand.line_id)
    mixed = uf.pack(uf.commission(brand.lot, 12) + uf.commission(lot2, 12), level="case")
    uf.receive([mixed], warehouse_id=brand.warehouse_id)
    cf.receive(cf.ship_to([mixed], shipper=("warehouse", brand.warehouse_id), receiver=("dealer", dealer.id)).id,
               receiver=("dealer", dealer.id))
    scrapped, recalled, shipped_case = mine[3], mine[4], mine[5]
    with transaction():
        uf.set_units(Unit.serial == uf.serial(scrapped), status=UnitStatus.SCRAPPED)
        recall = Recall(lot_id=brand.lot.id, reason="test", created_by="tests")
        db.session.add(recall)
        db.session.flush()
        uf.set_units(Unit.parent_serial == uf.serial(recalled), recall_id=recall.id)
    cf.receive(cf.ship_to([shipped_case], shipper=("dealer", dealer.id), receiver=("dealer", sub.id)).id,
               receiver=("dealer", sub.id))
    item = db.session.scalars(sa.select(Unit).where(Unit.parent_serial == uf.serial(mine[2])).limit(1)).one()
    item_code = codes_service.keyring().encode(item.serial, item.key_version)

    order = cf.make_order(seller=("dealer", dealer.id), buyer=("dealer", sub.id),
                          lines=[(brand.product.id, 24, brand.lot.id)])
    shipment = _open(dealer.id, order_id=order.id)
    outcome = _scan(dealer.id, shipment.id, [
        "NOT-A-CODE", unknown, never_commissioned, *in_warehouse, *in_transit, item_code, other_lot[0], mixed,
        scrapped, recalled, shipped_case, mine[0], mine[0], mine[1]])
    assert _reasons(outcome) == [
        "forged", "unknown", "not_commissioned", "not_in_my_stock", "not_in_my_stock", "not_in_my_stock",
        "wrong_lot", "mixed", "scrapped", "recalled", "already_shipped", None, "already_scanned", "line_complete"]

    wrong_sku = cf.make_order(seller=("dealer", dealer.id), buyer=("dealer", sub.id), lines=[(product2.id, 24)])
    elsewhere = _open(dealer.id, order_id=wrong_sku.id)
    assert _reasons(_scan(dealer.id, elsewhere.id, [mine[1]])) == ["wrong_sku"]
    # Held by the first order's open shipment: no other open shipment takes it.
    standalone = _open(dealer.id, receiver_kind="dealer", receiver_id=sub.id)
    assert _reasons(_scan(dealer.id, standalone.id, [mine[0], mixed])) == ["already_scanned", None]


def test_undo_frees_the_code_and_the_line():
    brand, dealer, sub = _world()
    codes = cf.dealer_stock(brand, dealer.id, cases_=2)
    order = cf.make_order(seller=("dealer", dealer.id), buyer=("dealer", sub.id), lines=[(brand.product.id, 24)])
    shipment = _open(dealer.id, order_id=order.id)
    first = _scan(dealer.id, shipment.id, [codes[0]])
    assert _reasons(_scan(dealer.id, shipment.id, [codes[1]])) == ["line_complete"]
    with transaction():
        shipments.undo_scan(actor_label="t", shipper_kind="dealer", shipper_id=dealer.id, shipment_id=shipment.id,
                            scan_id=first.results[0].scan_id)
    outcome = _scan(dealer.id, shipment.id, [codes[1]])
    assert _reasons(outcome) == [None] and outcome.progress[0].picked == 24
    with transaction():
        shipments.ship(actor_label="t", shipper_kind="dealer", shipper_id=dealer.id, shipment_id=shipment.id)
    with pytest.raises(channel_errors.ShipmentNotOpen):
        with transaction():
            shipments.undo_scan(actor_label="t", shipper_kind="dealer", shipper_id=dealer.id,
                                shipment_id=shipment.id, scan_id=outcome.results[0].scan_id)
    # The undone case is still the dealer's; the shipped one is in transit to the sub-dealer with one SHIP event.
    assert db.session.get(Unit, uf.serial(codes[0])).location_id == dealer.id
    moved = db.session.get(Unit, uf.serial(codes[1]))
    assert (moved.location_id, moved.in_transit) == (sub.id, True)
    ships = db.session.scalars(sa.select(Event).where(Event.kind == EventKind.SHIP,
                                                      Event.serial == uf.serial(codes[1]))).all()
    assert len(ships) == 2 and ships[-1].data["shipment_id"] == shipment.id


def test_an_order_is_shipped_only_by_its_seller_and_not_when_cancelled():
    brand, dealer, sub = _world()
    order = cf.make_order(seller=("dealer", sub.id), buyer=("dealer", dealer.id), lines=[(brand.product.id, 24)])
    with pytest.raises(channel_errors.OrderNotFound):
        _open(dealer.id, order_id=order.id)
    with transaction():
        db.session.get(SalesOrder, order.id).status = OrderStatus.CANCELLED
    with pytest.raises(channel_errors.OrderNotShippable):
        _open(sub.id, order_id=order.id)


def test_shipping_never_goes_beyond_a_lines_quantity():
    brand, dealer, sub = _world()
    codes = cf.dealer_stock(brand, dealer.id, cases_=2)
    order = cf.make_order(seller=("dealer", dealer.id), buyer=("dealer", sub.id), lines=[(brand.product.id, 24)])
    first = _open(dealer.id, order_id=order.id)
    _scan(dealer.id, first.id, [codes[0]])
    # A second open shipment of the same order (not reachable through open_shipment) holding another case.
    with transaction():
        second = Shipment(order_id=order.id, shipper_kind="dealer", shipper_id=dealer.id, receiver_kind="dealer",
                          receiver_id=sub.id, created_by="t")
        db.session.add(second)
    _scan(dealer.id, second.id, [codes[1]])
    with transaction():
        shipments.ship(actor_label="t", shipper_kind="dealer", shipper_id=dealer.id, shipment_id=first.id)
    with pytest.raises(channel_errors.LineOverShipped):
        with transaction():
            shipments.ship(actor_label="t", shipper_kind="dealer", shipper_id=dealer.id, shipment_id=second.id)
    assert db.session.get(Shipment, second.id).status is ShipmentStatus.OPEN
    assert db.session.get(Unit, uf.serial(codes[1])).location_id == dealer.id


def test_warehouse_outbound_scans_with_an_order_number_land_in_a_shipment_of_the_order():
    from tests.masterdata_factories import make_product

    brand, dealer, _ = _world()
    other = make_dealer()
    codes = cf.cases(brand.lot, 4, warehouse_id=brand.warehouse_id)
    order = cf.make_order(seller=("warehouse", brand.warehouse_id), buyer=("dealer", dealer.id),
                          lines=[(brand.product.id, 48)])
    wrong = cf.make_order(seller=("warehouse", brand.warehouse_id), buyer=("dealer", dealer.id),
                          lines=[(make_product().id, 24)])
    results = cf.warehouse_outbound(codes[:3], warehouse_id=brand.warehouse_id, dealer_id=dealer.id,
                                    order_no=order.order_no)
    assert [r.reason or r.status for r in results] == ["accepted", "accepted", "line_complete"]
    assert [r.reason for r in cf.warehouse_outbound([codes[2]], warehouse_id=brand.warehouse_id, dealer_id=other.id,
                                                    order_no=order.order_no)] == ["order_mismatch"]
    assert [r.reason for r in cf.warehouse_outbound([codes[2]], warehouse_id=brand.warehouse_id,
                                                    dealer_id=dealer.id, order_no=wrong.order_no)] == ["wrong_sku"]
    # An order number the ERP never sent is kept on the event, unchecked, as before.
    assert [r.status for r in cf.warehouse_outbound([codes[3]], warehouse_id=brand.warehouse_id,
                                                    dealer_id=dealer.id, order_no="NOT-SYNCED")] == ["accepted"]

    shipment = db.session.scalars(sa.select(Shipment).where(Shipment.order_id == order.id)).one()
    assert (shipment.status, shipment.items, shipment.shipper_kind.value, shipment.receiver_id) == (
        ShipmentStatus.SHIPPED, 48, "warehouse", dealer.id)
    assert db.session.get(SalesOrder, order.id).status is OrderStatus.SHIPPED
    unit = db.session.get(Unit, uf.serial(codes[0]))
    assert (unit.location_id, unit.in_transit, unit.last_dealer_id) == (dealer.id, True, dealer.id)
    receipt = cf.receive(shipment.id, receiver=("dealer", dealer.id))
    assert receipt.received == 48 and db.session.get(SalesOrder, order.id).status is OrderStatus.CLOSED
