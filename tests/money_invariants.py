"""The money rules every fault scenario ends with, checked in the database (the tests and
bench/payout_invariants.py each add what WeChat's side says about the bills)."""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import AppName, AppUser
from app.campaigns.models import Campaign, Draw, PrizeKind
from app.extensions import db
from app.payouts.models import IncidentKind, Payout, PayoutIncident, PayoutStatus
from app.retail.models import LedgerEntry, RewardBalance, RewardKind, Withdrawal, WithdrawalStatus

RETURNED = (PayoutStatus.FAILED, PayoutStatus.CANCELLED)  # the money went back where it came from


def unrecovered_fen(payout_ids) -> int:
    """What `unrecovered` incidents (open or resolved: the money left either way) say of these payouts."""
    ids = list(payout_ids)
    if not ids:
        return 0
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(PayoutIncident.amount_fen), 0)).where(
        PayoutIncident.kind == IncidentKind.UNRECOVERED, PayoutIncident.payout_id.in_(ids))) or 0


def ledger_violations() -> list[str]:
    """What breaks the rules, in words (empty when they hold):

    - for each campaign, spent = the cash of its live prizes (drawn, payout not returned), less what an
      incident says could not be taken back; never over its budget; no cash draw without its payout;
    - for each clerk, balance + in flight + paid = earned, plus what an incident says could not be
      taken back (it is still in the balance).
    """
    found = []
    for campaign in db.session.scalars(sa.select(Campaign)):
        draws = db.session.execute(sa.select(Draw.id, Draw.amount).where(
            Draw.campaign_id == campaign.id, Draw.prize_kind == PrizeKind.CASH)).all()
        payouts = {p.source: p for p in db.session.scalars(sa.select(Payout).where(
            Payout.source.in_([f"draw:{d.id}" for d in draws])))} if draws else {}
        live = sum(amount for draw_id, amount in draws
                   if payouts.get(f"draw:{draw_id}") is None or payouts[f"draw:{draw_id}"].status not in RETURNED)
        lost = unrecovered_fen(p.id for p in payouts.values())
        unpaid = [draw_id for draw_id, amount in draws if amount and f"draw:{draw_id}" not in payouts]
        if unpaid:  # a cash prize is drawn in the same transaction as its payout
            found.append(f"campaign {campaign.id}: cash draws without a payout: {unpaid[:10]}")
        if campaign.spent_fen > campaign.total_budget_fen:
            found.append(f"campaign {campaign.id}: spent {campaign.spent_fen} > budget {campaign.total_budget_fen}")
        if campaign.spent_fen != live - lost:
            found.append(f"campaign {campaign.id}: spent {campaign.spent_fen} != live prizes {live} - lost {lost}")
    for clerk in db.session.scalars(sa.select(AppUser.id).where(AppUser.app == AppName.CLERK)).all():
        earned = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.app_user_id == clerk, LedgerEntry.kind == RewardKind.CASH,
            sa.not_(LedgerEntry.source.startswith("withdrawal")))) or 0
        by_status = dict(db.session.execute(sa.select(Withdrawal.status, sa.func.sum(Withdrawal.amount)).where(
            Withdrawal.app_user_id == clerk).group_by(Withdrawal.status)).all())
        in_flight = by_status.get(WithdrawalStatus.REQUESTED, 0) or 0
        paid = by_status.get(WithdrawalStatus.PAID, 0) or 0
        balance = db.session.scalar(sa.select(RewardBalance.balance).where(
            RewardBalance.app_user_id == clerk, RewardBalance.kind == RewardKind.CASH)) or 0
        lost = unrecovered_fen(db.session.scalars(sa.select(Payout.id).where(Payout.app_user_id == clerk)))
        if balance + in_flight + paid != earned + lost:
            found.append(f"clerk {clerk}: balance {balance} + in flight {in_flight} + paid {paid} != "
                         f"earned {earned} + lost {lost}")
    return found
