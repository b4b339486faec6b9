"""The trace reads what the real engines write: a line upload, then warehouse scans."""
from __future__ import annotations

from datetime import timedelta

from app.db import transaction
from app.masterdata import places
from app.trace import code_trace
from app.units import line_engine, line_sessions
from app.warehouse import service as warehouse
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, make_dealer, make_factory, make_product
from tests.production_factories import make_line, make_production_lot

T0 = uf.SCANNED


def at(minutes: int):
    return T0 + timedelta(minutes=minutes)


def test_a_relabelled_item_keeps_its_history_and_sees_its_pallet_ship_while_a_removed_one_does_not(app):
    factory, product = make_factory(), make_product(units_per_case=3, cases_per_pallet=1)
    line = make_line(factory.id)
    with transaction():
        store_room = places.create_warehouse(actor=ACTOR, data={"name": "Main", "factory_id": factory.id})
    dealer = make_dealer()
    lot = make_production_lot(product_id=product.id, factory_id=factory.id, line_id=line.id)
    items = uf.issue(3, product_id=product.id)
    case, pallet, fresh = uf.issue(1, level="case")[0], uf.issue(1, level="pallet")[0], \
        uf.issue(1, product_id=product.id)[0]
    records = [{"type": "commission", "record_id": "c", "scanned_at": at(0), "codes": items.codes},
               *({"type": "pack", "record_id": f"p{i}", "scanned_at": at(1), "code": c, "parent": case}
                 for i, c in enumerate(items.codes)),
               {"type": "pack", "record_id": "pp", "scanned_at": at(2), "code": case, "parent": pallet},
               {"type": "replace", "record_id": "r", "scanned_at": at(3), "code": items[0], "new_code": fresh},
               {"type": "remove", "record_id": "x", "scanned_at": at(4), "code": items[1]}]
    with transaction():
        session = line_sessions.start_session(actor=ACTOR, line_id=line.id, lot_id=lot.id)
    with transaction():
        results = line_engine.apply_records(actor=ACTOR, session_id=session.id, records=records)
    assert [r.status for r in results] == ["accepted"] * len(records), results
    scans = [{"record_id": "in", "scanned_at": at(10), "action": "inbound", "source": "line", "code": pallet,
              "warehouse_id": store_room.id},
             {"record_id": "out", "scanned_at": at(20), "action": "outbound", "code": pallet,
              "warehouse_id": store_room.id, "to_dealer_id": dealer.id}]
    with transaction():
        results = warehouse.apply_scans(actor=ACTOR, records=scans)
    assert [r.status for r in results] == ["accepted", "accepted"], results

    relabelled = code_trace.trace_code(fresh)
    assert relabelled.replaces == items[0]
    assert [(e.kind.value, e.code) for e in relabelled.timeline if e.via is None] == [
        ("commission", items[0]), ("pack", items[0]), ("replace", fresh)]
    assert [(e.kind.value, e.via) for e in relabelled.timeline if e.via] == [
        ("pack", case), ("receive", pallet), ("ship", pallet)]
    assert (relabelled.location.kind.value, relabelled.location.in_transit) == ("dealer", True)
    removed = code_trace.trace_code(items[1])
    assert [(e.kind.value, e.via) for e in removed.timeline] == [
        ("commission", None), ("pack", None), ("pack", case), ("remove", None)]
    assert removed.location.kind.value == "line"
