"""The back office's points and mall: roles, item validation, orders (ship, deliver, cancel), adjustments."""
from __future__ import annotations

import pytest

from app.db import transaction
from app.extensions import db
from app.identity.models import Role
from app.points import ledger, mall
from app.points.models import MallOrder
from tests.points_factories import ADDRESS, make_consumer, user_of

URL = "/api/admin/points"
ITEM = {"name": "Tea cup", "kind": "physical", "points_price": 100, "stock": 5,
        "description": "Porcelain", "image_url": "https://img.example.com/cup.png"}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MARKETER])
def test_writers_create_and_change_items(client, auth, role):
    headers = auth.headers_for(role)
    created = client.post(f"{URL}/mall/items", json=ITEM, headers=headers)
    assert created.status_code == 201, created.get_json()
    item = created.get_json()
    assert (item["sold"], item["active"], item["kind"]) == (0, True, "physical")
    changed = client.patch(f"{URL}/mall/items/{item['id']}", json={"active": False, "stock": 9}, headers=headers)
    assert changed.status_code == 200 and (changed.get_json()["active"], changed.get_json()["stock"]) == (False, 9)
    auditor = auth.headers_for(Role.AUDITOR)
    assert [i["id"] for i in client.get(f"{URL}/mall/items?active=false", headers=auditor).get_json()] == [item["id"]]
    assert client.get(f"{URL}/mall/items/{item['id']}", headers=auditor).status_code == 200


@pytest.mark.parametrize("role", [Role.OPS, Role.FINANCE, Role.AUDITOR])
def test_others_only_read_items(client, auth, role):
    headers = auth.headers_for(role)
    assert client.post(f"{URL}/mall/items", json=ITEM, headers=headers).status_code == 403
    assert client.get(f"{URL}/mall/items", headers=headers).status_code == 200


@pytest.mark.parametrize(("change", "field"), [
    ({"points_price": 0}, "points_price"),
    ({"stock": -1}, "stock"),
    ({"kind": "voucher"}, "kind"),
    ({"name": ""}, "name"),
])
def test_invalid_items_are_422_with_the_field(client, auth, change, field):
    response = client.post(f"{URL}/mall/items", json={**ITEM, **change}, headers=auth.as_admin())
    assert response.status_code == 422 and field in str(response.get_json()["errors"]), response.get_json()


def test_stock_below_sold_is_refused(client, auth):
    headers = auth.as_admin()
    item = client.post(f"{URL}/mall/items", json=ITEM, headers=headers).get_json()
    user = make_consumer()
    with transaction():
        ledger.earn(app_user_id=user, points=1000, source="draw:1")
        mall.redeem(app_user=user_of(user), item_id=item["id"], quantity=3, request_id="r", address=ADDRESS)
    response = client.patch(f"{URL}/mall/items/{item['id']}", json={"stock": 2}, headers=headers)
    assert response.status_code == 422 and response.get_json()["code"] == "mall_item_invalid"
    assert client.get(f"{URL}/mall/items/999999", headers=headers).status_code == 404


