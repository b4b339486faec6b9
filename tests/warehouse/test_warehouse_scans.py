"""Warehouse scans: inbound from a line or a transfer, outbound to a dealer or a transfer, and stock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.codes import service as codes
from app.db import transaction, utcnow
from app.extensions import db
from app.masterdata import dealers
from app.masterdata import places as masterdata_places
from app.units.models import (
    Event,
    EventKind,
    LocationKind,
    Recall,
    RejectedRecord,
    Unit,
    UnitStatus,
)
from app.stock import service as stock
from app.stock.models import HolderKind, StockPosition
from app.units import stock_moves
from app.warehouse import rules
from app.warehouse.errors import ScanRecordsInvalid
from app.warehouse.cli import warehouse as warehouse_cli
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, make_dealer
from tests.warehouse_factories import LATER, World, apply, apply_one, inbound, make_world, outbound, record, stock_of


def unit(code: str) -> Unit:
    db.session.expire_all()
    return db.session.get(Unit, uf.serial(code))


def a_case(lot, n: int = 24, **kw) -> tuple[str, list[str]]:
    items = uf.commission(lot, n, **kw)
    return uf.pack(items), items


@pytest.fixture
def world(app) -> World:
    return make_world()


def test_an_inbound_pallet_from_the_line_moves_its_1200_items_into_stock(world):
    items = uf.commission(world.lot, 1200)
    cases = [uf.pack(items[i:i + 24]) for i in range(0, 1200, 24)]
    pallet = uf.pack(cases, level="pallet")

    result = apply_one(inbound(pallet, world.a, order_no=None))

    assert (result.status, result.units) == ("accepted", 1200)
    assert stock_of(world.a, world.lot) == 1200
    assert stock.check() == []
    places = db.session.execute(sa.select(Unit.location_kind, Unit.location_id, Unit.in_transit)
                                .distinct()).all()
    assert places == [(LocationKind.WAREHOUSE, world.a, False)]
    event = db.session.scalars(sa.select(Event).where(Event.kind == EventKind.RECEIVE)).one()
    assert (event.serial, event.location_kind, event.location_id) == (uf.serial(pallet), LocationKind.WAREHOUSE,
                                                                      world.a)
    assert event.record_id and event.source == uf.SOURCE
    assert event.data == {"from": {"kind": "line", "id": world.line_id, "in_transit": False},
                          "to": {"kind": "warehouse", "id": world.a, "in_transit": False},
                          "order_no": None, "units": 1200}


def test_an_outbound_scan_to_a_dealer_leaves_the_units_in_transit_to_it(world):
    case, items = a_case(world.lot, warehouse_id=None)
    uf.receive([case], warehouse_id=world.a)
    assert stock_of(world.a, world.lot) == 24

    result = apply_one(outbound(case, world.a, to_dealer_id=world.dealer, order_no="SO-1"))

    assert (result.status, result.units) == ("accepted", 24)
    assert stock_of(world.a, world.lot) == 0
    moved = unit(items[5])
    assert (moved.location_kind, moved.location_id, moved.in_transit) == (LocationKind.DEALER, world.dealer, True)
    ship = db.session.scalars(sa.select(Event).where(Event.kind == EventKind.SHIP)).one()
    assert ship.serial == uf.serial(case) and ship.location_id == world.a
    assert ship.data["order_no"] == "SO-1" and ship.data["to"] == {"kind": "dealer", "id": world.dealer,
                                                                    "in_transit": True}
    assert stock.check() == []


def test_a_transfer_is_in_transit_until_the_other_warehouse_receives_it(world):
    case, items = a_case(world.lot)
    uf.receive([case], warehouse_id=world.a)

    out = apply_one(outbound(case, world.a, to_warehouse_id=world.b))
    assert out.status == "accepted"
    assert (stock_of(world.a, world.lot), stock_of(world.b, world.lot)) == (0, 0)
    assert (unit(items[0]).location_id, unit(items[0]).in_transit) == (world.b, True)

    # Not yet received, so it can't leave B either.
    assert apply_one(outbound(case, world.b, to_dealer_id=world.dealer)).reason == "wrong_location"

    arrived = apply_one(inbound(case, world.b, source="transfer", at=LATER + timedelta(hours=2)))
    assert (arrived.status, arrived.units) == ("accepted", 24)
    assert (stock_of(world.a, world.lot), stock_of(world.b, world.lot)) == (0, 24)
    assert unit(items[0]).in_transit is False
    assert stock.check() == []


def test_a_pallet_of_two_lots_counts_in_each_lots_stock(world):
    first, _ = a_case(world.lot, 3)
    second, _ = a_case(world.other_lot, 2)
    pallet = uf.pack([first, second], level="pallet")

    assert apply_one(inbound(pallet, world.a)).units == 5
    assert (stock_of(world.a, world.lot), stock_of(world.a, world.other_lot)) == (3, 2)


def test_items_scanned_loose_move_one_by_one(world):
    items = uf.commission(world.lot, 3)
    results = apply(*(inbound(code, world.a) for code in items))
    assert [r.status for r in results] == ["accepted"] * 3
    assert stock_of(world.a, world.lot) == 3


# --- refusals -----------------------------------------------------------------------------------

def test_a_code_inside_a_pallet_is_packed_elsewhere(world):
    case, items = a_case(world.lot, 2)
    pallet = uf.pack([case], level="pallet")
    assert apply_one(inbound(case, world.a)).reason == "packed_elsewhere"
    assert apply_one(inbound(items[0], world.a)).reason == "packed_elsewhere"
    assert apply_one(inbound(pallet, world.a)).status == "accepted"
    assert apply_one(outbound(case, world.a, to_dealer_id=world.dealer)).reason == "packed_elsewhere"
    assert stock_of(world.a, world.lot) == 2


def test_a_forged_code_is_refused(world):
    result = apply_one(inbound("0" * 18, world.a))
    assert (result.status, result.reason) == ("rejected", "forged")
    assert result.message == rules.REASONS["forged"]
    assert apply_one(inbound("not a code", world.a)).reason == "forged"


def test_a_code_never_issued_is_unknown(world):
    issued = uf.issue(1)
    ring = codes.keyring()
    never = ring.encode(issued.batch.serial_end + 1000, issued.batch.key_version)
    assert apply_one(inbound(never, world.a)).reason == "unknown"


def test_a_code_issued_but_never_commissioned_is_refused(world):
    issued = uf.issue(1)
    assert apply_one(inbound(issued[0], world.a)).reason == "not_commissioned"


def test_a_code_of_a_voided_batch_or_a_replaced_label_is_voided(world):
    issued = uf.issue(1)
    with transaction():
        codes.void_batch(actor=ACTOR, batch_id=issued.batch.id, reason="misprint")
    assert apply_one(inbound(issued[0], world.a)).reason == "voided"

    replaced = uf.commission(world.lot, 1)[0]
    _set(replaced, status=UnitStatus.VOIDED)
    assert apply_one(inbound(replaced, world.a)).reason == "voided"


def test_a_scrapped_unit_is_refused(world):
    item = uf.commission(world.lot, 1, warehouse_id=world.a)[0]
    _set(item, status=UnitStatus.SCRAPPED)
    assert apply_one(outbound(item, world.a, to_dealer_id=world.dealer)).reason == "scrapped"


def test_inbound_from_the_line_of_a_unit_not_at_a_line_is_wrong_location(world):
    item = uf.commission(world.lot, 1, warehouse_id=world.b)[0]
    assert apply_one(inbound(item, world.a)).reason == "wrong_location"


def test_inbound_from_a_transfer_of_a_unit_not_in_transit_here_is_wrong_location(world):
    at_line, in_b, to_b = uf.commission(world.lot, 3)
    uf.receive([in_b, to_b], warehouse_id=world.a)
    apply_one(outbound(to_b, world.a, to_warehouse_id=world.b))
    assert apply_one(inbound(at_line, world.b, source="transfer")).reason == "wrong_location"
    assert apply_one(inbound(in_b, world.b, source="transfer")).reason == "wrong_location"
    # In transit to B, received at A: wrong.
    assert apply_one(inbound(to_b, world.a, source="transfer")).reason == "wrong_location"


def test_outbound_of_a_unit_not_in_this_warehouse_is_wrong_location(world):
    at_line, in_b, shipped = uf.commission(world.lot, 3)
    uf.receive([in_b, shipped], warehouse_id=world.b)
    apply_one(outbound(shipped, world.b, to_dealer_id=world.dealer))
    assert apply_one(outbound(at_line, world.a, to_dealer_id=world.dealer)).reason == "wrong_location"
    assert apply_one(outbound(in_b, world.a, to_dealer_id=world.dealer)).reason == "wrong_location"
    assert apply_one(outbound(shipped, world.b, to_warehouse_id=world.a)).reason == "wrong_location"


def test_a_recalled_unit_or_a_parent_holding_one_may_not_leave(world):
    case, items = a_case(world.lot, 3, warehouse_id=None)
    loose = uf.commission(world.lot, 1)[0]
    uf.receive([case, loose], warehouse_id=world.a)
    with transaction():
        recall = Recall(lot_id=world.lot.id, reason="test", created_by="tests")
        db.session.add(recall)
    _set(items[1], recall_id=recall.id)
    _set(loose, recall_id=recall.id)

    assert apply_one(outbound(case, world.a, to_dealer_id=world.dealer)).reason == "recalled"
    assert apply_one(outbound(loose, world.a, to_warehouse_id=world.b)).reason == "recalled"
    assert stock_of(world.a, world.lot) == 4


def test_a_recalled_unit_may_come_back_in(world):
    item = uf.commission(world.lot, 1)[0]
    with transaction():
        recall = Recall(lot_id=world.lot.id, reason="test", created_by="tests")
        db.session.add(recall)
    _set(item, recall_id=recall.id)
    assert apply_one(inbound(item, world.a)).status == "accepted"


def test_unknown_or_inactive_destinations_are_refused(world):
    items = uf.commission(world.lot, 1, warehouse_id=world.a)
    inactive_dealer = make_dealer()
    with transaction():
        dealers.deactivate_dealer(actor=ACTOR, dealer_id=inactive_dealer.id)
        masterdata_places.deactivate_warehouse(actor=ACTOR, warehouse_id=world.b)
    for destination in ({"to_dealer_id": 999_999}, {"to_dealer_id": inactive_dealer.id},
                        {"to_warehouse_id": 999_999}, {"to_warehouse_id": world.b}):
        assert apply_one(outbound(items[0], world.a, **destination)).reason == "destination_unknown"
    assert stock_of(world.a, world.lot) == 1


def test_an_unknown_or_inactive_scanning_warehouse_is_refused(world):
    item = uf.commission(world.lot, 1)[0]
    assert apply_one(inbound(item, 999_999)).reason == "warehouse_unknown"
    with transaction():
        masterdata_places.deactivate_warehouse(actor=ACTOR, warehouse_id=world.a)
    assert apply_one(inbound(item, world.a)).reason == "warehouse_unknown"


def test_a_transfer_to_the_same_warehouse_is_refused(world):
    item = uf.commission(world.lot, 1, warehouse_id=world.a)[0]
    assert apply_one(outbound(item, world.a, to_warehouse_id=world.a)).reason == "same_warehouse"


def test_an_unbelievable_scan_time_is_refused(world):
    item = uf.commission(world.lot, 1)[0]
    future = utcnow() + timedelta(minutes=10)
    assert apply_one(inbound(item, world.a, at=future)).reason == "scan_time_invalid"
    ancient = datetime(1999, 12, 31, tzinfo=timezone.utc)
    assert apply_one(inbound(item, world.a, at=ancient)).reason == "scan_time_invalid"
    assert apply_one(inbound(item, world.a, at=utcnow() + timedelta(minutes=4))).status == "accepted"


def test_every_reason_has_a_message():
    assert set(rules.REASONS) == {
        "forged", "unknown", "voided", "not_commissioned", "scrapped", "packed_elsewhere", "wrong_location",
        "recalled", "warehouse_unknown", "destination_unknown", "same_warehouse", "scan_time_invalid",
        "epc_unknown"}


def test_rejected_records_are_kept_with_their_reason_without_a_line_session(world):
    rec = inbound("0" * 18, world.a)
    apply(rec)
    kept = db.session.scalars(sa.select(RejectedRecord)).one()
    assert (kept.record_id, kept.reason, kept.kind, kept.session_id, kept.source) == (
        rec["record_id"], "forged", "inbound", None, uf.SOURCE)


def test_a_malformed_record_refuses_the_whole_request(world):
    item = uf.commission(world.lot, 1)[0]
    with pytest.raises(ScanRecordsInvalid) as refused:
        apply(inbound(item, world.a), outbound(item, world.a))  # outbound to nowhere
    assert list(refused.value.errors) == [1]
    with pytest.raises(ScanRecordsInvalid):
        apply(outbound(item, world.a, to_dealer_id=world.dealer, to_warehouse_id=world.b))
    with pytest.raises(ScanRecordsInvalid):
        apply(record(item, "inbound", world.a))  # no source
    with pytest.raises(ScanRecordsInvalid):
        apply()
    assert unit(item).location_kind is LocationKind.LINE


# --- retries, duplicates, order -----------------------------------------------------------------

def test_a_retried_upload_applies_nothing_twice(world):
    case, _ = a_case(world.lot, 4)
    loose = uf.commission(world.lot, 1)[0]
    records = [inbound(case, world.a), inbound(loose, world.a),
               outbound(loose, world.a, to_dealer_id=world.dealer, at=LATER + timedelta(minutes=1)),
               inbound("0" * 18, world.a)]
    first = apply(*records)
    events = db.session.scalar(sa.select(sa.func.count()).select_from(Event))

    again = apply(*records)

    assert [r.status for r in first] == ["accepted", "accepted", "accepted", "rejected"]
    assert [r.status for r in again] == ["duplicate", "duplicate", "duplicate", "rejected"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == events
    assert stock_of(world.a, world.lot) == 4
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RejectedRecord)) == 1


def test_a_unit_already_where_the_scan_puts_it_is_a_harmless_duplicate(world):
    case, _ = a_case(world.lot, 2)
    assert apply_one(inbound(case, world.a)).status == "accepted"
    again = apply_one(inbound(case, world.a))  # another record id, same fact
    assert (again.status, again.reason) == ("duplicate", None)
    apply_one(outbound(case, world.a, to_dealer_id=world.dealer))
    assert apply_one(outbound(case, world.a, to_dealer_id=world.dealer)).status == "duplicate"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.kind.in_([EventKind.RECEIVE, EventKind.SHIP]))) == 2
    assert stock.check() == []


def test_a_rejected_record_retried_once_it_can_apply_is_accepted(world):
    item = uf.commission(world.lot, 1)[0]
    rec = outbound(item, world.a, to_dealer_id=world.dealer, at=LATER + timedelta(minutes=5))
    assert apply_one(rec).reason == "wrong_location"
    apply_one(inbound(item, world.a))
    assert apply_one(rec).status == "accepted"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RejectedRecord)) == 0


def test_scans_apply_in_scan_time_order_whatever_the_order_sent(world):
    case, _ = a_case(world.lot, 2)
    results = apply(outbound(case, world.a, to_dealer_id=world.dealer, at=LATER + timedelta(minutes=2)),
                    inbound(case, world.a, at=LATER))
    assert [r.status for r in results] == ["accepted", "accepted"]
    assert [r.index for r in results] == [0, 1]
    assert stock_of(world.a, world.lot) == 0
    assert unit(case).location_kind is LocationKind.DEALER


def test_one_record_id_twice_in_an_upload_is_one_record(world):
    item = uf.commission(world.lot, 1)[0]
    rec = inbound(item, world.a)
    results = apply(rec, dict(rec))
    assert [(r.index, r.status) for r in results] == [(0, "accepted"), (1, "accepted")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.kind == EventKind.RECEIVE)) == 1
    assert stock_of(world.a, world.lot) == 1


# --- stock check --------------------------------------------------------------------------------

def test_check_stock_finds_a_stock_row_that_differs_from_its_units(app, world):
    case, _ = a_case(world.lot, 3)
    apply_one(inbound(case, world.a))
    runner = app.test_cli_runner()
    assert runner.invoke(warehouse_cli, ["check-stock"]).exit_code == 0

    with transaction():
        db.session.execute(sa.update(StockPosition).values(quantity=StockPosition.quantity + 1))
    assert stock.check() == [stock.Mismatch(HolderKind.WAREHOUSE, world.a, world.lot.product_id, world.lot.id,
                                            stock_moves.today(), 4, 3)]
    result = runner.invoke(warehouse_cli, ["check-stock"])
    assert result.exit_code == 1
    assert "stock 4, units 3" in result.output


def _set(code: str, **values) -> None:
    with transaction():
        uf.set_units(Unit.serial == uf.serial(code), **values)
