"""Where a payout's status may go, and what its ending settles.

States only move forward (``_apply``): a late PROCESSING after SUCCESS changes nothing, so callbacks
and queries may arrive in any order and any number of times. Reaching FAILED or CANCELLED returns
the money (``_return_money``); SUCCEEDED settles what was paid (a withdrawal becomes paid); each
through the handler of the payout's purpose (app.payouts.settlement). A SUCCESS that arrives after we
made a payout final as failed or cancelled is still the truth: it is recorded and the returned money
taken back (``_late_success``), or, when that cannot be done, an incident names the amount.
"""
from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa

from app.db import utcnow
from app.extensions import db
from app.identity.service import Actor, audit
from app.payouts import settlement
from app.payouts.incidents import _raise_incident
from app.payouts.models import IncidentKind, Payout, PayoutIncident, PayoutStatus
from app.reports import facts, rollups

log = logging.getLogger(__name__)

# Statuses under which a bill may exist at WeChat Pay and is not final here.
OPEN = (PayoutStatus.CREATING, PayoutStatus.WAITING, PayoutStatus.PROCESSING, PayoutStatus.IN_DOUBT)
FINAL = frozenset({PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.CANCELLED})
# How far along each status is: a payout only moves forward (IN_DOUBT ranks as the step it was on).
_RANK = {PayoutStatus.PENDING: 0, PayoutStatus.HELD: 0, PayoutStatus.CREATING: 1, PayoutStatus.IN_DOUBT: 1,
         PayoutStatus.WAITING: 2,
         PayoutStatus.PROCESSING: 3, PayoutStatus.SUCCEEDED: 4, PayoutStatus.FAILED: 4,
         PayoutStatus.CANCELLED: 4}


def _apply(payout: Payout, status: PayoutStatus, *, state: str | None, transfer_bill_no: str | None = None,
           package_info: str | None = None, fail_reason: str | None = None, now: datetime | None = None) -> bool:
    """Move a (locked) payout forward to what WeChat says; True when it changed. Never backwards, except
    that a SUCCESS after we made it failed or cancelled is the truth and is applied (``_late_success``)."""
    now = now or utcnow()
    if transfer_bill_no and not payout.transfer_bill_no:
        payout.transfer_bill_no = transfer_bill_no
    if package_info and payout.status not in FINAL:
        payout.package_info = package_info
    if payout.bill_created_at is None and (transfer_bill_no or _RANK[status] >= _RANK[PayoutStatus.WAITING]
                                           and status is not PayoutStatus.FAILED):
        payout.bill_created_at = now  # the bill exists from now: the confirm window runs from here
    if payout.status in FINAL:
        if status is PayoutStatus.SUCCEEDED and payout.status is not PayoutStatus.SUCCEEDED:
            _late_success(payout, state=state, now=now)
            return True
        return False
    doubted = payout.status is PayoutStatus.IN_DOUBT
    step = payout.doubt_from if doubted else payout.status
    if _RANK[status] <= _RANK[step]:
        if not doubted:
            return False
        status = step  # a definitive answer, not past the step it was on: out of doubt, back on that step
    if doubted:
        _end_doubt(payout, state=state, now=now)
    payout.status = status
    payout.wechat_state = state
    if status in FINAL:
        payout.finished_at = now
        _count_ending(payout, was_status=None, was_finished_at=None)
        payout.fail_reason = (fail_reason or None) if status is not PayoutStatus.SUCCEEDED else None
        if status is PayoutStatus.SUCCEEDED:
            _settle_paid(payout)
        else:
            _return_money(payout)
    return True


def _end_doubt(payout: Payout, *, state: str | None, now: datetime) -> None:
    payout.doubt_from = payout.in_doubt_since = None
    db.session.execute(sa.update(PayoutIncident).where(
        PayoutIncident.payout_id == payout.id, PayoutIncident.kind == IncidentKind.IN_DOUBT,
        PayoutIncident.resolved_at.is_(None)).values(
        resolved_at=now, resolved_by="worker", resolution=f"WeChat Pay answered {state}"))


def _late_success(payout: Payout, *, state: str | None, now: datetime) -> None:
    """WeChat paid a payout we had made final as failed or cancelled (its money returned): record the
    payment and take the money back from where it went; an incident names what could not be."""
    was, was_finished_at = payout.status, payout.finished_at
    payout.status, payout.wechat_state, payout.fail_reason, payout.finished_at = (
        PayoutStatus.SUCCEEDED, state, None, now)
    _count_ending(payout, was_status=was, was_finished_at=was_finished_at)
    recovered = _reclaim_money(payout)
    audit(Actor.system("payouts"), "payout.late_success", payout,
          {"status": [was.value, payout.status.value], "recovered_fen": [0, payout.amount_fen if recovered else 0]})
    if not recovered:
        log.error("payout %s was paid after its money was returned; %s fen could not be taken back",
                  payout.id, payout.amount_fen)
        _raise_incident(payout, IncidentKind.UNRECOVERED, payout.amount_fen,
                        f"paid by WeChat Pay after it was {was.value}; the {payout.amount_fen} fen returned "
                        f"could not be taken back ({payout.purpose.value} {payout.source})")


def _count_ending(payout: Payout, *, was_status: PayoutStatus | None, was_finished_at: datetime | None) -> None:
    """Move the payout's fact in the rollups to its new ending, in the region its purpose's handler names."""
    region = settlement.handler(payout.purpose).region(payout)
    rollups.add_all(facts.payout_moved(payout, was_status=was_status, was_finished_at=was_finished_at,
                                       region_code=region))


def _settle_paid(payout: Payout) -> None:
    """What a paid payout settles, said by its purpose's handler (a withdrawal becomes paid)."""
    settlement.handler(payout.purpose).paid(payout)


def _return_money(payout: Payout) -> None:
    """The money of a payout that failed or was cancelled goes back where it came from, in this transaction:
    its purpose's handler returns it (a withdrawal to the clerk's balance, a prize to its campaign)."""
    settlement.handler(payout.purpose).returned(payout)


def _reclaim_money(payout: Payout) -> bool:
    """Undo ``_return_money`` for a payout paid after all; False when the money is no longer there."""
    return settlement.handler(payout.purpose).reclaimed(payout)
