"""Dealer shipments: scanning out against an order (every refusal), undo, cancel, ship; the two-tier chain."""
from __future__ import annotations

import sqlalchemy as sa

from app.channel import receipts, shipments
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