def test_orders_are_shipped_delivered_or_cancelled(client, auth):
    admin = auth.as_admin()
    item = client.post(f"{URL}/mall/items", json=ITEM, headers=admin).get_json()
    user = make_consumer()
    with transaction():
        ledger.earn(app_user_id=user, points=1000, source="draw:1")
        first = mall.redeem(app_user=user_of(user), item_id=item["id"], request_id="a", address=ADDRESS).id
        second = mall.redeem(app_user=user_of(user), item_id=item["id"], request_id="b", address=ADDRESS).id
    ops = auth.headers_for(Role.OPS)
    listed = client.get(f"{URL}/mall/orders?status=placed&app_user_id={user}", headers=ops).get_json()
    assert sorted(o["id"] for o in listed) == sorted([first, second])
    assert client.post(f"{URL}/mall/orders/{first}/ship", json={"tracking_no": "SF1"},
                       headers=auth.headers_for(Role.FINANCE)).status_code == 403
    shipped = client.post(f"{URL}/mall/orders/{first}/ship", json={"tracking_no": "SF1"}, headers=ops)
    assert shipped.status_code == 200 and shipped.get_json()["tracking_no"] == "SF1"
    early = client.post(f"{URL}/mall/orders/{second}/deliver", headers=ops)
    assert early.status_code == 409 and early.get_json()["code"] == "mall_order_state"
    assert client.post(f"{URL}/mall/orders/{first}/deliver", headers=ops).get_json()["status"] == "delivered"
    cancelled = client.post(f"{URL}/mall/orders/{second}/cancel", json={"reason": "no stock"}, headers=ops)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert client.post(f"{URL}/mall/orders/{second}/cancel", json={}, headers=ops).status_code == 200
    assert ledger.balance_of(user) == 900
    assert client.get(f"{URL}/mall/items/{item['id']}", headers=ops).get_json()["sold"] == 1
    assert client.get(f"{URL}/mall/orders/999999", headers=ops).status_code == 404
    assert db.session.get(MallOrder, first) is not None


def test_adjustments_and_the_consumers_ledger(client, auth):
    user = make_consumer()
    marketer = auth.headers_for(Role.MARKETER)
    given = client.post(f"{URL}/consumers/{user}/adjustments", json={"points": 300, "reason": "goodwill", "key": "k-1"},
                        headers=marketer)
    assert given.status_code == 201, given.get_json()
    assert (given.get_json()["kind"], given.get_json()["points"]) == ("adjust", 300)
    again = client.post(f"{URL}/consumers/{user}/adjustments", json={"points": 300, "reason": "goodwill", "key": "k-1"},
                        headers=marketer)
    assert again.get_json()["id"] == given.get_json()["id"]
    too_much = client.post(f"{URL}/consumers/{user}/adjustments", json={"points": -301, "reason": "x", "key": "k-2"},
                           headers=marketer)
    assert too_much.status_code == 409 and too_much.get_json()["code"] == "points_insufficient"
    reused = client.post(f"{URL}/consumers/{user}/adjustments", json={"points": 5, "reason": "x", "key": "k-1"},
                         headers=marketer)
    assert reused.status_code == 409 and reused.get_json()["code"] == "points_source_reused"
    zero = client.post(f"{URL}/consumers/{user}/adjustments", json={"points": 0, "reason": "x", "key": "k-3"},
                       headers=marketer)
    assert zero.status_code == 422
    nobody = client.post(f"{URL}/consumers/999999/adjustments", json={"points": 5, "reason": "x", "key": "k-4"},
                         headers=marketer)
    assert nobody.status_code == 422
    assert client.post(f"{URL}/consumers/{user}/adjustments", json={"points": 5, "reason": "x", "key": "k-5"},
                       headers=auth.headers_for(Role.OPS)).status_code == 403
    taken = client.post(f"{URL}/consumers/{user}/adjustments", json={"points": -100, "reason": "fraud", "key": "k-6"},
                        headers=marketer)
    assert taken.status_code == 201 and taken.get_json()["balance_after"] == 200
    auditor = auth.headers_for(Role.AUDITOR)
    balance = client.get(f"{URL}/consumers/{user}", headers=auditor).get_json()
    assert balance["balance"] == 200 and balance["app_user_id"] == user
    ledger = client.get(f"{URL}/consumers/{user}/ledger", headers=auditor).get_json()
    assert [(e["points"], e["source"]) for e in ledger] == [(-100, "adjust:k-6"), (300, "adjust:k-1")]
    audit = client.get(f"{URL.replace('/points', '')}/audit?action=points.adjust", headers=auditor).get_json()
    assert len(audit) == 2


def test_order_filters_by_time(client, auth):
    headers = auth.headers_for(Role.AUDITOR)
    assert client.get(f"{URL}/mall/orders?since=2026-01-01T00:00:00Z&until=2099-01-01", headers=headers).status_code == 200
    bad = client.get(f"{URL}/mall/orders?since=0001-01-01T00:00:00%2B05:00", headers=headers)
    assert bad.status_code == 422
