"""The back office's campaigns: roles, validation bodies, status moves, not found."""
from __future__ import annotations

import pytest

from app.identity.models import Role
from tests.masterdata_factories import HANGZHOU, make_product

CAMPAIGN = {"name": "Spring", "starts_at": "2026-03-01T00:00:00Z", "ends_at": "2099-06-01T00:00:00Z",
            "total_budget_fen": 100_000, "daily_budget_fen": 10_000, "per_user_daily_limit": 1,
            "per_user_total_limit": 3, "hidden_code_required": True, "region_codes": [HANGZHOU],
            "prizes": [{"kind": "cash", "name": "Red packet", "amount": 888, "probability_ppm": 100_000, "stock": 300},
                       {"kind": "gift", "name": "Cup", "probability_ppm": 10_000, "stock": 20}]}


def test_a_marketer_creates_changes_and_runs_a_campaign(client, auth):
    headers = auth.headers_for(Role.MARKETER)
    product = make_product().id
    created = client.post("/api/admin/campaigns", json={**CAMPAIGN, "product_ids": [product]}, headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["status"], body["spent_fen"], body["product_ids"]) == ("draft", 0, [product])
    assert [(p["kind"], p["probability_ppm"], p["awarded"]) for p in body["prizes"]] == [
        ("cash", 100_000, 0), ("gift", 10_000, 0)]
    url = f"/api/admin/campaigns/{body['id']}"

    assert client.post(f"{url}/activate", headers=headers).get_json()["status"] == "active"
    changed = client.patch(url, json={"daily_budget_fen": 20_000}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["daily_budget_fen"] == 20_000
    audit = client.get(f"/api/admin/audit?entity_type=campaigns&entity_id={body['id']}",
                       headers=auth.headers_for(Role.AUDITOR)).get_json()
    assert {"campaign.create", "campaign.activate", "campaign.update"} <= {r["action"] for r in audit}
    assert client.post(f"{url}/pause", headers=headers).get_json()["status"] == "paused"
    assert client.post(f"{url}/end", headers=headers).get_json()["status"] == "ended"
    again = client.post(f"{url}/activate", headers=headers)
    assert again.status_code == 409 and again.get_json()["code"] == "campaign_transition_refused"
    assert client.patch(url, json={"name": "Late"}, headers=headers).get_json()["code"] == "campaign_ended"

    listed = client.get("/api/admin/campaigns?status=ended", headers=auth.headers_for(Role.OPS))
    assert [c["id"] for c in listed.get_json()] == [body["id"]]
    assert client.get("/api/admin/campaigns?status=active", headers=headers).get_json() == []


@pytest.mark.parametrize(("change", "field"), [
    ({"ends_at": "2026-02-01T00:00:00Z"}, "ends_at"),
    ({"total_budget_fen": 500, "daily_budget_fen": None}, "total_budget_fen"),
    ({"daily_budget_fen": 100_001}, "daily_budget_fen"),
    ({"prizes": [{"kind": "points", "name": "P", "amount": 1, "probability_ppm": 600_000},
                 {"kind": "coupon", "name": "C", "probability_ppm": 400_001}]}, "probability_ppm"),
    ({"product_ids": [999_999]}, "product_ids"),
    ({"lot_ids": [999_999]}, "lot_ids"),
    ({"region_codes": ["999999000000"]}, "region_codes"),
    ({"per_user_daily_limit": 5}, "per_user_daily_limit"),
])
def test_an_invalid_campaign_is_refused_with_the_field_named(client, auth, change, field):
    response = client.post("/api/admin/campaigns", json={**CAMPAIGN, **change}, headers=auth.headers_for(Role.ADMIN))
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["code"] == "campaign_invalid" and field in body["errors"], body


def test_schema_limits_answer_422(client, auth):
    headers = auth.headers_for(Role.ADMIN)
    for change in ({"per_user_total_limit": 0}, {"prizes": [{"kind": "cash", "name": "x", "probability_ppm": 1_000_001}]},
                   {"total_budget_fen": -1}):
        response = client.post("/api/admin/campaigns", json={**CAMPAIGN, **change}, headers=headers)
        assert response.status_code == 422, (change, response.get_json())


@pytest.mark.parametrize("role", [Role.OPS, Role.FINANCE, Role.AUDITOR])
def test_other_roles_read_but_do_not_write(client, auth, role):
    created = client.post("/api/admin/campaigns", json=CAMPAIGN, headers=auth.headers_for(Role.MARKETER)).get_json()
    headers = auth.headers_for(role)
    assert client.get(f"/api/admin/campaigns/{created['id']}", headers=headers).status_code == 200
    assert client.get("/api/admin/campaigns", headers=headers).status_code == 200
    assert client.post("/api/admin/campaigns", json=CAMPAIGN, headers=headers).status_code == 403
    assert client.patch(f"/api/admin/campaigns/{created['id']}", json={"name": "x"}, headers=headers).status_code == 403
    assert client.post(f"/api/admin/campaigns/{created['id']}/activate", headers=headers).status_code == 403


def test_an_unknown_campaign_answers_404(client, auth):
    headers = auth.headers_for(Role.MARKETER)
    for response in (client.get("/api/admin/campaigns/999999", headers=headers),
                     client.patch("/api/admin/campaigns/999999", json={"name": "x"}, headers=headers),
                     client.post("/api/admin/campaigns/999999/end", headers=headers)):
        assert response.status_code == 404 and response.get_json()["code"] == "campaign_not_found"


def test_anonymous_is_refused(client):
    assert client.get("/api/admin/campaigns").status_code == 401
