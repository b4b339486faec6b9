"""The consumer's own record over HTTP: summary, prizes, payouts, redemptions and a gift's address; own rows only."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.accounts.models import AppUser
from app.campaigns import redemptions
from app.campaigns import service as campaigns
from app.campaigns.models import Draw, Prize, PrizeKind
from app.db import transaction
from app.extensions import db
from app.identity.models import Role
from app.identity.service import Actor
from tests.campaign_factories import ADDRESS
from tests.masterdata_factories import ACTOR

ME = "/api/consumer/me"


def signed_in(mp, app="consumer"):
    headers, body = mp.sign_in(app)
    return headers, db.session.get(AppUser, body["user"]["id"])


def test_my_summary_prizes_and_payouts(client, mp, claims):
    headers, user = signed_in(mp)
    other_headers, other = signed_in(mp)
    campaign = claims.campaign()
    cash, payout = claims.won(user, campaign, PrizeKind.CASH, 88)
    gift, redemption = claims.won(user, campaign, PrizeKind.GIFT)
    claims.won(other, campaign, PrizeKind.CASH, 500)
    claims.points(user, 40)
    summary = client.get(f"{ME}/summary", headers=headers)
    assert summary.status_code == 200, summary.get_json()
    assert summary.get_json() == {"scans": 2, "points_balance": 40,
                                  "prizes": {"count": 2, "cash_fen": 88, "points": 0, "coupons": 0, "gifts": 1},
                                  "payouts": {"count": 1, "paid_fen": 0, "waiting": 0}}
    prizes = client.get(f"{ME}/prizes", headers=headers)
    assert prizes.status_code == 200 and prizes.headers["X-Pagination"]
    assert [(p["draw_id"], p["redemption_id"], p["payout_id"]) for p in prizes.get_json()] == [
        (gift.id, redemption.id, None), (cash.id, None, payout.id)]
    assert prizes.get_json()[1]["payout_status"] == "pending" and prizes.get_json()[0]["campaign_name"] == "Spring"
    payouts = client.get(f"{ME}/payouts", headers=headers).get_json()
    assert [(p["id"], p["amount_fen"], p["status"]) for p in payouts] == [(payout.id, 88, "pending")]
    assert client.get(f"{ME}/payouts", headers=other_headers).get_json()[0]["amount_fen"] == 500
    assert client.get(f"{ME}/summary").status_code == 401
    clerk_headers, _ = signed_in(mp, "clerk")
    assert client.get(f"{ME}/summary", headers=clerk_headers).status_code in (401, 403)


def test_a_winner_gives_and_changes_a_gifts_address_until_it_ships(client, mp, claims):
    headers, user = signed_in(mp)
    other_headers, _ = signed_in(mp)
    campaign = claims.campaign()
    _, gift = claims.won(user, campaign, PrizeKind.GIFT)
    _, coupon = claims.won(user, campaign, PrizeKind.COUPON)
    mine = client.get(f"{ME}/redemptions", headers=headers)
    assert [r["id"] for r in mine.get_json()] == [coupon.id, gift.id]
    assert [r["id"] for r in client.get(f"{ME}/redemptions?status=issued", headers=headers).get_json()] == [
        coupon.id]
    assert client.get(f"{ME}/redemptions", headers=other_headers).get_json() == []
    assert client.get(f"{ME}/redemptions/{gift.id}", headers=other_headers).status_code == 404
    assert client.get(f"{ME}/redemptions/{gift.id}", headers=headers).get_json()["status"] == "awaiting_address"
    address = f"{ME}/redemptions/{gift.id}/address"
    stolen = client.put(address, json=ADDRESS, headers=other_headers)
    assert stolen.status_code == 404 and stolen.get_json()["code"] == "redemption_not_found"
    missing = client.put(address, json={"name": "林"}, headers=headers)
    assert missing.status_code == 422 and set(missing.get_json()["errors"]["json"]) == {
        "phone", "region_code", "detail"}
    invalid = client.put(address, json={**ADDRESS, "phone": "12345678901", "region_code": "000000000000"},
                         headers=headers)
    assert invalid.status_code == 422 and invalid.get_json()["code"] == "address_invalid"
    assert set(invalid.get_json()["errors"]) == {"phone", "region_code"}
    given = client.put(address, json=ADDRESS, headers=headers)
    assert given.status_code == 200 and given.get_json()["status"] == "to_ship"
    assert given.get_json()["address"]["region_name"] == "东城区"
    changed = client.put(address, json={**ADDRESS, "detail": "朝阳门 2 号"}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["address"]["detail"] == "朝阳门 2 号"
    coupon_address = client.put(f"{ME}/redemptions/{coupon.id}/address", json=ADDRESS, headers=headers)
    assert coupon_address.status_code == 409 and coupon_address.get_json()["code"] == "redemption_address_closed"
    with transaction():
        redemptions.ship(actor=Actor.system("tests"), redemption_id=gift.id, tracking_no="SF1234")
    closed = client.put(address, json=ADDRESS, headers=headers)
    assert closed.status_code == 409 and closed.get_json()["code"] == "redemption_address_closed"
    assert client.get(f"{ME}/redemptions/{gift.id}", headers=headers).get_json()["tracking_no"] == "SF1234"
    assert client.put(f"{ME}/redemptions/999999/address", json=ADDRESS, headers=headers).status_code == 404


def test_a_gift_won_by_a_real_claim_reaches_the_winner(client, mp, auth, goods):  # noqa: F811
    """End to end: scan, claim (the lead's claim), my prizes, my address, shipped and delivered by a marketer."""
    now = datetime.now(UTC)
    with transaction():
        created = campaigns.create_campaign(actor=ACTOR, data={
            "name": "Gifts", "starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=1),
            "total_budget_fen": 10_000, "first_scan_only": True,
            "prizes": [{"kind": "gift", "name": "Tea set", "amount": 0, "probability_ppm": 1_000_000, "stock": 5}]})
    with transaction():
        campaigns.change_status(actor=ACTOR, campaign_id=created.id, action="activate")
    headers, user = signed_in(mp)
    scan_id = client.post("/api/consumer/scans", json={"code": goods["items"][0]}, headers=headers).json["scan_id"]
    claimed = client.post(f"/api/consumer/scans/{scan_id}/claim", json={}, headers=headers)
    assert claimed.status_code == 201, claimed.json
    prizes = client.get(f"{ME}/prizes", headers=headers).json
    assert [(p["draw_id"], p["prize_name"], p["redemption_status"]) for p in prizes] == [
        (claimed.json["draw_id"], "Tea set", "awaiting_address")]
    redemption_id = prizes[0]["redemption_id"]
    assert client.put(f"{ME}/redemptions/{redemption_id}/address", json=ADDRESS,
                      headers=headers).json["status"] == "to_ship"
    marketer = auth.headers_for(Role.MARKETER)
    admin_url = f"/api/admin/draws/redemptions/{redemption_id}"
    assert client.post(f"{admin_url}/ship", json={"tracking_no": "SF1234"}, headers=marketer).json["status"] == (
        "shipped")
    assert client.post(f"{admin_url}/redeem", headers=marketer).json["status"] == "redeemed"
    summary = client.get(f"{ME}/summary", headers=headers).json
    assert summary["scans"] == 1 and summary["prizes"]["gifts"] == 1
    profile = client.get(f"/api/admin/consumer-profiles/{user.id}", headers=marketer).json
    assert profile["won"]["gifts"] == 1 and profile["scans"]["count"] == 1
    draw = client.get(f"/api/admin/draws/{claimed.json['draw_id']}", headers=marketer).json
    assert draw["redemption_status"] == "redeemed" and draw["odds"] and draw["random_ppm"] >= 0


def test_a_cancelled_gift_goes_back_to_its_stock_for_the_next_winner(client, mp, auth, goods):  # noqa: F811
    now = datetime.now(UTC)
    with transaction():
        created = campaigns.create_campaign(actor=ACTOR, data={
            "name": "One gift", "starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=1),
            "total_budget_fen": 10_000, "first_scan_only": True, "per_user_total_limit": 5,
            "per_user_daily_limit": 5,
            "prizes": [{"kind": "gift", "name": "Tea set", "amount": 0, "probability_ppm": 1_000_000, "stock": 1}]})
    with transaction():
        campaigns.change_status(actor=ACTOR, campaign_id=created.id, action="activate")
    headers, _ = signed_in(mp)

    def claim(code):
        scan_id = client.post("/api/consumer/scans", json={"code": code}, headers=headers).json["scan_id"]
        return client.post(f"/api/consumer/scans/{scan_id}/claim", json={}, headers=headers).json

    first = claim(goods["items"][0])
    assert first["outcome"] == "won", first
    assert claim(goods["items"][1])["outcome"] == "out_of_stock"
    redemption_id = client.get(f"{ME}/prizes", headers=headers).json[0]["redemption_id"]
    cancelled = client.post(f"/api/admin/draws/redemptions/{redemption_id}/cancel", json={"reason": "fraud"},
                            headers=auth.headers_for(Role.MARKETER))
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Prize, db.session.get(Draw, first["draw_id"]).prize_id).awarded == 0
    assert claim(goods["items"][2])["outcome"] == "won"
