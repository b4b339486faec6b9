"""A payout as the mini-programs read it: what wx.requestMerchantTransfer needs; only one's own."""
from __future__ import annotations

from app.accounts.models import AppUser
from app.db import transaction
from app.extensions import db
from app.payouts import queue, worker
from app.payouts.models import PayoutPurpose, PayoutRef
from app.retail import ledger
from app.retail.models import Withdrawal
from app.wechat import runtime
from tests import channel_factories as cf
from tests.masterdata_factories import make_dealer
from tests.mp_factories import make_invitation


def signed_in(mp, app="consumer"):
    headers, body = mp.sign_in(app)
    return headers, db.session.get(AppUser, body["user"]["id"])


def test_a_consumer_reads_the_package_of_their_own_payout_only(client, mp, sandbox):
    headers, user = signed_in(mp)
    other_headers, _ = signed_in(mp)
    with transaction():
        payout = queue.enqueue(source=PayoutRef(PayoutPurpose.PRIZE, 7), app_user=user, amount_fen=88)
    pending = client.get(f"/api/consumer/payouts/{payout.id}", headers=headers)
    assert pending.status_code == 200 and pending.get_json()["status"] == "pending"
    assert pending.get_json()["package"] is None
    worker.work_due()
    body = client.get(f"/api/consumer/payouts/{payout.id}", headers=headers).get_json()
    settings = runtime().pay_settings()
    assert body["status"] == "waiting" and body["package"]
    assert (body["mchId"], body["appId"], body["amount_fen"]) == (settings.mchid, settings.appid, 88)
    assert client.get(f"/api/consumer/payouts/{payout.id}", headers=other_headers).status_code == 404
    assert client.get("/api/consumer/payouts/999999", headers=headers).status_code == 404
    assert client.get(f"/api/consumer/payouts/{payout.id}").status_code == 401


def test_a_clerk_reads_their_withdrawals_payout_and_a_consumer_token_is_refused(client, mp, sandbox):
    headers, user = signed_in(mp, "clerk")
    consumer_headers, _ = signed_in(mp)
    with transaction():
        payout = queue.enqueue(source=PayoutRef(PayoutPurpose.WITHDRAWAL, 9), app_user=user, amount_fen=300)
    assert client.get(f"/api/clerk/payouts/{payout.id}", headers=headers).get_json()["status"] == "pending"
    assert client.get(f"/api/clerk/payouts/{payout.id}", headers=consumer_headers).status_code in (401, 403)
    assert client.get(f"/api/consumer/payouts/{payout.id}", headers=headers).status_code in (401, 403)


def clerk_of_a_store(mp):
    """Headers of a clerk-app user owning a store, and that user."""
    store = cf.make_store_of(make_dealer().id)
    headers = mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code)
    return headers, db.session.get(AppUser, mp.client.get("/api/clerk/me", headers=headers).get_json()["user"]["id"])


def test_a_clerks_withdrawal_names_its_payout_and_the_clerk_lists_only_their_own(client, mp, sandbox):
    headers, user = clerk_of_a_store(mp)
    other_headers, other = clerk_of_a_store(mp)
    with transaction():
        ledger.credit(app_user_id=user.id, kind="cash", amount=1_000, source="adjust:payouts-list")
        ledger.credit(app_user_id=other.id, kind="cash", amount=1_000, source="adjust:payouts-list-2")
    first = client.post("/api/clerk/withdrawals", json={"amount": 300, "request_id": "w-1"}, headers=headers)
    second = client.post("/api/clerk/withdrawals", json={"amount": 200, "request_id": "w-2"}, headers=headers)
    theirs = client.post("/api/clerk/withdrawals", json={"amount": 400, "request_id": "w-1"}, headers=other_headers)
    assert first.status_code == second.status_code == theirs.status_code == 201
    payout_id = first.get_json()["payout_id"]
    assert payout_id and payout_id == db.session.get(Withdrawal, first.get_json()["id"]).payout_id
    retried = client.post("/api/clerk/withdrawals", json={"amount": 300, "request_id": "w-1"}, headers=headers)
    assert retried.get_json()["payout_id"] == payout_id
    assert [w["payout_id"] for w in client.get("/api/clerk/withdrawals", headers=headers).get_json()] == [
        second.get_json()["payout_id"], payout_id]

    listed = client.get("/api/clerk/payouts", headers=headers)
    assert listed.status_code == 200 and listed.headers["X-Pagination"]
    assert [(p["id"], p["amount_fen"], p["purpose"], p["status"]) for p in listed.get_json()] == [
        (second.get_json()["payout_id"], 200, "withdrawal", "pending"), (payout_id, 300, "withdrawal", "pending")]
    paged = client.get("/api/clerk/payouts?page=2&page_size=1", headers=headers).get_json()
    assert [p["id"] for p in paged] == [payout_id]
    assert [p["id"] for p in client.get("/api/clerk/payouts", headers=other_headers).get_json()] == [
        theirs.get_json()["payout_id"]]
    assert client.get(f"/api/clerk/payouts/{payout_id}", headers=other_headers).status_code == 404
    assert client.get("/api/clerk/payouts").status_code == 401
    consumer_headers, _ = signed_in(mp)
    assert client.get("/api/clerk/payouts", headers=consumer_headers).status_code in (401, 403)

    worker.work_due()  # the bills are made: the app fetches what wx.requestMerchantTransfer needs
    confirm = client.get(f"/api/clerk/payouts/{payout_id}", headers=headers).get_json()
    assert confirm["status"] == "waiting" and confirm["package"] and confirm["amount_fen"] == 300
    assert {p["status"] for p in client.get("/api/clerk/payouts", headers=headers).get_json()} == {"waiting"}
