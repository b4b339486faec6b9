"""What retail does when a clerk's withdrawal is paid or not (the withdrawal's settlement handler).

Registered for ``PayoutPurpose.WITHDRAWAL`` by ``app.bootstrap``; the payout queue calls it inside its
transaction with the locked payout. A withdrawal knows its payout by ``payout_id``.
"""
from __future__ import annotations

from app.payouts import settlement
from app.payouts.models import Payout, PayoutPurpose
from app.retail import withdrawals


def register(registry: settlement.Registry) -> None:
    """Name the withdrawal's handler in the payouts' registry."""
    registry.register(PayoutPurpose.WITHDRAWAL, settlement.Handler(
        paid=withdrawal_paid, returned=withdrawal_returned, reclaimed=withdrawal_reclaimed, region=no_region))


def withdrawal_paid(payout: Payout) -> None:
    """WeChat paid the withdrawal: it becomes paid."""
    withdrawals.settle_withdrawal(payout_id=payout.id, paid=True)


def withdrawal_returned(payout: Payout) -> None:
    """The withdrawal was not paid: it fails and its cash goes back to the clerk's balance."""
    withdrawals.settle_withdrawal(payout_id=payout.id, paid=False)


def withdrawal_reclaimed(payout: Payout) -> bool:
    """Paid after its cash went back: the cash is taken again (False: the balance no longer holds it)."""
    return withdrawals.reclaim_withdrawal(payout_id=payout.id)


def no_region(payout: Payout) -> None:
    """A withdrawal is counted in no region: a clerk's cash is earned across sales, not in one place."""
    return None
