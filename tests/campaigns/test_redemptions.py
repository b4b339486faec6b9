"""Prize redemptions: a gift's address, shipping and delivery, a coupon's use, cancelling; wrong states refused."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import AppUser
from app.campaigns import redemptions
from app.campaigns.models import DrawOutcome, PrizeKind, Redemption, RedemptionStatus
from app.db import transaction
from app.errors import DomainError
from app.extensions import db
from app.identity.models import AuditRecord
from app.identity.service import Actor
from tests.campaign_factories import ADDRESS, Claims
from tests.concurrency import at_once

ACTOR = Actor.system("tests")


def refused(call, code: str, status: int = 409) -> DomainError:
    with pytest.raises(DomainError) as error, transaction():
        call()
    assert (error.value.code, error.value.status) == (code, status), error.value.errors
    return error.value


def a_prize(claims: Claims, kind: PrizeKind, user=None) -> Redemption:
    user = user or claims.consumer()
    _, redemption = claims.won(user, claims.campaign(), kind)
    return redemption


def fresh(redemption_id: int) -> Redemption:
    db.session.rollback()  # a fresh snapshot (MariaDB: repeatable read)
    db.session.expire_all()  # rows kept after a commit are not reloaded by themselves
    return db.session.get(Redemption, redemption_id)


def test_a_gift_gets_an_address_is_shipped_and_delivered(claims):
    gift = a_prize(claims, PrizeKind.GIFT)
    winner = db.session.get(AppUser, gift.app_user_id)
    refused(lambda: redemptions.ship(actor=ACTOR, redemption_id=gift.id, tracking_no="SF123"),
            "redemption_not_shippable")
    refused(lambda: redemptions.redeem(actor=ACTOR, redemption_id=gift.id), "redemption_not_redeemable")
    with transaction():
        redemptions.set_address(app_user=winner, redemption_id=gift.id, address=ADDRESS)
    assert fresh(gift.id).status is RedemptionStatus.TO_SHIP
    assert fresh(gift.id).address["region_name"] == "东城区"
    with transaction():  # changed before shipping
        redemptions.set_address(app_user=winner, redemption_id=gift.id, address={**ADDRESS, "detail": "新地址"})
    assert fresh(gift.id).address["detail"] == "新地址"
    with transaction():
        redemptions.ship(actor=ACTOR, redemption_id=gift.id, tracking_no=" SF123 ")
    assert (fresh(gift.id).status, fresh(gift.id).tracking_no) == (RedemptionStatus.SHIPPED, "SF123")
    refused(lambda: redemptions.set_address(app_user=winner, redemption_id=gift.id, address=ADDRESS),
            "redemption_address_closed")
    refused(lambda: redemptions.ship(actor=ACTOR, redemption_id=gift.id, tracking_no="SF9"),
            "redemption_not_shippable")
    refused(lambda: redemptions.cancel(actor=ACTOR, redemption_id=gift.id), "redemption_not_cancellable")
    with transaction():
        redemptions.redeem(actor=ACTOR, redemption_id=gift.id)
    assert fresh(gift.id).status is RedemptionStatus.REDEEMED
    refused(lambda: redemptions.redeem(actor=ACTOR, redemption_id=gift.id), "redemption_not_redeemable")
    changes = db.session.scalars(sa.select(AuditRecord).where(
        AuditRecord.entity_type == "prize_redemptions", AuditRecord.entity_id == str(gift.id))
        .order_by(AuditRecord.id)).all()
    assert [(c.action, c.changes["status"]) for c in changes] == [
        ("redemption.ship", ["to_ship", "shipped"]), ("redemption.redeem", ["shipped", "redeemed"])]
    assert changes[0].changes["tracking_no"] == [None, "SF123"]


def test_a_coupon_is_redeemed_or_cancelled_never_shipped_and_has_no_address(claims):
    used, dropped = a_prize(claims, PrizeKind.COUPON), a_prize(claims, PrizeKind.COUPON)
    winner = db.session.get(AppUser, used.app_user_id)
    refused(lambda: redemptions.ship(actor=ACTOR, redemption_id=used.id, tracking_no="SF1"),
            "redemption_not_shippable")
    refused(lambda: redemptions.set_address(app_user=winner, redemption_id=used.id, address=ADDRESS),
            "redemption_address_closed")
    with transaction():
        redemptions.redeem(actor=ACTOR, redemption_id=used.id)
    refused(lambda: redemptions.cancel(actor=ACTOR, redemption_id=used.id), "redemption_not_cancellable")
    with transaction():
        redemptions.cancel(actor=ACTOR, redemption_id=dropped.id, reason="fraud")
    assert fresh(dropped.id).status is RedemptionStatus.CANCELLED
    refused(lambda: redemptions.cancel(actor=ACTOR, redemption_id=dropped.id), "redemption_not_cancellable")
    refused(lambda: redemptions.redeem(actor=ACTOR, redemption_id=dropped.id), "redemption_not_redeemable")
    audit = db.session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "redemption.cancel"))
    assert audit.changes == {"status": ["issued", "cancelled"], "reason": [None, "fraud"]}


def test_an_address_is_validated_and_only_the_winner_gives_it(claims):
    gift = a_prize(claims, PrizeKind.GIFT)
    stranger = claims.consumer()
    error = refused(lambda: redemptions.set_address(
        app_user=stranger, redemption_id=gift.id, address=ADDRESS), "redemption_not_found", 404)
    assert error.errors == {}
    winner = db.session.get(AppUser, gift.app_user_id)
    error = refused(lambda: redemptions.set_address(app_user=winner, redemption_id=gift.id, address={
        "name": " ", "phone": "12345", "region_code": "999999999999", "detail": " "}), "address_invalid", 422)
    assert set(error.errors) == {"name", "phone", "region_code", "detail"}
    assert fresh(gift.id).status is RedemptionStatus.AWAITING_ADDRESS and fresh(gift.id).address is None
    refused(lambda: redemptions.ship(actor=ACTOR, redemption_id=999_999, tracking_no="X1"),
            "redemption_not_found", 404)


def test_lists_filter_by_status_kind_and_user(claims):
    user = claims.consumer()
    gift, coupon = a_prize(claims, PrizeKind.GIFT, user), a_prize(claims, PrizeKind.COUPON, user)
    other = a_prize(claims, PrizeKind.COUPON)

    def ids(query):
        return [r.id for r in db.session.scalars(query)]

    assert ids(redemptions.list_redemptions()) == [other.id, coupon.id, gift.id]
    assert ids(redemptions.list_redemptions(kind="gift")) == [gift.id]
    assert ids(redemptions.list_redemptions(status="issued", app_user_id=user.id)) == [coupon.id]
    assert ids(redemptions.list_redemptions(campaign_id=other.campaign_id)) == [other.id]
    assert ids(redemptions.my_redemptions(app_user=user)) == [coupon.id, gift.id]


def test_draws_are_listed_and_read_with_their_odds_redemption_and_payout(claims):
    user = claims.consumer()
    campaign = claims.campaign()
    cash, payout = claims.won(user, campaign, PrizeKind.CASH, 88)
    lost = claims.draw(user, campaign, outcome=DrawOutcome.LOST)
    gift, redemption = claims.won(claims.consumer(), claims.campaign("Autumn"), PrizeKind.GIFT)

    def ids(**filters):
        return [d.id for d in db.session.scalars(redemptions.list_draws(**filters))]

    assert ids() == [gift.id, lost.id, cash.id]
    assert ids(campaign_id=campaign.id, outcome="won") == [cash.id]
    assert ids(app_user_id=user.id) == [lost.id, cash.id]
    assert ids(prize_kind="gift") == [gift.id]
    detail = redemptions.get_draw(cash.id)
    assert (detail["random_ppm"], detail["payout_id"], detail["redemption_id"]) == (123_456, payout.id, None)
    assert detail["odds"][0]["probability_ppm"] == 200_000 and detail["campaign_name"] == "Spring"
    assert redemptions.get_draw(gift.id)["redemption_id"] == redemption.id
    refused(lambda: redemptions.get_draw(999_999), "draw_not_found", 404)


def test_two_staff_shipping_at_once_ship_once(app, mariadb, claims):
    gift = a_prize(claims, PrizeKind.GIFT)
    winner = db.session.get(AppUser, gift.app_user_id)
    with transaction():
        redemptions.set_address(app_user=winner, redemption_id=gift.id, address=ADDRESS)
    outcomes = at_once(app, *(lambda n=n: redemptions.ship(actor=ACTOR, redemption_id=gift.id,
                                                             tracking_no=f"SF{n}000") and n
                              for n in range(3)), each_in_transaction=True)
    shipped = [o for o in outcomes if not isinstance(o, Exception)]
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(shipped) == 1 and len(errors) == 2, outcomes
    assert {e.code for e in errors} == {"redemption_not_shippable"}
    row = fresh(gift.id)
    assert (row.status, row.tracking_no) == (RedemptionStatus.SHIPPED, f"SF{shipped[0]}000"), outcomes
    audits = db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord).where(
        AuditRecord.action == "redemption.ship"))
    assert audits == 1


def test_an_address_change_racing_the_shipment_ships_to_the_address_it_saw(app, mariadb, claims):
    from tests.concurrency import meeting_in

    gift = a_prize(claims, PrizeKind.GIFT)
    winner = db.session.get(AppUser, gift.app_user_id)
    with transaction():
        redemptions.set_address(app_user=winner, redemption_id=gift.id, address=ADDRESS)
    with meeting_in(redemptions, "get_redemption"):
        moved, shipped = at_once(
            app,
            lambda: redemptions.set_address(app_user=db.session.get(AppUser, winner.id), redemption_id=gift.id,
                                            address={**ADDRESS, "detail": "新地址"}),
            lambda: redemptions.ship(actor=ACTOR, redemption_id=gift.id, tracking_no="SF1234"),
            each_in_transaction=True)
    assert not isinstance(shipped, Exception), shipped
    row = fresh(gift.id)
    assert row.status is RedemptionStatus.SHIPPED and row.tracking_no == "SF1234"
    if isinstance(moved, Exception):  # the shipment locked first: the address is closed
        assert moved.code == "redemption_address_closed" and row.address["detail"] == ADDRESS["detail"]
    else:  # the change locked first: shipped to the new address
        assert row.address["detail"] == "新地址"
