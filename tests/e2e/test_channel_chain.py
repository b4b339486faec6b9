"""A whole two-tier chain over HTTP only: ERP orders, the brand's PDA, two dealers, a store's clerk,
the ERP's pull, the back office's trace and the dealer's rebate.

brand warehouse ─(ERP order 1)→ tier-1 dealer ─(order 2)→ tier-2 dealer ─(order 3)→ store → sold

Order 1 also carries a pallet of two cases, which tier 1 unpacks to sell one case of it on in order 2.
The case that reaches the store is RFID-tagged on the line (an SGTIN-96 on the case, a TID on one
bottle): every scan after the line reads it by its tag, and the clerk sells the bottle by its chip.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app import rfid
from app.platform.clock import BUSINESS_TZ as CHINA
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import make_dealer
from tests.mp_factories import make_invitation
from tests.retail_factories import items_of

GTIN = "06901234567892"
CASE_TAG = rfid.encode_sgtin96(gtin=GTIN, company_prefix_digits=7, serial=1001, filter=2)
BOTTLE_TID = "E2003412B802011526511234"  # a bottle's chip, by its TID


def _ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _erp_order(client, erp, order_no, *, seller, buyer, sku, quantity):
    return _ok(client.put(f"/api/integration/orders/{order_no}", headers=erp, json={
        "version": 1, "seller": {"kind": seller[0], "id": seller[1]}, "buyer": {"kind": buyer[0], "id": buyer[1]},
        "lines": [{"line_no": 1, "sku": sku, "quantity": quantity}]}))


def _dealer_ships(client, headers, order_no, codes):
    """The dealer finds the ERP's order in its list, scans the codes against it and ships."""
    order_id = next(o["id"] for o in _ok(client.get("/api/dealer/orders", headers=headers))
                    if o["order_no"] == order_no)
    shipment = _ok(client.post(f"/api/dealer/orders/{order_id}/shipments", headers=headers), 201)
    scanned = _ok(client.post(f"/api/dealer/shipments/{shipment['id']}/scans", json={"codes": codes},
                              headers=headers))
    assert [r["status"] for r in scanned["results"]] == ["accepted"] * len(codes), scanned
    return _ok(client.post(f"/api/dealer/shipments/{shipment['id']}/ship", headers=headers))


def _receive_pending(client, headers, prefix, codes=None):
    """Confirm the one pending receipt: whole, or by scanning ``codes``."""
    pending = _ok(client.get(f"/api/{prefix}/receipts/pending", headers=headers))
    assert len(pending) == 1, pending
    path = (f"/api/dealer/shipments/{pending[0]['id']}/receipt" if prefix == "dealer"
            else f"/api/clerk/receipts/{pending[0]['id']}")
    return _ok(client.post(path, json={"codes": codes} if codes else {}, headers=headers), 201)


def _tagged_case_from_the_line(client, auth, brand, now) -> tuple[str, list[str]]:
    """The line commissions 24 bottles (one with its chip's TID), packs them into a case it tags, and the
    brand's PDA scans the case into the warehouse by its tag; the case code and its bottles."""
    production = auth.key_headers("production")
    session = _ok(client.post("/api/integration/line/sessions", headers=production,
                              json={"line_id": brand.line_id, "lot_id": brand.lot.id}), 201)
    bottles = uf.issue(24, product_id=brand.product.id).codes
    case = uf.issue(1, level="case", product_id=brand.product.id).codes[0]
    records = [{"type": "commission", "record_id": "c1", "scanned_at": now, "code": bottles[0], "epc": BOTTLE_TID},
               {"type": "commission", "record_id": "c2", "scanned_at": now, "codes": bottles[1:]}]
    records += [{"type": "pack", "record_id": f"p{i}", "scanned_at": now, "code": code, "parent": case,
                 **({"parent_epc": CASE_TAG} if i == 0 else {})} for i, code in enumerate(bottles)]
    answer = _ok(client.post(f"/api/integration/line/sessions/{session['id']}/records", headers=production,
                             json={"records": records}))
    assert answer["accepted"] == len(records), answer
    scanned = _ok(client.post("/api/integration/warehouse/scans", headers=auth.key_headers("warehouse"), json={
        "records": [{"record_id": "pda-in", "scanned_at": now, "action": "inbound", "code": CASE_TAG,
                     "warehouse_id": brand.warehouse_id, "source": "line"}]}))
    assert scanned["results"][0]["units"] == 24, scanned
    return case, bottles


