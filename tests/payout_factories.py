"""Payouts for tests: users, prizes and withdrawals queued, the sandbox user acting, and the money invariants."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
import requests
import sqlalchemy as sa

from app.accounts.models import AppName, AppUser, Person
from app.campaigns.models import Campaign, Draw, PrizeKind
from app.db import transaction, utcnow
from app.extensions import db
from app.payouts import service
from app.payouts.models import IncidentKind, Payout, PayoutIncident, PayoutStatus
from app.retail import service as retail
from app.retail.models import (
    LedgerEntry,
    RewardBalance,
    RewardKind,
    Withdrawal,
    WithdrawalStatus,
)
from app.wechat import pay
from app.wechat.sandbox import pay as sandbox_pay

NOTIFY = "/api/payouts/wechat/notify"
RETURNED = (PayoutStatus.FAILED, PayoutStatus.CANCELLED)
_names = itertools.count(1)


class Killed(BaseException):
    """The worker process dies (not an Exception: nothing in the worker catches it)."""


def worker_killed_after_create(monkeypatch) -> None:
    """Run the worker once; it dies right after WeChat made the bill, before recording it; then it restarts."""
    real = pay.create_transfer

    def created_then_killed(**kwargs):
        real(**kwargs)
        raise Killed("killed before recording the bill")

    monkeypatch.setattr(pay, "create_transfer", created_then_killed)
    with pytest.raises(Killed):
        service.work_due()
    monkeypatch.undo()  # the worker restarts
    db.session.rollback()


def make_user(app: AppName = AppName.CONSUMER) -> AppUser:
    with transaction():
        person = Person()
        db.session.add(person)
        db.session.flush()
        user = AppUser(app=app, openid=f"o-payout-{next(_names)}-{person.id}", person_id=person.id)
        db.session.add(user)
    return user


def prize(user: AppUser, amount: int = 88, source: str | None = None, **kwargs) -> Payout:
    with transaction():
        return service.enqueue(purpose="prize", source=source or f"draw:{user.id}-{next(_names)}", app_user=user,
                               amount_fen=amount, **kwargs)


def withdrawal(amount: int = 300, cash: int = 500, request_id: str = "w-1") -> Withdrawal:
    user = make_user(AppName.CLERK)
    with transaction():
        retail.credit(app_user_id=user.id, kind="cash", amount=cash, source=f"adjust:{user.id}")
        return retail.request_withdrawal(user=user, amount=amount, request_id=request_id)


def cash(app_user_id: int) -> int:
    db.session.rollback()  # a fresh snapshot (MariaDB: repeatable read)
    return db.session.scalar(sa.select(RewardBalance.balance).where(
        RewardBalance.app_user_id == app_user_id, RewardBalance.kind == RewardKind.CASH)) or 0


def fresh(payout_id: int) -> Payout:
    db.session.rollback()  # a fresh snapshot (MariaDB: repeatable read)
    return db.session.get(Payout, payout_id)


def later(**delta) -> datetime:
    return utcnow() + timedelta(**delta)


def bills(sandbox, openid: str) -> list:
    return [b for b in sandbox_pay.pay_state(sandbox.state).bills.values() if b.params["openid"] == openid]


def user_acts(sandbox, out_bill_no: str, action: str = "confirm") -> None:
    response = requests.post(f"{sandbox.url}/__sandbox__/transfers/{out_bill_no}/{action}", timeout=5)
    assert response.status_code == 200, response.text


def forward(client, received) -> list[int]:
    """Post the callbacks the sandbox sent to our notify endpoint, as WeChat would; their statuses."""
    return [client.post(NOTIFY, data=body, headers=headers).status_code for headers, body in received]


@pytest.fixture
def notify_to(app, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "WECHATPAY_NOTIFY_URL", receiver.url)
    return receiver


# --- the invariants every fault scenario ends with -------------------------------------------------

def unrecovered_fen(payout_ids) -> int:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(PayoutIncident.amount_fen), 0)).where(
        PayoutIncident.kind == IncidentKind.UNRECOVERED, PayoutIncident.payout_id.in_(list(payout_ids)))) or 0


def money_violations(sandbox) -> list[str]:
    """What breaks the money rules, in words (empty when they hold):

    - for each campaign, spent = the cash of its live prizes (drawn, payout not returned), less what an
      incident says could not be taken back;
    - for each clerk, balance + in flight + paid = earned (less the same);
    - no bill at WeChat is payable or paid for a payout whose money was returned;
    - never two bills for one payout (bills are keyed by its number: one per payout by construction),
      and never a bill under a number that is not a payout's.
    """
    db.session.rollback()
    found = []
    for campaign in db.session.scalars(sa.select(Campaign)):
        draws = db.session.execute(sa.select(Draw.id, Draw.amount).where(
            Draw.campaign_id == campaign.id, Draw.prize_kind == PrizeKind.CASH)).all()
        payouts = {p.source: p for p in db.session.scalars(sa.select(Payout).where(
            Payout.source.in_([f"draw:{d.id}" for d in draws])))}
        live = sum(amount for draw_id, amount in draws
                   if payouts.get(f"draw:{draw_id}") is None or payouts[f"draw:{draw_id}"].status not in RETURNED)
        lost = unrecovered_fen(p.id for p in payouts.values())
        if campaign.spent_fen != live - lost:
            found.append(f"campaign {campaign.id}: spent {campaign.spent_fen} != live prizes {live} - lost {lost}")
    clerks = db.session.scalars(sa.select(AppUser.id).where(AppUser.app == AppName.CLERK)).all()
    for clerk in clerks:
        earned = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.app_user_id == clerk, LedgerEntry.kind == RewardKind.CASH,
            sa.not_(LedgerEntry.source.startswith("withdrawal")))) or 0
        by_status = dict(db.session.execute(sa.select(Withdrawal.status, sa.func.sum(Withdrawal.amount)).where(
            Withdrawal.app_user_id == clerk).group_by(Withdrawal.status)).all())
        in_flight = by_status.get(WithdrawalStatus.REQUESTED, 0) or 0
        paid = by_status.get(WithdrawalStatus.PAID, 0) or 0
        lost = unrecovered_fen(db.session.scalars(sa.select(Payout.id).where(Payout.app_user_id == clerk)))
        balance = cash(clerk)
        if balance + in_flight + paid != earned + lost:
            found.append(f"clerk {clerk}: balance {balance} + in flight {in_flight} + paid {paid} != "
                         f"earned {earned} + lost {lost}")
    ours = {p.out_bill_no: p for p in db.session.scalars(sa.select(Payout))}
    for bill in list(sandbox_pay.pay_state(sandbox.state).bills.values()):
        payout = ours.get(bill.out_bill_no)
        if payout is None:
            found.append(f"bill {bill.out_bill_no}: no payout has this number")
        elif payout.status in RETURNED and bill.state not in ("FAIL", "CANCELLED"):
            found.append(f"payout {payout.id} is {payout.status.value} (money returned) but its bill is {bill.state}")
    return found
