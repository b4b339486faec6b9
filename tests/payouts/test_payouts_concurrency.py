"""Two payout workers at once on MariaDB: every payout claimed by one of them, every bill created once."""
from __future__ import annotations

import threading
from collections import Counter

import sqlalchemy as sa

from app.extensions import db
from app.payouts import worker
from app.payouts.models import Payout, PayoutStatus
from app.wechat import pay
from app.wechat.sandbox import pay as sandbox_pay
from tests.concurrency import at_once
from tests.payout_factories import cash, make_user, prize, withdrawal


def test_two_workers_on_the_same_due_payouts_create_each_bill_once(app, mariadb, sandbox, monkeypatch):
    payouts = [prize(make_user()) for _ in range(12)]
    created, lock, real = Counter(), threading.Lock(), pay.create_transfer

    def counted(**kwargs):
        with lock:
            created[kwargs["out_bill_no"]] += 1
        return real(**kwargs)

    monkeypatch.setattr(pay, "create_transfer", counted)
    reports = at_once(app, worker.work_due, worker.work_due, worker.work_due)
    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert sum(r.claimed for r in reports) == 12
    assert set(created.values()) == {1} and len(created) == 12
    db.session.expire_all()
    statuses = db.session.scalars(sa.select(Payout.status).where(Payout.id.in_([p.id for p in payouts]))).all()
    assert set(statuses) == {PayoutStatus.WAITING}
    assert len(sandbox_pay.pay_state(sandbox.state).bills) == 12


def test_a_clerk_cancelling_while_the_worker_claims_either_cancels_or_is_refused(app, mariadb, sandbox):
    from app.accounts.models import AppUser
    from app.db import retrying, transaction
    from app.errors import DomainError
    from app.retail import withdrawals
    from app.retail.models import Withdrawal, WithdrawalStatus

    for _ in range(5):
        requested = withdrawal()
        user = db.session.get(AppUser, requested.app_user_id)
        db.session.rollback()

        def cancel(user_id=user.id, withdrawal_id=requested.id):  # as the clerk's view does it
            def once():
                with transaction():
                    return withdrawals.cancel_withdrawal(user=db.session.get(AppUser, user_id),
                                                         withdrawal_id=withdrawal_id)
            return retrying(once)

        cancelled, _worked = at_once(app, cancel, worker.work_due)
        db.session.rollback()  # read what the two committed, not an older snapshot
        payout = db.session.get(Payout, requested.payout_id)
        status = db.session.get(Withdrawal, requested.id).status
        bills = sandbox_pay.pay_state(sandbox.state).bills
        assert not isinstance(_worked, Exception), _worked
        assert isinstance(cancelled, (DomainError, Withdrawal)), repr(cancelled)
        if isinstance(cancelled, DomainError):
            assert cancelled.code == "withdrawal_not_cancellable"
            assert status is WithdrawalStatus.REQUESTED and payout.status is PayoutStatus.WAITING
            assert cash(requested.app_user_id) == 200
        else:
            assert status is WithdrawalStatus.CANCELLED and payout.status is PayoutStatus.CANCELLED
            assert payout.out_bill_no not in bills and cash(requested.app_user_id) == 500
