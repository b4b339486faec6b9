"""The daily reconciliation: our payouts against WeChat Pay's bills, repaired where a definitive answer allows."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app

from app.db import retrying, transaction, utcnow
from app.extensions import db
from app.identity.service import Actor, audit
from app.payouts.incidents import _raise_incident
from app.payouts.models import IncidentKind, Payout, PayoutChannel, PayoutPurpose, PayoutStatus, Reconciliation
from app.payouts.service import get_payout
from app.payouts.transitions import FINAL, OPEN, _apply
from app.payouts.wechat_calls import _Job, _Outcome, _redpack_query, _transfer_call
from app.wechat import pay


def reconcile(day: datetime, *, sample: int | None = None) -> Reconciliation:
    """Compare our payouts with WeChat's bills and repair what a definitive answer allows.

    Asked: every open payout (a bill may exist and is not final here), whatever its day, and a sample
    of ``sample`` (PAYOUT_RECONCILE_SAMPLE) of the payouts created that UTC day that are final. A
    definitive state WeChat holds is applied as the worker or a callback would (forward, or a late
    SUCCESS); a returned payout whose bill is still payable has its bill cancelled; what cannot be
    repaired is an incident. Every repair writes an audit record. Runs its own transactions (WeChat
    is asked outside any); a second run of a day replaces the first.
    """
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    sample = current_app.config["PAYOUT_RECONCILE_SAMPLE"] if sample is None else sample
    columns = (Payout.id, Payout.status, Payout.doubt_from, Payout.channel, Payout.out_bill_no)
    open_rows = db.session.execute(sa.select(*columns).where(Payout.status.in_(OPEN)).order_by(Payout.id)).all()
    final_rows = db.session.execute(sa.select(*columns).where(
        Payout.created_at >= start, Payout.created_at < start + timedelta(days=1),
        Payout.status.in_(FINAL)).order_by(Payout.id)).all()
    db.session.rollback()
    if len(final_rows) > sample:
        final_rows = sorted(random.sample(final_rows, sample))
    mismatches = []
    for payout_id, status, doubt_from, channel, out_bill_no in (*open_rows, *final_rows):
        ours = PayoutStatus.IN_DOUBT if status is PayoutStatus.IN_DOUBT else status
        job = _Job(id=payout_id, status=PayoutStatus.PROCESSING, channel=channel, purpose=PayoutPurpose.PRIZE,
                   out_bill_no=out_bill_no, openid="", amount_fen=0, bill_created_at=None, created_at=start)
        found = _redpack_query(job) if channel is PayoutChannel.REDPACK else _transfer_call(
            pay.query_transfer, out_bill_no=out_bill_no)
        item = {"payout_id": payout_id, "out_bill_no": out_bill_no, "ours": ours.value, "wechat": found.state,
                "note": "", "repaired": False}
        if found.error:
            item["note"] = found.error[:200]
        elif found.missing:
            if status in (PayoutStatus.CANCELLED, PayoutStatus.FAILED) or PayoutStatus.CREATING in (status, doubt_from):
                continue  # nothing was made, or the worker will make it under this number
            item["note"] = "no bill at WeChat Pay"
            retrying(lambda: _reconcile_incident(payout_id, item["note"]))
        elif found.status is status:
            continue
        elif status in (PayoutStatus.FAILED, PayoutStatus.CANCELLED) and found.status not in FINAL:
            # Its money went back, yet WeChat holds a bill that can still be paid: withdraw the bill. If
            # the user pays it first, that SUCCESS is applied as a late one when it is seen.
            cancelled = _transfer_call(pay.cancel_transfer, out_bill_no=out_bill_no) \
                if channel is PayoutChannel.TRANSFER else _Outcome(error="a red packet cannot be withdrawn")
            item["note"] = (f"bill still payable after the money was returned; "
                            f"cancel: {cancelled.state or cancelled.error}")[:200]
            item["repaired"] = cancelled.state in ("CANCELLED", "CANCELING")
            retrying(lambda: _reconcile_incident(payout_id, item["note"], bill=[found.state, cancelled.state]))
        elif found.status not in FINAL:
            item["note"] = "not final at WeChat Pay: left to the worker"  # it carries the step (package_info)
        else:
            item["note"], item["repaired"] = retrying(lambda: _repair(payout_id, found))
        mismatches.append(item)
    with transaction():
        row = db.session.scalar(sa.select(Reconciliation).where(Reconciliation.day == start).with_for_update())
        if row is None:
            row = Reconciliation(day=start)
            db.session.add(row)
        row.checked, row.mismatches, row.created_at = len(open_rows) + len(final_rows), mismatches, utcnow()
    return row


def _repair(payout_id: int, found: _Outcome) -> tuple[str, bool]:
    """Bring one payout in line with a final WeChat state (its own transaction); (note, repaired)."""
    with transaction():
        payout = get_payout(payout_id, lock=True)
        was = payout.status
        if not _apply(payout, found.status, state=found.state, transfer_bill_no=found.transfer_bill_no,
                      fail_reason=found.fail_reason):
            if payout.status is found.status:
                return "settled meanwhile", False
            note = f"ours {was.value}, WeChat Pay {found.state}: not repaired (a final state does not move back)"
            _raise_incident(payout, IncidentKind.RECONCILE, payout.amount_fen, note)
            return note[:200], False
        audit(Actor.system("reconcile"), "payout.repair", payout, {"status": [was.value, payout.status.value]})
        return f"repaired: {was.value} -> {payout.status.value}", True


def _reconcile_incident(payout_id: int, note: str, **changes) -> None:
    with transaction():
        payout = get_payout(payout_id, lock=True)
        _raise_incident(payout, IncidentKind.RECONCILE, payout.amount_fen, note)
        if changes:
            audit(Actor.system("reconcile"), "payout.repair", payout, changes)


def list_reconciliations():
    return sa.select(Reconciliation).order_by(Reconciliation.day.desc())
