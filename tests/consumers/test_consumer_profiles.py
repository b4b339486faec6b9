"""Consumer profiles, segment counts, my summary and prizes, the blacklist (rows made directly by a factory)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AppName
from app.campaigns.models import (
    PrizeKind,
    RedemptionStatus,
)
from app.consumers import blacklist
from app.flows import consumer_profiles as profiles
from app.db import transaction
from app.errors import DomainError
from app.extensions import db
from app.identity.models import AuditRecord
from app.identity.service import Actor
from app.payouts.models import PayoutStatus
from tests.campaign_factories import DONGCHENG, T0, TIANHE, XICHENG, a_rich_consumer

ACTOR = Actor.system("tests")
XIHU = "330106000000"  # Hangzhou, Zhejiang


def test_a_profile_adds_up_scans_products_regions_winnings_payouts_and_points(claims):
    user, made = a_rich_consumer(claims)
    other = claims.consumer("Other")
    claims.scan(other, product=made["tea"], region_code=XIHU)
    with transaction():
        blacklist.block(actor=ACTOR, openid=user.openid, reason="many cities")

    profile = profiles.profile(app_user_id=user.id)

    # 4 scans by hand + 6 made by the draws (each draw has its scan)
    assert profile["scans"]["count"] == 10
    assert profile["scans"]["by_verdict"] == {"genuine": 8, "scanned_before": 1, "forged": 1}
    assert profile["first_seen_at"] == T0 - timedelta(days=1)
    assert profile["last_seen_at"] == T0 + timedelta(days=4)
    assert profile["products"] == [{"id": made["tea"].id, "name": "Tea", "scans": 2},
                                   {"id": made["wine"].id, "name": "Wine", "scans": 1}]
    assert profile["regions"] == [{"code": "110100000000", "name": "北京市", "scans": 2},
                                  {"code": "440100000000", "name": "广州市", "scans": 1}]
    assert profile["won"] == {"draws": 5, "cash_fen": 100, "cash_prizes": 2, "points": 50, "coupons": 1, "gifts": 1}
    assert profile["payouts"] == {"count": 2, "paid_fen": 88, "waiting": 1}
    assert profile["points_balance"] == 300
    assert profile["blacklisted"] is True and profile["blacklist_reason"] == "many cities"
    assert profiles.profile(app_user_id=other.id)["won"]["draws"] == 0
    assert profiles.profile(app_user_id=other.id)["points_balance"] == 0


def test_a_profile_is_one_query_per_aggregate(claims):
    user, _ = a_rich_consumer(claims)
    statements = []

    def count(*args, **kwargs):
        statements.append(args[2] if len(args) > 2 else None)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        profiles.profile(app_user_id=user.id)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) <= 9  # user, scans, blacklist, products, regions (+ names), won, payouts, points


def test_only_consumers_have_profiles(claims):
    clerk = claims.consumer(app=AppName.CLERK)
    for missing in (clerk.id, 999_999):
        with pytest.raises(DomainError) as refused:
            profiles.profile(app_user_id=missing)
        assert refused.value.code == "consumer_not_found" and refused.value.status == 404


def test_the_list_filters_by_region_product_and_name_last_seen_first(claims):
    tea, wine = claims.product("Tea"), claims.product("Wine")
    lin, wang, idle = claims.consumer("Lin"), claims.consumer("Wang"), claims.consumer("Idle")
    claims.consumer("Clerk", app=AppName.CLERK)
    claims.scan(lin, product=tea, region_code=DONGCHENG, at=T0)
    claims.scan(lin, product=tea, region_code=DONGCHENG, at=T0 + timedelta(days=2))
    claims.scan(wang, product=wine, region_code=TIANHE, at=T0 + timedelta(days=1))
    with transaction():
        blacklist.block(actor=ACTOR, openid=wang.openid)

    def listed(**filters):
        return [(row.app_user_id, row.scans) for row in db.session.execute(profiles.list_profiles(**filters))]

    assert listed() == [(lin.id, 2), (wang.id, 1), (idle.id, 0)]
    assert listed(region_code="440000000000") == [(wang.id, 1)]
    assert listed(region_code="110100000000") == [(lin.id, 2)]
    assert listed(product_id=tea.id) == [(lin.id, 2)]
    assert listed(q="wan") == [(wang.id, 1)]
    assert listed(q=lin.openid[:12]) == [(lin.id, 2)]
    rows = {row.app_user_id: row for row in db.session.execute(profiles.list_profiles())}
    assert rows[wang.id].blacklisted and not rows[lin.id].blacklisted
    assert rows[lin.id].first_seen_at == T0 and rows[lin.id].last_seen_at == T0 + timedelta(days=2)
    assert rows[idle.id].last_seen_at is None


def test_segments_count_distinct_consumers_by_region_product_and_frequency(claims):
    tea, wine = claims.product("Tea"), claims.product("Wine")
    users = [claims.consumer(f"u{i}") for i in range(5)]
    # u0: 1 scan; u1: 3 scans; u2: 7 scans; u3: 21 scans; u4: one scan before the period
    for _ in range(1):
        claims.scan(users[0], product=tea, region_code=DONGCHENG)
    for _ in range(3):
        claims.scan(users[1], product=tea, region_code=XICHENG)
    for i in range(7):
        claims.scan(users[2], product=wine if i else tea, region_code=TIANHE)
    for _ in range(21):
        claims.scan(users[3], product=wine, region_code=XIHU)
    claims.scan(users[4], product=wine, region_code=TIANHE, at=T0 - timedelta(days=10))
    period = {"since": T0 - timedelta(days=1), "until": T0 + timedelta(days=1)}

    provinces = profiles.segments(group="region", level="province", **period)
    assert provinces["consumers"] == 4
    assert provinces["segments"] == [{"code": "110000000000", "name": "北京市", "consumers": 2},
                                     {"code": "330000000000", "name": "浙江省", "consumers": 1},
                                     {"code": "440000000000", "name": "广东省", "consumers": 1}]
    cities = profiles.segments(group="region", level="city")
    assert cities["consumers"] == 5 and cities["level"] == "city"
    assert [(s["code"], s["name"], s["consumers"]) for s in cities["segments"]] == [
        ("110100000000", "北京市", 2), ("440100000000", "广州市", 2), ("330100000000", "杭州市", 1)]
    products = profiles.segments(group="product", **period)
    assert products["segments"] == [{"code": str(tea.id), "name": "Tea", "consumers": 3},
                                    {"code": str(wine.id), "name": "Wine", "consumers": 2}]
    frequency = profiles.segments(group="frequency", **period)
    assert [(s["code"], s["consumers"]) for s in frequency["segments"]] == [
        ("1", 1), ("2-5", 1), ("6-20", 1), ("21+", 1)]
    everyone = profiles.segments(group="frequency")
    assert [s["consumers"] for s in everyone["segments"]] == [2, 1, 1, 1]
    assert profiles.segments(group="frequency", since=T0 + timedelta(days=5))["segments"][0]["consumers"] == 0


def test_my_summary_and_prizes_newest_first_with_redemption_and_payout(claims):
    user, made = a_rich_consumer(claims)
    other = claims.consumer()
    claims.won(other, made["campaign"], PrizeKind.CASH, 500)

    summary = profiles.summary(app_user=user)
    assert summary == {"scans": 10, "prizes": {"count": 5, "cash_fen": 100, "points": 50, "coupons": 1, "gifts": 1},
                       "points_balance": 300, "payouts": {"count": 2, "paid_fen": 88, "waiting": 1}}
    prizes = db.session.execute(profiles.my_prizes(app_user=user)).all()
    assert [p.prize_kind for p in prizes] == [PrizeKind.GIFT, PrizeKind.COUPON, PrizeKind.POINTS, PrizeKind.CASH,
                                              PrizeKind.CASH]
    assert prizes[0].redemption_id == made["gift_redemption"].id
    assert prizes[0].redemption_status is RedemptionStatus.AWAITING_ADDRESS and prizes[0].payout_id is None
    assert prizes[3].payout_id == made["waiting"].id and prizes[3].payout_status is PayoutStatus.WAITING
    assert prizes[0].campaign_name == "Spring"
    assert [p.id for p in db.session.scalars(profiles.my_payouts(app_user=user))] == sorted(
        [made["waiting"].id, prizes[4].payout_id], reverse=True)
    assert profiles.summary(app_user=claims.consumer())["prizes"]["count"] == 0


def test_the_blacklist_refuses_a_second_entry_and_audits_adding_and_removing(claims):
    user = claims.consumer()
    with transaction():
        entry = blacklist.block(actor=ACTOR, openid=f" {user.openid} ", reason="fraud")
    assert blacklist.is_blocked(user.openid)
    with pytest.raises(DomainError) as again, transaction():
        blacklist.block(actor=ACTOR, openid=user.openid)
    assert again.value.code == "consumer_already_blacklisted" and again.value.status == 409
    row = blacklist.get_entry(entry.id)
    assert (row.app_user_id, row.reason, row.created_by) == (user.id, "fraud", "tests")
    with transaction():
        blacklist.unblock(actor=ACTOR, entry_id=entry.id)
    assert not blacklist.is_blocked(user.openid)
    with pytest.raises(DomainError) as gone, transaction():
        blacklist.unblock(actor=ACTOR, entry_id=entry.id)
    assert gone.value.code == "blacklist_entry_not_found"
    actions = db.session.scalars(sa.select(AuditRecord.action).where(
        AuditRecord.entity_type == "consumer_blacklist").order_by(AuditRecord.id)).all()
    assert actions == ["consumer_blacklist.add", "consumer_blacklist.remove"]


def test_region_prefix():
    assert profiles.region_prefix("110000000000") == "11"
    assert profiles.region_prefix("440100000000") == "4401"
    assert profiles.region_prefix("440106000000") == "440106"


def test_two_people_listing_one_openid_at_once_make_one_entry(app, mariadb, claims):
    from tests.concurrency import at_once, meeting_in

    user = claims.consumer()
    with meeting_in(blacklist, "is_blocked"):  # both pass the check before either inserts
        outcomes = at_once(app, *(lambda n=n: blacklist.block(actor=ACTOR, openid=user.openid, reason=f"r{n}")
                                  for n in range(2)), each_in_transaction=True)
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1 and errors[0].code == "consumer_already_blacklisted", outcomes
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(blacklist.BlockedConsumer)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord).where(
        AuditRecord.action == "consumer_blacklist.add")) == 1
