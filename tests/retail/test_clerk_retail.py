"""The clerk mini-program at work over HTTP: receipts, sale scans, rewards, withdrawals, rankings, training."""
from __future__ import annotations

from app.db import transaction
from app.retail import training
from app.retail import ledger as ledger_service
from tests import channel_factories as cf
from tests.masterdata_factories import ACTOR, make_dealer
from tests.mp_factories import make_invitation
from tests.retail_factories import items_of, rule


def owner_of(mp, store_id):
    return mp.bound("clerk", make_invitation(kind="store_owner", store_id=store_id).code)


def shipment_to_store(brand, dealer_id, store_id):
    """A case shipped by the dealer to the store (not yet received); (shipment, case code)."""
    case = cf.dealer_stock(brand, dealer_id, cases_=1)
    return cf.ship_to(case, shipper=("dealer", dealer_id), receiver=("store", store_id)), case[0]


def setup(mp):
    brand, dealer = cf.make_brand(), make_dealer()
    store = cf.make_store_of(dealer.id)
    return brand, dealer, store, owner_of(mp, store.id)


def test_a_store_receives_a_shipment_then_sells_from_it(client, mp):
    brand, dealer, store, headers = setup(mp)
    shipment, case = shipment_to_store(brand, dealer.id, store.id)
    rule(amount=20, kind="cash")

    pending = client.get("/api/clerk/receipts/pending", headers=headers)
    assert pending.status_code == 200 and [s["id"] for s in pending.get_json()] == [shipment.id]
    contents = client.get(f"/api/clerk/receipts/{shipment.id}", headers=headers).get_json()
    assert contents["lines"][0]["items"] == 24 and [s["code"] for s in contents["scans"]] == [case]

    confirmed = client.post(f"/api/clerk/receipts/{shipment.id}", json={}, headers=headers)
    assert confirmed.status_code == 201, confirmed.get_json()
    assert confirmed.get_json()["receipt"]["received"] == 24 and confirmed.get_json()["discrepancies"] == []
    assert client.get("/api/clerk/receipts/pending", headers=headers).get_json() == []

    item = items_of(case)[0]
    sold = client.post("/api/clerk/sales", json={"code": item}, headers=headers)
    assert sold.status_code == 201, sold.get_json()
    body = sold.get_json()
    assert body["verdict"] == "sold" and body["sale"]["not_received"] is False and body["credited"] == 20
    assert body["sale"]["reward"]["kind"] == "cash"
    again = client.post("/api/clerk/sales", json={"code": item}, headers=headers)
    assert again.status_code == 409 and again.get_json()["code"] == "already_sold"

    assert [s["code"] for s in client.get("/api/clerk/sales", headers=headers).get_json()] == [item]
    balance = client.get("/api/clerk/rewards/balance", headers=headers).get_json()
    assert balance == {"points": 0, "cash": 20, "withdrawal_minimum": 100, "points_to_cash": None}
    ledger = client.get("/api/clerk/rewards/ledger?kind=cash", headers=headers).get_json()
    assert [e["amount"] for e in ledger] == [20]

    ranking = client.get("/api/clerk/rankings/stores", headers=headers).get_json()
    assert ranking["top"][0]["id"] == store.id and ranking["me"]["rank"] == 1
    clerks = client.get("/api/clerk/rankings/clerks?region_code=110000000000", headers=headers).get_json()
    assert clerks["me"]["sales"] == 1


