"""The consumer's points over HTTP: balance and expiring, the ledger, the mall, orders (404 for
another's), idempotency by request_id or Idempotency-Key, and the 409/422 bodies."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.db import transaction, utcnow
from app.points import ledger as points_ledger, mall
from tests.masterdata_factories import DONGCHENG
from tests.points_factories import ACTOR

ADDRESS = {"name": "Li Lei", "phone": "13800138000", "region_code": DONGCHENG, "detail": "1 Wangfujing St"}
URL = "/api/consumer/points"


@pytest.fixture
def consumer(mp):  # noqa: F811
    def make(points=0):
        headers, body = mp.sign_in("consumer")
        user_id = body["user"]["id"]
        if points:
            with transaction():
                points_ledger.earn(app_user_id=user_id, points=points, source=f"draw:{user_id}",
                                   now=utcnow() - timedelta(days=340))
        return headers, user_id
    return make


def make_item(**data):
    values = {"name": "Tea cup", "kind": "physical", "points_price": 100, "stock": 5, **data}
    with transaction():
        return mall.create_item(actor=ACTOR, data=values).id


def test_my_points_and_ledger(client, consumer):
    headers, user_id = consumer(500)
    with transaction():
        points_ledger.earn(app_user_id=user_id, points=20, source="draw:fresh")
    body = client.get(URL, headers=headers).get_json()
    assert body["balance"] == 520 and body["expiring_points"] == 500 and body["expiring_first_at"]
    ledger = client.get(f"{URL}/ledger?page_size=1", headers=headers)
    assert ledger.status_code == 200
    assert [(e["kind"], e["points"], e["balance_after"]) for e in ledger.get_json()] == [("earn", 20, 520)]
    assert "source" not in ledger.get_json()[0]
    assert client.get(f"{URL}/ledger?kind=spend", headers=headers).get_json() == []
    newcomer, _ = consumer()
    assert client.get(URL, headers=newcomer).get_json() == {"balance": 0, "expiring_points": 0,
                                                             "expiring_first_at": None}


def test_redeem_a_physical_item_and_follow_it(client, consumer):
    headers, _ = consumer(500)
    item = make_item(points_price=120)
    listed = client.get(f"{URL}/mall/items", headers=headers).get_json()
    assert [(i["id"], i["left"], i["points_price"]) for i in listed] == [(item, 5, 120)]
    body = {"item_id": item, "quantity": 2, "request_id": "order-1", "address": ADDRESS}
    created = client.post(f"{URL}/mall/orders", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    order = created.get_json()
    assert (order["status"], order["points"], order["address"]) == ("placed", 240, ADDRESS)
    assert order["item"] == {"id": item, "name": "Tea cup", "image_url": None, "kind": "physical"}
    again = client.post(f"{URL}/mall/orders", json=body, headers=headers)
    assert again.status_code == 201 and again.get_json()["id"] == order["id"]
    assert client.get(URL, headers=headers).get_json()["balance"] == 260
    assert [o["id"] for o in client.get(f"{URL}/mall/orders", headers=headers).get_json()] == [order["id"]]
    assert client.get(f"{URL}/mall/orders/{order['id']}", headers=headers).get_json()["status"] == "placed"
    reused = client.post(f"{URL}/mall/orders", json={**body, "quantity": 1}, headers=headers)
    assert reused.status_code == 409 and reused.get_json()["code"] == "mall_request_reused"


def test_a_coupon_by_idempotency_key(client, consumer):
    headers, _ = consumer(500)
    item = make_item(kind="coupon", points_price=50)
    keyed = {**headers, "Idempotency-Key": "coupon-key-0001"}
    first = client.post(f"{URL}/mall/orders", json={"item_id": item}, headers=keyed)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["status"] == "issued" and len(first.get_json()["coupon_code"]) == 16
    again = client.post(f"{URL}/mall/orders", json={"item_id": item}, headers=keyed)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert client.get(URL, headers=headers).get_json()["balance"] == 450
    missing = client.post(f"{URL}/mall/orders", json={"item_id": item}, headers=headers)
    assert missing.status_code == 422 and "request_id" in missing.get_json()["errors"]


def test_another_consumers_order_is_not_found(client, consumer):
    mine, _ = consumer(500)
    theirs, _ = consumer(500)
    item = make_item(kind="coupon", points_price=10)
    order = client.post(f"{URL}/mall/orders", json={"item_id": item, "request_id": "x"}, headers=mine).get_json()
    response = client.get(f"{URL}/mall/orders/{order['id']}", headers=theirs)
    assert response.status_code == 404 and response.get_json()["code"] == "mall_order_not_found"
    assert client.get(f"{URL}/mall/orders", headers=theirs).get_json() == []
    assert client.get(f"{URL}/mall/orders/999999", headers=mine).status_code == 404


def test_refusals_have_their_codes(client, consumer):
    headers, _ = consumer(100)
    physical = make_item(points_price=60, stock=1)
    no_address = client.post(f"{URL}/mall/orders", json={"item_id": physical, "request_id": "a"}, headers=headers)
    assert no_address.status_code == 422 and no_address.get_json()["code"] == "mall_address_invalid"
    bad_region = client.post(f"{URL}/mall/orders", headers=headers, json={
        "item_id": physical, "request_id": "b", "address": {**ADDRESS, "region_code": "999999000000"}})
    assert bad_region.status_code == 422
    assert "region_code" in bad_region.get_json()["errors"]["address"]
    ok = client.post(f"{URL}/mall/orders", json={"item_id": physical, "request_id": "c", "address": ADDRESS},
                     headers=headers)
    assert ok.status_code == 201
    sold_out = client.post(f"{URL}/mall/orders", json={"item_id": physical, "request_id": "d", "address": ADDRESS},
                           headers=headers)
    assert sold_out.status_code == 409 and sold_out.get_json()["code"] == "mall_item_sold_out"
    dear = make_item(kind="coupon", points_price=41)
    poor = client.post(f"{URL}/mall/orders", json={"item_id": dear, "request_id": "e"}, headers=headers)
    assert poor.status_code == 409 and poor.get_json()["code"] == "points_insufficient"
    assert client.get(f"{URL}/mall/items", headers=headers).get_json()[0]["id"] == dear
    unknown = client.post(f"{URL}/mall/orders", json={"item_id": 10**9, "request_id": "f"}, headers=headers)
    assert unknown.status_code == 404
    too_many = client.post(f"{URL}/mall/orders", json={"item_id": dear, "request_id": "g", "quantity": 0},
                           headers=headers)
    assert too_many.status_code == 422


def test_only_consumers_come_in(client, mp):  # noqa: F811
    assert client.get(URL).status_code == 401
    clerk, _ = mp.sign_in("clerk")
    assert client.get(URL, headers=clerk).status_code in (401, 403)
