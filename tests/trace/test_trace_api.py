"""Traceability over HTTP: code trace, recall view and action, raw-material trace, corrections, roles."""
from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from app.db import transaction, utcnow
from app.extensions import db
from app.identity.models import AuditRecord
from app.masterdata import places
from app.production import service as production
from app.units import stock_moves, unit_rows
from app.units.models import EventKind, LocationKind
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, make_dealer, make_factory, make_product
from tests.production_factories import make_line, make_production_lot, make_raw_lot

TRACE = "/api/admin/trace"
T0 = uf.SCANNED


def world():
    """A lot of 4 items in 2 cases on a pallet, received into a warehouse, then the pallet shipped."""
    factory, product = make_factory(), make_product()
    line = make_line(factory.id)
    with transaction():
        warehouse = places.create_warehouse(actor=ACTOR, data={"name": "Main", "factory_id": factory.id})
    dealer, raw = make_dealer(), make_raw_lot()
    lot = make_production_lot(product_id=product.id, factory_id=factory.id, line_id=line.id)
    with transaction():
        production.add_consumption(actor=ACTOR, lot_id=lot.id, raw_lot_id=raw.id, quantity="3")
    items = uf.commission(lot, 4)
    cases = [uf.pack(items[:2], at=T0 + timedelta(minutes=1)), uf.pack(items[2:], at=T0 + timedelta(minutes=1))]
    pallet = uf.pack(cases, level="pallet", at=T0 + timedelta(minutes=2))
    uf.receive([pallet], warehouse_id=warehouse.id, at=T0 + timedelta(minutes=3))
    return dict(product=product, factory=factory, line=line, warehouse=warehouse, dealer=dealer, raw=raw,
                lot=lot, items=items, cases=cases, pallet=pallet)


def ship(code: str, *, dealer_id: int) -> None:
    """The pallet leaves for a dealer: one SHIP event on its code, everything inside moves (in transit)."""
    root = uf.serial(code)
    with transaction():
        units = unit_rows.load_units([root])
        units.update(unit_rows.subtree([root]))
        before = {s: stock_moves.stock_key(u) for s, u in units.items()}
        for unit in units.values():
            unit.location_kind, unit.location_id, unit.in_transit = LocationKind.DEALER, dealer_id, True
        unit_rows.save_units(units.values(), ["location_kind", "location_id", "in_transit"])
        stock_moves.adjust_stock(stock_moves.stock_deltas(before, units.values()))
        unit_rows.write_events([unit_rows.event_row(
            kind=EventKind.SHIP, serial=root, occurred_at=T0 + timedelta(hours=1), recorded_at=utcnow(),
            location_kind=LocationKind.WAREHOUSE, location_id=units[root].location_id, source=uf.SOURCE)])


