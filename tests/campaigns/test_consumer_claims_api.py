"""Claims over HTTP: a scan lists its campaigns, the claim draws once (201, then 200), errors have codes."""
from __future__ import annotations




SCANS = "/api/consumer/scans"


def test_a_scan_lists_the_campaign_and_the_claim_wins_once(client, mp, goods, campaign):  # noqa: F811
    headers, _ = mp.sign_in("consumer")
    scanned = client.post(SCANS, json={"code": goods["items"][0]}, headers=headers).json
    assert scanned["campaigns"] == [{"id": campaign.id, "name": "Spring", "ends_at": scanned["campaigns"][0]["ends_at"],
                                     "hidden_code_required": False,
                                     "prizes": [{"kind": "cash", "name": "Red packet", "amount": 88}]}]
    claimed = client.post(f"{SCANS}/{scanned['scan_id']}/claim", json={"campaign_id": campaign.id}, headers=headers)
    assert claimed.status_code == 201, claimed.json
    body = claimed.json
    assert body["outcome"] == "won" and body["prize"] == {"kind": "cash", "name": "Red packet", "amount": 88}
    assert body["payout_id"] and body["payout_held"] is False and 0 <= body["random_number"] < 1_000_000
    again = client.post(f"{SCANS}/{scanned['scan_id']}/claim", json={}, headers=headers)
    assert again.status_code == 200 and again.json["draw_id"] == body["draw_id"]
    payout = client.get(f"/api/consumer/payouts/{body['payout_id']}", headers=headers)
    assert payout.status_code == 200 and payout.json["amount_fen"] == 88
    draws = client.get("/api/consumer/draws", headers=headers).json
    assert [(d["id"], d["outcome"], d["amount"]) for d in draws] == [(body["draw_id"], "won", 88)]
    assert client.get(f"/api/consumer/draws/{body['draw_id']}", headers=headers).json["payout_id"] == body["payout_id"]


def test_the_units_draw_is_gone_for_the_next_scanner(client, mp, goods, campaign):  # noqa: F811
    first, _ = mp.sign_in("consumer")
    second, _ = mp.sign_in("consumer")
    scan_id = client.post(SCANS, json={"code": goods["items"][0]}, headers=first).json["scan_id"]
    client.post(f"{SCANS}/{scan_id}/claim", json={}, headers=first)
    later = client.post(SCANS, json={"code": goods["items"][0]}, headers=second).json
    assert later["campaigns"] == []
    refused = client.post(f"{SCANS}/{later['scan_id']}/claim", json={}, headers=second)
    assert refused.status_code == 409 and refused.json["code"] == "unit_already_drawn"
    assert client.post(f"{SCANS}/{scan_id}/claim", json={}, headers=second).status_code == 404  # not their scan
    assert client.get("/api/consumer/draws", headers=second).json == []


def test_claim_errors_are_4xx_with_codes(client, mp, goods, campaign):  # noqa: F811
    headers, _ = mp.sign_in("consumer")
    assert client.post(f"{SCANS}/999999/claim", json={}, headers=headers).json["code"] == "scan_not_found"
    forged = client.post(SCANS, json={"code": "A" * 18}, headers=headers).json
    refused = client.post(f"{SCANS}/{forged['scan_id']}/claim", json={}, headers=headers)
    assert (refused.status_code, refused.json["code"]) == (409, "scan_not_eligible")
    scan_id = client.post(SCANS, json={"code": goods["items"][1]}, headers=headers).json["scan_id"]
    unknown = client.post(f"{SCANS}/{scan_id}/claim", json={"campaign_id": 424242}, headers=headers)
    assert (unknown.status_code, unknown.json["code"]) == (404, "campaign_not_found")
    assert client.post(f"{SCANS}/{scan_id}/claim", json={"campaign_id": "x"}, headers=headers).status_code == 422
    assert client.post(f"{SCANS}/{scan_id}/claim", json={}).status_code == 401
    clerk, _ = mp.sign_in("clerk")
    assert client.post(f"{SCANS}/{scan_id}/claim", json={}, headers=clerk).status_code in (401, 403)


def test_claims_are_rate_limited_per_consumer(client, mp, goods, campaign, app, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "CLAIMS_PER_MINUTE_USER", 2)
    headers, _ = mp.sign_in("consumer")
    scan_id = client.post(SCANS, json={"code": goods["items"][0]}, headers=headers).json["scan_id"]
    answers = [client.post(f"{SCANS}/{scan_id}/claim", json={}, headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 200, 429]
    assert answers[2].json["code"] == "rate_limited" and int(answers[2].headers["Retry-After"]) <= 60
