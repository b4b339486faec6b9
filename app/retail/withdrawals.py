"""Withdrawals: a clerk takes accrued cash out through the payout queue, cancels it while unpaid, and
the payout queue settles it (paid, or failed with the cash back)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import AppUser
from app.db import insert_once, utcnow
from app.extensions import db
from app.payouts import queue, service as payouts
from app.payouts.models import PayoutPurpose, PayoutRef, PayoutStatus
from app.reports import facts as report_facts, rollups
from app.retail.errors import (
    WithdrawalBelowMinimum, WithdrawalNotCancellable, WithdrawalNotFound, WithdrawalRequestReused,
)
from app.retail.ledger import credit, debit
from app.retail.models import RewardBalance, RewardKind, Withdrawal, WithdrawalStatus


def withdrawal_minimum() -> int:
    return current_app.config["WITHDRAWAL_MIN_FEN"]


def _withdrawal_by_request(app_user_id: int, request_id: str, *, lock: bool = False) -> Withdrawal | None:
    query = sa.select(Withdrawal).where(Withdrawal.app_user_id == app_user_id, Withdrawal.request_id == request_id)
    return db.session.scalar(query.with_for_update() if lock else query)


def request_withdrawal(*, user: AppUser, amount: int, request_id: str) -> Withdrawal:
    """Take accrued cash (fen) out for the payout queue; the same request_id is the same withdrawal."""
    existing = _withdrawal_by_request(user.id, request_id)  # plain read: no gap lock (see ledger._entry)
    if existing is None:
        if amount < withdrawal_minimum():
            raise WithdrawalBelowMinimum(f"A withdrawal is at least {withdrawal_minimum()} fen.")
        withdrawal = Withdrawal(app_user_id=user.id, request_id=request_id, amount=amount,
                                status=WithdrawalStatus.REQUESTED)
        if not insert_once(withdrawal):  # the same request sent twice at once
            existing = _withdrawal_by_request(user.id, request_id, lock=True)
        else:
            debit(app_user_id=user.id, kind=RewardKind.CASH, amount=amount, source=f"withdrawal:{withdrawal.id}",
                  note="Withdrawal requested")
            withdrawal.payout_id = queue.enqueue(source=PayoutRef(PayoutPurpose.WITHDRAWAL, withdrawal.id),
                                                 app_user=user, amount_fen=amount).id
            return withdrawal
    if existing.amount != amount:
        raise WithdrawalRequestReused()
    return existing


def _my_withdrawal(user: AppUser, withdrawal_id: int, *, lock: bool = False) -> Withdrawal:
    query = sa.select(Withdrawal).where(Withdrawal.id == withdrawal_id)
    withdrawal = db.session.scalar(query.with_for_update() if lock else query)
    if withdrawal is None or withdrawal.app_user_id != user.id:
        raise WithdrawalNotFound()
    return withdrawal


def get_my_withdrawal(*, user: AppUser, withdrawal_id: int) -> Withdrawal:
    return _my_withdrawal(user, withdrawal_id)


def cancel_withdrawal(*, user: AppUser, withdrawal_id: int) -> Withdrawal:
    """The clerk takes back a withdrawal the payout queue hasn't paid: the cash returns to the balance."""
    withdrawal = _my_withdrawal(user, withdrawal_id, lock=True)
    if withdrawal.status is WithdrawalStatus.CANCELLED:
        return withdrawal
    if withdrawal.status is not WithdrawalStatus.REQUESTED:
        raise WithdrawalNotCancellable()
    if withdrawal.payout_id is not None:  # only while no bill exists (pending/held); else 409
        payout = payouts.get_payout(withdrawal.payout_id, lock=True)
        if payout.status not in (PayoutStatus.PENDING, PayoutStatus.HELD):
            raise WithdrawalNotCancellable()
        payout.status, payout.finished_at, payout.fail_reason = PayoutStatus.CANCELLED, utcnow(), "withdrawal cancelled"
        rollups.add_all(report_facts.payout_moved(payout, was_status=None, was_finished_at=None, region_code=None))
    withdrawal.status = WithdrawalStatus.CANCELLED
    withdrawal.updated_at = utcnow()
    credit(app_user_id=user.id, kind=RewardKind.CASH, amount=withdrawal.amount,
           source=f"withdrawal-cancel:{withdrawal.id}", note="Withdrawal cancelled")
    return withdrawal


def settle_withdrawal(*, payout_id: int, paid: bool) -> Withdrawal | None:
    """The payout queue settles a withdrawal (inside its transaction, through app/retail/handlers.py): paid, or
    failed with the cash back."""
    withdrawal = db.session.scalar(sa.select(Withdrawal).where(Withdrawal.payout_id == payout_id).with_for_update())
    if withdrawal is None or withdrawal.status is not WithdrawalStatus.REQUESTED:
        return withdrawal
    withdrawal.updated_at = utcnow()
    if paid:
        withdrawal.status = WithdrawalStatus.PAID
        return withdrawal
    withdrawal.status = WithdrawalStatus.FAILED
    credit(app_user_id=withdrawal.app_user_id, kind=RewardKind.CASH, amount=withdrawal.amount,
           source=f"withdrawal-return:{withdrawal.id}", note="Withdrawal not paid: returned")
    return withdrawal


def reclaim_withdrawal(*, payout_id: int) -> bool:
    """A withdrawal whose cash went back was paid after all (a late SUCCESS): it is paid, and its cash is
    taken from the balance again (source "withdrawal-reclaim:<id>", once). False when the balance no
    longer holds it: nothing is taken and the payout queue raises an incident with the amount."""
    withdrawal = db.session.scalar(sa.select(Withdrawal).where(Withdrawal.payout_id == payout_id).with_for_update())
    if withdrawal is None or withdrawal.status is WithdrawalStatus.PAID:
        return withdrawal is not None
    held = db.session.scalar(sa.select(RewardBalance.balance).where(
        RewardBalance.app_user_id == withdrawal.app_user_id, RewardBalance.kind == RewardKind.CASH).with_for_update())
    withdrawal.status, withdrawal.updated_at = WithdrawalStatus.PAID, utcnow()
    if (held or 0) < withdrawal.amount:
        return False
    debit(app_user_id=withdrawal.app_user_id, kind=RewardKind.CASH, amount=withdrawal.amount,
          source=f"withdrawal-reclaim:{withdrawal.id}", note="Withdrawal paid after all: taken back")
    return True


def list_withdrawals(*, app_user_id: int | None = None, status: str | None = None):
    query = sa.select(Withdrawal).order_by(Withdrawal.id.desc())
    if app_user_id is not None:
        query = query.where(Withdrawal.app_user_id == app_user_id)
    if status:
        query = query.where(Withdrawal.status == WithdrawalStatus(status))
    return query