def test_goods_travel_from_an_erp_order_to_a_clerks_sale_and_every_party_sees_it(client, auth, mp):
    brand = cf.make_brand()
    t1, h1 = cf.dealer_owner(mp)
    t2, h2 = cf.dealer_owner(mp, make_dealer(parent_id=t1.id))
    store = cf.make_store_of(t2.id)
    clerk = mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code)
    _ok(client.patch(f"/api/admin/products/{brand.product.id}", json={"gtin": GTIN}, headers=auth.as_admin()))
    now = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    case_a, bottles = _tagged_case_from_the_line(client, auth, brand, now)
    [case_b] = cf.cases(brand.lot, 1, warehouse_id=brand.warehouse_id)
    pallet = cf.pallet(brand.lot, cases_=2, warehouse_id=brand.warehouse_id)
    erp, pda = auth.key_headers("orders"), auth.key_headers("warehouse")
    sku = brand.product.sku

    # 1. The ERP orders two cases and a pallet for tier 1; the brand's PDA scans them out against the order
    #    (the tagged case by its tag).
    first = _erp_order(client, erp, "E2E-1", seller=("warehouse", brand.warehouse_id), buyer=("dealer", t1.id),
                       sku=sku, quantity=96)
    assert first["result"] == "created"
    scans = _ok(client.post("/api/integration/warehouse/scans", headers=pda, json={"records": [
        {"record_id": f"pda-{i}", "scanned_at": now, "action": "outbound", "code": code,
         "warehouse_id": brand.warehouse_id, "to_dealer_id": t1.id, "order_no": "E2E-1"}
        for i, code in enumerate((CASE_TAG.lower(), case_b, pallet))]}))
    assert scans["accepted"] == 3, scans
    assert _receive_pending(client, h1, "dealer")["received"] == 96

    # 2. Tier 1 breaks the pallet and sells a case of it and case A on to tier 2, which receives them.
    pallet_case, kept_case = items_of(pallet)
    unpacked = _ok(client.post("/api/dealer/unpacks", json={"mode": "whole", "codes": [pallet]}, headers=h1))
    assert unpacked["accepted"] == 1 and unpacked["results"][0]["released"] == 2
    _erp_order(client, erp, "E2E-2", seller=("dealer", t1.id), buyer=("dealer", t2.id), sku=sku, quantity=48)
    assert _dealer_ships(client, h1, "E2E-2", [CASE_TAG, pallet_case])["items"] == 48
    received = _receive_pending(client, h2, "dealer", codes=[CASE_TAG, pallet_case])
    assert (received["mode"], received["received"], received["missing"]) == ("scanned", 48, 0)

    # 3. Tier 2 ships the tagged case to a store it serves; the store's clerk scans its tag to receive it.
    _erp_order(client, erp, "E2E-3", seller=("dealer", t2.id), buyer=("store", store.id), sku=sku, quantity=24)
    _dealer_ships(client, h2, "E2E-3", [CASE_TAG])
    store_receipt = _receive_pending(client, clerk, "clerk", codes=[CASE_TAG])
    assert store_receipt["receipt"]["received"] == 24 and store_receipt["discrepancies"] == []

    # 4. The marketers pay 50 fen a sale; the clerk sells one bottle and earns it.
    start = datetime.now(timezone.utc) - timedelta(days=1)
    _ok(client.post("/api/admin/reward-rules", headers=auth.headers_for("marketer"), json={
        "name": "Launch bonus", "product_id": brand.product.id, "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=30)).isoformat(), "kind": "cash", "amount": 50}), 201)
    bottle = bottles[0]
    sale = _ok(client.post("/api/clerk/sales", json={"code": BOTTLE_TID}, headers=clerk), 201)
    assert sale["sale"]["code"] == bottle
    assert sale["sale"]["not_received"] is False and sale["credited"] == 50
    assert _ok(client.get("/api/clerk/rewards/balance", headers=clerk))["cash"] == 50

    # 5. The ERP sees every order closed and pulls every fact in order.
    for order_no in ("E2E-1", "E2E-2", "E2E-3"):
        assert _ok(client.get(f"/api/integration/orders/{order_no}", headers=erp))["status"] == "closed", order_no
    events = _ok(client.get("/api/integration/events?after=0&limit=100", headers=erp))
    kinds = [e["type"] for e in events["items"]]
    assert kinds.count("shipment.shipped") == 3 and kinds.count("receipt.confirmed") == 3
    assert kinds[-1] == "sale.scanned" and events["items"][-1]["payload"]["code"] == bottle
    assert _ok(client.get(f"/api/integration/events?after={events['next_cursor']}", headers=erp))["items"] == []

    # 6. The back office traces the bottle to the consumer, and the stock left behind adds up.
    trace = _ok(client.get(f"/api/admin/trace/codes/{bottle}", headers=auth.headers_for("auditor")))
    assert trace["location"]["kind"] == "consumer"
    assert [e["kind"] for e in trace["timeline"]][-1] == "sell"
    case_trace = _ok(client.get(f"/api/admin/trace/codes/{CASE_TAG}", headers=auth.headers_for("auditor")))
    assert case_trace["code"] == case_a and [e["epc"] for e in case_trace["epcs"]] == [CASE_TAG]
    assert case_trace["epcs"][0]["uri"] == "urn:epc:id:sgtin:6901234.056789.1001"
    kinds = [e["kind"] for e in case_trace["timeline"]]
    assert kinds.count("receive") == 4 and kinds.count("ship") == 3, kinds
    lookup = _ok(client.get(f"/api/admin/codes/{bottle}", headers=auth.headers_for("auditor")))
    assert (lookup["status"], [(e["epc"], e["kind"]) for e in lookup["epcs"]]) == ("issued", [(BOTTLE_TID, "tid")])
    assert _ok(client.get("/api/dealer/stock", headers=h1))[0]["quantity"] == 48  # case B and a pallet's case
    assert _ok(client.get("/api/dealer/stock", headers=h2))[0]["quantity"] == 24  # the other case of the pallet
    kept = _ok(client.get(f"/api/admin/trace/codes/{kept_case}", headers=auth.headers_for("auditor")))
    assert (kept["location"]["kind"], kept["location"]["id"], kept["ancestors"]) == ("dealer", t1.id, [])
    assert [e["kind"] for e in kept["timeline"]][-1] == "unpack"

    # 7. Finance pays tier 2 a rebate: 500 fen per case its stores received, 20 fen per unit sold through.
    finance = auth.headers_for("finance")
    today = datetime.now(CHINA).date()
    for basis, amount in (("case_to_store", 500), ("unit_sold", 20)):
        _ok(client.post("/api/admin/rebate-rules", headers=finance, json={
            "name": basis, "tier": 2, "basis": basis, "amount_fen": amount,
            "starts_on": (today - timedelta(days=7)).isoformat(), "ends_on": (today + timedelta(days=7)).isoformat()}),
            201)
    statement = _ok(client.post("/api/admin/rebate-statements", headers=finance, json={
        "dealer_id": t2.id, "period_start": (today - timedelta(days=1)).isoformat(),
        "period_end": (today + timedelta(days=1)).isoformat()}))
    assert statement["total_fen"] == 1 * 500 + 1 * 20
    assert sorted((line["basis"], line["quantity"]) for line in statement["lines"]) == [
        ("case_to_store", 1), ("unit_sold", 1)]
