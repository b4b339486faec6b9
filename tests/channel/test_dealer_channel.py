"""The dealer mini-program's channel over HTTP: orders, scanning out, shipping, receiving, stock, performance."""
from __future__ import annotations


import sqlalchemy as sa

from app.channel import receipts
from app.channel.models import Shipment
from app.db import transaction
from app.extensions import db
from tests import channel_factories as cf
from tests import unit_factories as uf

PERIOD = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}


def _ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_a_two_tier_chain_from_the_brand_to_a_store(client, chain):
    brand, t1, t2 = chain.brand, chain.t1, chain.t2
    # The brand warehouse scans two cases out to the tier-1 dealer against an ERP order.
    codes = cf.cases(brand.lot, 2, warehouse_id=brand.warehouse_id)
    erp = cf.make_order(seller=("warehouse", brand.warehouse_id), buyer=("dealer", t1.id),
                        lines=[(brand.product.id, 48)])
    results = cf.warehouse_outbound(codes, warehouse_id=brand.warehouse_id, dealer_id=t1.id, order_no=erp.order_no)
    assert [r.status for r in results] == ["accepted", "accepted"]
    inbound = db.session.scalars(sa.select(Shipment).where(Shipment.order_id == erp.id)).one()

    pending = _ok(client.get("/api/dealer/receipts/pending", headers=chain.h1))
    assert [s["id"] for s in pending] == [inbound.id]
    receipt = _ok(client.post(f"/api/dealer/shipments/{inbound.id}/receipt", json={}, headers=chain.h1), 201)
    assert (receipt["mode"], receipt["expected"], receipt["received"], receipt["missing"]) == ("whole", 48, 48, 0)
    assert _ok(client.get(f"/api/dealer/orders/{erp.id}", headers=chain.h1))["status"] == "closed"
    stock = _ok(client.get("/api/dealer/stock", headers=chain.h1))
    assert [(r["product_id"], r["lot_id"], r["quantity"]) for r in stock] == [(brand.product.id, brand.lot.id, 48)]

    # Tier 1 scans one case out to tier 2 against an order of one case.
    order = cf.make_order(seller=("dealer", t1.id), buyer=("dealer", t2.id), lines=[(brand.product.id, 24)])
    listed = _ok(client.get("/api/dealer/orders", headers=chain.h1))
    assert {o["id"] for o in listed} == {erp.id, order.id}
    shipment = _ok(client.post(f"/api/dealer/orders/{order.id}/shipments", headers=chain.h1), 201)
    again = _ok(client.post(f"/api/dealer/orders/{order.id}/shipments", headers=chain.h1), 201)
    assert again["id"] == shipment["id"]
    scanned = _ok(client.post(f"/api/dealer/shipments/{shipment['id']}/scans", json={"codes": [codes[0]]},
                              headers=chain.h1))
    assert scanned["accepted"] == 1 and scanned["lines"][0]["picked"] == 24
    assert scanned["lines"][0]["remaining"] == 0
    refused = _ok(client.post(f"/api/dealer/shipments/{shipment['id']}/scans", json={"codes": [codes[1]]},
                              headers=chain.h1))
    assert refused["results"][0]["reason"] == "line_complete"
    detail = _ok(client.get(f"/api/dealer/orders/{order.id}", headers=chain.h1))
    assert detail["open_shipment_id"] == shipment["id"] and detail["lines"][0]["picked"] == 24
    shipped = _ok(client.post(f"/api/dealer/shipments/{shipment['id']}/ship", headers=chain.h1))
    assert shipped["status"] == "shipped" and shipped["items"] == 24
    assert _ok(client.post(f"/api/dealer/shipments/{shipment['id']}/ship", headers=chain.h1)) == shipped
    assert _ok(client.get(f"/api/dealer/orders/{order.id}", headers=chain.h1))["status"] == "shipped"

    # Tier 2 scans the case in, then ships it to a store it serves without an order.
    assert [s["id"] for s in _ok(client.get("/api/dealer/shipments?direction=in", headers=chain.h2))] == \
        [shipment["id"]]
    receipt = _ok(client.post(f"/api/dealer/shipments/{shipment['id']}/receipt", json={"codes": [codes[0]]},
                              headers=chain.h2), 201)
    assert (receipt["mode"], receipt["received"]) == ("scanned", 24)
    twice = client.post(f"/api/dealer/shipments/{shipment['id']}/receipt", json={}, headers=chain.h2)
    assert twice.status_code == 409 and twice.get_json()["code"] == "shipment_already_received"
    assert _ok(client.get(f"/api/dealer/orders/{order.id}", headers=chain.h2))["status"] == "closed"

    to_store = _ok(client.post("/api/dealer/shipments", json={"receiver_kind": "store",
                                                              "receiver_id": chain.store.id}, headers=chain.h2), 201)
    _ok(client.post(f"/api/dealer/shipments/{to_store['id']}/scans", json={"codes": [codes[0]]}, headers=chain.h2))
    _ok(client.post(f"/api/dealer/shipments/{to_store['id']}/ship", headers=chain.h2))
    with transaction():
        receipts.confirm_receipt(actor_label="app_user:0", receiver_kind="store", receiver_id=chain.store.id,
                                 shipment_id=to_store["id"])
    assert _ok(client.get("/api/dealer/stock", headers=chain.h2)) == []
    performance = _ok(client.get("/api/dealer/performance", query_string=PERIOD, headers=chain.h2))
    assert (performance["items_shipped"], performance["items_shipped_to_stores"],
            performance["items_received_by_stores"], performance["items_received"]) == (24, 24, 24, 24)
    outgoing = _ok(client.get("/api/dealer/shipments?direction=out&status=received", headers=chain.h2))
    assert [s["id"] for s in outgoing] == [to_store["id"]]
    detail = _ok(client.get(f"/api/dealer/shipments/{to_store['id']}", headers=chain.h2))
    assert detail["receipt"]["received"] == 24 and len(detail["scans"]) == 1


