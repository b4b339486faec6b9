"""Two dealer staff at once: one case scanned into two shipments, two shipments of one order line."""
from __future__ import annotations

import threading

import sqlalchemy as sa

from app.channel import shipments
from app.channel.models import OrderLine, Shipment, ShipmentStatus, ShipmentUnit
from app.db import retrying, transaction
from app.extensions import db
from app.units import unit_rows
from tests import channel_factories as cf
from tests.concurrency import at_once, meeting_in, results_and_errors
from tests.masterdata_factories import make_dealer


def _race(app, calls) -> tuple[list, list]:
    """Run each call in its own thread and transaction; all reach the units' locks together."""
    with meeting_in(unit_rows, "load_units", len(calls)):
        return results_and_errors(at_once(app, *calls, each_in_transaction=True))


def test_one_case_scanned_into_two_shipments_at_once_goes_into_one(app, mariadb):
    brand = cf.make_brand()
    dealer = make_dealer()
    sub = make_dealer(parent_id=dealer.id)
    case = cf.dealer_stock(brand, dealer.id, cases_=1)[0]
    order = cf.make_order(seller=("dealer", dealer.id), buyer=("dealer", sub.id), lines=[(brand.product.id, 24)])
    with transaction():
        first = shipments.open_shipment(actor_label="a", shipper_kind="dealer", shipper_id=dealer.id,
                                        order_id=order.id)
        second = shipments.open_shipment(actor_label="b", shipper_kind="dealer", shipper_id=dealer.id,
                                         receiver_kind="dealer", receiver_id=sub.id)
    ids = [first.id, second.id]

    def scan_into(shipment_id):
        return lambda: [r.reason or r.status for r in shipments.scan(
            actor_label="staff", shipper_kind="dealer", shipper_id=dealer.id, shipment_id=shipment_id,
            codes=[case]).results]

    results, errors = _race(app, [scan_into(i) for i in ids])
    assert errors == [None, None]
    assert sorted(r[0] for r in results) == ["accepted", "already_scanned"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(sa.distinct(ShipmentUnit.shipment_id)))
                             .where(ShipmentUnit.shipment_id.in_(ids))) == 1
    assert sorted(db.session.scalars(sa.select(Shipment.items).where(Shipment.id.in_(ids)))) == [0, 24]


def test_two_shipments_of_one_line_shipped_at_once_never_over_ship(app, mariadb):
    brand = cf.make_brand()
    dealer = make_dealer()
    sub = make_dealer(parent_id=dealer.id)
    cases = cf.dealer_stock(brand, dealer.id, cases_=2)
    order = cf.make_order(seller=("dealer", dealer.id), buyer=("dealer", sub.id), lines=[(brand.product.id, 24)])
    ids = []
    with transaction():
        first = shipments.open_shipment(actor_label="a", shipper_kind="dealer", shipper_id=dealer.id,
                                        order_id=order.id)
        shipments.scan(actor_label="a", shipper_kind="dealer", shipper_id=dealer.id, shipment_id=first.id,
                       codes=[cases[0]])
        # A second open shipment of the order (open_shipment would hand back the first) with the other case.
        second = Shipment(order_id=order.id, shipper_kind="dealer", shipper_id=dealer.id, receiver_kind="dealer",
                          receiver_id=sub.id, created_by="b")
        db.session.add(second)
        db.session.flush()
        shipments.scan(actor_label="b", shipper_kind="dealer", shipper_id=dealer.id, shipment_id=second.id,
                       codes=[cases[1]])
        ids = [first.id, second.id]

    def ship(shipment_id):
        return lambda: shipments.ship(actor_label="staff", shipper_kind="dealer", shipper_id=dealer.id,
                                      shipment_id=shipment_id).status

    results, errors = _race(app, [ship(i) for i in ids])
    assert sorted(type(e).__name__ for e in errors if e) == ["LineOverShipped"]
    assert [r for r in results if r] == [ShipmentStatus.SHIPPED]
    db.session.expire_all()
    line = db.session.scalar(sa.select(OrderLine).where(OrderLine.order_id == order.id))
    assert line.shipped == 24
    assert sorted(s.value for s in db.session.scalars(sa.select(Shipment.status).where(Shipment.id.in_(ids)))) == \
        ["open", "shipped"]


def test_two_staff_opening_a_shipment_of_one_order_at_once_get_the_same_one(app, mariadb):
    seller = make_dealer()
    buyer = make_dealer(parent_id=seller.id)
    product = cf.make_brand().product
    order = cf.make_order(seller=("dealer", seller.id), buyer=("dealer", buyer.id), lines=[(product.id, 24)])

    both_read = threading.Barrier(2, timeout=10)

    def open_it():
        first_try = iter([True])

        def once():
            with transaction():
                # The request's earlier plain reads (its user, its dealer) take the transaction's snapshot,
                # both before either has opened the shipment.
                db.session.scalar(sa.select(sa.func.count()).select_from(Shipment))
                if next(first_try, False):
                    both_read.wait()
                return shipments.open_shipment(actor_label="tests", shipper_kind="dealer", shipper_id=seller.id,
                                               order_id=order.id).id
        return retrying(once)

    first, second = at_once(app, open_it, open_it)
    assert first == second
