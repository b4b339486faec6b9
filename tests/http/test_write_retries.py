"""Every write endpoint runs its use case again when the database rolled it back, through one mechanism
(app.http.retry_writes): a deadlock, a lock wait timeout, a connection lost before the commit, an
auto-increment value unreadable after a restart (issue 12 §2)."""
from __future__ import annotations

import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import transaction
from app.extensions import db
from app.payouts.models import Payout
from app.retail import ledger, withdrawals
from app.retail.models import Withdrawal
from tests import channel_factories as cf
from tests.concurrency import at_once
from tests.galera import on_galera
from tests.masterdata_factories import make_dealer
from tests.mp_factories import make_invitation

WITHDRAWALS = "/api/clerk/withdrawals"


def database_error(number: int, message: str) -> sa.exc.OperationalError:
    """What SQLAlchemy raises when MariaDB answers `number` (the driver's own exception inside)."""
    return sa.exc.OperationalError("INSERT INTO withdrawals ...", {}, pymysql.err.OperationalError(number, message))


def clerk_with_cash(client, mp, cash: int = 1000):  # noqa: F811
    store = cf.make_store_of(make_dealer().id)
    headers = mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code)
    me = client.get("/api/clerk/me", headers=headers).get_json()["user"]["id"]
    with transaction():
        ledger.credit(app_user_id=me, kind="cash", amount=cash, source="adjust:retries")
    return headers, me


def failing_once_after_its_writes(monkeypatch, error):
    """request_withdrawal does its writes, then the database rolls them back with `error`, once (None:
    never); the calls made."""
    calls = []
    real = withdrawals.request_withdrawal

    def flaky(**kwargs):
        calls.append(1)
        result = real(**kwargs)
        db.session.flush()
        if len(calls) == 1 and error is not None:
            raise error
        return result

    monkeypatch.setattr(withdrawals, "request_withdrawal", flaky)
    return calls


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize("number, message", [
    (1213, "Deadlock found when trying to get lock; try restarting transaction"),
    (1205, "Lock wait timeout exceeded; try restarting transaction"),
    (2013, "Lost connection to server during query"),
    (1467, "Failed to read auto-increment value from storage engine"),
])
def test_a_write_the_database_rolled_back_runs_again_and_takes_effect_once(client, mp, monkeypatch,  # noqa: F811
                                                                            number, message):
    headers, me = clerk_with_cash(client, mp)
    calls = failing_once_after_its_writes(monkeypatch, database_error(number, message))

    response = client.post(WITHDRAWALS, json={"amount": 300, "request_id": "once"}, headers=headers)

    assert response.status_code == 201, response.get_json()
    assert len(calls) == 2
    assert count(Withdrawal) == 1 and count(Payout) == 1
    assert ledger.balances(app_user_id=me)["cash"] == 700


def test_a_connection_lost_during_the_commit_is_not_run_again(client, mp, monkeypatch):  # noqa: F811
    # The commit may have reached the server: running the use case again could do it twice. The client
    # gets a 503 and retries with the same request id, which answers with what was done.
    headers, me = clerk_with_cash(client, mp)
    calls = failing_once_after_its_writes(monkeypatch, None)
    commits = []

    def lost_at_commit(session):
        if session.in_nested_transaction():
            return  # a savepoint's release, not the commit
        commits.append(1)
        if len(commits) == 1:
            raise database_error(2013, "Lost connection to server during query")

    sa.event.listen(Session, "before_commit", lost_at_commit)
    try:
        response = client.post(WITHDRAWALS, json={"amount": 300, "request_id": "commit"}, headers=headers)
    finally:
        sa.event.remove(Session, "before_commit", lost_at_commit)

    assert response.status_code == 503 and response.get_json()["code"] == "service_unavailable"
    assert "Retry-After" in response.headers
    assert len(commits) == 1 and len(calls) == 1
    again = client.post(WITHDRAWALS, json={"amount": 300, "request_id": "commit"}, headers=headers)
    assert again.status_code == 201 and count(Withdrawal) == 1 and len(calls) == 2
    assert ledger.balances(app_user_id=me)["cash"] == 700