def test_undo_and_cancel_over_http(client, chain):
    codes = cf.dealer_stock(chain.brand, chain.t1.id, cases_=2)
    shipment = _ok(client.post("/api/dealer/shipments", json={"receiver_kind": "dealer", "receiver_id": chain.t2.id},
                               headers=chain.h1), 201)
    scanned = _ok(client.post(f"/api/dealer/shipments/{shipment['id']}/scans", json={"codes": codes},
                              headers=chain.h1))
    assert scanned["shipment"]["items"] == 48
    scan_id = scanned["results"][0]["scan_id"]
    undone = _ok(client.delete(f"/api/dealer/shipments/{shipment['id']}/scans/{scan_id}", headers=chain.h1))
    assert undone["items"] == 24
    again = client.delete(f"/api/dealer/shipments/{shipment['id']}/scans/{scan_id}", headers=chain.h1)
    assert again.status_code == 404 and again.get_json()["code"] == "scan_not_found"
    cancelled = _ok(client.post(f"/api/dealer/shipments/{shipment['id']}/cancel", headers=chain.h1))
    assert cancelled["status"] == "cancelled"
    ship = client.post(f"/api/dealer/shipments/{shipment['id']}/ship", headers=chain.h1)
    assert ship.status_code == 409 and ship.get_json()["code"] == "shipment_cancelled"


def test_a_user_without_a_dealer_is_403(client, mp):
    headers, _ = mp.sign_in("dealer")
    response = client.get("/api/dealer/orders", headers=headers)
    assert response.status_code == 403 and response.get_json()["code"] == "no_dealer"


def test_a_shipment_goes_only_to_a_store_i_serve_or_a_sub_dealer_of_mine(client, chain, mp):
    other, _ = cf.dealer_owner(mp)
    for body in ({"receiver_kind": "store", "receiver_id": cf.make_store_of(other.id).id},
                 {"receiver_kind": "dealer", "receiver_id": other.id},
                 {"receiver_kind": "dealer", "receiver_id": chain.t1.id}):
        response = client.post("/api/dealer/shipments", json=body, headers=chain.h1)
        assert response.status_code == 404 and response.get_json()["code"] == "receiver_not_found", body