def test_a_code_trace_answers_product_lot_materials_tree_and_timeline(client, auth):
    w = world()
    ship(w["pallet"], dealer_id=w["dealer"].id)
    response = client.get(f"{TRACE}/codes/{w['items'][0]}", headers=auth.headers_for("auditor"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["commissioned"], body["level"], body["status"], body["product"]["id"]) == \
        (True, "item", "active", w["product"].id)
    assert (body["lot"]["lot_no"], body["lot"]["production_date"], body["lot"]["line_name"]) == \
        (w["lot"].lot_no, "2026-03-02", w["line"].name)
    assert [m["raw_material_lot"]["id"] for m in body["raw_materials"]] == [w["raw"].id]
    assert body["location"] == {"kind": "dealer", "id": w["dealer"].id, "name": w["dealer"].name, "in_transit": True}
    assert [a["code"] for a in body["ancestors"]] == [w["cases"][0], w["pallet"]]
    assert [(e["kind"], e["via"]) for e in body["timeline"]] == [
        ("commission", None), ("pack", None), ("pack", w["cases"][0]), ("receive", w["pallet"]),
        ("ship", w["pallet"])]
    assert body["timeline"][0]["location"]["name"] == w["line"].name
    pallet = client.get(f"{TRACE}/codes/{w['pallet']}", headers=auth.as_admin()).get_json()
    assert [[g["code"] for g in c["children"]] for c in pallet["children"]] == [w["items"][:2], w["items"][2:]]
    assert (pallet["tree_size"], pallet["truncated"]) == (6, False)


def test_a_forged_code_is_404_and_an_issued_one_is_not_commissioned(client, auth):
    headers = auth.as_admin()
    response = client.get(f"{TRACE}/codes/{'0' * 18}", headers=headers)
    assert (response.status_code, response.get_json()["code"]) == (404, "code_not_found")
    code = uf.issue(1, level="case")[0]
    body = client.get(f"{TRACE}/codes/{code}", headers=headers).get_json()
    assert (body["commissioned"], body["level"], body["timeline"], body["lot"]) == (False, "case", [], None)


def test_the_recall_view_and_the_recall(client, auth):
    w = world()
    uf.commission(w["lot"], 2)  # still on the line
    ship(w["pallet"], dealer_id=w["dealer"].id)
    headers = auth.headers_for("ops")
    summary = client.get(f"{TRACE}/lots/{w['lot'].id}", headers=headers).get_json()
    assert (summary["units"], summary["in_transit"], summary["by_kind"]) == (6, 4, {"dealer": 4, "line": 2})
    page = client.get(f"{TRACE}/lots/{w['lot'].id}/units?location_kind=dealer&page_size=3", headers=headers)
    assert json.loads(page.headers["X-Pagination"])["total"] == 4
    assert [(u["level"], u["location"]["kind"], u["in_transit"]) for u in page.get_json()] == \
        [("item", "dealer", True)] * 3
    assert {u["parent_code"] for u in page.get_json()} <= set(w["cases"])

    response = client.post(f"{TRACE}/lots/{w['lot'].id}/recall", headers=headers, json={"reason": "mould"})
    assert response.status_code == 201, response.get_json()
    recall = response.get_json()
    assert (recall["lot_id"], recall["units"], recall["reason"]) == (w["lot"].id, 9, "mould")  # 6 items, 2 cases, pallet
    again = client.post(f"{TRACE}/lots/{w['lot'].id}/recall", headers=headers, json={"reason": "mould"})
    assert (again.status_code, again.get_json()["code"]) == (409, "lot_already_recalled")
    recalled = client.get(f"{TRACE}/lots/{w['lot'].id}/units?recalled=true", headers=headers)
    assert json.loads(recalled.headers["X-Pagination"])["total"] == 6
    assert client.get(f"{TRACE}/codes/{w['items'][0]}", headers=headers).get_json()["recall"]["id"] == recall["id"]
    listed = client.get(f"/api/admin/recalls?lot_id={w['lot'].id}", headers=headers).get_json()
    assert [r["id"] for r in listed] == [recall["id"]]
    assert client.get(f"/api/admin/recalls/{recall['id']}", headers=headers).get_json()["units"] == 9


def test_an_auditor_reads_but_cannot_recall_or_correct(client, auth):
    w = world()
    headers = auth.headers_for("auditor")
    for url in (f"{TRACE}/lots/{w['lot'].id}", f"{TRACE}/lots/{w['lot'].id}/units",
                f"{TRACE}/raw-material-lots/{w['raw'].id}", "/api/admin/recalls"):
        assert client.get(url, headers=headers).status_code == 200, url
    for url, body in ((f"{TRACE}/lots/{w['lot'].id}/recall", {"reason": "x"}),
                      (f"{TRACE}/codes/{w['items'][0]}/corrections", {"lot_id": w["lot"].id, "reason": "x"})):
        response = client.post(url, headers=headers, json=body)
        assert (response.status_code, response.get_json()["code"]) == (403, "role_forbidden")


def test_unknown_ids_are_404(client, auth):
    headers = auth.as_admin()
    for url, code in ((f"{TRACE}/lots/987654", "production_lot_not_found"),
                      (f"{TRACE}/lots/987654/units", "production_lot_not_found"),
                      (f"{TRACE}/raw-material-lots/987654", "raw_material_lot_not_found"),
                      (f"{TRACE}/raw-material-lots/987654/units", "raw_material_lot_not_found"),
                      ("/api/admin/recalls/987654", "recall_not_found")):
        response = client.get(url, headers=headers)
        assert (response.status_code, response.get_json()["code"]) == (404, code), url
    response = client.post(f"{TRACE}/lots/987654/recall", headers=headers, json={"reason": "x"})
    assert (response.status_code, response.get_json()["code"]) == (404, "production_lot_not_found")


def test_the_raw_material_trace_lists_lots_and_units(client, auth):
    w = world()
    headers = auth.as_admin()
    body = client.get(f"{TRACE}/raw-material-lots/{w['raw'].id}", headers=headers).get_json()
    assert body["units"] == 4
    assert [(lot["production_lot"]["id"], lot["quantity"], lot["summary"]["by_kind"]) for lot in body["lots"]] == \
        [(w["lot"].id, "3.000", {"warehouse": 4})]
    units = client.get(f"{TRACE}/raw-material-lots/{w['raw'].id}/units", headers=headers).get_json()
    assert sorted(u["code"] for u in units) == sorted(w["items"])


def test_a_lot_correction_over_http(client, auth):
    w = world()
    right = make_production_lot(product_id=w["product"].id, factory_id=w["factory"].id)
    headers = auth.headers_for("ops")
    url = f"{TRACE}/codes/{w['items'][0]}/corrections"
    response = client.post(url, headers=headers, json={"lot_id": right.id, "reason": "wrong lot scanned"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["code"], body["lot_id"], body["event"]["kind"]) == (w["items"][0], right.id, "correct")
    timeline = client.get(f"{TRACE}/codes/{w['items'][0]}", headers=headers).get_json()["timeline"]
    commission = next(e for e in timeline if e["kind"] == "commission")
    assert body["event"]["corrects_event_id"] == commission["id"]
    assert commission["corrected_by"] == [body["event"]["id"]]
    wrong = client.post(url, headers=headers, json={"lot_id": make_production_lot().id, "reason": "x"})
    assert (wrong.status_code, wrong.get_json()["code"]) == (422, "wrong_product")
    empty = client.post(url, headers=headers, json={"lot_id": right.id, "reason": ""})
    assert empty.status_code == 422


def test_a_recall_carries_a_public_notice_the_brand_can_change(client, auth):
    w = world()
    headers = auth.headers_for("ops")
    response = client.post(f"{TRACE}/lots/{w['lot'].id}/recall", headers=headers,
                           json={"reason": "supplier QA-17", "public_notice": "凭瓶盖到购买门店退款。"})
    assert response.status_code == 201, response.get_json()
    recall = response.get_json()
    assert (recall["reason"], recall["public_notice"]) == ("supplier QA-17", "凭瓶盖到购买门店退款。")
    assert "凭瓶盖到购买门店退款。" in client.get(f"/c/{w['items'][0]}").get_data(as_text=True)

    changed = client.patch(f"/api/admin/recalls/{recall['id']}", headers=headers,
                           json={"public_notice": "请致电 400-820-8820 预约上门回收。"})
    assert changed.status_code == 200 and changed.get_json()["public_notice"] == "请致电 400-820-8820 预约上门回收。"
    assert client.get(f"/api/admin/recalls?lot_id={w['lot'].id}", headers=headers).get_json()[0]["public_notice"] \
        == "请致电 400-820-8820 预约上门回收。"
    page = client.get(f"/c/{w['items'][0]}").get_data(as_text=True)
    assert "预约上门回收" in page and "凭瓶盖" not in page and "QA-17" not in page
    audited = db.session.scalars(sa.select(AuditRecord.changes).where(AuditRecord.action == "recall.public_notice"))
    assert list(audited) == [{"public_notice": ["凭瓶盖到购买门店退款。", "请致电 400-820-8820 预约上门回收。"]}]

    cleared = client.patch(f"/api/admin/recalls/{recall['id']}", headers=headers, json={"public_notice": None})
    assert cleared.status_code == 200 and cleared.get_json()["public_notice"] is None
    assert "召回说明" not in client.get(f"/c/{w['items'][0]}").get_data(as_text=True)


def test_a_public_notice_is_checked_and_only_recallers_change_it(client, auth):
    w = world()
    recall = client.post(f"{TRACE}/lots/{w['lot'].id}/recall", headers=auth.headers_for("ops"),
                         json={"reason": "mould"}).get_json()
    assert recall["public_notice"] is None
    url = f"/api/admin/recalls/{recall['id']}"
    for body in ({"public_notice": ""}, {"public_notice": "x" * 501}, {}, {"public_notice": 7}):
        response = client.patch(url, headers=auth.headers_for("ops"), json=body)
        assert (response.status_code, response.get_json()["code"]) == (422, "validation_failed"), body
    response = client.patch(url, headers=auth.headers_for("auditor"), json={"public_notice": "x"})
    assert (response.status_code, response.get_json()["code"]) == (403, "role_forbidden")
    response = client.patch("/api/admin/recalls/987654", headers=auth.headers_for("ops"), json={"public_notice": "x"})
    assert (response.status_code, response.get_json()["code"]) == (404, "recall_not_found")
    refused = client.post(f"{TRACE}/lots/{w['lot'].id}/recall", headers=auth.headers_for("ops"),
                          json={"reason": "mould", "public_notice": "x" * 501})
    assert refused.status_code == 422


def test_a_replaced_label_reads_voided_in_the_code_lookup_the_trace_and_the_consumer_scan(client, auth, mp):
    w = world()
    production_key = auth.key_headers("production")
    session = client.post("/api/integration/line/sessions", headers=production_key,
                          json={"line_id": w["line"].id, "lot_id": w["lot"].id})
    assert session.status_code == 201, session.get_json()
    fresh = uf.issue(1, product_id=w["product"].id)[0]
    replaced = client.post(f"/api/integration/line/sessions/{session.get_json()['id']}/records", headers=production_key,
                           json={"records": [{"type": "replace", "record_id": "r1", "code": w["items"][0],
                                              "new_code": fresh, "scanned_at": (T0 + timedelta(hours=2)).isoformat()}]})
    assert replaced.get_json()["accepted"] == 1, replaced.get_json()
    headers = auth.as_admin()

    looked_up = client.get(f"/api/admin/codes/{w['items'][0]}", headers=headers).get_json()
    assert (looked_up["status"], looked_up["reason"], looked_up["replaced_by"]) == ("voided", "replaced", fresh)
    assert client.get(f"/api/admin/codes/{fresh}", headers=headers).get_json()["status"] == "issued"
    assert client.get(f"/api/admin/codes/{w['items'][1]}", headers=headers).get_json()["status"] == "issued"
    traced = client.get(f"{TRACE}/codes/{w['items'][0]}", headers=headers).get_json()
    assert (traced["status"], traced["replaced_by"]) == ("voided", fresh)
    assert client.get(f"{TRACE}/codes/{fresh}", headers=headers).get_json()["status"] == "active"
    consumer, _ = mp.sign_in("consumer")
    scanned = client.post("/api/consumer/scans", json={"code": w["items"][0]}, headers=consumer)
    assert scanned.status_code == 201 and scanned.get_json()["verdict"] == "voided", scanned.get_json()


def test_a_code_of_a_voided_batch_reads_voided_in_the_trace_too(client, auth, mp):
    w = world()
    headers = auth.as_admin()
    batch_id = client.get(f"/api/admin/codes/{w['items'][1]}", headers=headers).get_json()["batch"]["id"]
    assert client.post(f"/api/admin/code-batches/{batch_id}/void", headers=headers,
                       json={"reason": "misprinted roll"}).status_code == 200
    assert client.get(f"/api/admin/codes/{w['items'][1]}", headers=headers).get_json()["status"] == "voided"
    assert client.get(f"{TRACE}/codes/{w['items'][1]}", headers=headers).get_json()["status"] == "voided"
    consumer, _ = mp.sign_in("consumer")
    scanned = client.post("/api/consumer/scans", json={"code": w["items"][1]}, headers=consumer)
    assert scanned.get_json()["verdict"] == "voided", scanned.get_json()