def test_a_receipt_by_scanning_records_what_is_missing(client, mp):
    brand, dealer, store, headers = setup(mp)
    shipment, case = shipment_to_store(brand, dealer.id, store.id)
    items = items_of(case)
    response = client.post(f"/api/clerk/receipts/{shipment.id}", json={"codes": items[:-1]}, headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["receipt"]["missing"] == 1
    assert [(d["kind"], d["code"]) for d in body["discrepancies"]] == [("missing", items[-1])]


def test_another_stores_shipment_is_404(client, mp):
    brand, dealer, _, headers = setup(mp)
    other = cf.make_store_of(dealer.id)
    shipment, _ = shipment_to_store(brand, dealer.id, other.id)
    assert client.get(f"/api/clerk/receipts/{shipment.id}", headers=headers).status_code == 404
    response = client.post(f"/api/clerk/receipts/{shipment.id}", json={}, headers=headers)
    assert response.status_code == 404
    assert client.get("/api/clerk/receipts/pending", headers=headers).get_json() == []


def test_withdrawals_over_http(client, mp):
    headers = setup(mp)[3]
    me = client.get("/api/clerk/me", headers=headers).get_json()["user"]["id"]
    with transaction():
        ledger_service.credit(app_user_id=me, kind="cash", amount=500, source="adjust:http")

    first = client.post("/api/clerk/withdrawals", json={"amount": 300, "request_id": "req-1"}, headers=headers)
    retry = client.post("/api/clerk/withdrawals", json={"amount": 300, "request_id": "req-1"}, headers=headers)
    assert first.status_code == retry.status_code == 201 and first.get_json()["id"] == retry.get_json()["id"]
    too_much = client.post("/api/clerk/withdrawals", json={"amount": 300, "request_id": "req-2"}, headers=headers)
    assert too_much.status_code == 409 and too_much.get_json()["code"] == "insufficient_balance"
    small = client.post("/api/clerk/withdrawals", json={"amount": 50, "request_id": "req-3"}, headers=headers)
    assert small.status_code == 422 and small.get_json()["code"] == "withdrawal_below_minimum"
    assert [w["status"] for w in client.get("/api/clerk/withdrawals", headers=headers).get_json()] == ["requested"]

    # Another clerk-app user can't see or cancel it.
    stranger = owner_of(mp, cf.make_store_of(make_dealer().id).id)
    withdrawal = first.get_json()["id"]
    assert client.post(f"/api/clerk/withdrawals/{withdrawal}/cancel", headers=stranger).status_code == 404
    assert client.get("/api/clerk/withdrawals", headers=stranger).get_json() == []

    cancelled = client.post(f"/api/clerk/withdrawals/{withdrawal}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert client.get("/api/clerk/rewards/balance", headers=headers).get_json()["cash"] == 500


def test_courses_over_http_hide_the_answers(client, mp):
    _, _, _, headers = setup(mp)
    with transaction():
        course = training.create_course(actor=ACTOR, data={
            "title": "Tea 101", "points": 30, "pass_score": 50, "status": "published",
            "questions": [{"question": "Hot?", "options": ["yes", "no"], "answer": 1}]})
        training.create_course(actor=ACTOR, data={"title": "Draft"})
    listed = client.get("/api/clerk/courses", headers=headers).get_json()
    assert [c["title"] for c in listed] == ["Tea 101"]
    read = client.get(f"/api/clerk/courses/{course.id}", headers=headers).get_json()
    assert read["questions"] == [{"question": "Hot?", "options": ["yes", "no"]}]
    passed = client.post(f"/api/clerk/courses/{course.id}/attempts", json={"answers": [1]}, headers=headers)
    assert passed.status_code == 201 and passed.get_json()["passed"] and passed.get_json()["points_credited"] == 30
    again = client.post(f"/api/clerk/courses/{course.id}/attempts", json={"answers": [1]}, headers=headers)
    assert again.get_json()["points_credited"] == 0


def test_a_user_without_a_store_is_403_no_store(client, mp):
    headers, _ = mp.sign_in("clerk")
    for method, path in (("get", "/api/clerk/receipts/pending"), ("post", "/api/clerk/sales"),
                         ("get", "/api/clerk/rankings/stores"), ("get", "/api/clerk/courses")):
        response = getattr(client, method)(path, headers=headers, json={"code": "X"} if method == "post" else None)
        assert response.status_code == 403 and response.get_json()["code"] == "no_store", path


def test_the_dealer_app_cannot_call_clerk_views(client, mp):
    _, dealer_headers = cf.dealer_owner(mp)
    response = client.get("/api/clerk/rewards/balance", headers=dealer_headers)
    assert response.status_code in (401, 403)
