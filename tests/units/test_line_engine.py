"""The line upload engine: every rule of commissioning and packing, retries, scan-time order, sessions."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.codes import service as codes
from app.db import retrying, transaction, utcnow
from app.extensions import db
from app.masterdata import places
from app.production import service as production
from app.units import line_engine, line_records, line_sessions, rules, unit_rows
from app.units.models import Event, EventKind, LocationKind, RejectedRecord, Unit, UnitStatus
from app.stock.models import StockPosition
from tests import unit_factories as uf
from tests.concurrency import at_once
from tests.line_factories import T0, Line, commission, outcome, pack, record
from tests.masterdata_factories import ACTOR, make_product
from tests.production_factories import make_line, make_production_lot


def unit(code) -> Unit:
    return db.session.get(Unit, uf.serial(code), populate_existing=True)


def events(code=None, kind=None) -> list[Event]:
    query = sa.select(Event).order_by(Event.id)
    if code is not None:
        query = query.where(Event.serial == uf.serial(code))
    if kind is not None:
        query = query.where(Event.kind == kind)
    return list(db.session.scalars(query))


@pytest.fixture
def line(app):
    return Line()


# --- commissioning ------------------------------------------------------------------------------

def test_commissioning_an_item_creates_the_unit_on_the_line_with_one_event(line):
    item = line.items(1)[0]
    assert outcome(line.one(commission(item, record_id="c-1"))) == ("accepted", None)
    row = unit(item)
    assert (row.lot_id, row.product_id, row.location_kind, row.location_id, row.status) == (
        line.lot.id, line.product.id, LocationKind.LINE, line.line.id, UnitStatus.ACTIVE)
    [event] = events(item)
    assert (event.kind, event.record_id, event.session_id, event.occurred_at) == (
        EventKind.COMMISSION, "c-1", line.session_id, T0)


def test_a_forged_code_is_rejected_as_forged(line):
    item = line.items(1)[0]
    forged = item[:-1] + ("0" if item[-1] != "0" else "1")
    result = line.one(commission(forged))
    assert outcome(result) == ("rejected", "forged")
    assert result.message == rules.REASONS["forged"]


def test_a_valid_code_never_issued_is_unknown(line):
    items = line.items(1)
    never_issued = codes.keyring().encode(items.batch.serial_start + 1_000_000, items.batch.key_version)
    assert outcome(line.one(commission(never_issued))) == ("rejected", "unknown")


def test_a_code_of_a_voided_batch_is_voided(line):
    items = line.items(1)
    with transaction():
        codes.void_batch(actor=ACTOR, batch_id=items.batch.id, reason="misprint")
    assert outcome(line.one(commission(items[0]))) == ("rejected", "voided")


def test_commissioning_into_the_same_lot_again_is_a_duplicate(line):
    item = line.commissioned(1)[0]
    assert outcome(line.one(commission(item))) == ("duplicate", None)
    assert len(events(item)) == 1


def test_an_item_commissioned_to_another_lot_is_commissioned_elsewhere(line):
    item = line.commissioned(1)[0]
    other_lot = make_production_lot(product_id=line.product.id, factory_id=line.factory.id)
    assert outcome(line.one(commission(item, lot_id=other_lot.id))) == ("rejected", "commissioned_elsewhere")


def test_an_item_code_of_another_product_is_the_wrong_product(line):
    other = make_product()
    item = line.items(1, product_id=other.id)[0]
    assert outcome(line.one(commission(item))) == ("rejected", "wrong_product")


def test_only_item_codes_are_commissioned(line):
    case = line.cases(1)[0]
    assert outcome(line.one(commission(case))) == ("rejected", "wrong_level")


def test_a_closed_lot_takes_no_units(line):
    item = line.items(1)[0]
    with transaction():
        production.close_production_lot(actor=ACTOR, lot_id=line.lot.id)
    assert outcome(line.one(commission(item))) == ("rejected", "lot_closed")


def test_an_unknown_lot_is_rejected(line):
    item = line.items(1)[0]
    assert outcome(line.one(commission(item, lot_id=10**9))) == ("rejected", "lot_unknown")


def test_a_list_is_all_or_nothing_and_names_the_failing_codes(line):
    items = line.items(3)
    already = line.commissioned(1)[0]
    other_lot = make_production_lot(product_id=line.product.id, factory_id=line.factory.id)
    result = line.one(commission(None, codes=[items[0], already, "NOT-A-CODE", items[1]], lot_id=other_lot.id))
    assert outcome(result) == ("rejected", "commissioned_elsewhere")
    assert result.codes == [already, "NOT-A-CODE"]
    assert unit(items[0]) is None
    assert outcome(line.one(commission(None, codes=items.codes))) == ("accepted", None)
    assert len(events(kind=EventKind.COMMISSION)) == 4


def test_a_range_commissions_every_code_of_it(line):
    items = line.items(10)
    result = line.one(commission(items[2], last_code=items[6]))
    assert outcome(result) == ("accepted", None)
    assert [unit(c) is not None for c in items.codes] == [False, False] + [True] * 5 + [False] * 3


def test_a_range_over_two_batches_is_invalid(line):
    first, second = line.items(2), line.items(2)
    assert outcome(line.one(commission(first[0], last_code=second[1]))) == ("rejected", "range_invalid")
    assert outcome(line.one(commission(first[1], last_code=first[0]))) == ("rejected", "range_invalid")


def test_a_range_with_a_unit_of_another_lot_rejects_it_all(line):
    items = line.items(5)
    other_lot = make_production_lot(product_id=line.product.id, factory_id=line.factory.id)
    line.one(commission(items[3], lot_id=other_lot.id))
    result = line.one(commission(items[0], last_code=items[4]))
    assert (outcome(result), result.codes) == (("rejected", "commissioned_elsewhere"), [items[3]])
    assert unit(items[0]) is None


def test_a_scan_time_in_the_future_or_before_2000_is_invalid(line):
    item = line.items(1)[0]
    ahead = line.one(commission(item, at=utcnow() + timedelta(minutes=6)))
    assert outcome(ahead) == ("rejected", "scan_time_invalid")
    old = line.one(commission(item, at=T0.replace(year=1999)))
    assert outcome(old) == ("rejected", "scan_time_invalid")
    assert outcome(line.one(commission(item, at=utcnow() + timedelta(minutes=4)))) == ("accepted", None)


# --- packing ------------------------------------------------------------------------------------

def test_the_first_pack_creates_the_case_from_its_first_child(line):
    items = line.commissioned(2)
    case = line.cases(1)[0]
    at = T0 + timedelta(minutes=1)
    results = line.upload(pack(items[0], case, at=at), pack(items[1], case, at=at))
    assert [r.status for r in results] == ["accepted", "accepted"]
    row = unit(case)
    assert (row.level.value, row.product_id, row.lot_id, row.child_count, row.location_kind, row.commissioned_at) == (
        "case", line.product.id, line.lot.id, 2, LocationKind.LINE, at)
    assert unit(items[0]).parent_serial == row.serial
    assert [(e.kind, e.parent_serial) for e in events(items[1])][1:] == [(EventKind.PACK, row.serial)]


def test_packing_an_uncommissioned_item_is_not_commissioned(line):
    item, case = line.items(1)[0], line.cases(1)[0]
    assert outcome(line.one(pack(item, case))) == ("rejected", "not_commissioned")


def test_an_item_in_another_case_is_packed_elsewhere_and_in_the_same_case_a_duplicate(line):
    item = line.commissioned(1)[0]
    first, second = line.cases(2)
    line.one(pack(item, first))
    assert outcome(line.one(pack(item, second))) == ("rejected", "packed_elsewhere")
    assert outcome(line.one(pack(item, first))) == ("duplicate", None)
    assert unit(first).child_count == 1


def test_an_item_into_a_pallet_is_the_wrong_level(line):
    item = line.commissioned(1)[0]
    pallet = line.cases(1, level="pallet")[0]
    assert outcome(line.one(pack(item, pallet))) == ("rejected", "wrong_level")
    other_item = line.commissioned(1)[0]
    assert outcome(line.one(pack(item, other_item))) == ("rejected", "wrong_level")


def test_a_case_code_of_another_product_is_the_wrong_product(line):
    item = line.commissioned(1)[0]
    case = line.cases(1, product_id=make_product().id)[0]
    assert outcome(line.one(pack(item, case))) == ("rejected", "wrong_product")


def test_an_item_of_another_product_into_an_existing_case_is_the_wrong_product(line):
    item = line.commissioned(1)[0]
    case = uf.issue(1, level="case")[0]  # a case batch for any product
    line.one(pack(item, case))
    other = Line()
    stranger = other.commissioned(1)[0]
    assert outcome(other.one(pack(stranger, case))) == ("rejected", "wrong_product")


def test_a_full_case_is_over_capacity_unless_marked_partial(line):
    items = line.commissioned(4)
    case = line.cases(1)[0]
    results = line.upload(*(pack(c, case) for c in items[:3]))
    assert [outcome(r) for r in results] == [("accepted", None)] * 2 + [("rejected", "over_capacity")]
    assert outcome(line.one(pack(items[2], case, partial=True))) == ("accepted", None)
    assert outcome(line.one(pack(items[3], case))) == ("accepted", None)  # partial is sticky
    row = unit(case)
    assert (row.child_count, row.partial) == (4, True)


def test_cases_go_on_pallets_up_to_the_products_count(line):
    items = line.commissioned(6)
    cases = line.cases(3)
    pallet = line.cases(1, level="pallet")[0]
    line.upload(*(pack(items[i], cases[i // 2]) for i in range(6)))
    results = line.upload(*(pack(c, pallet) for c in cases.codes))
    assert [outcome(r) for r in results] == [("accepted", None)] * 2 + [("rejected", "over_capacity")]


def test_a_scrapped_or_voided_unit_can_not_be_packed(line):
    items = line.commissioned(2)
    new_label = line.items(1)[0]
    case = line.cases(1)[0]
    line.upload(record("scrap", code=items[0]), record("replace", code=items[1], new_code=new_label))
    assert outcome(line.one(pack(items[0], case))) == ("rejected", "scrapped")
    assert outcome(line.one(pack(items[1], case))) == ("rejected", "voided")
    assert outcome(line.one(pack(new_label, case))) == ("accepted", None)


def test_a_scrapped_case_takes_no_more_items(line):
    items = line.commissioned(2)
    case = line.cases(1)[0]
    line.upload(pack(items[0], case), record("scrap", code=case, at=T0 + timedelta(seconds=1)))
    assert outcome(line.one(pack(items[1], case, at=T0 + timedelta(seconds=2)))) == ("rejected", "scrapped")


def test_an_item_and_a_case_in_different_places_are_a_location_mismatch(line):
    with transaction():
        warehouse = places.create_warehouse(actor=ACTOR, data={"name": "W", "factory_id": line.factory.id})
    items = line.commissioned(2)
    case = line.cases(1)[0]
    line.one(pack(items[0], case))
    uf.receive([case], warehouse_id=warehouse.id)
    assert outcome(line.one(pack(items[1], case))) == ("rejected", "location_mismatch")


def test_a_unit_that_left_the_factory_can_not_be_packed_or_unpacked(line):
    items = line.commissioned(2)
    case = line.cases(1)[0]
    line.one(pack(items[0], case))
    with transaction():
        units = unit_rows.load_units([uf.serial(items[1]), uf.serial(case)])
        for row in units.values():
            row.location_kind, row.location_id, row.in_transit = LocationKind.DEALER, 1, True
        unit_rows.save_units(units.values(), ["location_kind", "location_id", "in_transit"])
    other_case = line.cases(1)[0]
    assert outcome(line.one(pack(items[1], other_case))) == ("rejected", "in_transit_or_shipped")
    assert outcome(line.one(record("unpack", code=case))) == ("rejected", "in_transit_or_shipped")


# --- unpacking, removing ------------------------------------------------------------------------

def test_unpacking_a_case_frees_every_item_with_one_event_each(line):
    items = line.commissioned(2)
    case = line.cases(1)[0]
    line.upload(pack(items[0], case), pack(items[1], case))
    assert outcome(line.one(record("unpack", code=case, at=T0 + timedelta(seconds=5)))) == ("accepted", None)
    assert unit(case).child_count == 0
    assert [unit(c).parent_serial for c in items] == [None, None]
    unpacks = events(kind=EventKind.UNPACK)
    assert sorted(e.serial for e in unpacks) == sorted(uf.serial(c) for c in items)
    assert {e.parent_serial for e in unpacks} == {uf.serial(case)}
    assert [e.record_id is not None for e in unpacks] == [True, False]


def test_unpacking_an_empty_case_or_an_item_is_not_packed(line):
    items = line.commissioned(1)
    case = line.cases(1)[0]
    line.one(pack(items[0], case))
    line.one(record("remove", code=items[0], at=T0 + timedelta(seconds=1)))
    assert outcome(line.one(record("unpack", code=case, at=T0 + timedelta(seconds=2)))) == ("rejected", "not_packed")
    assert outcome(line.one(record("unpack", code=items[0]))) == ("rejected", "not_packed")


def test_removing_a_child_from_a_parent_it_is_not_in_is_not_packed(line):
    items = line.commissioned(2)
    first, second = line.cases(2)
    line.one(pack(items[0], first))
    assert outcome(line.one(record("remove", code=items[1]))) == ("rejected", "not_packed")
    assert outcome(line.one(record("remove", code=items[0], parent=second))) == ("rejected", "not_packed")
    assert outcome(line.one(record("remove", code=items[0], parent=first))) == ("accepted", None)
    assert (unit(first).child_count, unit(items[0]).parent_serial) == (0, None)
    [remove] = events(items[0], EventKind.REMOVE)
    assert remove.parent_serial == uf.serial(first)


# --- replacing labels, scrapping ----------------------------------------------------------------

def test_a_replaced_label_hands_the_unit_and_its_history_to_the_new_code(line):
    items = line.commissioned(2)
    case, new_case = line.cases(2)
    pallet = line.cases(1, level="pallet")[0]
    line.upload(pack(items[0], case), pack(items[1], case), pack(case, pallet, at=T0 + timedelta(seconds=1)))
    result = line.one(record("replace", code=case, new_code=new_case, at=T0 + timedelta(seconds=2)))
    assert outcome(result) == ("accepted", None)
    old, new = unit(case), unit(new_case)
    assert (old.status, old.replaced_by_serial) == (UnitStatus.VOIDED, new.serial)
    assert (new.replaces_serial, new.lot_id, new.product_id, new.parent_serial, new.child_count,
            new.location_kind, new.location_id, new.commissioned_at) == (
        old.serial, line.lot.id, line.product.id, unit(pallet).serial, 2, LocationKind.LINE, line.line.id,
        old.commissioned_at)
    assert unit(pallet).child_count == 1
    assert {unit(c).parent_serial for c in items} == {new.serial}
    data = {"old_serial": old.serial, "new_serial": new.serial}
    assert [(e.kind, e.data) for e in events(case)][-1] == (EventKind.REPLACE, data)
    assert [(e.kind, e.data) for e in events(new_case)] == [(EventKind.REPLACE, data)]
    # The old label is dead; the new one carries on.
    assert outcome(line.one(record("unpack", code=case, at=T0 + timedelta(seconds=3)))) == ("rejected", "voided")
    assert outcome(line.one(record("unpack", code=new_case, at=T0 + timedelta(seconds=3)))) == ("accepted", None)


def test_a_replacement_label_must_be_fresh_and_of_the_same_level(line):
    items = line.commissioned(2)
    case = line.cases(1)[0]
    assert outcome(line.one(record("replace", code=items[0], new_code=items[1]))) == (
        "rejected", "commissioned_elsewhere")
    assert outcome(line.one(record("replace", code=items[0], new_code=case))) == ("rejected", "wrong_level")


def test_scrapping_a_case_in_a_warehouse_scraps_its_items_and_takes_them_out_of_stock(line):
    with transaction():
        warehouse = places.create_warehouse(actor=ACTOR, data={"name": "W", "factory_id": line.factory.id})
    items = line.commissioned(4)
    cases = line.cases(2)
    pallet = line.cases(1, level="pallet")[0]
    line.upload(*(pack(items[i], cases[i // 2]) for i in range(4)),
                *(pack(c, pallet, at=T0 + timedelta(seconds=1)) for c in cases.codes))
    uf.receive([pallet], warehouse_id=warehouse.id)
    assert db.session.scalar(sa.select(sa.func.sum(StockPosition.quantity))) == 4
    result = line.one(record("scrap", code=cases[0], at=T0 + timedelta(minutes=5)))
    assert outcome(result) == ("accepted", None)
    assert db.session.scalar(sa.select(sa.func.sum(StockPosition.quantity))) == 2
    assert [unit(c).status for c in items] == [UnitStatus.SCRAPPED] * 2 + [UnitStatus.ACTIVE] * 2
    assert (unit(cases[0]).parent_serial, unit(pallet).child_count) == (None, 1)
    assert len(events(kind=EventKind.SCRAP)) == 3
    assert outcome(line.one(record("scrap", code=cases[0]))) == ("duplicate", None)


# --- records, retries, order, corrections --------------------------------------------------------

def test_a_retried_upload_applies_nothing_twice(line):
    items = line.items(4)
    case = line.cases(1)[0]
    upload = [commission(c, record_id=f"c{i}") for i, c in enumerate(items.codes)] + [
        pack(items[0], case, record_id="p0", at=T0 + timedelta(seconds=1)),
        pack(items[1], case, record_id="p1", at=T0 + timedelta(seconds=1)),
        pack(items[2], case, record_id="p2", at=T0 + timedelta(seconds=1))]
    first = line.upload(*upload)
    assert [r.status for r in first] == ["accepted"] * 6 + ["rejected"]
    before = (len(events()), line.session().total, line.session().accepted, line.session().rejected)
    again = line.upload(*upload)
    assert [(r.status, r.previously_applied) for r in again] == [("duplicate", True)] * 6 + [("rejected", False)]
    assert (len(events()), line.session().total, line.session().accepted, line.session().rejected) == before
    assert before[1:] == (7, 6, 1)
    assert unit(case).child_count == 2


def test_a_record_id_twice_in_one_upload_is_applied_once(line):
    item = line.items(1)[0]
    results = line.upload(commission(item, record_id="same"), commission(item, record_id="same"))
    assert [r.status for r in results] == ["accepted", "duplicate"]
    assert line.session().total == 1


def test_a_late_offline_upload_is_applied_in_scan_time_order(line):
    item, case = line.items(1)[0], line.cases(1)[0]
    results = line.upload(
        pack(item, case, at=T0 + timedelta(seconds=2)),
        record("unpack", code=case, at=T0 + timedelta(seconds=3)),
        commission(item, at=T0 + timedelta(seconds=1)))
    assert [r.status for r in results] == ["accepted"] * 3
    assert [r.index for r in results] == [0, 1, 2]
    assert [e.kind for e in events(item)] == [EventKind.COMMISSION, EventKind.PACK, EventKind.UNPACK]


def test_a_rejected_record_accepted_on_retry_moves_from_rejected_to_accepted(line):
    item, case = line.items(1)[0], line.cases(1)[0]
    assert outcome(line.one(pack(item, case, record_id="p"))) == ("rejected", "not_commissioned")
    assert (line.session().total, line.session().rejected) == (1, 1)
    line.one(commission(item, record_id="c"))
    assert outcome(line.one(pack(item, case, record_id="p"))) == ("accepted", None)
    session = line.session()
    assert (session.total, session.accepted, session.rejected) == (2, 2, 0)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RejectedRecord)) == 0


def test_a_correction_points_at_the_event_it_corrects(line):
    items = line.commissioned(1)
    first, second = line.cases(2)
    line.one(pack(items[0], first, record_id="wrong-case"))
    line.one(record("remove", code=items[0], corrects="wrong-case", at=T0 + timedelta(seconds=1)))
    [remove] = events(items[0], EventKind.REMOVE)
    assert remove.corrects_event_id == events(items[0], EventKind.PACK)[0].id
    assert outcome(line.one(record("remove", code=items[0], corrects="never-sent"))) == ("rejected", "unknown_record")


def test_more_than_100000_records_are_refused_whole(line):
    item = line.items(1)[0]
    with pytest.raises(rules.TooManyRecords):
        line.upload(*([commission(item)] * (line_records.MAX_RECORDS + 1)))


# --- sessions -----------------------------------------------------------------------------------

def test_the_session_report_gives_counts_reasons_and_pass_rate(line):
    items = line.items(3)
    line.upload(*(commission(c) for c in items.codes), commission("forged-code"),
                commission(items[0]))  # a duplicate by fact
    report = line_sessions.session_report(line.session())
    assert (report["total"], report["accepted"], report["duplicate"], report["rejected"]) == (5, 3, 1, 1)
    assert report["rejected_by_reason"] == {"forged": 1}
    assert report["pass_rate"] == 0.75  # 3 / (5 - 1): the duplicate read is no failure


def test_a_stopped_session_takes_no_records(line):
    with transaction():
        line_sessions.stop_session(actor=ACTOR, session_id=line.session_id)
    with pytest.raises(rules.LineSessionStopped):
        line.upload(commission(line.items(1)[0]))


def test_a_session_needs_an_active_line_and_an_open_lot_of_that_line(line):
    other_line = make_line(line.factory.id)
    with pytest.raises(rules.LotOnAnotherLine):
        line.start(line=other_line)
    with transaction():
        places.deactivate_production_line(actor=ACTOR, line_id=other_line.id)
    free_lot = make_production_lot(product_id=line.product.id, factory_id=line.factory.id)
    with pytest.raises(rules.LineInactive):
        line.start(lot=free_lot, line=other_line)
    with transaction():
        production.close_production_lot(actor=ACTOR, lot_id=free_lot.id)
    with pytest.raises(rules.LotClosed):
        line.start(lot=free_lot)


# --- concurrency --------------------------------------------------------------------------------

def test_two_lines_packing_one_item_into_two_cases_at_once_pack_it_once(app, mariadb):
    first_line = Line()
    second_session = first_line.start()
    item = first_line.commissioned(1)[0]
    cases = first_line.cases(2)

    def pack_into(session_id, case):
        def run():
            with transaction():
                return line_engine.apply_records(actor=ACTOR, session_id=session_id, records=[pack(item, case)])
        return lambda: outcome(retrying(run)[0])

    results = at_once(app, pack_into(first_line.session_id, cases[0]), pack_into(second_session, cases[1]))
    assert sorted(results) == [("accepted", None), ("rejected", "packed_elsewhere")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(Event.kind == EventKind.PACK)) == 1
    parents = db.session.scalars(sa.select(Unit.child_count).where(Unit.level == "case")).all()
    assert sorted(parents) == [1]
    assert unit(item).parent_serial in {uf.serial(c) for c in cases.codes}
