"""Findings of the fault and attack run against the production-like stack (issue 12), each as a test.

Each scenario ends with the money invariants (tests/payout_factories.py::money_violations).
"""
from __future__ import annotations

from app.payouts import wechat_calls, worker
from app.payouts.models import PayoutStatus
from app.wechat import pay
from app.wechat.sandbox import faults
from tests.payout_factories import bills, cash, fresh, later, money_violations, withdrawal


def test_a_refused_create_after_a_create_whose_outcome_is_unknown_does_not_return_the_money(
        app, sandbox, monkeypatch):
    """Finding 1. A create that timed out may still be made by WeChat Pay after we gave up on it. The
    next run queries (no bill yet), creates again and is refused (403 NO_AUTH), queries again (still no
    bill) and took that as proof that nothing was made: FAILED, money back. Then the first create lands:
    a payable bill for a payout whose money was returned. Seen on the stack with the sandbox's timeout
    fault (delay 45 s) followed by a NO_AUTH on the retry's create."""
    requested = withdrawal()
    real = pay.create_transfer
    in_flight = []

    def timed_out(**kwargs):  # the request reached WeChat Pay; its answer did not reach us
        in_flight.append(kwargs)
        raise pay.WeChatPayUnavailable()

    monkeypatch.setattr(pay, "create_transfer", timed_out)
    worker.work_due()
    monkeypatch.undo()
    doubted = fresh(requested.payout_id)
    assert (doubted.status, doubted.doubt_from) == (PayoutStatus.IN_DOUBT, PayoutStatus.CREATING)

    faults.inject(sandbox.state, "transfer_bills.create", faults.FAIL, errcode="NO_AUTH")
    worker.work_due(later(hours=1))  # query: no bill yet; create: refused; query: still no bill
    after = fresh(requested.payout_id)
    # The first create's outcome is still unknown: nothing proves no bill will exist under this number.
    assert after.status is not PayoutStatus.FAILED, "money returned while a create of ours was unanswered"
    assert cash(requested.app_user_id) == 200

    real(**in_flight[0])  # WeChat Pay makes the bill of the create that timed out
    worker.work_due(later(hours=2))
    assert fresh(requested.payout_id).status is PayoutStatus.WAITING
    assert len(bills(sandbox, after.openid)) == 1
    assert money_violations(sandbox) == []


def test_once_an_unanswered_create_is_settled_a_refused_create_with_no_bill_fails_the_payout(
        app, sandbox, monkeypatch):
    requested = withdrawal()

    def timed_out(**kwargs):  # the request may have reached WeChat Pay; it never makes the bill
        raise pay.WeChatPayUnavailable()

    monkeypatch.setattr(pay, "create_transfer", timed_out)
    worker.work_due()
    monkeypatch.undo()
    faults.inject(sandbox.state, "transfer_bills.create", faults.FAIL, errcode="NOT_ENOUGH")
    worker.work_due(later(minutes=wechat_calls.create_settle_window().total_seconds() / 60 + 1))
    failed = fresh(requested.payout_id)
    assert (failed.status, failed.fail_reason) == (PayoutStatus.FAILED, "NOT_ENOUGH")
    assert cash(requested.app_user_id) == 500 and money_violations(sandbox) == []


def test_a_worker_killed_after_sending_a_create_leaves_it_unsettled(app, sandbox, monkeypatch):
    requested = withdrawal()

    class Killed(BaseException):
        pass

    def sent_then_killed(**kwargs):
        raise Killed("killed while the create was on its way")

    monkeypatch.setattr(pay, "create_transfer", sent_then_killed)
    try:
        worker.work_due()
    except Killed:
        pass
    monkeypatch.undo()
    faults.inject(sandbox.state, "transfer_bills.create", faults.FAIL, errcode="NO_AUTH")
    worker.work_due(later(seconds=worker.LEASE_SECONDS + 1))  # refused, no bill: the killed one may land
    assert fresh(requested.payout_id).status is PayoutStatus.IN_DOUBT and cash(requested.app_user_id) == 200
