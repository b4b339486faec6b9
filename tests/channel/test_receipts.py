"""Receipts: whole or scanned, discrepancies, twice refused, the order closing from data, diversion."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.channel import errors as channel_errors
from app.channel import receipts
from app.channel.models import (
    DiscrepancyKind, DiversionAlert, OrderLine, OrderStatus, SalesOrder, ShipmentUnit,
)
from app.db import transaction
from app.extensions import db
from app.units.models import Event, EventKind, LocationKind, Unit
from app.webhooks.models import OutboundEvent
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import HANGZHOU, make_dealer


def _confirm(shipment_id, receiver, **kw):
    with transaction():
        return receipts.confirm_receipt(actor_label="app_user:9", receiver_kind=receiver[0],
                                        receiver_id=receiver[1], shipment_id=shipment_id, **kw)


def test_a_scanned_receipt_records_missing_extra_and_damaged():
    brand = cf.make_brand()
    dealer, other = make_dealer(), make_dealer()
    codes = cf.cases(brand.lot, 3, warehouse_id=brand.warehouse_id)
    stray = cf.cases(brand.lot, 1, warehouse_id=brand.warehouse_id)
    order = cf.make_order(seller=("warehouse", brand.warehouse_id), buyer=("dealer", dealer.id),
                          lines=[(brand.product.id, 72)])
    shipment = cf.ship_to(codes, shipper=("warehouse", brand.warehouse_id), receiver=("dealer", dealer.id),
                          order_id=order.id)
    assert db.session.scalars(receipts.pending_receipts(receiver_kind="dealer", receiver_id=dealer.id)).all() \
        == [shipment]
    with pytest.raises(channel_errors.ShipmentNotFound):
        _confirm(shipment.id, ("dealer", other.id))

    receipt = _confirm(shipment.id, ("dealer", dealer.id), codes=[codes[0], stray[0], "NOT-A-CODE"],
                       damaged=[codes[1]], note="one case wet, one case short")
    assert (receipt.expected, receipt.received, receipt.missing, receipt.extra, receipt.damaged) == (72, 48, 24, 2, 24)
    found = db.session.scalars(receipts.discrepancies(shipment_id=shipment.id)).all()
    kinds = [d.kind for d in found]
    assert kinds.count(DiscrepancyKind.MISSING) == 24 and kinds.count(DiscrepancyKind.EXTRA) == 2
    assert [d.code for d in found if d.kind is DiscrepancyKind.DAMAGED] == [codes[1]]
    line = db.session.scalar(sa.select(OrderLine).where(OrderLine.order_id == order.id))
    assert (line.shipped, line.received) == (72, 48)
    # Nothing is still on the way: the order closes although a case never arrived.
    assert db.session.get(SalesOrder, order.id).status is OrderStatus.CLOSED
    received = db.session.get(Unit, uf.serial(codes[0]))
    lost = db.session.get(Unit, uf.serial(codes[2]))
    assert (received.location_kind, received.location_id, received.in_transit) == (LocationKind.DEALER, dealer.id, False)
    assert lost.in_transit is True
    assert db.session.get(Unit, uf.serial(stray[0])).location_kind is LocationKind.WAREHOUSE
    flags = dict(db.session.execute(sa.select(ShipmentUnit.received, sa.func.count())
                                    .where(ShipmentUnit.shipment_id == shipment.id).group_by(ShipmentUnit.received)).all())
    assert flags == {True: 48, False: 24}
    events = db.session.scalars(sa.select(Event).where(Event.kind == EventKind.RECEIVE,
                                                       Event.location_kind == LocationKind.DEALER)).all()
    assert sorted(e.serial for e in events) == sorted(uf.serial(c) for c in codes[:2])
    assert db.session.scalar(sa.select(OutboundEvent).where(OutboundEvent.type == "receipt.confirmed")) \
        .payload["missing"] == 24

    with pytest.raises(channel_errors.ShipmentAlreadyReceived):
        _confirm(shipment.id, ("dealer", dealer.id))


def test_a_store_receiving_outside_its_dealers_territory_raises_alerts():
    brand = cf.make_brand()
    dealer = make_dealer(territory=[HANGZHOU])
    store = cf.make_store_of(dealer.id)  # in Dongcheng, Beijing
    codes = cf.dealer_stock(brand, dealer.id, cases_=1)
    shipment = cf.ship_to(codes, shipper=("dealer", dealer.id), receiver=("store", store.id))
    receipt = _confirm(shipment.id, ("store", store.id))
    assert receipt.received == 24
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DiversionAlert)) == 24
