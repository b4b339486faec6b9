"""Unknown is not failed: money goes back only on a definitive answer about the bill; a late SUCCESS is the
truth; what no one can settle is listed for people. Each scenario ends with the money invariants."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AppUser
from app.db import transaction
from app.extensions import db
from app.identity.models import AuditRecord
from app.payouts import reconciliation, service, transitions, worker
from app.payouts.models import IncidentKind, PayoutIncident, PayoutStatus
from app.retail import withdrawals
from app.retail.models import LedgerEntry, Withdrawal, WithdrawalStatus
from app.wechat import pay
from app.wechat.sandbox import faults
from app.wechat.sandbox import pay as sandbox_pay
from tests.payout_factories import (
    Killed,
    bills,
    cash,
    forward,
    fresh,
    later,
    make_user,
    money_violations,
    prize,
    user_acts,
    withdrawal,
    worker_killed_after_create,
)

# 4xx answers that are not about the bill: WeChat refused the call, not the transfer.
NOT_ABOUT_THE_BILL = [(403, "NO_AUTH"), (401, "SIGN_ERROR"), (400, "PARAM_ERROR")]


def waiting_withdrawal(sandbox):
    requested = withdrawal()
    worker.work_due()
    payout = fresh(requested.payout_id)
    assert payout.status is PayoutStatus.WAITING and cash(requested.app_user_id) == 200
    return requested, payout


def ledger_sources(app_user_id: int) -> list[str]:
    return db.session.scalars(sa.select(LedgerEntry.source).where(
        LedgerEntry.app_user_id == app_user_id).order_by(LedgerEntry.id)).all()


def incidents(payout_id: int) -> dict:
    db.session.rollback()
    return {i.kind: i for i in db.session.scalars(sa.select(PayoutIncident).where(
        PayoutIncident.payout_id == payout_id))}


@pytest.mark.parametrize("status,code", NOT_ABOUT_THE_BILL)
def test_a_query_refused_for_another_reason_leaves_the_payout_in_doubt_and_the_confirm_pays_once(
        app, client, sandbox, notify_to, status, code):
    requested, payout = waiting_withdrawal(sandbox)
    faults.inject(sandbox.state, "transfer_bills.query", faults.FAIL, errcode=code, http_status=status)
    report = worker.work_due(later(seconds=worker.QUERY_WAITING_SECONDS + 1))
    doubted = fresh(payout.id)
    assert report.retried == 1 and code in doubted.last_error
    assert (doubted.status, doubted.doubt_from) == (PayoutStatus.IN_DOUBT, PayoutStatus.WAITING)
    # The money stays out: nothing returned to the clerk, the withdrawal still requested.
    assert cash(requested.app_user_id) == 200
    assert db.session.get(Withdrawal, requested.id).status is WithdrawalStatus.REQUESTED
    # The bill is still payable, so the user may still be shown it, and confirms it.
    shown = service.confirm_request(doubted)  # the doubt is ours: the user sees a bill to confirm
    assert (shown["status"], shown["package"]) == (PayoutStatus.WAITING, payout.package_info)
    user_acts(sandbox, payout.out_bill_no)
    assert forward(client, notify_to.wait_for(1)) == [204]
    paid = fresh(payout.id)
    assert paid.status is PayoutStatus.SUCCEEDED and paid.doubt_from is None and paid.in_doubt_since is None
    assert db.session.get(Withdrawal, requested.id).status is WithdrawalStatus.PAID
    assert cash(requested.app_user_id) == 200
    assert f"withdrawal-return:{requested.id}" not in ledger_sources(requested.app_user_id)
    assert money_violations(sandbox) == []


def test_an_expired_bill_whose_cancel_and_query_are_refused_is_not_cancelled(app, client, sandbox, notify_to):
    requested, payout = waiting_withdrawal(sandbox)
    faults.inject(sandbox.state, "transfer_bills.cancel", faults.FAIL, errcode="NO_AUTH")
    faults.inject(sandbox.state, "transfer_bills.query", faults.FAIL, errcode="NO_AUTH")
    worker.work_due(later(hours=24, seconds=1))
    assert fresh(payout.id).status is PayoutStatus.IN_DOUBT and cash(requested.app_user_id) == 200
    # The next attempt cancels it for real: a definitive CANCELLED, and only now the money goes back.
    worker.work_due(later(hours=26))
    cancelled = fresh(payout.id)
    assert cancelled.status is PayoutStatus.CANCELLED and cancelled.wechat_state == "CANCELLED"
    assert cash(requested.app_user_id) == 500
    assert money_violations(sandbox) == []


def test_a_definitive_answer_in_doubt_puts_it_back_on_its_step(app, sandbox):
    requested, payout = waiting_withdrawal(sandbox)
    faults.inject(sandbox.state, "transfer_bills.query", faults.SYSTEM_ERROR)
    worker.work_due(later(seconds=worker.QUERY_WAITING_SECONDS + 1))
    assert fresh(payout.id).status is PayoutStatus.IN_DOUBT
    worker.work_due(later(hours=1))  # still WAIT_USER_CONFIRM at WeChat
    back = fresh(payout.id)
    assert (back.status, back.doubt_from, back.last_error) == (PayoutStatus.WAITING, None, None)


def test_a_refused_create_after_an_earlier_create_made_the_bill_is_not_failed(app, sandbox, monkeypatch):
    user = make_user()
    payout = prize(user)
    worker_killed_after_create(monkeypatch)
    # The worker's next run finds the bill, but WeChat refuses the create it makes for the package.
    faults.inject(sandbox.state, "transfer_bills.create", faults.FAIL, errcode="NO_AUTH")
    worker.work_due(later(seconds=worker.LEASE_SECONDS + 1))
    doubted = fresh(payout.id)
    assert (doubted.status, doubted.doubt_from) == (PayoutStatus.IN_DOUBT, PayoutStatus.CREATING)
    worker.work_due(later(hours=1))
    waiting = fresh(payout.id)
    assert waiting.status is PayoutStatus.WAITING and waiting.package_info
    assert len(bills(sandbox, user.openid)) == 1


def test_a_refused_create_whose_number_has_no_bill_fails_but_not_if_the_query_is_refused_too(
        app, sandbox, monkeypatch):
    requested = withdrawal()
    real = pay.create_transfer

    def refused_and_then_the_query_too(**kwargs):
        faults.inject(sandbox.state, "transfer_bills.query", faults.FAIL, errcode="NO_AUTH")
        return real(**kwargs)

    monkeypatch.setattr(pay, "create_transfer", refused_and_then_the_query_too)
    faults.inject(sandbox.state, "transfer_bills.create", faults.FAIL, errcode="NOT_ENOUGH")
    worker.work_due()  # query: no bill; create: refused; query: refused — nothing proves no bill
    doubted = fresh(requested.payout_id)
    assert (doubted.status, doubted.doubt_from) == (PayoutStatus.IN_DOUBT, PayoutStatus.CREATING)
    assert cash(requested.app_user_id) == 200
    monkeypatch.undo()
    faults.inject(sandbox.state, "transfer_bills.create", faults.FAIL, errcode="NOT_ENOUGH")
    worker.work_due(later(hours=1))  # query: no bill; create: refused; query: no bill — so it made nothing
    failed = fresh(requested.payout_id)
    assert (failed.status, failed.fail_reason) == (PayoutStatus.FAILED, "NOT_ENOUGH")
    assert cash(requested.app_user_id) == 500 and bills(sandbox, failed.openid) == []
    assert money_violations(sandbox) == []


def test_a_long_doubt_is_listed_for_people_and_cleared_by_the_answer(app, client, sandbox, auth):
    requested, payout = waiting_withdrawal(sandbox)
    faults.inject(sandbox.state, "transfer_bills.query", faults.HTTP_500, times=3)
    worker.work_due(later(seconds=worker.QUERY_WAITING_SECONDS + 1))
    assert incidents(payout.id) == {}  # not yet: doubts are normal for a while
    worker.work_due(later(hours=2))
    [incident] = incidents(payout.id).values()
    assert incident.kind is IncidentKind.IN_DOUBT and incident.amount_fen == 300 and incident.resolved_at is None
    headers = auth.headers_for("finance")
    listed = client.get("/api/admin/payouts/incidents", headers=headers)
    assert listed.status_code == 200
    assert [(i["payout_id"], i["kind"], i["amount_fen"]) for i in listed.get_json()] == [
        (payout.id, "in_doubt", 300)]
    worker.work_due(later(hours=4))  # still failing: the same incident, not a second
    assert len(incidents(payout.id)) == 1
    worker.work_due(later(hours=6))  # WeChat answers
    cleared = incidents(payout.id)[IncidentKind.IN_DOUBT]
    assert cleared.resolved_by == "worker" and "WAIT_USER_CONFIRM" in cleared.resolution
    assert client.get("/api/admin/payouts/incidents", headers=headers).get_json() == []


# --- a late truth -------------------------------------------------------------------------------------

def thought_failed(payout_id: int) -> None:
    """Make a waiting payout final as failed, as an earlier bug (or a person) did, its money returned."""
    with transaction():
        payout = service.get_payout(payout_id, lock=True)
        assert transitions._apply(payout, PayoutStatus.FAILED, state="FAIL", fail_reason="thought so")


def test_a_late_success_after_we_failed_it_takes_the_withdrawal_back(app, client, sandbox, notify_to):
    requested, payout = waiting_withdrawal(sandbox)
    thought_failed(payout.id)
    assert cash(requested.app_user_id) == 500
    user_acts(sandbox, payout.out_bill_no)
    assert forward(client, notify_to.wait_for(1)) == [204]
    paid = fresh(payout.id)
    assert paid.status is PayoutStatus.SUCCEEDED and paid.fail_reason is None
    assert db.session.get(Withdrawal, requested.id).status is WithdrawalStatus.PAID
    assert cash(requested.app_user_id) == 200
    assert ledger_sources(requested.app_user_id)[-1] == f"withdrawal-reclaim:{requested.id}"
    [record] = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "payout.late_success")).all()
    assert record.changes["status"] == ["failed", "succeeded"]
    assert incidents(payout.id) == {} and money_violations(sandbox) == []


def test_a_late_success_whose_money_is_gone_raises_an_incident_with_the_amount(app, client, sandbox, notify_to):
    requested, payout = waiting_withdrawal(sandbox)
    thought_failed(payout.id)
    clerk = db.session.get(AppUser, requested.app_user_id)
    with transaction():  # the clerk withdraws the returned cash again before the truth arrives
        withdrawals.request_withdrawal(user=clerk, amount=400, request_id="w-2")
    user_acts(sandbox, payout.out_bill_no)
    assert forward(client, notify_to.wait_for(1)) == [204]
    assert fresh(payout.id).status is PayoutStatus.SUCCEEDED
    assert db.session.get(Withdrawal, requested.id).status is WithdrawalStatus.PAID
    assert cash(requested.app_user_id) == 100  # nothing taken: 100 < 300
    unrecovered = incidents(payout.id)[IncidentKind.UNRECOVERED]
    assert unrecovered.amount_fen == 300 and "could not be taken back" in unrecovered.detail
    assert money_violations(sandbox) == []


def test_reconciliation_applies_a_late_success_and_cancels_a_payable_bill_of_a_returned_payout(app, sandbox):
    paid_late, payable = waiting_withdrawal(sandbox), waiting_withdrawal(sandbox)
    for _requested, payout in (paid_late, payable):
        thought_failed(payout.id)
    user_acts(sandbox, paid_late[1].out_bill_no)  # the callback is lost
    result = reconciliation.reconcile(later())
    notes = {m["payout_id"]: m for m in result.mismatches}
    assert notes[paid_late[1].id]["repaired"] and notes[paid_late[1].id]["wechat"] == "SUCCESS"
    assert fresh(paid_late[1].id).status is PayoutStatus.SUCCEEDED and cash(paid_late[0].app_user_id) == 200
    assert notes[payable[1].id]["repaired"] and "still payable" in notes[payable[1].id]["note"]
    assert sandbox_pay.pay_state(sandbox.state).bills[payable[1].out_bill_no].state == "CANCELLED"
    assert IncidentKind.RECONCILE in incidents(payable[1].id)
    assert money_violations(sandbox) == []


# --- the fault scenario -------------------------------------------------------------------------------

def test_workers_killed_among_wechat_pay_faults_never_pay_twice_or_return_unpaid_money(
        app, client, sandbox, notify_to, monkeypatch):
    rng = random.Random(12)
    requested = [withdrawal(request_id=f"w-{i}") for i in range(12)]
    kinds = [(faults.FAIL, {"errcode": "NO_AUTH"}), (faults.FAIL, {"errcode": "SIGN_ERROR", "http_status": 401}),
             (faults.FAIL, {"errcode": "PARAM_ERROR", "http_status": 400}), (faults.SYSTEM_ERROR, {}),
             (faults.HTTP_500, {}), (faults.BAD_SIGNATURE, {}), (faults.UNSIGNED, {}), (faults.RATE_LIMITED, {})]
    operations = ["transfer_bills.create", "transfer_bills.query", "transfer_bills.cancel"]
    real = {name: getattr(pay, name) for name in ("create_transfer", "query_transfer", "cancel_transfer")}

    def killed_after(name):
        def call(**kwargs):
            real[name](**kwargs)
            raise Killed(f"killed after {name}")
        return call

    seen = 0

    def new_callbacks():
        nonlocal seen
        fresh_ones = list(notify_to.received[seen:])
        seen += len(fresh_ones)
        return fresh_ones

    moment = later()
    for _round in range(30):
        moment += timedelta(seconds=rng.choice([worker.QUERY_WAITING_SECONDS + 1, 3600, 6 * 3600]))
        for _ in range(rng.randint(0, 3)):
            kind, extra = rng.choice(kinds)
            faults.inject(sandbox.state, rng.choice(operations), kind, **extra)
        if rng.random() < 0.3:
            name = rng.choice(list(real))
            monkeypatch.setattr(pay, name, killed_after(name))
            try:
                worker.work_due(moment)
            except Killed:
                pass
            monkeypatch.undo()
            db.session.rollback()
            moment += timedelta(seconds=worker.LEASE_SECONDS + 1)
        else:
            worker.work_due(moment)
        for bill in list(sandbox_pay.pay_state(sandbox.state).bills.values()):
            if bill.state == "WAIT_USER_CONFIRM" and rng.random() < 0.3:
                user_acts(sandbox, bill.out_bill_no, rng.choice(["confirm", "confirm", "decline"]))
        forward(client, new_callbacks())
        assert money_violations(sandbox) == []
    faults.clear_faults(sandbox.state)
    for _ in range(4):  # no more faults: everything settles
        moment += timedelta(hours=25)
        worker.work_due(moment)
    forward(client, new_callbacks())
    statuses = {fresh(r.payout_id).status for r in requested}
    assert statuses <= {PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.CANCELLED}
    assert money_violations(sandbox) == []
    for r in requested:  # one bill at most per payout, and a paid withdrawal is exactly a SUCCESS bill
        payout = fresh(r.payout_id)
        found = bills(sandbox, payout.openid)
        assert len(found) <= 1
        assert (payout.status is PayoutStatus.SUCCEEDED) == bool(found and found[0].state == "SUCCESS")
