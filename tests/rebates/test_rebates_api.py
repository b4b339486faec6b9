"""Rebates over HTTP: rules and statements for finance, and the dealer owner's approved statements."""
from __future__ import annotations

from app.identity.models import Role
from tests.masterdata_factories import make_dealer
from tests.mp_factories import make_invitation
from tests.rebate_factories import shipment_to_store

RULES = "/api/admin/rebate-rules"
STATEMENTS = "/api/admin/rebate-statements"
MARCH = {"period_start": "2026-03-01", "period_end": "2026-03-31"}


def test_finance_writes_rules_others_read_them(client, auth, rebate_world):
    rule = {"name": "Per case", "basis": "case_to_store", "amount_fen": 300, "product_id": rebate_world["product"].id,
            "tier": 1, "starts_on": "2026-03-01", "ends_on": "2026-03-31"}
    assert client.post(RULES, json=rule, headers=auth.headers_for(Role.OPS)).status_code == 403

    created = client.post(RULES, json=rule, headers=auth.headers_for(Role.FINANCE))
    assert created.status_code == 201, created.json
    assert created.json["basis"] == "case_to_store" and created.json["status"] == "active"

    bad = client.post(RULES, json={**rule, "ends_on": "2026-02-01"}, headers=auth.headers_for(Role.FINANCE))
    assert (bad.status_code, bad.json["code"]) == (422, "rebate_rule_invalid")
    assert "amount_fen" in client.post(RULES, json={**rule, "amount_fen": 0},
                                       headers=auth.headers_for(Role.ADMIN)).json["errors"]["json"]

    changed = client.patch(f"{RULES}/{created.json['id']}", json={"status": "inactive"},
                           headers=auth.headers_for(Role.ADMIN))
    assert changed.status_code == 200 and changed.json["status"] == "inactive"
    listed = client.get(RULES, headers=auth.headers_for(Role.AUDITOR), query_string={"status": "inactive"})
    assert [r["id"] for r in listed.json] == [created.json["id"]]


def test_finance_computes_and_approves_a_statement_then_it_is_frozen(client, auth, rebate_world):
    dealer, store, product = rebate_world["dealer"], rebate_world["store"], rebate_world["product"]
    shipment_to_store(dealer.id, store.id, product.id, received=12)
    body = {"dealer_id": dealer.id, **MARCH}

    assert client.post(STATEMENTS, json=body, headers=auth.headers_for(Role.MARKETER)).status_code == 403
    computed = client.post(STATEMENTS, json=body, headers=auth.headers_for(Role.FINANCE))
    assert computed.status_code == 200, computed.json
    statement = computed.json
    assert (statement["status"], statement["total_fen"]) == ("draft", 1000)
    assert statement["lines"] == [{"rule_id": statement["lines"][0]["rule_id"], "product_id": product.id,
                                   "basis": "case_to_store", "quantity": 2, "amount_fen": 1000}]
    assert client.post(STATEMENTS, json=body, headers=auth.headers_for(Role.FINANCE)).json["id"] == statement["id"]

    url = f"{STATEMENTS}/{statement['id']}"
    assert client.post(f"{url}/approve", headers=auth.headers_for(Role.OPS)).status_code == 403
    approved = client.post(f"{url}/approve", headers=auth.headers_for(Role.FINANCE))
    assert approved.status_code == 200 and approved.json["status"] == "approved"

    again = client.post(STATEMENTS, json=body, headers=auth.headers_for(Role.ADMIN))
    assert (again.status_code, again.json["code"]) == (409, "statement_approved")
    listed = client.get(STATEMENTS, headers=auth.headers_for(Role.AUDITOR), query_string={"dealer_id": dealer.id})
    assert [(s["id"], s["total_fen"]) for s in listed.json] == [(statement["id"], 1000)]
    assert client.get(f"{STATEMENTS}/{statement['id'] + 999}", headers=auth.headers_for(Role.ADMIN)).status_code == 404
    missing_dealer = client.post(STATEMENTS, json={**body, "dealer_id": dealer.id + 999},
                                 headers=auth.headers_for(Role.FINANCE))
    assert missing_dealer.status_code == 404


def test_a_dealer_owner_sees_only_its_own_approved_statements(client, auth, mp, rebate_world):  # noqa: F811
    dealer, store, product = rebate_world["dealer"], rebate_world["store"], rebate_world["product"]
    shipment_to_store(dealer.id, store.id, product.id, received=6)
    finance = auth.headers_for(Role.FINANCE)
    mine = client.post(STATEMENTS, json={"dealer_id": dealer.id, **MARCH}, headers=finance).json
    draft = client.post(STATEMENTS, json={"dealer_id": dealer.id, "period_start": "2026-04-01",
                                          "period_end": "2026-04-30"}, headers=finance).json
    client.post(f"{STATEMENTS}/{mine['id']}/approve", headers=finance)
    other = make_dealer()
    theirs = client.post(STATEMENTS, json={"dealer_id": other.id, **MARCH}, headers=finance).json
    client.post(f"{STATEMENTS}/{theirs['id']}/approve", headers=finance)

    owner = mp.bound("dealer", make_invitation(kind="dealer_member", dealer_id=dealer.id, role="owner").code)
    listed = client.get("/api/dealer/rebate-statements", headers=owner)
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json] == [mine["id"]]
    detail = client.get(f"/api/dealer/rebate-statements/{mine['id']}", headers=owner).json
    assert detail["total_fen"] == 500 and detail["lines"][0]["quantity"] == 1 and "approved_by" not in detail
    for hidden in (draft["id"], theirs["id"]):
        assert client.get(f"/api/dealer/rebate-statements/{hidden}", headers=owner).status_code == 404

    staff = mp.bound("dealer", make_invitation(kind="dealer_member", dealer_id=dealer.id, role="staff").code)
    assert client.get("/api/dealer/rebate-statements", headers=staff).json["code"] == "owner_only"
    clerk, _ = mp.sign_in("clerk")
    assert client.get("/api/dealer/rebate-statements", headers=clerk).status_code in (401, 403)