def test_another_dealers_ids_answer_404_on_every_endpoint(client, chain, mp):
    """BOLA: dealer B reaches none of dealer A's orders, shipments, scans, receipts, stock or figures."""
    _, hb = cf.dealer_owner(mp)
    codes = cf.dealer_stock(chain.brand, chain.t1.id, cases_=2)
    order = cf.make_order(seller=("dealer", chain.t1.id), buyer=("dealer", chain.t2.id),
                          lines=[(chain.brand.product.id, 48)])
    open_ = _ok(client.post(f"/api/dealer/orders/{order.id}/shipments", headers=chain.h1), 201)
    scan_id = _ok(client.post(f"/api/dealer/shipments/{open_['id']}/scans", json={"codes": [codes[0]]},
                              headers=chain.h1))["results"][0]["scan_id"]
    shipped = _ok(client.post("/api/dealer/shipments", json={"receiver_kind": "dealer", "receiver_id": chain.t2.id},
                              headers=chain.h1), 201)
    _ok(client.post(f"/api/dealer/shipments/{shipped['id']}/scans", json={"codes": [codes[1]]}, headers=chain.h1))
    _ok(client.post(f"/api/dealer/shipments/{shipped['id']}/ship", headers=chain.h1))

    for method, path, body in (
            ("get", f"/api/dealer/orders/{order.id}", None),
            ("post", f"/api/dealer/orders/{order.id}/shipments", None),
            ("get", f"/api/dealer/shipments/{open_['id']}", None),
            ("get", f"/api/dealer/shipments/{shipped['id']}", None),
            ("post", f"/api/dealer/shipments/{open_['id']}/scans", {"codes": [codes[0]]}),
            ("delete", f"/api/dealer/shipments/{open_['id']}/scans/{scan_id}", None),
            ("post", f"/api/dealer/shipments/{open_['id']}/ship", None),
            ("post", f"/api/dealer/shipments/{open_['id']}/cancel", None),
            ("post", f"/api/dealer/shipments/{shipped['id']}/receipt", {}),
    ):
        response = getattr(client, method)(path, json=body, headers=hb)
        assert response.status_code == 404, (method, path, response.get_json())
    # Tier 1 ships, it doesn't receive its own shipment; tier 2 can't touch tier 1's open shipment.
    assert client.post(f"/api/dealer/shipments/{shipped['id']}/receipt", json={}, headers=chain.h1).status_code == 404
    assert client.post(f"/api/dealer/shipments/{open_['id']}/ship", headers=chain.h2).status_code == 404
    assert client.get(f"/api/dealer/shipments/{open_['id']}", headers=chain.h2).status_code == 404
    # Lists show B nothing of A's.
    for path in ("/api/dealer/orders", "/api/dealer/shipments", "/api/dealer/shipments?direction=in",
                 "/api/dealer/receipts/pending", "/api/dealer/stock"):
        assert _ok(client.get(path, headers=hb)) == [], path
    performance = _ok(client.get("/api/dealer/performance", query_string=PERIOD, headers=hb))
    assert performance["items_shipped"] == 0 and performance["items_received"] == 0
    # And A still has everything.
    assert _ok(client.get(f"/api/dealer/shipments/{open_['id']}", headers=chain.h1))["items"] == 24


def test_performance_needs_a_period(client, chain):
    response = client.get("/api/dealer/performance", query_string={"from": PERIOD["to"], "to": PERIOD["from"]},
                          headers=chain.h1)
    assert response.status_code == 422 and response.get_json()["code"] == "period_invalid"


