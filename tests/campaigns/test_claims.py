"""Claims: one draw per unit, ever; limits; odds; stock and budget taken atomically; money back on failure."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AppName, AppUser
from app.campaigns import budget, claims, eligibility
from app.campaigns import service as campaigns
from app.campaigns.models import Campaign, CampaignDay, Draw, DrawOutcome, Prize, Redemption, RedemptionStatus
from app.flows import consumer_scans as consumers
from app.consumers.models import BlockedConsumer
from app.db import retrying, transaction
from app.errors import DomainError
from app.extensions import db, redis
from app.payouts import reconciliation, service as payouts, transitions, worker
from app.payouts.models import IncidentKind, Payout, PayoutIncident, PayoutStatus
from tests.campaign_factories import CASH, NOW, open_campaign
from tests.masterdata_factories import ACTOR, DONGCHENG, XIHU, gtin13, make_factory, make_product
from tests.payout_factories import later, money_violations, user_acts
from tests.production_factories import make_production_lot
from tests.unit_factories import commission, serial

TODAY = claims.china_day(NOW)
HANGZHOU_POS = (30.26, 120.13)  # West Lake
BEIJING_POS = (39.93, 116.42)  # Dongcheng
SHANGHAI_POS = (31.23, 121.47)


@pytest.fixture
def users(mp):  # noqa: F811
    def make():
        name = mp.new_name()
        mp.sign_in("consumer", name)
        return db.session.scalar(sa.select(AppUser).where(AppUser.app == AppName.CONSUMER,
                                                          AppUser.openid == mp.openid("consumer", name)))
    return make


@pytest.fixture
def goods():
    product = make_product(name="Jasmine Tea", specification="250 g", gtin=gtin13(4343))
    lot = make_production_lot(product_id=product.id, factory_id=make_factory(region_code=XIHU).id, lot_no="L-C1")
    return {"product": product, "lot": lot, "items": commission(lot, 30)}


def scan(user, code, *, now=NOW, position=None, **kw):
    if position:
        kw["latitude"], kw["longitude"] = position
    with transaction():
        return consumers.scan(user=user, text=f"https://m.example.com/c/{code}", now=now, **kw)


def claim(user, scan_id, *, now=NOW, **kw) -> claims.ClaimResult:
    with transaction():
        return claims.claim(user=user, scan_id=scan_id, now=now, **kw)


def refused(fn, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        fn(*args, **kwargs)
    db.session.rollback()
    return caught.value


def spent_of(campaign_id: int) -> int:
    return db.session.scalar(sa.select(Campaign.spent_fen).where(Campaign.id == campaign_id))


def fresh(model, key):
    db.session.rollback()
    return db.session.get(model, key, populate_existing=True)


# --- the draw ------------------------------------------------------------------------------------

def test_a_winning_claim_records_the_draw_and_queues_the_payout(app, goods, users):
    campaign = open_campaign()
    user = users()
    scanned = scan(user, goods["items"][0])
    assert [c["id"] for c in scanned.campaigns] == [campaign.id]
    assert scanned.campaigns[0]["prizes"] == [{"kind": "cash", "name": "Red packet", "amount": 100}]
    result = claim(user, scanned.scan_id)
    draw = result.draw
    assert (draw.outcome, draw.amount, draw.serial) == (DrawOutcome.WON, 100, serial(goods["items"][0]))
    assert 0 <= draw.random_ppm < 1_000_000
    assert draw.odds == [{"prize_id": draw.prize_id, "kind": "cash", "name": "Red packet", "amount": 100,
                          "probability_ppm": 1_000_000, "from": 0, "to": 1_000_000}]
    payout = fresh(Payout, result.payout_id)
    assert (payout.source, payout.amount_fen, payout.status, payout.campaign_id) == (
        f"draw:{draw.id}", 100, PayoutStatus.PENDING, campaign.id)
    assert spent_of(campaign.id) == 100
    assert db.session.get(Prize, draw.prize_id).awarded == 1
    assert db.session.get(CampaignDay, (campaign.id, TODAY)).spent_fen == 100


def test_the_random_number_picks_the_band_it_falls_in(app, goods, users, monkeypatch):
    open_campaign(prizes=[{**CASH, "probability_ppm": 100_000},
                          {"kind": "coupon", "name": "10% off", "probability_ppm": 200_000}])
    user = users()
    for number, outcome, kind in ((99_999, DrawOutcome.WON, "cash"), (100_000, DrawOutcome.WON, "coupon"),
                                  (300_000, DrawOutcome.LOST, None)):
        monkeypatch.setattr(claims.secrets, "randbelow", lambda _n, number=number: number)
        item = goods["items"][number // 100_000]
        draw = claim(user, scan(user, item).scan_id).draw
        assert (draw.random_ppm, draw.outcome) == (number, outcome)
        assert (draw.prize_kind.value if draw.prize_kind else None) == kind


def test_one_draw_per_unit_ever(app, goods, users):
    open_campaign()
    first, second = users(), users()
    item = goods["items"][0]
    mine = scan(first, item)
    result = claim(first, mine.scan_id)
    again = claim(first, mine.scan_id)
    assert again.repeat and again.draw.id == result.draw.id and again.payout_id == result.payout_id
    theirs = scan(second, item)
    assert theirs.campaigns == []  # the unit's draw is gone
    assert refused(claim, second, theirs.scan_id).code == "unit_already_drawn"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Draw)) == 1


def test_another_consumers_scan_is_not_found(app, goods, users):
    open_campaign()
    owner, other = users(), users()
    scanned = scan(owner, goods["items"][0])
    assert refused(claim, other, scanned.scan_id).status == 404


# --- who may enter --------------------------------------------------------------------------------

def test_a_forged_or_suspected_scan_cannot_claim(app, goods, users):
    open_campaign()
    user = users()
    forged = consumers.scan(user=user, text="https://m.example.com/c/" + "A" * 18, now=NOW)
    db.session.commit()
    error = refused(claim, user, forged.scan_id)
    assert (error.code, error.errors["reason"]) == ("scan_not_eligible", "verdict_forged")


def test_first_scan_only_refuses_the_second_scanner(app, goods, users):
    campaign = open_campaign(first_scan_only=True)
    first, second = users(), users()
    scan(first, goods["items"][0])
    later = scan(second, goods["items"][0])
    assert later.campaigns == []
    assert [(c["id"], c["reason"]) for c in later.closed_campaigns] == [(campaign.id, "not_first_scan")]
    error = refused(claim, second, later.scan_id, campaign_id=campaign.id)
    assert error.errors["reason"] == "not_first_scan"


def test_products_lots_regions_and_the_hidden_code_decide_eligibility(app, goods, users):
    other_product = make_product(name="Oolong", gtin=gtin13(4344))
    user = users()
    for data, reason, position in (
            ({"product_ids": [other_product.id]}, "product_not_in_campaign", None),
            ({"region_codes": [DONGCHENG]}, "location_needed", None),
            ({"region_codes": [DONGCHENG]}, "region_not_in_campaign", HANGZHOU_POS),
            ({"hidden_code_required": True}, "hidden_code_needed", None)):
        campaign = open_campaign(**data)
        scanned = scan(user, goods["items"][len(reason) % 30], position=position)
        assert campaign.id not in [c["id"] for c in scanned.campaigns]
        assert refused(claim, user, scanned.scan_id, campaign_id=campaign.id).errors["reason"] == reason
        with transaction():
            campaigns.change_status(actor=ACTOR, campaign_id=campaign.id, action="end")
    in_region = open_campaign(region_codes=["330000000000"])  # Zhejiang, scanned in Hangzhou's West Lake
    scanned = scan(user, goods["items"][20], position=HANGZHOU_POS)
    assert [c["id"] for c in scanned.campaigns] == [in_region.id]
    assert claim(user, scanned.scan_id).draw.campaign_id == in_region.id


def test_a_paused_campaign_or_none_at_all(app, goods, users):
    user = users()
    scanned = scan(user, goods["items"][0])
    assert refused(claim, user, scanned.scan_id).code == "no_campaign"
    campaign = open_campaign()
    with transaction():
        campaigns.change_status(actor=ACTOR, campaign_id=campaign.id, action="pause")
    error = refused(claim, user, scanned.scan_id, campaign_id=campaign.id)
    assert (error.code, error.errors["reason"]) == ("scan_not_eligible", "campaign_paused")


def test_blacklists_the_campaigns_and_the_global_one(app, goods, users):
    user = users()
    campaign = open_campaign(blacklist=[user.openid])
    scanned = scan(user, goods["items"][0])
    assert scanned.campaigns == []
    assert refused(claim, user, scanned.scan_id, campaign_id=campaign.id).errors["reason"] == "blacklisted"
    open_campaign()
    with transaction():
        db.session.add(BlockedConsumer(openid=user.openid, reason="farm", created_by="test"))
    assert scan(user, goods["items"][1]).campaigns == []
    error = refused(claim, user, scanned.scan_id)
    assert (error.status, error.code) == (403, "consumer_blocked")


def test_an_old_scan_cannot_be_claimed(app, goods, users):
    open_campaign()
    user = users()
    scanned = scan(user, goods["items"][0])
    assert refused(claim, user, scanned.scan_id, now=NOW + timedelta(hours=25)).code == "claim_window_passed"


def test_per_user_total_and_daily_limits(app, goods, users):
    open_campaign(per_user_daily_limit=2, per_user_total_limit=3)
    user = users()
    items = goods["items"]
    for item in items[:2]:
        claim(user, scan(user, item).scan_id)
    over = scan(user, items[2])
    error = refused(claim, user, over.scan_id)
    assert (error.code, error.errors["limit"]) == ("claim_limit_reached", "daily")
    assert claims._draw_of(serial(items[2])) is None  # refused whole: the unit stays drawable
    tomorrow = NOW + timedelta(days=1)
    claim(user, scan(user, items[3], now=tomorrow).scan_id, now=tomorrow)
    error = refused(claim, user, scan(user, items[4], now=tomorrow).scan_id, now=tomorrow)
    assert (error.code, error.errors["limit"]) == ("claim_limit_reached", "total")
    other = users()
    assert claim(other, scan(other, items[2]).scan_id).draw.outcome is DrawOutcome.WON


def test_a_scan_lists_only_the_campaigns_the_consumer_can_claim_now_and_says_why_not(app, goods, users):
    limited = open_campaign(name="Once a day", per_user_daily_limit=1, per_user_total_limit=2)
    regional = open_campaign(name="Zhejiang", region_codes=["330000000000"])
    elsewhere = open_campaign(name="Beijing", region_codes=[DONGCHENG])
    user = users()
    items = goods["items"]
    first = scan(user, items[0])
    assert [c["id"] for c in first.campaigns] == [limited.id]
    assert [(c["id"], c["reason"]) for c in first.closed_campaigns] == [
        (regional.id, "location_needed"), (elsewhere.id, "location_needed")]
    claim(user, first.scan_id, campaign_id=limited.id)
    # Today's draw is had: the campaign is no longer offered, and the answer says why (its claim would
    # answer claim_limit_reached); the campaign for another region is not the consumer's business.
    again = scan(user, items[1], position=HANGZHOU_POS)
    assert [c["id"] for c in again.campaigns] == [regional.id]
    closed = {c["id"]: c for c in again.closed_campaigns}
    assert list(closed) == [limited.id] and closed[limited.id]["reason"] == "daily_limit_reached"
    assert "今日" in closed[limited.id]["message"] and "tomorrow" in closed[limited.id]["message"]
    tomorrow = NOW + timedelta(days=1)
    assert [c["id"] for c in scan(user, items[2], now=tomorrow).campaigns] == [limited.id]
    claim(user, scan(user, items[3], now=tomorrow).scan_id, campaign_id=limited.id, now=tomorrow)
    later = scan(user, items[4], now=NOW + timedelta(days=2))
    assert [c["reason"] for c in later.closed_campaigns if c["id"] == limited.id] == ["total_limit_reached"]
    # Once the unit's draw is taken, nothing is offered on it, to anyone.
    assert scan(users(), items[0]).campaigns == []


# --- stock and budget ----------------------------------------------------------------------------

def test_the_budget_runs_out_and_never_goes_over(app, goods, users):
    campaign = open_campaign(total_budget_fen=250)
    user = users()
    outcomes = [claim(user, scan(user, item).scan_id).draw.outcome for item in goods["items"][:4]]
    assert outcomes == [DrawOutcome.WON, DrawOutcome.WON, DrawOutcome.BUDGET_EXHAUSTED,
                        DrawOutcome.BUDGET_EXHAUSTED]
    assert spent_of(campaign.id) == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payout)) == 2


def test_the_daily_budget_runs_out_for_the_day(app, goods, users):
    campaign = open_campaign(daily_budget_fen=100)
    user = users()
    items = goods["items"]
    assert claim(user, scan(user, items[0]).scan_id).draw.outcome is DrawOutcome.WON
    assert claim(user, scan(user, items[1]).scan_id).draw.outcome is DrawOutcome.BUDGET_EXHAUSTED
    tomorrow = NOW + timedelta(days=1)
    assert claim(user, scan(user, items[2], now=tomorrow).scan_id, now=tomorrow).draw.outcome is DrawOutcome.WON
    assert spent_of(campaign.id) == 200


def test_prize_stock_runs_out(app, goods, users):
    open_campaign(prizes=[{**CASH, "stock": 1}])
    user = users()
    outcomes = [claim(user, scan(user, item).scan_id).draw.outcome for item in goods["items"][:2]]
    assert outcomes == [DrawOutcome.WON, DrawOutcome.OUT_OF_STOCK]


def test_a_flushed_redis_cannot_make_the_campaign_overspend(app, goods, users):
    campaign = open_campaign(total_budget_fen=300)
    user = users()
    outcomes = []
    for item in goods["items"][:5]:
        redis.flushdb()
        outcomes.append(claim(user, scan(user, item).scan_id).draw.outcome)
    assert outcomes.count(DrawOutcome.WON) == 3
    assert spent_of(campaign.id) == 300


def test_a_redis_that_says_yes_wrongly_is_overruled_by_the_database_and_put_right(app, goods, users):
    campaign = open_campaign(total_budget_fen=100)
    user = users()
    claim(user, scan(user, goods["items"][0]).scan_id)
    key = f"campaign:{{{campaign.id}}}:spent"
    redis.set(key, 0)  # drifted: Redis believes nothing was spent
    assert claim(user, scan(user, goods["items"][1]).scan_id).draw.outcome is DrawOutcome.BUDGET_EXHAUSTED
    assert int(redis.get(key)) == 0  # the reservation was handed back
    assert spent_of(campaign.id) == 100


def test_redis_alone_refuses_once_it_knows_the_budget_is_gone(app, goods, users, monkeypatch):
    open_campaign(total_budget_fen=100)
    user = users()
    claim(user, scan(user, goods["items"][0]).scan_id)
    asked = []
    monkeypatch.setattr(claims, "_take_in_database", lambda *a: asked.append(a))
    assert claim(user, scan(user, goods["items"][1]).scan_id).draw.outcome is DrawOutcome.BUDGET_EXHAUSTED
    assert asked == []


def test_a_cancelled_prize_payout_returns_its_money_and_prize(app, goods, users):
    campaign = open_campaign(total_budget_fen=100)
    user = users()
    result = claim(user, scan(user, goods["items"][0]).scan_id)
    with transaction():
        payouts.cancel(actor=ACTOR, payout_id=result.payout_id, reason="test")
    assert spent_of(campaign.id) == 0
    assert db.session.get(Prize, result.draw.prize_id).awarded == 0
    assert db.session.get(CampaignDay, (campaign.id, TODAY)).spent_fen == 0
    assert int(redis.get(f"campaign:{{{campaign.id}}}:spent")) == 0
    assert claim(user, scan(user, goods["items"][1]).scan_id).draw.outcome is DrawOutcome.WON


# --- what a prize becomes ------------------------------------------------------------------------

def test_coupons_and_gifts_become_redemptions(app, goods, users, monkeypatch):
    open_campaign(prizes=[{"kind": "coupon", "name": "10% off", "probability_ppm": 500_000},
                          {"kind": "gift", "name": "Tea cup", "probability_ppm": 500_000, "stock": 5}])
    user = users()
    monkeypatch.setattr(claims.secrets, "randbelow", lambda _n: 0)
    coupon = claim(user, scan(user, goods["items"][0]).scan_id)
    monkeypatch.setattr(claims.secrets, "randbelow", lambda _n: 999_999)
    gift = claim(user, scan(user, goods["items"][1]).scan_id)
    issued = db.session.get(Redemption, coupon.redemption_id)
    assert issued.status is RedemptionStatus.ISSUED and len(issued.coupon_code) == 12
    shipped = db.session.get(Redemption, gift.redemption_id)
    assert (shipped.status, shipped.coupon_code, shipped.name) == (RedemptionStatus.AWAITING_ADDRESS, None, "Tea cup")
    assert coupon.payout_id is None and gift.payout_id is None


def test_claims_from_many_cities_hold_the_payout_for_review(app, goods, users):
    open_campaign()
    user = users()
    held = [claim(user, scan(user, item, position=pos).scan_id).draw.held_reason
            for item, pos in zip(goods["items"], (HANGZHOU_POS, BEIJING_POS, SHANGHAI_POS))]
    assert held[:2] == [None, None] and "3 cities" in held[2]
    payout = db.session.scalar(sa.select(Payout).order_by(Payout.id.desc()))
    assert payout.status is PayoutStatus.HELD and "3 cities" in payout.hold_reason


def test_a_large_daily_win_holds_the_payout(app, goods, users, monkeypatch):
    monkeypatch.setitem(app.config, "CLAIM_HOLD_DAILY_FEN", 150)
    open_campaign()
    user = users()
    first, second = (claim(user, scan(user, item).scan_id) for item in goods["items"][:2])
    assert fresh(Payout, first.payout_id).status is PayoutStatus.PENDING
    assert fresh(Payout, second.payout_id).status is PayoutStatus.HELD


# --- races (MariaDB and a real Redis) --------------------------------------------------------------

def test_one_unit_claimed_from_many_threads_is_drawn_once(app, mariadb, goods, users, monkeypatch):
    from tests.concurrency import at_once, results_and_errors

    monkeypatch.setitem(app.config, "CONSUMER_COPY_USERS", 100)  # eight people scanning one unit is no copy here
    campaign = open_campaign()
    people = [users() for _ in range(8)]
    item = goods["items"][0]
    scans = [(p.id, scan(p, item).scan_id) for p in people]

    def one(i):
        user_id, scan_id = scans[i]
        with transaction():
            return claims.claim(user=db.session.get(AppUser, user_id), scan_id=scan_id, now=NOW).draw.id

    results, errors = results_and_errors(at_once(app, *[lambda i=i: one(i) for i in range(8)]))
    assert sum(r is not None for r in results) == 1
    assert sorted(getattr(e, "code", repr(e)) for e in errors if e) == ["unit_already_drawn"] * 7
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Draw)) == 1
    assert db.session.scalar(sa.select(Draw.outcome)) is DrawOutcome.WON
    assert spent_of(campaign.id) == 100


def test_the_budget_holds_when_many_claim_at_once(app, mariadb, goods, users):
    from tests.concurrency import at_once, results_and_errors

    campaign = open_campaign(total_budget_fen=500, daily_budget_fen=500)
    people = [users() for _ in range(16)]
    scans = [(p.id, scan(p, goods["items"][i]).scan_id) for i, p in enumerate(people)]
    redis.flushdb()  # the mirror starts empty: the first claims seed it at once

    def one(i):  # as the view runs it: a deadlock victim runs again
        user_id, scan_id = scans[i]

        def run():
            with transaction():
                return claims.claim(user=db.session.get(AppUser, user_id), scan_id=scan_id, now=NOW).draw.outcome
        return retrying(run)

    results, errors = results_and_errors(at_once(app, *[lambda i=i: one(i) for i in range(16)]))
    assert errors == [None] * 16
    assert results.count(DrawOutcome.WON) == 5
    assert results.count(DrawOutcome.BUDGET_EXHAUSTED) == 11
    db.session.rollback()
    assert spent_of(campaign.id) == 500
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payout)) == 5
    assert int(redis.get(f"campaign:{{{campaign.id}}}:spent")) == 500


def test_points_won_and_spent_in_the_mall_at_once_keep_the_ledger_exact(app, mariadb, goods, users):
    """A claim locks its consumer's row before the points ledger; a mall redemption and a back-office
    adjustment lock the ledger and then (a foreign key) the consumer's row: each runs as its view does
    (a deadlock victim runs again), and the ledger ends exact."""
    from app.points import ledger, mall
    from tests.concurrency import at_once, results_and_errors
    from tests.points_factories import check_invariants

    open_campaign(prizes=[{"kind": "points", "name": "Points", "amount": 40, "probability_ppm": 1_000_000}])
    user = users()
    user_id = user.id
    with transaction():
        ledger.earn(app_user_id=user_id, points=200, source="seed:1", now=NOW)
    with transaction():
        item = mall.create_item(actor=ACTOR, data={"name": "Cup", "kind": "coupon", "points_price": 30,
                                                   "stock": 50}).id
    scans = [scan(user, goods["items"][i]).scan_id for i in range(6)]

    def retried(fn):
        def run():
            with transaction():
                return fn()
        return lambda: retrying(run)

    calls = [retried(lambda i=i: claims.claim(user=db.session.get(AppUser, user_id), scan_id=scans[i],
                                              now=NOW).draw.amount) for i in range(6)]
    calls += [retried(lambda i=i: mall.redeem(app_user=db.session.get(AppUser, user_id), item_id=item,
                                              request_id=f"r{i}").id) for i in range(6)]
    calls += [retried(lambda i=i: ledger.adjust(actor=ACTOR, app_user_id=user_id, points=5, reason="goodwill",
                                                key=f"k{i}", now=NOW).id) for i in range(2)]
    results, errors = results_and_errors(at_once(app, *calls))
    assert errors == [None] * len(calls)
    assert results[:6] == [40] * 6
    db.session.rollback()
    check_invariants(user_id)
    assert ledger.balance_of(user_id) == 200 + 6 * 40 + 2 * 5 - 6 * 30


def test_one_user_claiming_many_units_at_once_stays_within_the_limit(app, mariadb, goods, users):
    from tests.concurrency import at_once, results_and_errors

    open_campaign(per_user_daily_limit=3, per_user_total_limit=3)
    user = users()
    scans = [scan(user, item).scan_id for item in goods["items"][:10]]

    def one(i):
        with transaction():
            return claims.claim(user=db.session.get(AppUser, user.id), scan_id=scans[i], now=NOW).draw.id

    results, errors = results_and_errors(at_once(app, *[lambda i=i: one(i) for i in range(10)]))
    assert sum(r is not None for r in results) == 3
    assert {getattr(e, "code", repr(e)) for e in errors if e} == {"claim_limit_reached"}
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Draw)) == 3


def test_the_mirror_keys_expire_so_drift_heals(app, goods, users):
    campaign = open_campaign()
    user = users()
    claim(user, scan(user, goods["items"][0]).scan_id)
    assert 0 < redis.ttl(f"campaign:{{{campaign.id}}}:spent") <= budget.MIRROR_SECONDS


def test_scans_list_campaigns_from_a_short_cache_but_a_claim_reads_the_database(app, goods, users):
    campaign = open_campaign()
    user = users()
    assert [c["id"] for c in scan(user, goods["items"][0]).campaigns] == [campaign.id]
    with transaction():  # another process ends it: this one's list lags for CAMPAIGN_CACHE_SECONDS
        db.session.execute(sa.update(Campaign).where(Campaign.id == campaign.id).values(status="ended"))
    lagging = scan(user, goods["items"][1])
    assert [c["id"] for c in lagging.campaigns] == [campaign.id]
    assert refused(claim, user, lagging.scan_id).code == "no_campaign"
    eligibility.forget_listed_campaigns()
    assert scan(user, goods["items"][2]).campaigns == []


def test_a_claim_that_fails_after_taking_from_redis_hands_it_back(app, goods, users, monkeypatch):
    campaign = open_campaign(total_budget_fen=200)
    first, second, third = users(), users(), users()
    broken = scan(first, goods["items"][0])

    def fails(*args):
        raise RuntimeError("the payout queue is down")
    monkeypatch.setattr(claims, "_deliver", fails)
    with pytest.raises(RuntimeError):
        claim(first, broken.scan_id)
    db.session.rollback()
    assert int(redis.get(f"campaign:{{{campaign.id}}}:spent")) == 0 and spent_of(campaign.id) == 0
    monkeypatch.undo()
    won = [claim(u, scan(u, item).scan_id).draw.outcome for u, item in ((second, goods["items"][1]),
                                                                       (third, goods["items"][2]))]
    assert won == [DrawOutcome.WON, DrawOutcome.WON]
    assert claim(first, broken.scan_id).draw.outcome is DrawOutcome.BUDGET_EXHAUSTED  # the unit could still draw


def test_velocity_rules_hold_claims_made_at_the_same_moment(app, mariadb, goods, users, monkeypatch):
    from tests.concurrency import at_once, results_and_errors

    monkeypatch.setitem(app.config, "CLAIM_HOLD_DAILY_FEN", 150)
    open_campaign()
    user = users()
    scans = [scan(user, item, position=pos).scan_id
             for item, pos in zip(goods["items"], (HANGZHOU_POS, HANGZHOU_POS, HANGZHOU_POS, HANGZHOU_POS))]

    def one(i):
        with transaction():
            return claims.claim(user=db.session.get(AppUser, user.id), scan_id=scans[i], now=NOW).draw.held_reason

    results, errors = results_and_errors(at_once(app, *[lambda i=i: one(i) for i in range(4)]))
    assert errors == [None] * 4
    assert sorted(r is not None for r in results) == [False, True, True, True]  # 100 fen free, then held


def test_claims_from_three_cities_at_once_hold_the_last(app, mariadb, goods, users):
    from tests.concurrency import at_once, results_and_errors

    open_campaign()
    user = users()
    scans = [scan(user, item, position=pos).scan_id
             for item, pos in zip(goods["items"], (HANGZHOU_POS, BEIJING_POS, SHANGHAI_POS))]

    def one(i):
        with transaction():
            return claims.claim(user=db.session.get(AppUser, user.id), scan_id=scans[i], now=NOW).draw.held_reason

    results, errors = results_and_errors(at_once(app, *[lambda i=i: one(i) for i in range(3)]))
    assert errors == [None] * 3
    assert sum(r is not None and "3 cities" in r for r in results) == 1


def test_a_blacklisted_winner_is_not_paid(app, goods, users):
    from app.consumers import blacklist

    open_campaign()
    before, after = users(), users()
    early = claim(before, scan(before, goods["items"][0]).scan_id)
    with transaction():
        blacklist.block(actor=ACTOR, openid=before.openid, reason="prize farm")
    held = fresh(Payout, early.payout_id)
    assert (held.status, held.hold_reason) == (PayoutStatus.HELD, "blacklisted")
    late = claim(after, scan(after, goods["items"][1]).scan_id)
    with transaction():  # listed straight in the table, after the claim: the worker still holds it
        db.session.add(BlockedConsumer(openid=after.openid, reason="farm", created_by="test"))
    worker.work_due()
    assert fresh(Payout, late.payout_id).status is PayoutStatus.HELD


def test_the_first_scanner_can_scan_again_once_the_claim_window_passed(app, goods, users):
    campaign = open_campaign(first_scan_only=True)
    first, other = users(), users()
    item = goods["items"][0]
    old = scan(first, item)
    later = NOW + timedelta(hours=25)
    assert refused(claim, first, old.scan_id, now=later).code == "claim_window_passed"
    assert refused(claim, other, scan(other, item, now=later).scan_id, now=later).code == "no_campaign"
    again = scan(first, item, now=later)
    assert [c["id"] for c in again.campaigns] == [campaign.id]
    assert claim(first, again.scan_id, now=later).draw.outcome is DrawOutcome.WON


# --- a late truth from WeChat Pay ------------------------------------------------------------------

def won_and_waiting(user, unit, sandbox) -> Payout:
    result = claim(user, scan(user, unit).scan_id)
    worker.work_due()
    payout = fresh(Payout, result.payout_id)
    assert payout.status is PayoutStatus.WAITING
    return payout


def made_final_as_failed(payout_id: int) -> None:
    """As an earlier bug did on a refused query: final as failed, the prize's money back in the budget."""
    with transaction():
        transitions._apply(payouts.get_payout(payout_id, lock=True), PayoutStatus.FAILED, state="FAIL")


