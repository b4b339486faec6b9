"""A campaign's change history: every role that reads campaigns reads it (the audit log is admins' and
auditors'), one campaign's records only, newest first, paged; an unknown campaign is a 404."""
from __future__ import annotations

from app.identity.models import Role

CAMPAIGN = {"name": "Spring", "starts_at": "2026-03-01T00:00:00Z", "ends_at": "2099-06-01T00:00:00Z",
            "total_budget_fen": 100_000, "daily_budget_fen": 10_000, "per_user_daily_limit": 1,
            "per_user_total_limit": 3, "blacklist": ["o6_bmjrPTlm6_2sgVt7hMZOPfL2M"],
            "prizes": [{"kind": "cash", "name": "Red packet", "amount": 888, "probability_ppm": 100_000, "stock": 300}]}


def test_a_marketer_reads_one_campaigns_history_newest_first(client, auth):
    headers = auth.headers_for(Role.MARKETER)
    mine = client.post("/api/admin/campaigns", json=CAMPAIGN, headers=headers).get_json()["id"]
    other = client.post("/api/admin/campaigns", json={**CAMPAIGN, "name": "Other"}, headers=headers).get_json()["id"]
    client.patch(f"/api/admin/campaigns/{mine}", json={"daily_budget_fen": 20_000}, headers=headers)
    client.post(f"/api/admin/campaigns/{mine}/activate", headers=headers)
    client.post(f"/api/admin/campaigns/{mine}/pause", headers=headers)
    client.post(f"/api/admin/campaigns/{other}/activate", headers=headers)

    answer = client.get(f"/api/admin/campaigns/{mine}/history", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    records = answer.get_json()
    assert [r["action"] for r in records] == ["campaign.pause", "campaign.activate", "campaign.update", "campaign.create"]
    assert {r["entity_id"] for r in records} == {str(mine)}
    assert records[2]["changes"]["daily_budget_fen"] == [10_000, 20_000]
    assert records[0]["actor_name"] and records[0]["created_at"]

    paged = client.get(f"/api/admin/campaigns/{mine}/history?page=2&page_size=3", headers=headers)
    assert [r["action"] for r in paged.get_json()] == ["campaign.create"]
    assert '"total": 4' in paged.headers["X-Pagination"]


def test_every_reader_of_campaigns_reads_the_history_and_openids_stay_masked(client, auth):
    admin = auth.headers_for(Role.ADMIN)
    made = client.post("/api/admin/campaigns", json=CAMPAIGN, headers=admin).get_json()["id"]
    client.patch(f"/api/admin/campaigns/{made}", json={"blacklist": ["o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "oXYZ1234567890"]},
                 headers=admin)
    for role in (Role.OPS, Role.FINANCE, Role.AUDITOR):
        answer = client.get(f"/api/admin/campaigns/{made}/history", headers=auth.headers_for(role))
        assert answer.status_code == 200, (role, answer.get_json())
        changed = answer.get_json()[0]
        assert changed["action"] == "campaign.update" and "blacklist" in changed["changes"]
        assert "o6_bmjrPTlm6_2sgVt7hMZOPfL2M" not in str(changed["changes"])  # masked for these roles


def test_the_history_of_an_unknown_campaign_is_a_404(client, auth):
    answer = client.get("/api/admin/campaigns/999999/history", headers=auth.headers_for(Role.MARKETER))
    assert answer.status_code == 404 and answer.get_json()["code"] == "campaign_not_found"
