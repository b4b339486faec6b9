"""Draws and prize redemptions in the back office: lists, a draw's odds, ship/redeem/cancel; roles and states."""
from __future__ import annotations

from app.accounts.models import AppUser
from app.campaigns import redemptions
from app.campaigns.models import DrawOutcome, PrizeKind
from app.db import transaction
from app.extensions import db
from app.identity.models import Role
from tests.campaign_factories import ADDRESS

URL = "/api/admin/draws"


def test_draws_are_listed_by_filters_and_read_with_the_random_number_and_odds(client, auth, claims):
    auditor = auth.headers_for(Role.AUDITOR)
    user, campaign = claims.consumer(), claims.campaign()
    cash, payout = claims.won(user, campaign, PrizeKind.CASH, 88)
    lost = claims.draw(user, campaign, outcome=DrawOutcome.LOST)
    gift, redemption = claims.won(claims.consumer(), claims.campaign("Autumn"), PrizeKind.GIFT)
    listed = client.get(URL, headers=auditor)
    assert listed.status_code == 200 and [d["id"] for d in listed.get_json()] == [gift.id, lost.id, cash.id]
    assert "random_ppm" not in listed.get_json()[0]
    assert [d["id"] for d in client.get(f"{URL}?campaign_id={campaign.id}&outcome=lost",
                                        headers=auditor).get_json()] == [lost.id]
    assert [d["id"] for d in client.get(f"{URL}?app_user_id={user.id}&prize_kind=cash",
                                        headers=auditor).get_json()] == [cash.id]
    assert client.get(f"{URL}?from=2030-01-01T00:00:00Z", headers=auditor).get_json() == []
    detail = client.get(f"{URL}/{cash.id}", headers=auditor).get_json()
    assert (detail["random_ppm"], detail["outcome"], detail["amount"]) == (123456, "won", 88)
    assert detail["odds"][0]["to"] == 200000 and (detail["payout_id"], detail["payout_status"]) == (
        payout.id, "pending")
    assert client.get(f"{URL}/{gift.id}", headers=auditor).get_json()["redemption_status"] == "awaiting_address"
    assert redemption.id
    missing = client.get(f"{URL}/999999", headers=auditor)
    assert missing.status_code == 404 and missing.get_json()["code"] == "draw_not_found"
    assert client.get(f"{URL}?outcome=maybe", headers=auditor).status_code == 422
    assert client.get(f"{URL}?to=9999-12-31T23:59:59-05:00", headers=auditor).status_code == 422  # past 9999 in UTC


def test_a_gift_is_shipped_and_delivered_by_admin_or_marketer_in_the_right_states(client, auth, claims):
    marketer, auditor, finance = (auth.headers_for(r) for r in (Role.MARKETER, Role.AUDITOR, Role.FINANCE))
    _, gift = claims.won(claims.consumer(), claims.campaign(), PrizeKind.GIFT)
    ship = f"{URL}/redemptions/{gift.id}/ship"
    early = client.post(ship, json={"tracking_no": "SF1234"}, headers=marketer)
    assert early.status_code == 409 and early.get_json()["code"] == "redemption_not_shippable"
    assert early.get_json()["errors"] == {"status": "awaiting_address"}
    with transaction():
        redemptions.set_address(app_user=db.session.get(AppUser, gift.app_user_id), redemption_id=gift.id,
                                address=ADDRESS)
    assert client.post(ship, json={"tracking_no": "SF1234"}, headers=auditor).status_code == 403
    assert client.post(ship, json={"tracking_no": "SF1234"}, headers=finance).status_code == 403
    bad = client.post(ship, json={"tracking_no": "no spaces!"}, headers=marketer)
    assert bad.status_code == 422 and "tracking_no" in bad.get_json()["errors"]["json"]
    assert client.post(ship, json={}, headers=marketer).status_code == 422
    shipped = client.post(ship, json={"tracking_no": "SF1234"}, headers=marketer)
    assert shipped.status_code == 200 and (shipped.get_json()["status"], shipped.get_json()["tracking_no"]) == (
        "shipped", "SF1234")
    assert shipped.get_json()["address"]["phone"] == ADDRESS["phone"]
    cancel = client.post(f"{URL}/redemptions/{gift.id}/cancel", json={"reason": "late"}, headers=marketer)
    assert cancel.status_code == 409 and cancel.get_json()["code"] == "redemption_not_cancellable"
    delivered = client.post(f"{URL}/redemptions/{gift.id}/redeem", headers=auth.as_admin())
    assert delivered.status_code == 200 and delivered.get_json()["status"] == "redeemed"
    again = client.post(f"{URL}/redemptions/{gift.id}/redeem", headers=marketer)
    assert again.status_code == 409 and again.get_json()["code"] == "redemption_not_redeemable"
    audit = client.get(f"/api/admin/audit?entity_type=prize_redemptions&entity_id={gift.id}",
                       headers=auth.as_admin()).get_json()
    assert sorted(a["action"] for a in audit) == ["redemption.redeem", "redemption.ship"]
    missing = client.post(f"{URL}/redemptions/999999/redeem", headers=marketer)
    assert missing.status_code == 404 and missing.get_json()["code"] == "redemption_not_found"


def test_coupons_are_listed_used_or_cancelled(client, auth, claims):
    marketer, auditor = auth.headers_for(Role.MARKETER), auth.headers_for(Role.AUDITOR)
    user, campaign = claims.consumer(), claims.campaign()
    _, used = claims.won(user, campaign, PrizeKind.COUPON)
    _, dropped = claims.won(user, campaign, PrizeKind.COUPON)
    _, gift = claims.won(claims.consumer(), claims.campaign("Autumn"), PrizeKind.GIFT)
    listed = client.get(f"{URL}/redemptions", headers=auditor)
    assert listed.status_code == 200 and [r["id"] for r in listed.get_json()] == [gift.id, dropped.id, used.id]
    assert listed.get_json()[1]["coupon_code"] == dropped.coupon_code
    assert [r["id"] for r in client.get(f"{URL}/redemptions?kind=gift", headers=auditor).get_json()] == [gift.id]
    assert [r["id"] for r in client.get(f"{URL}/redemptions?app_user_id={user.id}&status=issued",
                                        headers=auditor).get_json()] == [dropped.id, used.id]
    assert client.get(f"{URL}/redemptions?status=lost", headers=auditor).status_code == 422
    assert client.get(f"{URL}/redemptions/{used.id}", headers=auditor).get_json()["status"] == "issued"
    assert client.post(f"{URL}/redemptions/{used.id}/redeem", headers=auditor).status_code == 403
    assert client.post(f"{URL}/redemptions/{used.id}/redeem", headers=marketer).get_json()["status"] == "redeemed"
    cancelled = client.post(f"{URL}/redemptions/{dropped.id}/cancel", headers=marketer)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    twice = client.post(f"{URL}/redemptions/{dropped.id}/cancel", json={"reason": "again"}, headers=marketer)
    assert twice.status_code == 409 and twice.get_json()["code"] == "redemption_not_cancellable"
    ship_coupon = client.post(f"{URL}/redemptions/{used.id}/ship", json={"tracking_no": "SF1234"},
                              headers=marketer)
    assert ship_coupon.status_code == 409 and ship_coupon.get_json()["code"] == "redemption_not_shippable"