def test_performance_without_a_period_is_this_business_month(client, chain):
    from datetime import datetime, timedelta, timezone

    from app.db import utcnow
    from app.platform.clock import BUSINESS_TZ

    codes = cf.dealer_stock(chain.brand, chain.t1.id, cases_=2)
    this_month = cf.ship_to([codes[0]], shipper=("dealer", chain.t1.id), receiver=("dealer", chain.t2.id))
    last_month = cf.ship_to([codes[1]], shipper=("dealer", chain.t1.id), receiver=("dealer", chain.t2.id))
    local = utcnow().astimezone(BUSINESS_TZ)
    starts = datetime(local.year, local.month, 1, tzinfo=BUSINESS_TZ)
    ends = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=BUSINESS_TZ)
    with transaction():
        db.session.get(Shipment, last_month.id).shipped_at = starts - timedelta(seconds=1)
    performance = _ok(client.get("/api/dealer/performance", headers=chain.h1))
    assert (datetime.fromisoformat(performance["starts_at"]), datetime.fromisoformat(performance["ends_at"])) == \
        (starts.astimezone(timezone.utc), ends.astimezone(timezone.utc))
    assert (performance["shipments"], performance["items_shipped"]) == (1, 24), this_month.id
    since = _ok(client.get("/api/dealer/performance", query_string={"from": (starts - timedelta(days=1)).isoformat()},
                           headers=chain.h1))
    assert (since["shipments"], since["items_shipped"]) == (2, 48)


def test_a_deactivated_dealers_users_are_403_until_it_is_reactivated(client, chain):
    from app.masterdata import dealers
    from tests.masterdata_factories import ACTOR

    with transaction():
        dealers.deactivate_dealer(actor=ACTOR, dealer_id=chain.t1.id)
    response = client.get("/api/dealer/orders", headers=chain.h1)
    assert response.status_code == 403 and response.get_json()["code"] == "dealer_inactive"
    with transaction():
        dealers.reactivate_dealer(actor=ACTOR, dealer_id=chain.t1.id)
    assert client.get("/api/dealer/orders", headers=chain.h1).status_code == 200


def test_a_dealer_unpacks_a_received_pallet_and_ships_two_cases_against_an_order(client, chain, auth):
    brand, t1 = chain.brand, chain.t1
    pallet = cf.pallet(brand.lot, cases_=4, warehouse_id=brand.warehouse_id)
    case_codes = uf.contents(pallet)
    sent = client.post("/api/integration/warehouse/scans", headers=auth.key_headers("warehouse"), json={"records": [
        {"record_id": "out-pallet", "scanned_at": "2026-03-02T09:00:00Z", "action": "outbound", "code": pallet,
         "warehouse_id": brand.warehouse_id, "to_dealer_id": t1.id}]})
    assert _ok(sent)["accepted"] == 1
    inbound = _ok(client.get("/api/dealer/receipts/pending", headers=chain.h1))[0]
    # On its way, the pallet isn't the dealer's to break yet.
    early = _ok(cf.dealer_unpack(client, chain.h1, "whole", [pallet]))
    assert (early["refused"], early["results"][0]["reason"]) == (1, "not_in_my_stock")
    _ok(client.post(f"/api/dealer/shipments/{inbound['id']}/receipt", json={}, headers=chain.h1), 201)

    order = cf.make_order(seller=("dealer", t1.id), buyer=("dealer", chain.t2.id), lines=[(brand.product.id, 48)])
    shipment = _ok(client.post(f"/api/dealer/orders/{order.id}/shipments", headers=chain.h1), 201)
    packed = _ok(client.post(f"/api/dealer/shipments/{shipment['id']}/scans", json={"codes": case_codes[:2]},
                             headers=chain.h1))
    assert {r["reason"] for r in packed["results"]} == {"not_in_my_stock"}

    unpacked = _ok(cf.dealer_unpack(client, chain.h1, "whole", [pallet]))
    assert unpacked["accepted"] == 1 and unpacked["results"][0] == {
        "index": 0, "code": pallet, "status": "accepted", "reason": None, "message": None, "released": 4}
    again = _ok(cf.dealer_unpack(client, chain.h1, "whole", [pallet]))
    assert again["results"][0]["reason"] == "not_packed"

    scanned = _ok(client.post(f"/api/dealer/shipments/{shipment['id']}/scans", json={"codes": case_codes[:2]},
                              headers=chain.h1))
    assert scanned["accepted"] == 2 and scanned["lines"][0]["remaining"] == 0
    # A case scanned into the open shipment can't be broken under it.
    busy = _ok(cf.dealer_unpack(client, chain.h1, "whole", [case_codes[0]]))
    assert busy["results"][0]["reason"] == "in_open_shipment"
    shipped = _ok(client.post(f"/api/dealer/shipments/{shipment['id']}/ship", headers=chain.h1))
    assert (shipped["status"], shipped["items"]) == ("shipped", 48)
    assert _ok(client.get(f"/api/dealer/orders/{order.id}", headers=chain.h1))["status"] == "shipped"

    # The rest stays: two cases in my stock, the empty pallet ships nothing.
    stock = _ok(client.get("/api/dealer/stock", headers=chain.h1))
    assert [(r["lot_id"], r["quantity"]) for r in stock] == [(brand.lot.id, 48)]
    to_store = _ok(client.post("/api/dealer/shipments", json={"receiver_kind": "dealer", "receiver_id": chain.t2.id},
                               headers=chain.h1), 201)
    rest = _ok(client.post(f"/api/dealer/shipments/{to_store['id']}/scans",
                           json={"codes": [pallet, *case_codes[2:]]}, headers=chain.h1))
    assert [r["status"] for r in rest["results"]] == ["refused", "accepted", "accepted"]
    assert rest["results"][0]["reason"] == "empty"
    trace = _ok(client.get(f"/api/admin/trace/codes/{case_codes[0]}", headers=auth.as_admin()))
    assert [e["kind"] for e in trace["timeline"]][-2:] == ["unpack", "ship"]
    unpack_event = trace["timeline"][-2]
    assert (unpack_event["parent_code"], unpack_event["location"]["kind"], unpack_event["location"]["id"]) == \
        (pallet, "dealer", t1.id)