def test_a_prize_paid_after_its_money_went_back_is_charged_to_the_budget_again(app, goods, users, sandbox):
    campaign = open_campaign(total_budget_fen=300)
    payout = won_and_waiting(users(), goods["items"][0], sandbox)
    made_final_as_failed(payout.id)
    assert spent_of(campaign.id) == 0
    user_acts(sandbox, payout.out_bill_no)  # the user confirms the bill that was still payable
    reconciliation.reconcile(later())  # the callback was lost; the daily reconciliation sees the SUCCESS
    assert fresh(Payout, payout.id).status is PayoutStatus.SUCCEEDED
    assert spent_of(campaign.id) == 100
    assert db.session.get(CampaignDay, (campaign.id, TODAY)).spent_fen == 100
    assert db.session.get(Prize, fresh(Draw, int(payout.source.split(":")[1])).prize_id).awarded == 1
    assert money_violations(sandbox) == []


def test_a_prize_paid_after_its_budget_went_to_another_is_an_incident(app, goods, users, sandbox):
    campaign = open_campaign(total_budget_fen=100)
    payout = won_and_waiting(users(), goods["items"][0], sandbox)
    made_final_as_failed(payout.id)
    other = users()
    assert claim(other, scan(other, goods["items"][1]).scan_id).draw.outcome is DrawOutcome.WON  # the 100 again
    user_acts(sandbox, payout.out_bill_no)
    reconciliation.reconcile(later())
    assert fresh(Payout, payout.id).status is PayoutStatus.SUCCEEDED
    assert spent_of(campaign.id) == 100  # never over the budget, even for the truth
    [incident] = db.session.scalars(sa.select(PayoutIncident).where(PayoutIncident.payout_id == payout.id)).all()
    assert (incident.kind, incident.amount_fen) == (IncidentKind.UNRECOVERED, 100)
    assert money_violations(sandbox) == []


def test_a_reservation_held_until_commit_outlives_a_savepoint_and_is_handed_back_by_the_rollback(app, monkeypatch):
    """A prize delivered in a savepoint (insert_once of a payout or a points credit, on MariaDB) is not the
    claim's commit: a rollback after it still hands the prize's money and stock back to Redis."""
    from datetime import date

    released = []
    monkeypatch.setattr(budget, "release", released.append)
    request = budget.Request(campaign_id=1, prize_id=1, day=date(2026, 12, 3), amount_fen=100,
                             total_budget_fen=1000, day_budget_fen=None, stock=3)
    with pytest.raises(RuntimeError), transaction():
        budget.hold_until_commit(db.session(), request)
        with db.session.begin_nested():
            pass
        raise RuntimeError("a deadlock after the delivery")
    assert released == [request]
