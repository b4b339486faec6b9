"""Races on MariaDB: two clerks sale-scanning one unit at once; two withdrawals of one balance at once."""
from __future__ import annotations

import sqlalchemy as sa

from app.db import transaction
from app.extensions import db
from app.retail import ledger, sales, withdrawals
from app.retail.models import LedgerEntry, SaleScan, Withdrawal
from app.units import unit_rows
from tests.concurrency import at_once, meeting_in, results_and_errors
from tests.retail_factories import make_clerk, make_shop, rule, store_items


def _race(app, calls) -> tuple[list, list]:
    """Run each call in its own thread and transaction, all at once; (results, errors) by position."""
    return results_and_errors(at_once(app, *calls, each_in_transaction=True))


def test_two_clerks_scanning_one_unit_at_once_sell_it_once_and_are_rewarded_once(app, mariadb):
    shop = make_shop()
    code = store_items(shop, 1)[0]
    rule(amount=10)
    second = make_clerk(shop.store_id)
    clerks = [db.session.get(type(shop.clerk), shop.clerk.id), second]
    ids = [c.id for c in clerks]
    db.session.remove()

    def scan_as(user_id):
        def call():
            from app.accounts.models import AppUser
            return sales.sale_scan(user=db.session.get(AppUser, user_id), store_id=shop.store_id, code=code).sale.id
        return call

    with meeting_in(unit_rows, "load_units"):
        results, errors = _race(app, [scan_as(i) for i in ids])

    assert sorted(e.code for e in errors if e) == ["already_sold"], errors
    assert len([r for r in results if r]) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SaleScan)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 1
    winner = ids[results.index(next(r for r in results if r))]
    assert ledger.balances(app_user_id=winner)["points"] == 10


def test_the_unique_serial_settles_a_race_the_locks_miss(app, mariadb, monkeypatch):
    """Even past the row lock (here: no lock at all), the second insert of the serial answers already_sold."""
    shop = make_shop()
    code = store_items(shop, 1)[0]
    second = make_clerk(shop.store_id)
    ids = [shop.clerk.id, second.id]
    db.session.remove()
    load_units = unit_rows.load_units
    monkeypatch.setattr(unit_rows, "load_units", lambda serials, lock=True: load_units(serials, lock=False))
    monkeypatch.setattr(sales, "_already_sold", lambda serial: False)

    def scan_as(user_id):
        def call():
            from app.accounts.models import AppUser
            return sales.sale_scan(user=db.session.get(AppUser, user_id), store_id=shop.store_id, code=code).sale.id
        return call

    _, errors = _race(app, [scan_as(i) for i in ids])
    assert sorted(e.code for e in errors if e) == ["already_sold"], errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SaleScan)) == 1


def test_two_withdrawals_of_the_whole_balance_at_once_one_succeeds(app, mariadb):
    user = make_clerk(make_shop().store_id)
    with transaction():
        ledger.credit(app_user_id=user.id, kind="cash", amount=1000, source="adjust:race")
    user_id = user.id
    db.session.remove()

    def withdraw(request_id):
        def call():
            from app.accounts.models import AppUser
            return withdrawals.request_withdrawal(user=db.session.get(AppUser, user_id), amount=1000,
                                                  request_id=request_id).id
        return call

    _, errors = _race(app, [withdraw("a"), withdraw("b")])

    assert [e.code for e in errors if e] == ["insufficient_balance"]
    assert ledger.balances(app_user_id=user_id)["cash"] == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Withdrawal)) == 1


def test_the_same_withdrawal_request_sent_twice_at_once_withdraws_once(app, mariadb):
    user = make_clerk(make_shop().store_id)
    with transaction():
        ledger.credit(app_user_id=user.id, kind="cash", amount=1000, source="adjust:twice")
    user_id = user.id
    db.session.remove()

    def withdraw():
        from app.accounts.models import AppUser
        return withdrawals.request_withdrawal(user=db.session.get(AppUser, user_id), amount=400, request_id="same").id

    results, errors = _race(app, [withdraw, withdraw])

    assert errors == [None, None] and results[0] == results[1]
    assert ledger.balances(app_user_id=user_id)["cash"] == 600
