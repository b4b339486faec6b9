"""An RFID-tagged case through the whole chain, read by its tag at every scan: tagged on the line, into
and out of the brand's warehouse, received and shipped on by the dealer, received by the store, one of
its items sold by the item's own tag, and the back office's trace found by the tag."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from app import rfid
from app.db import transaction
from app.extensions import db
from app.masterdata import service as masterdata
from app.units.models import Unit
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, make_factory, make_product
from tests.mp_factories import make_invitation, mp  # noqa: F401
from tests.production_factories import make_line, make_production_lot

GTIN = "06901234567892"
CASE_TAG = rfid.encode_sgtin96(gtin=GTIN, company_prefix_digits=7, serial=1001, filter=2)
ITEM_TAG = "E2003412B802011526511234"  # an item's chip, by its TID
NOW = datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_a_tagged_case_is_scanned_by_its_tag_from_the_line_to_the_sale(client, auth, mp):
    product = make_product(name="Oolong", gtin=GTIN, units_per_case=4, cases_per_pallet=10)
    factory = make_factory()
    line = make_line(factory.id)
    lot = make_production_lot(product_id=product.id, factory_id=factory.id, line_id=line.id)
    with transaction():
        warehouse = masterdata.create_warehouse(actor=ACTOR, data={"name": "DC", "factory_id": factory.id})
    dealer, dealer_headers = cf.dealer_owner(mp)
    store = cf.make_store_of(dealer.id)
    clerk = mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code)

    # The line commissions four items (one with its chip's TID) and packs them into a case it tags.
    line_headers = auth.key_headers("production")
    session = _ok(client.post("/api/integration/line/sessions", headers=line_headers,
                              json={"line_id": line.id, "lot_id": lot.id}), 201)
    items, case = uf.issue(4, product_id=product.id).codes, uf.issue(1, level="case", product_id=product.id)[0]
    records = [{"type": "commission", "record_id": "c1", "scanned_at": NOW, "code": items[0], "epc": ITEM_TAG},
               {"type": "commission", "record_id": "c2", "scanned_at": NOW, "codes": items[1:]}]
    records += [{"type": "pack", "record_id": f"p{i}", "scanned_at": NOW, "code": code, "parent": case,
                 **({"parent_epc": CASE_TAG} if i == 0 else {})} for i, code in enumerate(items)]
    answer = _ok(client.post(f"/api/integration/line/sessions/{session['id']}/records", headers=line_headers,
                             json={"records": records}))
    assert answer["accepted"] == len(records), answer

    # The warehouse scans the case in and out to the dealer against an ERP order, by its tag.
    order = cf.make_order(seller=("warehouse", warehouse.id), buyer=("dealer", dealer.id), lines=[(product.id, 4)])
    scans = _ok(client.post("/api/integration/warehouse/scans", headers=auth.key_headers("warehouse"), json={
        "records": [{"record_id": "in", "scanned_at": NOW, "action": "inbound", "code": CASE_TAG,
                     "warehouse_id": warehouse.id, "source": "line"},
                    {"record_id": "out", "scanned_at": NOW, "action": "outbound", "code": CASE_TAG.lower(),
                     "warehouse_id": warehouse.id, "to_dealer_id": dealer.id, "order_no": order.order_no}]}))
    assert [(r["status"], r.get("units")) for r in scans["results"]] == [("accepted", 4), ("accepted", 4)], scans

    # The dealer receives it by its tag and ships it on to a store by its tag; the store receives it so.
    inbound = _ok(client.get("/api/dealer/receipts/pending", headers=dealer_headers))[0]
    received = _ok(client.post(f"/api/dealer/shipments/{inbound['id']}/receipt", json={"codes": [CASE_TAG]},
                               headers=dealer_headers), 201)
    assert (received["mode"], received["received"], received["missing"]) == ("scanned", 4, 0)
    to_store = _ok(client.post("/api/dealer/shipments", json={"receiver_kind": "store", "receiver_id": store.id},
                               headers=dealer_headers), 201)
    assert _ok(client.post(f"/api/dealer/shipments/{to_store['id']}/scans", json={"codes": [CASE_TAG]},
                           headers=dealer_headers))["accepted"] == 1
    _ok(client.post(f"/api/dealer/shipments/{to_store['id']}/ship", headers=dealer_headers))
    store_receipt = _ok(client.post(f"/api/clerk/receipts/{to_store['id']}", json={"codes": [CASE_TAG]},
                                    headers=clerk), 201)
    assert store_receipt["receipt"]["received"] == 4 and store_receipt["discrepancies"] == []

    # The clerk sells the tagged item by its chip; the unit is the consumer's.
    sold = _ok(client.post("/api/clerk/sales", json={"code": ITEM_TAG}, headers=clerk), 201)
    assert sold["sale"]["code"] == items[0]
    assert db.session.get(Unit, uf.serial(items[0])).location_kind.value == "consumer"

    # The back office finds the case by its tag, with its tag and its whole life.
    trace = _ok(client.get(f"/api/admin/trace/codes/{CASE_TAG}", headers=auth.headers_for("ops")))
    assert trace["code"] == case and [e["epc"] for e in trace["epcs"]] == [CASE_TAG]
    assert trace["epcs"][0]["uri"] == "urn:epc:id:sgtin:6901234.056789.1001"
    kinds = [e["kind"] for e in trace["timeline"]]
    assert kinds.count("receive") == 3 and kinds.count("ship") == 2, kinds
    inside = sa.select(sa.func.count()).select_from(Unit).where(Unit.parent_serial == uf.serial(case))
    assert db.session.scalar(inside) == 3  # the item sold left its case