def test_a_commit_another_galera_node_won_runs_again_and_takes_effect_once(client, mp, monkeypatch):  # noqa: F811
    # Galera certifies a transaction at COMMIT: when another node committed a conflicting write first, the
    # COMMIT itself answers 1213 and nothing was committed, so the use case runs again (unlike a connection
    # lost during the commit, above).
    headers, me = clerk_with_cash(client, mp)
    calls = failing_once_after_its_writes(monkeypatch, None)
    commits = []

    def certification_failed(session):
        if session.in_nested_transaction():
            return
        commits.append(1)
        if len(commits) == 1:
            raise database_error(1213, "Deadlock found when trying to get lock; try restarting transaction")

    sa.event.listen(Session, "before_commit", certification_failed)
    try:
        response = client.post(WITHDRAWALS, json={"amount": 300, "request_id": "galera"}, headers=headers)
    finally:
        sa.event.remove(Session, "before_commit", certification_failed)

    assert response.status_code == 201, response.get_json()
    assert len(commits) == 2 and len(calls) == 2
    assert count(Withdrawal) == 1 and count(Payout) == 1
    assert ledger.balances(app_user_id=me)["cash"] == 700


def test_a_deadlock_that_lasts_answers_503_not_500(client, mp, monkeypatch):  # noqa: F811
    headers, _ = clerk_with_cash(client, mp)

    def always(**kwargs):
        raise database_error(1213, "Deadlock found when trying to get lock; try restarting transaction")

    monkeypatch.setattr(withdrawals, "request_withdrawal", always)
    response = client.post(WITHDRAWALS, json={"amount": 300, "request_id": "stuck"}, headers=headers)
    assert response.status_code == 503 and response.get_json()["code"] == "service_unavailable"
    assert count(Withdrawal) == 0


# --- real races on MariaDB ---------------------------------------------------------------------------

def test_many_withdrawals_of_one_balance_at_once_answer_no_500(app, client, mp, mariadb):  # noqa: F811
    headers, me = clerk_with_cash(client, mp, cash=1000)
    db.session.remove()

    def withdraw(n):
        return lambda: app.test_client().post(WITHDRAWALS, json={"amount": 100, "request_id": f"r{n}"},
                                              headers=headers).status_code

    statuses = at_once(app, *(withdraw(n) for n in range(12)))

    if on_galera():  # some may be refused as busy; the money still adds up exactly
        assert set(statuses) <= {201, 409, 503} and statuses.count(201) <= 10, statuses
        assert ledger.balances(app_user_id=me)["cash"] == 1000 - 100 * statuses.count(201)
        assert count(Withdrawal) == statuses.count(201)
    else:
        assert sorted(statuses) == [201] * 10 + [409] * 2, statuses
        assert ledger.balances(app_user_id=me)["cash"] == 0 and count(Withdrawal) == 10


def test_two_dealers_scanning_out_at_once_answer_no_500(app, client, mp, mariadb):  # noqa: F811
    brand = cf.make_brand()
    dealer, headers = cf.dealer_owner(mp)
    codes = cf.dealer_stock(brand, dealer.id, cases_=8)
    shipments = []
    for _ in range(2):
        store = cf.make_store_of(dealer.id)
        shipments.append(client.post("/api/dealer/shipments", json={"receiver_kind": "store", "receiver_id": store.id},
                                     headers=headers).get_json()["id"])
    db.session.remove()

    def scan(shipment_id, some):
        return lambda: app.test_client().post(f"/api/dealer/shipments/{shipment_id}/scans", json={"codes": some},
                                              headers=headers)

    # Both shipments scan the same cases, in opposite orders: row locks taken crosswise.
    responses = at_once(app, scan(shipments[0], codes), scan(shipments[1], codes[::-1]),
                        scan(shipments[0], codes[::-1]), scan(shipments[1], codes))

    assert [r.status_code for r in responses] == [200] * 4, [r.get_json() for r in responses]
    accepted = sum(r.get_json()["accepted"] for r in responses)
    assert accepted == len(codes)  # each case into one shipment, once


def test_a_login_run_again_after_a_lost_connection_does_not_spend_the_wx_login_code_twice(
        app, client, mp, monkeypatch):  # noqa: F811
    """The drill's finding: the retried login exchanged its one-time wx.login code again and answered 401."""
    from app.accounts import logins

    real, calls = logins._issue, []

    def lost_once(user, **kwargs):
        calls.append(1)
        db.session.flush()
        if len(calls) == 1:
            raise database_error(2013, "Lost connection to server during query")
        return real(user, **kwargs)

    monkeypatch.setattr(logins, "_issue", lost_once)
    response = mp.login("consumer")
    assert response.status_code == 200, response.get_json()
    assert len(calls) == 2 and response.get_json()["token"]
