"""Unpacking by holders of goods (app.units.packing, app.channel.unpacks, app.warehouse.service): rules,
scan-time order, record ids, and races with a second unpack or a shipment scan."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.channel import shipments, unpacks
from app.db import transaction, utcnow
from app.extensions import db
from app.units import line_engine, line_sessions
from app.units.models import Event, EventKind, Unit
from app.warehouse import service as warehouse
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.concurrency import race_reading_batches
from tests.masterdata_factories import ACTOR, make_dealer

AT = utcnow() - timedelta(minutes=10)


def _unit(code: str) -> Unit:
    db.session.expire_all()
    return db.session.get(Unit, uf.serial(code))


def _warehouse_unpacks(*records):
    with transaction():
        return warehouse.apply_unpacks(actor=ACTOR, records=list(records))


def test_records_apply_in_scan_time_order_and_a_record_id_once(app):
    brand = cf.make_brand()
    items = uf.commission(brand.lot, 3)
    case = uf.pack(items)
    uf.receive([case], warehouse_id=brand.warehouse_id)
    base = {"warehouse_id": brand.warehouse_id}
    # Sent whole-first, scanned partial-first: the item leaves, then the case releases the other two.
    results = _warehouse_unpacks(
        {**base, "record_id": "w", "scanned_at": AT + timedelta(seconds=2), "mode": "whole", "code": case},
        {**base, "record_id": "p", "scanned_at": AT, "mode": "partial", "code": items[0], "parent": case},
        {**base, "record_id": "p", "scanned_at": AT, "mode": "partial", "code": items[0], "parent": case})
    assert [(r.status, r.released) for r in results] == [("accepted", 2), ("accepted", 1), ("accepted", 1)]
    assert (_unit(case).child_count, [_unit(c).parent_serial for c in items]) == (0, [None, None, None])
    kinds = db.session.execute(sa.select(Event.kind, Event.record_id).where(Event.parent_serial == uf.serial(case),
                                                                         Event.kind != EventKind.PACK)
                               .order_by(Event.id)).all()
    assert kinds == [(EventKind.REMOVE, "p"), (EventKind.UNPACK, "w"), (EventKind.UNPACK, None)]
    retried = _warehouse_unpacks(
        {**base, "record_id": "w", "scanned_at": AT, "mode": "whole", "code": case})
    assert (retried[0].status, retried[0].previously_applied) == ("duplicate", True)
    # Stock counts items wherever they are packed: unpacking moves none.
    assert db.session.scalar(sa.text("SELECT SUM(quantity) FROM stock_positions WHERE holder_kind = 'warehouse' AND holder_id = :w"),
                             {"w": brand.warehouse_id}) == 3


def test_the_line_still_refuses_goods_that_left_the_factory(app):
    brand = cf.make_brand()
    dealer = make_dealer()
    pallet = cf.dealer_pallet(brand, dealer.id, cases_=2)
    with transaction():
        session = line_sessions.start_session(actor=ACTOR, line_id=brand.line_id, lot_id=brand.lot.id)
        answer = line_engine.apply_records(actor=ACTOR, session_id=session.id, records=[
            {"type": "unpack", "record_id": "u", "scanned_at": AT.isoformat(), "code": pallet}])
    assert answer[0].reason == "in_transit_or_shipped"
    with transaction():
        held = unpacks.unpack(actor_label="app_user:1", dealer_id=dealer.id, mode="whole", codes=[pallet])
    assert (held[0].status, held[0].released) == ("accepted", 2)


def test_a_partial_unpack_refuses_an_item_or_a_child_in_no_parent(app):
    brand = cf.make_brand()
    dealer = make_dealer()
    case = cf.dealer_stock(brand, dealer.id, cases_=1)[0]
    item = uf.contents(case)[0]
    with transaction():
        results = unpacks.unpack(actor_label="app_user:1", dealer_id=dealer.id, mode="whole", codes=[item])
    assert results[0].reason == "not_packed"
    with transaction():
        results = unpacks.unpack(actor_label="app_user:1", dealer_id=dealer.id, mode="partial", codes=[case])
    assert results[0].reason == "not_packed"


def test_two_staff_unpacking_one_pallet_at_once_unpack_it_once(app, mariadb, monkeypatch):
    brand = cf.make_brand()
    dealer = make_dealer()
    pallet = cf.dealer_pallet(brand, dealer.id, cases_=2)

    def unpack():
        return [(r.status, r.reason) for r in unpacks.unpack(actor_label="app_user:1", dealer_id=dealer.id,
                                                             mode="whole", codes=[pallet])]

    results, errors = race_reading_batches(app, monkeypatch, [unpack, unpack])
    assert errors == [None, None]
    assert sorted(r[0] for r in results) == [("accepted", None), ("rejected", "not_packed")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)
                             .where(Event.kind == EventKind.UNPACK, Event.parent_serial == uf.serial(pallet))) == 2


def test_an_unpack_and_a_shipment_scan_of_one_pallet_at_once_never_both_hold(app, mariadb, monkeypatch):
    brand = cf.make_brand()
    dealer = make_dealer()
    sub = make_dealer(parent_id=dealer.id)
    pallet = cf.dealer_pallet(brand, dealer.id, cases_=2)
    with transaction():
        shipment = shipments.open_shipment(actor_label="a", shipper_kind="dealer", shipper_id=dealer.id,
                                           receiver_kind="dealer", receiver_id=sub.id)

    def unpack():
        return unpacks.unpack(actor_label="app_user:1", dealer_id=dealer.id, mode="whole", codes=[pallet])[0].reason

    def scan():
        return shipments.scan(actor_label="a", shipper_kind="dealer", shipper_id=dealer.id, shipment_id=shipment.id,
                              codes=[pallet]).results[0].reason

    results, errors = race_reading_batches(app, monkeypatch, [unpack, scan])
    assert errors == [None, None]
    assert results in ([None, "empty"], ["in_open_shipment", None]), results
