"""The back office's reward rules, courses, sale scans, ledgers and withdrawals: validation and roles."""
from __future__ import annotations

import pytest

from app.db import transaction
from app.identity.models import Role
from app.retail import withdrawals as withdrawals_service
from tests.masterdata_factories import HANGZHOU, make_product
from tests.retail_factories import make_clerk, make_shop, rule, sell, store_items

RULE = {"name": "Spring", "starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-06-01T00:00:00Z",
        "kind": "points", "amount": 10}


def test_reward_rules_are_created_validated_and_changed(client, auth):
    headers = auth.headers_for(Role.MARKETER)
    product = make_product().id
    created = client.post("/api/admin/reward-rules", json={**RULE, "product_id": product, "region_code": HANGZHOU},
                          headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["product_id"], body["region_code"], body["withhold_not_received"]) == (product, HANGZHOU, True)

    for change, field in (({"amount": 0}, "amount"), ({"ends_at": "2026-02-01T00:00:00Z"}, "ends_at"),
                          ({"product_id": product + 999}, "product_id"), ({"region_code": "999999000000"}, "region_code")):
        response = client.post("/api/admin/reward-rules", json={**RULE, **change}, headers=headers)
        assert response.status_code == 422, (change, response.get_json())

    changed = client.patch(f"/api/admin/reward-rules/{body['id']}", json={"status": "inactive", "amount": 12},
                           headers=headers)
    assert changed.status_code == 200 and changed.get_json()["status"] == "inactive" and changed.get_json()["amount"] == 12
    bad = client.patch(f"/api/admin/reward-rules/{body['id']}", json={"ends_at": "2020-01-01T00:00:00Z"}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["code"] == "reward_rule_invalid"
    listed = client.get("/api/admin/reward-rules?status=inactive", headers=auth.headers_for(Role.AUDITOR))
    assert [r["id"] for r in listed.get_json()] == [body["id"]]
    assert client.get("/api/admin/reward-rules/999999", headers=headers).status_code == 404


@pytest.mark.parametrize("role", [Role.OPS, Role.FINANCE, Role.AUDITOR])
def test_only_admins_and_marketers_write_rules_and_courses(client, auth, role):
    headers = auth.headers_for(role)
    for path, body in (("/api/admin/reward-rules", RULE), ("/api/admin/courses", {"title": "T"})):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 403 and response.get_json()["code"] == "role_forbidden"
        assert client.get(path, headers=headers).status_code == 200


def test_a_course_with_its_quiz(client, auth):
    headers = auth.as_admin()
    created = client.post("/api/admin/courses", json={
        "title": "Tea 101", "body": "Text", "images": ["https://cdn.example.com/a.png"],
        "video_url": "https://cdn.example.com/v.mp4", "points": 20, "pass_score": 50,
        "questions": [{"question": "Hot?", "options": ["yes", "no"], "answer": 1}]}, headers=headers)
    assert created.status_code == 201, created.get_json()
    course = created.get_json()
    assert course["status"] == "draft" and course["questions"][0]["answer"] == 1
    wrong = client.post("/api/admin/courses", json={
        "title": "T", "questions": [{"question": "?", "options": ["a", "b"], "answer": 5}]}, headers=headers)
    assert wrong.status_code == 422
    published = client.patch(f"/api/admin/courses/{course['id']}", json={"status": "published"}, headers=headers)
    assert published.status_code == 200 and published.get_json()["status"] == "published"
    assert [c["id"] for c in client.get("/api/admin/courses?status=published", headers=headers).get_json()] == \
        [course["id"]]


def test_sale_scans_ledgers_and_withdrawals_in_the_back_office(client, auth):
    shop = make_shop()
    rule(amount=150, kind="cash")
    for code in store_items(shop, 2):
        sell(shop.clerk, shop.store_id, code)
    with transaction():
        withdrawals_service.request_withdrawal(user=shop.clerk, amount=200, request_id="r1")
    headers = auth.headers_for(Role.FINANCE)

    scans = client.get(f"/api/admin/retail/sale-scans?store_id={shop.store_id}&not_received=false", headers=headers)
    assert scans.status_code == 200 and len(scans.get_json()) == 2
    assert client.get("/api/admin/retail/sale-scans?not_received=true", headers=headers).get_json() == []
    ledger = client.get(f"/api/admin/retail/clerks/{shop.clerk.id}/ledger", headers=headers).get_json()
    assert [e["amount"] for e in ledger] == [-200, 150, 150]
    assert client.get(f"/api/admin/retail/clerks/{shop.clerk.id}/balance", headers=headers).get_json() == \
        {"points": 0, "cash": 100}
    withdrawals = client.get("/api/admin/retail/withdrawals?status=requested", headers=headers).get_json()
    assert [(w["app_user_id"], w["amount"]) for w in withdrawals] == [(shop.clerk.id, 200)]
    other = make_clerk(shop.store_id)
    assert client.get(f"/api/admin/retail/withdrawals?app_user_id={other.id}", headers=headers).get_json() == []
