"""The points mall: items, redeeming (stock, points, address, coupon codes, idempotency), order
handling, and the races on MariaDB (the last items, one consumer spending from many threads)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AppUser
from app.consumers.models import BlockedConsumer
from app.db import retrying, transaction
from app.errors import DomainError
from app.extensions import db
from app.identity.models import AuditRecord
from app.points import ledger, mall
from app.points.models import (
    MallItem,
    MallOrder,
    MallOrderStatus,
    PointsEntry,
    PointsKind,
)
from tests.concurrency import at_once, results_and_errors
from tests.galera import refused_as_busy
from tests.points_factories import (
    ACTOR,
    ADDRESS,
    NOW,
    check_invariants,
    error_of,
    make_consumer,
    make_item,
    redeem,
    user_of,
)

@pytest.fixture
def rich(app):
    user = make_consumer()
    with transaction():
        ledger.earn(app_user_id=user, points=1000, source="draw:1")
    return user


def test_items_are_created_changed_and_audited(app):
    item = make_item()
    assert (item.sold, item.active) == (0, True)
    with transaction():
        mall.update_item(actor=ACTOR, item_id=item.id, changes={"stock": 7, "active": False})
    assert (item.stock, item.active) == (7, False)
    actions = db.session.scalars(sa.select(AuditRecord.action).where(AuditRecord.entity_type == "mall_items")).all()
    assert sorted(actions) == ["mall_item.create", "mall_item.update"]
    assert error_of(lambda: mall.get_item(item.id + 1)).status == 404


def test_stock_never_below_sold(rich):
    item = make_item(stock=3)
    redeem(rich, item.id, quantity=2)
    error = error_of(lambda: mall.update_item(actor=ACTOR, item_id=item.id, changes={"stock": 1}))
    db.session.rollback()
    assert (error.status, error.code, list(error.errors)) == (422, "mall_item_invalid", ["stock"])


def test_a_physical_item_is_placed_with_points_spent_and_stock_taken(rich):
    item = make_item(points_price=150)
    order = redeem(rich, item.id, quantity=2)
    assert (order.status, order.points, order.quantity, order.coupon_code) == (MallOrderStatus.PLACED, 300, 2, None)
    assert order.address == ADDRESS
    db.session.expire_all()
    assert db.session.get(MallItem, item.id).sold == 2
    assert ledger.balance_of(rich) == 700
    spent = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.source == f"mall-order:{order.id}"))
    assert (spent.kind, spent.points) == (PointsKind.SPEND, -300)
    check_invariants(rich)


def test_a_coupon_is_issued_with_a_unique_code(rich):
    item = make_item(kind="coupon", points_price=10)
    first = redeem(rich, item.id, request_id="a", address=None)
    second = redeem(rich, item.id, request_id="b", address=None)
    assert first.status is MallOrderStatus.ISSUED and first.address is None
    assert len(first.coupon_code) == 16 and first.coupon_code != second.coupon_code


def test_a_retry_answers_the_same_order(rich):
    item = make_item()
    first = redeem(rich, item.id)
    again = redeem(rich, item.id)
    assert again.id == first.id
    assert ledger.balance_of(rich) == 900
    error = error_of(lambda: redeem(rich, item.id, quantity=2))
    assert (error.status, error.code) == (409, "mall_request_reused")
    other = make_item(name="Other")
    assert error_of(lambda: redeem(rich, other.id)).code == "mall_request_reused"


@pytest.mark.parametrize("address, field", [
    (None, "address"),
    ({**ADDRESS, "name": ""}, "name"),
    ({**ADDRESS, "phone": "call me"}, "phone"),
    ({**ADDRESS, "region_code": "999999000000"}, "region_code"),
    ({k: v for k, v in ADDRESS.items() if k != "detail"}, "detail"),
])
def test_a_physical_item_needs_a_shipping_address(rich, address, field):
    item = make_item()
    error = error_of(lambda: redeem(rich, item.id, address=address))
    assert (error.status, error.code) == (422, "mall_address_invalid")
    assert field in error.errors["address"] or field == "address"
    assert ledger.balance_of(rich) == 1000


def test_sold_out_inactive_and_too_poor_are_refused_and_roll_back(rich):
    item = make_item(stock=1)
    redeem(rich, item.id, request_id="a")
    assert error_of(lambda: redeem(rich, item.id, request_id="b")).code == "mall_item_sold_out"
    off = make_item(active=False)
    assert error_of(lambda: redeem(rich, off.id, request_id="c")).code == "mall_item_sold_out"
    dear = make_item(points_price=901)
    assert error_of(lambda: redeem(rich, dear.id, request_id="d")).code == "points_insufficient"
    db.session.expire_all()
    assert db.session.get(MallItem, dear.id).sold == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MallOrder)) == 1
    assert error_of(lambda: redeem(rich, 10**9, request_id="e")).status == 404


def test_ship_deliver(rich):
    item = make_item()
    order = redeem(rich, item.id)
    assert error_of(lambda: mall.deliver(actor=ACTOR, order_id=order.id)).code == "mall_order_state"
    db.session.rollback()
    with transaction():
        mall.ship(actor=ACTOR, order_id=order.id, tracking_no="SF123")
    with transaction():
        assert mall.ship(actor=ACTOR, order_id=order.id, tracking_no="SF123").status is MallOrderStatus.SHIPPED
    assert error_of(lambda: mall.ship(actor=ACTOR, order_id=order.id, tracking_no="SF999")).status == 409
    db.session.rollback()
    with transaction():
        done = mall.deliver(actor=ACTOR, order_id=order.id)
    assert (done.status, done.tracking_no) == (MallOrderStatus.DELIVERED, "SF123")
    assert error_of(lambda: mall.cancel(actor=ACTOR, order_id=order.id)).code == "mall_order_state"


def test_cancel_gives_points_and_stock_back_once(rich):
    item = make_item(points_price=200)
    order = redeem(rich, item.id)
    for _ in range(2):
        with transaction():
            assert mall.cancel(actor=ACTOR, order_id=order.id, reason="out of cups").status is MallOrderStatus.CANCELLED
    db.session.expire_all()
    assert ledger.balance_of(rich) == 1000
    assert db.session.get(MallItem, item.id).sold == 0
    refund = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.source == f"mall-refund:{order.id}"))
    assert (refund.kind, refund.points, refund.remaining) == (PointsKind.EARN, 200, 200)
    check_invariants(rich)


def test_my_orders_are_mine(rich):
    other = make_consumer()
    item = make_item()
    order = redeem(rich, item.id)
    assert mall.get_my_order(app_user=user_of(rich), order_id=order.id).id == order.id
    assert error_of(lambda: mall.get_my_order(app_user=user_of(other), order_id=order.id)).status == 404
    assert db.session.scalars(mall.list_my_orders(app_user_id=other)).all() == []


def test_available_items_are_active_and_in_stock(rich):
    cheap = make_item(points_price=5, stock=1)
    dear = make_item(points_price=50)
    make_item(active=False)
    make_item(stock=0)
    assert [i.id for i in db.session.scalars(mall.available_items())] == [cheap.id, dear.id]
    redeem(rich, cheap.id)
    assert [i.id for i in db.session.scalars(mall.available_items())] == [dear.id]


# --- races (MariaDB) -----------------------------------------------------------------------------

def test_the_last_items_go_to_exactly_as_many_orders(app, mariadb):
    stock, buyers = 3, 12
    item = make_item(kind="coupon", stock=stock, points_price=10)
    users = []
    for _ in range(buyers):
        user = make_consumer()
        with transaction():
            ledger.earn(app_user_id=user, points=100, source=f"draw:{user}")
        users.append(user)

    def buy(user_id):
        def run():
            with transaction():
                return mall.redeem(app_user=db.session.get(AppUser, user_id), item_id=item.id,
                                   request_id="race", quantity=1).id
        return lambda: retrying(run)

    results, errors = results_and_errors(at_once(app, *(buy(u) for u in users)))
    db.session.expire_all()
    won = [r for r in results if r]
    assert len(won) == stock, errors
    assert all(isinstance(e, DomainError) and e.code == "mall_item_sold_out" for e in errors if e), errors
    assert all(isinstance(e, DomainError) and e.code == "mall_item_sold_out" for e in errors if e)
    assert db.session.get(MallItem, item.id).sold == stock
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MallOrder)) == stock
    assert sum(ledger.balance_of(u) for u in users) == buyers * 100 - stock * 10


def test_one_consumer_spending_from_many_threads_never_goes_negative(app, mariadb):
    user = make_consumer()
    for i, points in enumerate((30, 50, 20)):  # 100 in three earnings
        with transaction():
            ledger.earn(app_user_id=user, points=points, source=f"draw:{i}", now=NOW + timedelta(days=i))
    threads = 16

    def spend(i):
        def run():
            with transaction():
                return ledger.spend(app_user_id=user, points=7, source=f"mall-order:{i}").points
        return lambda: retrying(run)

    results, errors = results_and_errors(at_once(app, *(spend(i) for i in range(threads))))
    done = [r for r in results if r]
    assert len(done) == 100 // 7
    assert all(isinstance(e, DomainError) and e.code == "points_insufficient" or refused_as_busy(e)
               for e in errors if e)
    db.session.expire_all()
    assert ledger.balance_of(user) == 100 - 7 * len(done)
    check_invariants(user)


def test_two_sweeps_at_once_expire_once(app, mariadb):
    users = [make_consumer() for _ in range(4)]
    for user in users:
        with transaction():
            ledger.earn(app_user_id=user, points=40, source=f"draw:{user}", now=NOW)
    later = NOW + timedelta(days=400)
    outcomes = at_once(app, lambda: ledger.expire(later), lambda: ledger.expire(later))
    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert sum(o["points"] for o in outcomes) == 160
    db.session.expire_all()
    for user in users:
        assert ledger.balance_of(user) == 0
        check_invariants(user)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PointsEntry)
                             .where(PointsEntry.kind == PointsKind.EXPIRE)) == 4


def test_earning_and_spending_at_once_keep_the_ledger_exact(app, mariadb):
    user = make_consumer()
    with transaction():
        ledger.earn(app_user_id=user, points=50, source="draw:first", now=NOW)

    def earn(i):
        def run():
            with transaction():
                return ledger.earn(app_user_id=user, points=10, source=f"draw:{i}").points
        return run

    def spend(i):
        def run():
            with transaction():
                return ledger.spend(app_user_id=user, points=10, source=f"mall-order:{i}").points
        return run

    calls = [earn(i) if i % 2 else spend(i) for i in range(16)]
    results, errors = results_and_errors(at_once(app, *calls))
    assert all(isinstance(e, DomainError) and e.code == "points_insufficient" or refused_as_busy(e)
               for e in errors if e), errors
    db.session.expire_all()
    assert ledger.balance_of(user) == 50 + sum(r for r in results if r)
    check_invariants(user)


def test_a_blacklisted_consumer_cannot_redeem(rich):
    item = make_item(kind="coupon", points_price=10)
    with transaction():
        db.session.add(BlockedConsumer(openid=user_of(rich).openid, reason="fraud", created_by="test"))
    error = error_of(lambda: redeem(rich, item.id, address=None))
    assert (error.status, error.code) == (403, "consumer_blocked")
    assert ledger.balance_of(rich) == 1000


def test_the_same_request_sent_at_once_makes_one_order(app, mariadb):
    user = make_consumer()
    with transaction():
        ledger.earn(app_user_id=user, points=1000, source="draw:1")
    item = make_item(kind="coupon", points_price=10, stock=100)

    def buy():
        def run():
            with transaction():
                return mall.redeem(app_user=db.session.get(AppUser, user), item_id=item.id,
                                   request_id="same", quantity=2).id
        return retrying(run)

    results, errors = results_and_errors(at_once(app, *([buy] * 8)))
    assert not [e for e in errors if e], errors
    assert len(set(results)) == 1
    db.session.expire_all()
    assert db.session.get(MallItem, item.id).sold == 2
    assert ledger.balance_of(user) == 980
    check_invariants(user)


def test_two_cancels_at_once_refund_once(app, mariadb):
    user = make_consumer()
    with transaction():
        ledger.earn(app_user_id=user, points=1000, source="draw:1")
    item = make_item(points_price=100, stock=10)
    order = redeem(user, item.id, quantity=3).id

    def cancel():
        def run():
            with transaction():
                return mall.cancel(actor=ACTOR, order_id=order, reason="race").status
        return retrying(run)

    results, errors = results_and_errors(at_once(app, *([cancel] * 6)))
    assert not [e for e in errors if e], errors
    assert set(results) == {MallOrderStatus.CANCELLED}
    db.session.expire_all()
    assert db.session.get(MallItem, item.id).sold == 0
    assert ledger.balance_of(user) == 1000
    check_invariants(user)


def test_redeem_cancel_earn_and_sweep_at_once_never_deadlock(app, mariadb):
    user = make_consumer()
    for i in range(3):
        with transaction():
            ledger.earn(app_user_id=user, points=100, source=f"draw:old{i}", now=NOW - timedelta(days=400))
            ledger.earn(app_user_id=user, points=100, source=f"draw:new{i}")
    items = [make_item(kind="coupon", points_price=30, stock=50, name=f"C{i}").id for i in range(2)]
    orders = [redeem(user, items[i % 2], request_id=f"first{i}", address=None).id for i in range(3)]

    def run_in_transaction(fn):
        def run():
            with transaction():
                return fn()
        return lambda: retrying(run)

    calls = []
    for i in range(6):
        calls.append(run_in_transaction(lambda i=i: mall.redeem(
            app_user=db.session.get(AppUser, user), item_id=items[i % 2], request_id=f"r{i}").id))
    for order in orders:
        calls.append(run_in_transaction(lambda order=order: mall.cancel(actor=ACTOR, order_id=order).id))
    for i in range(3):
        calls.append(run_in_transaction(lambda i=i: ledger.earn(app_user_id=user, points=20, source=f"draw:x{i}").id))
    calls.append(lambda: ledger.expire())
    _, errors = results_and_errors(at_once(app, *calls))
    assert all(isinstance(e, DomainError) and e.code == "points_insufficient" or refused_as_busy(e)
               for e in errors if e), errors
    db.session.expire_all()
    check_invariants(user)
    sold = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(MallOrder.quantity), 0))
                             .where(MallOrder.status != MallOrderStatus.CANCELLED))
    assert sum(db.session.get(MallItem, i).sold for i in items) == sold
