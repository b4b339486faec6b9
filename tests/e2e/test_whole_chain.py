"""The demo's whole chain (app/demo_chain.py), checked afterwards from the outside: what the back office,
WeChat Pay (the sandbox) and the printed URL's page say once it was played.

codes → line → brand warehouse → tier-1 dealer → tier-2 dealer → store → sold → consumers scan →
prizes claimed → payout worker → the user confirms in WeChat → WeChat Pay's callback → succeeded
"""
from __future__ import annotations

from collections import Counter

from app import demo
from app.wechat.sandbox import pay as sandbox_pay


def _ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_the_played_chain_adds_up_in_the_back_office_and_at_wechat_pay(client, auth, sandbox):
    result = demo.seed()
    facts = result["chain"].facts
    token = _ok(auth.login("demo-auditor", result["password"]))["token"]
    auditor = {"Authorization": f"Bearer {token}"}
    bottle = facts["sold"][0]

    # The bottle travelled the whole chain and was sold: its timeline says so, in order.
    trace = _ok(client.get(f"/api/admin/trace/codes/{bottle}", headers=auditor))
    assert trace["location"]["kind"] == "consumer"
    kinds = [e["kind"] for e in trace["timeline"]]
    assert kinds[0] == "commission" and kinds[-1] == "sell"
    assert kinds.count("ship") == 3 and kinds.count("receive") == 4  # warehouse in; tier 1, tier 2, store

    # The lot: 24 items, 12 sold, 12 still on the store's shelf; none left in the brand's warehouse.
    lot = _ok(client.get(f"/api/admin/trace/lots/{facts['lot_id']}", headers=auditor))
    assert lot["units"] == 24 and lot["by_kind"] == {"store": 12, "consumer": 12}

    # The consumer scans the back office lists: the verdicts of the summary.
    scans = _ok(client.get("/api/admin/consumer-scans?page_size=100", headers=auditor))
    verdicts = Counter(s["verdict"] for s in scans)
    draws = facts["draws"]
    assert verdicts == {"genuine": len(draws), "scanned_before": 1, "forged": 1}

    # Every cash prize was paid once: one payout per cash draw, succeeded; one bill each at WeChat Pay,
    # confirmed by the user (SUCCESS), for 88 fen.
    cash = [d for d in draws if d["prize"]["kind"] == "cash"]
    payouts = _ok(client.get(f"/api/admin/payouts?campaign_id={facts['campaign_id']}&page_size=100",
                             headers=auditor))
    assert sorted(p["id"] for p in payouts) == sorted(d["payout_id"] for d in cash)
    assert {(p["status"], p["amount_fen"]) for p in payouts} == {("succeeded", 88)}
    bills = sandbox_pay.pay_state(sandbox.state).bills
    assert sorted(bills) == sorted(p["out_bill_no"] for p in payouts)
    assert {(b.state, b.params["transfer_amount"]) for b in bills.values()} == {("SUCCESS", 88)}

    # The campaign spent exactly what it paid.
    campaign = _ok(client.get(f"/api/admin/campaigns/{facts['campaign_id']}", headers=auditor))
    assert campaign["status"] == "active" and campaign["spent_fen"] == 88 * len(cash)

    # The printed URL's page answers a browser with the product.
    page = client.get(f"/c/{bottle}")
    assert page.status_code == 200 and "明前龙井" in page.get_data(as_text=True)
