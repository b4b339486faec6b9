"""A payout as the mini-programs read it: what wx.requestMerchantTransfer needs; only one's own."""
from __future__ import annotations

from app.accounts.models import AppUser
from app.db import transaction
from app.extensions import db
from app.payouts import service
from app.wechat import runtime
from tests.mp_factories import mp  # noqa: F401
from tests.unit.test_payouts import sandbox  # noqa: F401


def signed_in(mp, app="consumer"):
    headers, body = mp.sign_in(app)
    return headers, db.session.get(AppUser, body["user"]["id"])


def test_a_consumer_reads_the_package_of_their_own_payout_only(client, mp, sandbox):
    headers, user = signed_in(mp)
    other_headers, _ = signed_in(mp)
    with transaction():
        payout = service.enqueue(purpose="prize", source="draw:7", app_user=user, amount_fen=88)
    pending = client.get(f"/api/consumer/payouts/{payout.id}", headers=headers)
    assert pending.status_code == 200 and pending.get_json()["status"] == "pending"
    assert pending.get_json()["package"] is None
    service.work_due()
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
        payout = service.enqueue(purpose="withdrawal", source="withdrawal:9", app_user=user, amount_fen=300)
    assert client.get(f"/api/clerk/payouts/{payout.id}", headers=headers).get_json()["status"] == "pending"
    assert client.get(f"/api/clerk/payouts/{payout.id}", headers=consumer_headers).status_code in (401, 403)
    assert client.get(f"/api/consumer/payouts/{payout.id}", headers=headers).status_code in (401, 403)
