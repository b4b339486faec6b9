"""The payout worker: pays queued payouts and never pays twice.

The worker (``work_due``) claims due payouts with an atomic UPDATE lease, then per status:

- PENDING → the claim itself commits CREATING, and only then is the bill created. A worker killed
  after WeChat made the bill but before we recorded it leaves a CREATING payout, which the next run
  QUERIES by its number (never creates under a new one); "no such bill" means it is safe to create
  again, with the same number.
- CREATING → query; found: recorded; not found: create again; unknown (timeout, SYSTEMERROR):
  retried later.
- WAITING (the user must confirm in the mini-program) → queried periodically (a callback may be
  lost); unconfirmed after PAYOUT_CONFIRM_HOURS (24) → cancelled (CANCELLED, the money returns).
- PROCESSING → queried until final.

The calls themselves are in app.payouts.wechat_calls, the moves they cause in app.payouts.transitions.
Without a definitive answer about the bill the payout goes IN_DOUBT with the money still out: the
worker asks again with backoff, from the step it was on (``doubt_from``), and after
PAYOUT_DOUBT_ALERT_MINUTES a ``PayoutIncident`` lists it for people.

The worker runs its own short transactions and must not be called inside one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app

from app.db import retrying, transaction, utcnow
from app.extensions import db
from app.payouts.incidents import _raise_incident
from app.payouts.models import IncidentKind, Payout, PayoutChannel, PayoutStatus
from app.payouts.queue import hold_blacklisted
from app.payouts.transitions import FINAL, _apply
from app.payouts.wechat_calls import _Job, _Outcome, _step, confirm_window
from app.platform import leases, logs

log = logging.getLogger(__name__)

LEASE_SECONDS = 120  # a claimed payout is this worker's for so long (a crashed worker's returns after it)
QUERY_WAITING_SECONDS = 600  # how often a bill waiting for the user is queried (the callback may be lost)
MAX_RETRY_SECONDS = 3600
ACTIVE = (PayoutStatus.PENDING, PayoutStatus.CREATING, PayoutStatus.WAITING, PayoutStatus.PROCESSING,
          PayoutStatus.IN_DOUBT)


def _as_aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


@dataclass
class WorkReport:
    claimed: int = 0
    changed: dict = field(default_factory=dict)  # new status → how many
    retried: int = 0

    def count(self, status: PayoutStatus) -> None:
        self.changed[status.value] = self.changed.get(status.value, 0) + 1


def _claim(payout_id: int, status: PayoutStatus, now: datetime, *, creates: bool) -> bool:
    """Take a due payout for this worker (an atomic UPDATE); a PENDING one becomes CREATING in it."""
    values = {"lease_until": now + timedelta(seconds=LEASE_SECONDS)}
    if status is PayoutStatus.PENDING:
        values["status"] = PayoutStatus.CREATING  # committed BEFORE the bill is created
    if creates:
        # Committed before the create is sent: a worker killed after sending it leaves this behind, and
        # a later refused create cannot prove no bill will appear until this is PAYOUT_CREATE_SETTLE_MINUTES old.
        values["last_create_at"] = now
    return leases.take(Payout, payout_id, now=now, seconds=LEASE_SECONDS, where=(Payout.status == status,),
                       **values) is not None


def _hold_all_blacklisted() -> int:
    with transaction():
        return hold_blacklisted()


def _step_of(status: PayoutStatus, doubt_from: PayoutStatus | None) -> PayoutStatus:
    """The step a payout is on: its status, or for one in doubt the step it was on (a PENDING claim creates)."""
    step = doubt_from if status is PayoutStatus.IN_DOUBT else status
    return PayoutStatus.CREATING if step in (None, PayoutStatus.PENDING) else step


def _job(payout: Payout, earlier_create_at: datetime | None) -> _Job:
    return _Job(id=payout.id, status=_step_of(payout.status, payout.doubt_from), channel=payout.channel,
                purpose=payout.purpose, out_bill_no=payout.out_bill_no, openid=payout.openid,
                amount_fen=payout.amount_fen, bill_created_at=_as_aware(payout.bill_created_at),
                created_at=_as_aware(payout.created_at), app=payout.app,
                earlier_create_at=_as_aware(earlier_create_at))


def work_due(now: datetime | None = None, *, limit: int = 100) -> WorkReport:
    """One worker step over up to ``limit`` due payouts (its own transactions; not inside one)."""
    fixed = now
    now = now or utcnow()
    retrying(_hold_all_blacklisted)  # nothing is paid to a blacklisted openid, whenever it was listed
    due = db.session.execute(sa.select(Payout.id, Payout.status, Payout.doubt_from, Payout.last_create_at,
                                       Payout.request_id).where(
        Payout.status.in_(ACTIVE), Payout.next_attempt_at <= now)
        .order_by(Payout.next_attempt_at, Payout.id).limit(limit)).all()
    db.session.rollback()
    report = WorkReport()
    for payout_id, status, doubt_from, earlier_create_at, request_id in due:
        with logs.bound(request_id):  # its log lines name the request that queued it
            _work_one(payout_id, status, doubt_from, earlier_create_at, fixed, report)
    return report


def _work_one(payout_id: int, status: PayoutStatus, doubt_from: PayoutStatus | None,
              earlier_create_at: datetime | None, fixed: datetime | None, report: WorkReport) -> None:
    """Claim one due payout, take its step with WeChat Pay, record the outcome."""
    moment = fixed or utcnow()
    creates = _step_of(status, doubt_from) is PayoutStatus.CREATING
    # Claims and records race the clerk's cancel and the callback for the same rows: a
    # deadlock victim runs its short transaction again.
    if not retrying(lambda: _claim(payout_id, status, moment, creates=creates)):
        return
    report.claimed += 1
    job = _job(db.session.get(Payout, payout_id), earlier_create_at)
    db.session.rollback()  # no transaction stays open while WeChat is waited on
    try:
        outcome = _step(job, moment)
    except Exception as exc:  # noqa: BLE001 - one payout's surprise must not stop the others
        log.exception("payout %s: unexpected error; retried later under the same bill number", job.id)
        outcome = _Outcome(error=f"{type(exc).__name__}: {exc}"[:500], create_uncertain=job.creates)
    retrying(lambda: _record(job, outcome, fixed or utcnow(), report))


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** min(attempts, 10), MAX_RETRY_SECONDS))


def _record(job: _Job, outcome: _Outcome, now: datetime, report: WorkReport) -> None:
    with transaction():
        payout = db.session.scalar(sa.select(Payout).where(Payout.id == job.id).with_for_update())
        payout.attempts += 1
        payout.lease_until = None
        if job.creates and not outcome.create_uncertain:
            # No create of this run can still land (none sent, or answered): the claim's mark is undone.
            payout.last_create_at = job.earlier_create_at
        if outcome.status is not None:
            if _apply(payout, outcome.status, state=outcome.state, transfer_bill_no=outcome.transfer_bill_no,
                      package_info=outcome.package_info, fail_reason=outcome.fail_reason, now=now):
                report.count(payout.status)
            payout.last_error = None
            payout.next_attempt_at = now + timedelta(seconds=QUERY_WAITING_SECONDS)
        else:
            # Unknown (or no bill where a cancel or query expected one): in doubt, asked again later
            # under the same number; the money stays where it is.
            payout.last_error = outcome.error or "no such bill"
            payout.next_attempt_at = now + _retry_delay(payout.attempts - 1)
            _doubt(payout, now)
            report.retried += 1
        step = payout.doubt_from if payout.status is PayoutStatus.IN_DOUBT else payout.status
        if step is PayoutStatus.WAITING and payout.channel is PayoutChannel.TRANSFER:
            # Never later than the moment it must be cancelled.
            expiry = _as_aware(payout.bill_created_at or payout.created_at) + confirm_window()
            payout.next_attempt_at = max(now, min(_as_aware(payout.next_attempt_at), expiry))


def _doubt(payout: Payout, now: datetime) -> None:
    """No definitive answer: the (locked, open) payout is in doubt; listed for people once it lasts."""
    if payout.status in FINAL:
        return  # a callback settled it while WeChat was being asked
    if payout.status is not PayoutStatus.IN_DOUBT:
        payout.doubt_from, payout.status, payout.in_doubt_since = payout.status, PayoutStatus.IN_DOUBT, now
    alert_after = timedelta(minutes=current_app.config["PAYOUT_DOUBT_ALERT_MINUTES"])
    if now - _as_aware(payout.in_doubt_since) >= alert_after:
        _raise_incident(payout, IncidentKind.IN_DOUBT, payout.amount_fen,
                        f"no definitive answer from WeChat Pay since {payout.in_doubt_since:%Y-%m-%d %H:%M} UTC; "
                        f"last: {payout.last_error or ''}")
