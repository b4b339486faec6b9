"""The payout queue against the WeChat Pay sandbox: bills, the worker, callbacks, expiry, reconciliation."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa

from app.accounts.models import AppUser
from app.db import transaction, utcnow
from app.errors import DomainError
from app.extensions import db
from app.identity.models import AuditRecord
from app.identity.service import Actor
from app.payouts import reconciliation, service, transitions, worker
from app.payouts.models import (
    Payout,
    PayoutChannel,
    PayoutNotification,
    PayoutPurpose,
    PayoutStatus,
)
from app.retail import withdrawals
from app.retail.models import LedgerEntry, Withdrawal, WithdrawalStatus
from app.wechat import pay
from app.wechat.sandbox import faults
from app.wechat.sandbox import pay as sandbox_pay
from tests.payout_factories import (
    NOTIFY,
    bills,
    cash,
    forward,
    fresh,
    later,
    make_user,
    prize,
    user_acts,
    withdrawal,
    worker_killed_after_create,
)

# --- the queue ------------------------------------------------------------------------------------

def test_enqueue_is_once_per_source_with_a_bill_number_from_the_id(app):
    user = make_user()
    first = prize(user, draw_id=1)
    again = prize(user, draw_id=1)
    assert first.id == again.id and first.out_bill_no == f"MT{first.id:020d}"
    assert first.status is PayoutStatus.PENDING and first.channel is PayoutChannel.TRANSFER
    with pytest.raises(DomainError) as error:
        prize(user, amount=99, draw_id=1)
    assert error.value.code == "payout_source_reused"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payout)) == 1


def test_a_withdrawal_is_queued_as_a_payout(app):
    requested = withdrawal()
    payout = db.session.get(Payout, requested.payout_id)
    assert (payout.purpose, payout.source, payout.amount_fen, payout.app_user_id) == (
        PayoutPurpose.WITHDRAWAL, f"withdrawal:{requested.id}", 300, requested.app_user_id)


# --- the worker against the sandbox -------------------------------------------------------------

def test_a_payout_waits_for_the_user_then_the_callback_pays_it(app, client, sandbox, notify_to):
    requested = withdrawal()
    report = worker.work_due()
    payout = fresh(requested.payout_id)
    assert report.claimed == 1 and payout.status is PayoutStatus.WAITING and payout.package_info
    assert payout.transfer_bill_no and payout.wechat_state == "WAIT_USER_CONFIRM"
    # A clerk's openid is the clerk mini-program's: the bill is made under that app's appid.
    [bill] = [b for b in sandbox_pay.pay_state(sandbox.state).bills.values() if b.out_bill_no == payout.out_bill_no]
    assert bill.params["appid"] == sandbox.credentials.apps["clerk"].appid
    user_acts(sandbox, payout.out_bill_no)
    assert forward(client, notify_to.wait_for(1)) == [204]
    payout = fresh(payout.id)
    assert payout.status is PayoutStatus.SUCCEEDED and payout.finished_at
    assert db.session.get(Withdrawal, requested.id).status is WithdrawalStatus.PAID
    assert cash(requested.app_user_id) == 200


def test_a_declined_bill_fails_and_the_withdrawal_cash_comes_back_once(app, client, sandbox, notify_to):
    requested = withdrawal()
    worker.work_due()
    payout = fresh(requested.payout_id)
    user_acts(sandbox, payout.out_bill_no, "decline")
    received = notify_to.wait_for(1)
    assert forward(client, received + received) == [204, 204]  # a duplicate is acknowledged, no change
    assert fresh(payout.id).status is PayoutStatus.FAILED
    assert db.session.get(Withdrawal, requested.id).status is WithdrawalStatus.FAILED
    assert cash(requested.app_user_id) == 500
    sources = db.session.scalars(sa.select(LedgerEntry.source).where(
        LedgerEntry.app_user_id == requested.app_user_id).order_by(LedgerEntry.id)).all()
    assert sources[-1] == f"withdrawal-return:{requested.id}" and len(sources) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PayoutNotification)) == 1


def test_a_worker_killed_after_the_bill_was_made_queries_it_and_the_sandbox_holds_one_bill(
        app, sandbox, monkeypatch):
    user = make_user()
    payout = prize(user)
    worker_killed_after_create(monkeypatch)
    assert fresh(payout.id).status is PayoutStatus.CREATING  # committed before the call
    assert worker.work_due().claimed == 0  # its lease still runs
    report = worker.work_due(later(seconds=worker.LEASE_SECONDS + 1))
    payout = fresh(payout.id)
    assert report.claimed == 1 and payout.status is PayoutStatus.WAITING and payout.package_info
    assert len(bills(sandbox, user.openid)) == 1
    assert bills(sandbox, user.openid)[0].out_bill_no == payout.out_bill_no


def test_a_create_that_timed_out_is_queried_later_under_the_same_number(app, sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_TIMEOUT_SECONDS", 0.5)
    user = make_user()
    payout = prize(user)
    faults.inject(sandbox.state, "transfer_bills.create", faults.TIMEOUT, delay=1.0)
    report = worker.work_due()
    stuck = fresh(payout.id)
    assert report.retried == 1 and stuck.last_error
    assert (stuck.status, stuck.doubt_from) == (PayoutStatus.IN_DOUBT, PayoutStatus.CREATING)
    time.sleep(0.8)  # the sandbox finishes the call it stalled
    worker.work_due(later(hours=1))
    assert fresh(payout.id).status is PayoutStatus.WAITING and len(bills(sandbox, user.openid)) == 1


@pytest.mark.parametrize("kind", [faults.SYSTEM_ERROR, faults.HTTP_500, faults.RATE_LIMITED])
def test_a_busy_wechat_pay_leaves_it_in_doubt_and_the_retry_creates_one_bill(app, sandbox, kind):
    user = make_user()
    payout = prize(user)
    faults.inject(sandbox.state, "transfer_bills.create", kind)
    assert worker.work_due().retried == 1
    stuck = fresh(payout.id)
    assert stuck.status is PayoutStatus.IN_DOUBT and stuck.doubt_from is PayoutStatus.CREATING
    assert stuck.attempts == 1
    assert worker.work_due().claimed == 0  # retried later, not at once
    worker.work_due(later(hours=1))  # query: no bill, so it is created, same number
    assert fresh(payout.id).status is PayoutStatus.WAITING and len(bills(sandbox, user.openid)) == 1


def test_a_refused_transfer_fails_and_the_money_returns(app, sandbox):
    requested = withdrawal()
    faults.inject(sandbox.state, "transfer_bills.create", faults.FAIL, errcode="NOT_ENOUGH")
    worker.work_due()
    payout = fresh(requested.payout_id)
    assert payout.status is PayoutStatus.FAILED and payout.fail_reason == "NOT_ENOUGH"
    assert db.session.get(Withdrawal, requested.id).status is WithdrawalStatus.FAILED
    assert cash(requested.app_user_id) == 500


def test_a_lost_callback_is_made_up_by_the_periodic_query(app, sandbox):
    requested = withdrawal()
    worker.work_due()
    payout = fresh(requested.payout_id)
    user_acts(sandbox, payout.out_bill_no)  # no notify_url: the callback never comes
    assert worker.work_due().claimed == 0  # not due yet
    worker.work_due(later(seconds=worker.QUERY_WAITING_SECONDS + 1))
    assert fresh(payout.id).status is PayoutStatus.SUCCEEDED
    assert db.session.get(Withdrawal, requested.id).status is WithdrawalStatus.PAID


def test_callbacks_out_of_order_and_a_late_processing_change_nothing_backwards(app, client, sandbox, notify_to):
    early, late = withdrawal(), withdrawal()
    worker.work_due()
    early_p, late_p = fresh(early.payout_id), fresh(late.payout_id)
    faults.inject(sandbox.state, "callback", faults.OUT_OF_ORDER)
    user_acts(sandbox, early_p.out_bill_no)
    user_acts(sandbox, late_p.out_bill_no, "decline")
    received = notify_to.wait_for(2)
    assert forward(client, received) == [204, 204]
    assert fresh(early_p.id).status is PayoutStatus.SUCCEEDED and fresh(late_p.id).status is PayoutStatus.FAILED
    # A stale PROCESSING after SUCCESS: nothing moves back.
    with transaction():
        locked = db.session.get(Payout, early_p.id)
        assert transitions._apply(locked, PayoutStatus.PROCESSING, state="PROCESSING") is False
    assert fresh(early_p.id).status is PayoutStatus.SUCCEEDED


def test_a_duplicated_callback_is_applied_once(app, client, sandbox, notify_to):
    requested = withdrawal()
    worker.work_due()
    faults.inject(sandbox.state, "callback", faults.DUPLICATE)
    user_acts(sandbox, fresh(requested.payout_id).out_bill_no)
    assert forward(client, notify_to.wait_for(2)[:2]) == [204, 204]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PayoutNotification)) == 1
    assert fresh(requested.payout_id).status is PayoutStatus.SUCCEEDED and cash(requested.app_user_id) == 200


def test_a_callback_with_a_bad_signature_is_refused(app, client, sandbox, notify_to):
    requested = withdrawal()
    worker.work_due()
    user_acts(sandbox, fresh(requested.payout_id).out_bill_no)
    headers, body = notify_to.wait_for(1)[0]
    response = client.post(NOTIFY, data=body.replace(b"MCHTRANSFER", b"MCHTRANSFEX"), headers=headers)
    assert response.status_code == 401 and response.get_json() == {"code": "FAIL", "message": "签名错误"}
    assert client.post(NOTIFY, data=b"{}").status_code == 401
    assert fresh(requested.payout_id).status is PayoutStatus.WAITING


def test_an_unconfirmed_bill_is_cancelled_after_24_hours_and_the_money_returns(app, sandbox):
    requested = withdrawal()
    worker.work_due()
    payout = fresh(requested.payout_id)
    assert payout.status is PayoutStatus.WAITING
    worker.work_due(later(hours=23))  # queried, still waiting
    assert fresh(payout.id).status is PayoutStatus.WAITING
    worker.work_due(later(hours=24, seconds=1))
    payout = fresh(payout.id)
    assert payout.status is PayoutStatus.CANCELLED and payout.wechat_state == "CANCELLED"
    assert sandbox_pay.pay_state(sandbox.state).bills[payout.out_bill_no].state == "CANCELLED"
    assert db.session.get(Withdrawal, requested.id).status is WithdrawalStatus.FAILED
    assert cash(requested.app_user_id) == 500


def test_a_bill_confirmed_at_the_last_moment_is_paid_not_cancelled(app, sandbox):
    requested = withdrawal()
    worker.work_due()
    payout = fresh(requested.payout_id)
    user_acts(sandbox, payout.out_bill_no)  # confirmed; the callback lost; the cancel will be refused
    worker.work_due(later(hours=24, seconds=1))
    assert fresh(payout.id).status is PayoutStatus.SUCCEEDED
    assert db.session.get(Withdrawal, requested.id).status is WithdrawalStatus.PAID
    assert cash(requested.app_user_id) == 200


def test_an_unexpected_error_is_retried_later_and_the_other_payouts_go_on(app, sandbox, monkeypatch):
    first, second = prize(make_user()), prize(make_user())
    real = pay.create_transfer

    def broken_once(**kwargs):
        if kwargs["out_bill_no"] == first.out_bill_no:
            raise RuntimeError("surprise")
        return real(**kwargs)

    monkeypatch.setattr(pay, "create_transfer", broken_once)
    report = worker.work_due()
    assert report.claimed == 2 and report.retried == 1
    assert fresh(first.id).status is PayoutStatus.IN_DOUBT and "surprise" in fresh(first.id).last_error
    assert fresh(second.id).status is PayoutStatus.WAITING
    monkeypatch.undo()
    worker.work_due(later(hours=1))
    assert fresh(first.id).status is PayoutStatus.WAITING


def test_a_held_payout_waits_for_release_and_a_pending_one_can_be_cancelled(app, sandbox):
    user = make_user()
    held = prize(user, hold_reason="many cities")
    assert held.status is PayoutStatus.HELD and worker.work_due().claimed == 0
    with transaction():
        service.release(actor=Actor.system("tests"), payout_id=held.id)
    assert worker.work_due().claimed == 1 and fresh(held.id).status is PayoutStatus.WAITING
    requested = withdrawal()
    with transaction():
        service.cancel(actor=None, payout_id=requested.payout_id)
    assert db.session.get(Withdrawal, requested.id).status is WithdrawalStatus.FAILED
    assert cash(requested.app_user_id) == 500
    with pytest.raises(DomainError) as error, transaction():
        service.cancel(actor=None, payout_id=held.id)
    assert error.value.code == "payout_not_cancellable"


def test_a_clerk_cannot_cancel_a_withdrawal_whose_bill_exists(app, sandbox):
    requested = withdrawal()
    worker.work_due()
    user = db.session.get(AppUser, requested.app_user_id)
    with pytest.raises(DomainError) as error, transaction():
        withdrawals.cancel_withdrawal(user=user, withdrawal_id=requested.id)
    assert error.value.code == "withdrawal_not_cancellable"
    other = withdrawal()
    other_user = db.session.get(AppUser, other.app_user_id)
    with transaction():
        withdrawals.cancel_withdrawal(user=other_user, withdrawal_id=other.id)
    assert fresh(other.payout_id).status is PayoutStatus.CANCELLED
    assert cash(other.app_user_id) == 500  # credited once (withdrawal-cancel), not again
    assert worker.work_due().claimed == 0


# --- the red packet channel -----------------------------------------------------------------------

def test_a_red_packet_is_sent_once_and_received(app, sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "PAYOUT_CHANNEL", "redpack")
    user = make_user()
    payout = prize(user, amount=200)
    assert payout.channel is PayoutChannel.REDPACK and payout.out_bill_no == f"MTR{payout.id:018d}"
    faults.inject(sandbox.state, "redpack.send", faults.SYSTEM_ERROR)
    assert worker.work_due().retried == 1
    worker.work_due(later(hours=1))
    assert fresh(payout.id).status is PayoutStatus.WAITING
    assert list(sandbox_pay.pay_state(sandbox.state).redpacks) == [payout.out_bill_no]
    requests.post(f"{sandbox.url}/__sandbox__/redpacks/{payout.out_bill_no}/receive", timeout=5)
    worker.work_due(later(hours=2))
    assert fresh(payout.id).status is PayoutStatus.SUCCEEDED


# --- reconciliation -------------------------------------------------------------------------------

def test_reconciliation_repairs_what_wechat_says_otherwise_with_an_audit_record(app, sandbox):
    first, second = withdrawal(), withdrawal()
    worker.work_due()
    user_acts(sandbox, fresh(first.payout_id).out_bill_no)  # paid at WeChat; our callback lost
    result = reconciliation.reconcile(utcnow())
    assert result.checked == 2
    assert [(m["payout_id"], m["ours"], m["wechat"], m["repaired"]) for m in result.mismatches] == [
        (first.payout_id, "waiting", "SUCCESS", True)]
    assert fresh(first.payout_id).status is PayoutStatus.SUCCEEDED
    assert db.session.get(Withdrawal, first.id).status is WithdrawalStatus.PAID
    [record] = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "payout.repair")).all()
    assert (record.entity_id, record.changes) == (str(first.payout_id), {"status": ["waiting", "succeeded"]})
    again = reconciliation.reconcile(utcnow())
    assert again.id == result.id and again.checked == 2 and again.mismatches == []
    # Open payouts are asked about whatever their day; another day's finished ones are not.
    day = datetime.now(timezone.utc) - timedelta(days=3)
    assert reconciliation.reconcile(day).checked == 1 and fresh(second.payout_id).status is PayoutStatus.WAITING


# --- the commands -------------------------------------------------------------------------------

def test_flask_payouts_work_and_reconcile(app, sandbox):
    payout_id = withdrawal().payout_id  # the worker's loop drops the session after each step
    runner = app.test_cli_runner()
    worked = runner.invoke(args=["payouts", "work", "--once"])
    assert worked.exit_code == 0 and "worked 1: changed waiting 1" in worked.output
    assert fresh(payout_id).status is PayoutStatus.WAITING
    day = utcnow().strftime("%Y-%m-%d")
    reconciled = runner.invoke(args=["payouts", "reconcile", "--day", day])
    assert reconciled.exit_code == 0 and f"{day}: checked 1, mismatches 0" in reconciled.output
    assert runner.invoke(args=["payouts", "reconcile", "--day", "yesterday"]).exit_code != 0
