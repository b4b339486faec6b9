"""Clerk sale scans and their rewards, the ledger, withdrawals, rankings (services, no HTTP)."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.accounts.models import AppUser, MembershipStatus
from app.db import transaction, utcnow
from app.errors import DomainError
from app.extensions import db
from app.retail import ledger, rankings, reward_rules, withdrawals
from app.retail.models import LedgerEntry, RewardBalance, RewardKind, SaleScan, Withdrawal, WithdrawalStatus
from app.trace import recalls
from app.units import unit_rows
from app.units.models import Event, EventKind, LocationKind, Unit, UnitStatus
from app.webhooks.models import OutboundEvent
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, HANGZHOU, XIHU, make_dealer, make_product
from tests.retail_factories import (
    START,
    make_clerk,
    make_shop,
    rule,
    sell,
    store_items,
    warehouse_items,
)


def refusal(user, store_id, code, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as error:
        sell(user, store_id, code, **kwargs)
    return error.value


def balance(user: AppUser, kind: str = "points") -> int:
    return ledger.balances(app_user_id=user.id)[kind]


# --- sale scans ---------------------------------------------------------------------------------

def test_a_sale_scan_sells_the_unit_and_rewards_the_clerk():
    shop = make_shop()
    code = store_items(shop, 1)[0]
    reward = rule(product_id=shop.brand.product.id, amount=25)

    result = sell(shop.clerk, shop.store_id, code)

    sale = result.sale
    assert (sale.not_received, sale.rule_id, sale.reward_amount, sale.withheld) == (False, reward.id, 25, False)
    assert result.credited.amount == 25 and result.credited.source == f"sale:{sale.id}"
    assert balance(shop.clerk) == 25
    unit = db.session.get(Unit, uf.serial(code))
    assert (unit.location_kind, unit.location_id, unit.in_transit) == (LocationKind.CONSUMER, shop.store_id, False)
    assert unit.parent_serial is None  # taken out of its case
    sells = db.session.scalars(sa.select(Event).where(Event.serial == unit.serial, Event.kind == EventKind.SELL)).all()
    assert len(sells) == 1 and sells[0].location_id == shop.store_id
    event = db.session.scalar(sa.select(OutboundEvent).where(OutboundEvent.type == "sale.scanned"))
    assert event.payload["sale_scan_id"] == sale.id and event.payload["reward"]["amount"] == 25


def test_an_item_sold_out_of_its_case_leaves_the_case():
    shop = make_shop()
    code = store_items(shop, 1)[0]
    case_serial = db.session.get(Unit, uf.serial(code)).parent_serial
    before = db.session.get(Unit, case_serial).child_count
    sell(shop.clerk, shop.store_id, code)
    db.session.expire_all()
    assert db.session.get(Unit, case_serial).child_count == before - 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.serial == uf.serial(code), Event.kind == EventKind.REMOVE)) == 1


def test_a_unit_is_sold_once_ever():
    shop = make_shop()
    code = store_items(shop, 1)[0]
    rule(amount=5)
    sell(shop.clerk, shop.store_id, code)
    other_clerk = make_clerk(shop.store_id)
    for user in (shop.clerk, other_clerk):
        error = refusal(user, shop.store_id, code)
        assert (error.status, error.code) == (409, "already_sold")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SaleScan)) == 1
    assert balance(shop.clerk) == 5 and balance(other_clerk) == 0


def test_a_unit_the_store_never_received_is_sold_but_flagged_and_its_reward_withheld():
    shop = make_shop()
    code = warehouse_items(shop, 1)[0]
    rule(amount=10)  # withholds not-received units by default

    sale = sell(shop.clerk, shop.store_id, code).sale

    assert sale.not_received and sale.withheld and sale.reward_amount == 10
    assert balance(shop.clerk) == 0
    # It left the warehouse's stock.
    from app.stock.service import check
    assert check() == []


def test_a_rule_that_does_not_withhold_rewards_a_unit_never_received():
    shop = make_shop()
    code = warehouse_items(shop, 1)[0]
    rule(amount=7, kind="cash", withhold_not_received=False)
    result = sell(shop.clerk, shop.store_id, code)
    assert result.sale.not_received and not result.sale.withheld
    assert balance(shop.clerk, "cash") == 7


def test_no_rule_no_reward():
    shop = make_shop()
    result = sell(shop.clerk, shop.store_id, store_items(shop, 1)[0])
    assert result.sale.rule_id is None and result.credited is None
    assert balance(shop.clerk) == 0


@pytest.mark.parametrize("kind", ["forged", "not_commissioned", "wrong_level", "recalled", "scrapped"])
def test_codes_that_cannot_be_sold(kind):
    shop = make_shop()
    if kind == "forged":
        code, status = "0" * 18, 422
    elif kind == "not_commissioned":
        code, status = uf.issue(1, product_id=shop.brand.product.id)[0], 422
    elif kind == "wrong_level":
        code, status = cf.cases(shop.brand.lot, 1, per_case=2, warehouse_id=shop.brand.warehouse_id)[0], 422
    else:
        code, status = warehouse_items(shop, 1)[0], 409
        if kind == "recalled":
            with transaction():
                recalls.recall_lot(actor=ACTOR, lot_id=shop.brand.lot.id, reason="test")
        else:
            with transaction():
                unit = unit_rows.load_units([uf.serial(code)])[uf.serial(code)]
                unit.status = UnitStatus.SCRAPPED
                unit_rows.save_units([unit], ["status"])
    error = refusal(shop.clerk, shop.store_id, code)
    assert (error.status, error.code) == (status, kind)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SaleScan)) == 0


def test_only_an_approved_member_of_the_store_sells():
    shop = make_shop()
    code = store_items(shop, 1)[0]
    pending = make_clerk(shop.store_id, status=MembershipStatus.PENDING)
    assert refusal(pending, shop.store_id, code).code == "no_store"
    other_store = cf.make_store_of(shop.dealer_id)
    assert refusal(shop.clerk, other_store.id, code).code == "no_store"


def test_a_scan_time_in_the_future_or_long_ago_is_refused():
    shop = make_shop()
    code = store_items(shop, 1)[0]
    for at in (utcnow() + timedelta(hours=1), utcnow() - timedelta(days=4)):
        assert refusal(shop.clerk, shop.store_id, code, scanned_at=at).code == "scan_time_invalid"


# --- reward rules: which one applies --------------------------------------------------------------

def test_the_most_specific_rule_wins_then_the_highest_amount():
    shop = make_shop(region_code=XIHU)
    product = shop.brand.product.id
    now = utcnow()
    anywhere = rule(amount=1)
    assert reward_rules.best_rule(product_id=product, region_code=XIHU, at=now).id == anywhere.id
    richer_anywhere = rule(amount=2)
    assert reward_rules.best_rule(product_id=product, region_code=XIHU, at=now).id == richer_anywhere.id
    in_region = rule(amount=1, region_code=HANGZHOU)
    assert reward_rules.best_rule(product_id=product, region_code=XIHU, at=now).id == in_region.id
    for_product = rule(amount=1, product_id=product)
    assert reward_rules.best_rule(product_id=product, region_code=XIHU, at=now).id == for_product.id
    both = rule(amount=1, product_id=product, region_code=HANGZHOU)
    assert reward_rules.best_rule(product_id=product, region_code=XIHU, at=now).id == both.id
    # Rules of another product or another region never apply.
    other_product = make_product().id
    assert reward_rules.best_rule(product_id=other_product, region_code=XIHU, at=now).id == in_region.id
    assert reward_rules.best_rule(product_id=product, region_code="110101000000", at=now).id == for_product.id


def test_a_rule_applies_within_its_period_and_while_active():
    shop = make_shop()
    product = shop.brand.product.id
    june = rule(amount=9, starts_at=datetime(2026, 6, 1, tzinfo=timezone.utc),
                ends_at=datetime(2026, 7, 1, tzinfo=timezone.utc))
    at = datetime(2026, 6, 15, tzinfo=timezone.utc)
    assert reward_rules.best_rule(product_id=product, region_code="110101000000", at=at).id == june.id
    assert reward_rules.best_rule(product_id=product, region_code="110101000000",
                                  at=datetime(2026, 7, 1, tzinfo=timezone.utc)) is None
    with transaction():
        reward_rules.update_reward_rule(actor=ACTOR, rule_id=june.id, changes={"status": "inactive"})
    assert reward_rules.best_rule(product_id=product, region_code="110101000000", at=at) is None


def test_a_rule_is_validated():
    product = make_product().id
    for data, field in (({"ends_at": START}, "ends_at"), ({"product_id": product + 1000}, "product_id"),
                        ({"region_code": "999999000000"}, "region_code")):
        with pytest.raises(DomainError) as error:
            rule(**data)
        assert error.value.code == "reward_rule_invalid" and field in error.value.errors


# --- ledger and withdrawals -----------------------------------------------------------------------

def test_a_credit_is_once_per_source_and_a_debit_never_takes_the_balance_below_zero():
    user = make_clerk(make_shop().store_id)
    with transaction():
        first = ledger.credit(app_user_id=user.id, kind="cash", amount=300, source="adjust:1")
        again = ledger.credit(app_user_id=user.id, kind="cash", amount=300, source="adjust:1")
    assert first.id == again.id and balance(user, "cash") == 300
    with pytest.raises(DomainError) as error, transaction():
        ledger.debit(app_user_id=user.id, kind="cash", amount=301, source="adjust:2")
    assert error.value.code == "insufficient_balance"
    assert balance(user, "cash") == 300
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 1


def _funded(cash: int) -> AppUser:
    user = make_clerk(make_shop().store_id)
    with transaction():
        ledger.credit(app_user_id=user.id, kind="cash", amount=cash, source=f"adjust:{user.id}")
    return user


def withdraw(user, amount, request_id="w-1"):
    with transaction():
        return withdrawals.request_withdrawal(user=user, amount=amount, request_id=request_id)


def test_a_withdrawal_is_idempotent_by_request_id():
    user = _funded(500)
    first = withdraw(user, 200)
    again = withdraw(user, 200)
    assert first.id == again.id and first.status is WithdrawalStatus.REQUESTED
    assert balance(user, "cash") == 300
    with pytest.raises(DomainError) as error:
        withdraw(user, 250)
    assert error.value.code == "withdrawal_request_reused"


def test_a_withdrawal_needs_the_minimum_and_the_balance():
    user = _funded(500)
    with pytest.raises(DomainError) as error:
        withdraw(user, 99)
    assert error.value.code == "withdrawal_below_minimum"
    with pytest.raises(DomainError) as error:
        withdraw(user, 501)
    assert error.value.code == "insufficient_balance"
    assert balance(user, "cash") == 500 and db.session.scalar(sa.select(sa.func.count()).select_from(
        Withdrawal)) == 0


def test_a_cancelled_withdrawal_returns_the_cash_once():
    user = _funded(500)
    withdrawal = withdraw(user, 500)
    assert balance(user, "cash") == 0
    for _ in range(2):
        with transaction():
            cancelled = withdrawals.cancel_withdrawal(user=user, withdrawal_id=withdrawal.id)
    assert cancelled.status is WithdrawalStatus.CANCELLED and balance(user, "cash") == 500
    sources = db.session.scalars(sa.select(LedgerEntry.source).where(LedgerEntry.app_user_id == user.id)
                                 .order_by(LedgerEntry.id)).all()
    assert sources == [f"adjust:{user.id}", f"withdrawal:{withdrawal.id}", f"withdrawal-cancel:{withdrawal.id}"]


def test_another_users_withdrawal_is_not_found():
    user, other = _funded(500), _funded(500)
    withdrawal = withdraw(user, 200)
    with pytest.raises(DomainError) as error, transaction():
        withdrawals.cancel_withdrawal(user=other, withdrawal_id=withdrawal.id)
    assert (error.value.status, error.value.code) == (404, "withdrawal_not_found")


def test_a_paid_withdrawal_cannot_be_cancelled():
    user = _funded(500)
    withdrawal = withdraw(user, 200)
    with transaction():
        db.session.get(Withdrawal, withdrawal.id).status = WithdrawalStatus.PAID
    with pytest.raises(DomainError) as error, transaction():
        withdrawals.cancel_withdrawal(user=user, withdrawal_id=withdrawal.id)
    assert error.value.code == "withdrawal_not_cancellable"


# --- rankings -------------------------------------------------------------------------------------

def _scan(store_id, user_id, at, *, region_code, kind=None, amount=0, withheld=False, serial=None):
    db.session.add(SaleScan(serial=serial, code="X", store_id=store_id, app_user_id=user_id,
                            product_id=_PRODUCT[0], region_code=region_code, reward_kind=kind,
                            reward_amount=amount, withheld=withheld, scanned_at=at))


_PRODUCT = [None]


def test_rankings_on_a_worked_example():
    """Three stores: two in Xihu (Hangzhou), one in Dongcheng (Beijing); March scans.

    Xihu A: clerk a1 3 sales (10 points each), clerk a2 1 sale; Xihu B: clerk b1 2 sales (one withheld);
    Dongcheng C: clerk c1 5 sales; one sale of A in April (outside the period).
    """
    dealer = make_dealer().id
    _PRODUCT[0] = make_product().id
    a, b = cf.make_store_of(dealer, region_code=XIHU), cf.make_store_of(dealer, region_code=XIHU)
    c = cf.make_store_of(dealer)
    a1, a2, b1, c1 = make_clerk(a.id), make_clerk(a.id), make_clerk(b.id), make_clerk(c.id)
    march = datetime(2026, 3, 10, tzinfo=timezone.utc)
    serials = itertools.count(1)
    with transaction():
        for _ in range(3):
            _scan(a.id, a1.id, march, region_code=XIHU, kind=RewardKind.POINTS, amount=10, serial=next(serials))
        _scan(a.id, a2.id, march, region_code=XIHU, serial=next(serials))
        _scan(b.id, b1.id, march, region_code=XIHU, kind=RewardKind.CASH, amount=50, serial=next(serials))
        _scan(b.id, b1.id, march, region_code=XIHU, kind=RewardKind.CASH, amount=50, withheld=True,
              serial=next(serials))
        for _ in range(5):
            _scan(c.id, c1.id, march, region_code="110101000000", serial=next(serials))
        _scan(a.id, a1.id, datetime(2026, 4, 2, tzinfo=timezone.utc), region_code=XIHU, serial=next(serials))
    period = {"since": datetime(2026, 3, 1, tzinfo=timezone.utc), "until": datetime(2026, 4, 1, tzinfo=timezone.utc)}

    everywhere = rankings.store_ranking(**period, my_store_id=b.id)
    assert [(r.rank, r.id, r.sales) for r in everywhere.top] == [(1, c.id, 5), (2, a.id, 4), (3, b.id, 2)]
    assert (everywhere.me.rank, everywhere.me.sales, everywhere.me.cash) == (3, 2, 50)

    zhejiang = rankings.store_ranking(**period, region_code="330000000000", my_store_id=a.id)
    assert [(r.rank, r.id, r.points) for r in zhejiang.top] == [(1, a.id, 30), (2, b.id, 0)]
    assert zhejiang.me.rank == 1
    assert [r.id for r in rankings.store_ranking(**period, region_code=HANGZHOU).top] == [a.id, b.id]
    assert [r.id for r in rankings.store_ranking(**period, region_code="110000000000").top] == [c.id]

    clerks = rankings.clerk_ranking(**period, region_code=XIHU, top=2, my_user_id=a2.id)
    assert [(r.rank, r.id, r.sales, r.store_id) for r in clerks.top] == [(1, a1.id, 3, a.id), (2, b1.id, 2, b.id)]
    assert (clerks.me.rank, clerks.me.sales) == (3, 1)
    nobody = rankings.clerk_ranking(**period, region_code=XIHU, my_user_id=c1.id)
    assert (nobody.me.rank, nobody.me.sales) == (4, 0)  # no sales there: after everyone who sold

    with pytest.raises(DomainError) as error:
        rankings.store_ranking(region_code="999999000000")
    assert error.value.code == "region_unknown"


def test_the_ledger_and_balance_agree():
    shop = make_shop()
    rule(amount=3)
    for code in store_items(shop, 2):
        sell(shop.clerk, shop.store_id, code)
    total = db.session.scalar(sa.select(sa.func.sum(LedgerEntry.amount)).where(
        LedgerEntry.app_user_id == shop.clerk.id, LedgerEntry.kind == RewardKind.POINTS))
    stored = db.session.scalar(sa.select(RewardBalance.balance).where(RewardBalance.app_user_id == shop.clerk.id))
    assert total == stored == 6
