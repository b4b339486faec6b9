"""The channel keeps units, stock and money in step when things change between two steps of a flow."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.channel import receipts, shipments, stock
from app.db import transaction
from app.errors import DomainError
from app.extensions import db
from app.rebates import service as rebates
from app.trace import recalls
from app.units.models import LocationKind, Unit
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, make_dealer
from tests.retail_factories import make_shop, sell


def _unit(code: str) -> Unit:
    return db.session.scalar(sa.select(Unit).where(Unit.serial == uf.serial(code)))


def _open_with(dealer_id: int, store_id: int, codes: list[str]):
    with transaction():
        shipment = shipments.open_shipment(actor_label="tests", shipper_kind="dealer", shipper_id=dealer_id,
                                           receiver_kind="store", receiver_id=store_id)
        scanned = shipments.scan(actor_label="tests", shipper_kind="dealer", shipper_id=dealer_id,
                                 shipment_id=shipment.id, codes=codes)
    assert {r.status for r in scanned.results} == {"accepted"}
    return shipment


def _ship_refused(dealer_id: int, shipment_id: int) -> DomainError:
    with pytest.raises(DomainError) as error, transaction():
        shipments.ship(actor_label="tests", shipper_kind="dealer", shipper_id=dealer_id, shipment_id=shipment_id)
    return error.value


def test_a_lot_recalled_between_scan_and_ship_stops_the_shipment():
    brand, dealer = cf.make_brand(), make_dealer()
    store = cf.make_store_of(dealer.id)
    case = cf.dealer_stock(brand, dealer.id, cases_=1)
    shipment = _open_with(dealer.id, store.id, case)
    with transaction():
        recalls.recall_lot(actor=ACTOR, lot_id=brand.lot.id, reason="seal fault")
    error = _ship_refused(dealer.id, shipment.id)
    assert error.code == "shipment_contents_changed" and "recalled" in str(error.errors)
    assert (_unit(case[0]).location_kind, _unit(case[0]).in_transit) == (LocationKind.DEALER, False)


def test_an_item_sold_while_held_in_an_open_shipment_stops_the_shipment():
    shop = make_shop()
    items = uf.commission(shop.brand.lot, 2, warehouse_id=shop.brand.warehouse_id)
    to_dealer = cf.ship_to(items, shipper=("warehouse", shop.brand.warehouse_id), receiver=("dealer", shop.dealer_id))
    cf.receive(to_dealer.id, receiver=("dealer", shop.dealer_id))
    other_store = cf.make_store_of(shop.dealer_id)
    shipment = _open_with(shop.dealer_id, other_store.id, items)
    sell(shop.clerk, shop.store_id, items[0])  # sold elsewhere (flagged not received) meanwhile
    assert _ship_refused(shop.dealer_id, shipment.id).code == "shipment_contents_changed"
    assert _unit(items[0]).location_kind is LocationKind.CONSUMER


def test_a_receipt_never_brings_back_a_unit_sold_while_it_was_on_its_way():
    shop = make_shop()
    receiver = make_dealer()
    items = uf.commission(shop.brand.lot, 3, warehouse_id=shop.brand.warehouse_id)
    shipment = cf.ship_to(items, shipper=("warehouse", shop.brand.warehouse_id), receiver=("dealer", receiver.id))
    sell(shop.clerk, shop.store_id, items[0])
    receipt = cf.receive(shipment.id, receiver=("dealer", receiver.id))
    assert (receipt.received, receipt.missing) == (2, 1)
    assert _unit(items[0]).location_kind is LocationKind.CONSUMER
    assert sum(row.quantity for row in stock.dealer_stock(dealer_id=receiver.id)) == 2


def test_a_warehouse_outbound_without_an_order_still_reaches_the_dealers_receipts():
    brand, dealer = cf.make_brand(), make_dealer()
    case = cf.cases(brand.lot, 1, warehouse_id=brand.warehouse_id)
    assert [r.status for r in cf.warehouse_outbound(case, warehouse_id=brand.warehouse_id,
                                                    dealer_id=dealer.id, order_no="NOT-SENT-YET")] == ["accepted"]
    pending = db.session.scalars(receipts.pending_receipts(receiver_kind="dealer", receiver_id=dealer.id)).all()
    assert [(s.order_id, s.items) for s in pending] == [(None, 24)]
    cf.receive(pending[0].id, receiver=("dealer", dealer.id))
    assert sum(row.quantity for row in stock.dealer_stock(dealer_id=dealer.id)) == 24


def test_rebate_statements_of_one_dealer_never_cover_the_same_day_twice():
    brand, dealer = cf.make_brand(), make_dealer()
    store = cf.make_store_of(dealer.id)
    codes = cf.dealer_stock(brand, dealer.id, cases_=2)
    cf.receive(cf.ship_to(codes, shipper=("dealer", dealer.id), receiver=("store", store.id)).id,
               receiver=("store", store.id))
    with transaction():
        rebates.create_rule(actor=ACTOR, data={"name": "cases", "basis": "case_to_store", "amount_fen": 500,
                                               "starts_on": date(2020, 1, 1), "ends_on": date(2100, 1, 1)})
    with transaction():
        first = rebates.compute_statement(actor=ACTOR, dealer_id=dealer.id, period_start=date(2020, 1, 1),
                                          period_end=date(2099, 12, 31))
    assert first.total_fen == 1_000
    with pytest.raises(DomainError) as error, transaction():
        rebates.compute_statement(actor=ACTOR, dealer_id=dealer.id, period_start=date(2021, 1, 1),
                                  period_end=date(2099, 12, 31))
    assert error.value.code == "statement_period_overlaps"
    with transaction():  # the same period again is a recompute, not an overlap
        assert rebates.compute_statement(actor=ACTOR, dealer_id=dealer.id, period_start=date(2020, 1, 1),
                                         period_end=date(2099, 12, 31)).total_fen == 1_000