def test_a_dealer_takes_one_item_out_of_a_case_and_ships_it_alone(client, chain):
    codes = cf.dealer_stock(chain.brand, chain.t1.id, cases_=1)
    item = uf.contents(codes[0])[0]
    refused = _ok(client.post("/api/dealer/shipments", json={"receiver_kind": "store",
                                                             "receiver_id": cf.make_store_of(chain.t1.id).id},
                              headers=chain.h1), 201)
    assert _ok(client.post(f"/api/dealer/shipments/{refused['id']}/scans", json={"codes": [item]},
                           headers=chain.h1))["results"][0]["reason"] == "not_in_my_stock"
    taken = _ok(cf.dealer_unpack(client, chain.h1, "partial", [item, "NOT-A-CODE"]))
    assert [(r["status"], r["released"], r["reason"]) for r in taken["results"]] == [
        ("accepted", 1, None), ("refused", None, "forged")]
    scanned = _ok(client.post(f"/api/dealer/shipments/{refused['id']}/scans", json={"codes": [item, codes[0]]},
                              headers=chain.h1))
    assert [(r["status"], r["items"]) for r in scanned["results"]] == [("accepted", 1), ("accepted", 23)]


def test_a_dealer_unpacks_only_its_own_stock_and_a_retry_with_its_key_answers_the_same(client, chain, mp):
    codes = cf.dealer_stock(chain.brand, chain.t1.id, cases_=1)
    other, other_headers = cf.dealer_owner(mp)
    theirs = _ok(cf.dealer_unpack(client, other_headers, "whole", codes))
    assert (theirs["refused"], theirs["results"][0]["reason"]) == (1, "not_in_my_stock")
    assert _ok(cf.dealer_unpack(client, chain.h2, "whole", codes))["results"][0]["reason"] == "not_in_my_stock"
    key = {**chain.h1, "Idempotency-Key": "unpack-case-0001"}
    first = cf.dealer_unpack(client, key, "whole", codes)
    retry = cf.dealer_unpack(client, key, "whole", codes)
    assert _ok(first)["results"][0]["released"] == 24
    assert retry.headers.get("Idempotent-Replayed") == "true" and _ok(retry) == _ok(first)
    for body in ({"mode": "all", "codes": codes}, {"mode": "whole", "codes": []}, {"mode": "whole"}):
        response = client.post("/api/dealer/unpacks", json=body, headers=chain.h1)
        assert response.status_code == 422 and response.get_json()["code"], body
    assert client.post("/api/dealer/unpacks", json={"mode": "whole", "codes": codes}).status_code == 401

