"""The payout queue: money to a WeChat user, paid by a worker that never pays twice.

A payout is written (``enqueue``) in the same transaction as what it pays, before any money moves.
Its bill number (``out_bill_no`` for a transfer, ``mch_billno`` for a red packet) is derived from its
id and set at creation, so every retry asks WeChat about the SAME bill.

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

States only move forward (``_apply``): a late PROCESSING after SUCCESS changes nothing, so callbacks
and queries may arrive in any order and any number of times. Reaching FAILED or CANCELLED returns
the money (``_return_money``); SUCCEEDED settles what was paid (a withdrawal becomes paid).

Unknown is not failed. Money goes back only on a definitive answer about that very bill: FAIL or
CANCELLED by query or callback, or a create that was refused AND whose number WeChat then says it has
no bill for. Anything else (a timeout, a 5xx, an unsigned answer, a 4xx that is not about this bill
such as NO_AUTH or SIGN_ERROR) puts the payout IN_DOUBT with the money still out: the worker asks again
with backoff, from the step it was on (``doubt_from``), and after PAYOUT_DOUBT_ALERT_MINUTES a
``PayoutIncident`` lists it for people. A SUCCESS that arrives after we made a payout final as failed
or cancelled is still the truth: it is recorded and the returned money taken back (``_late_success``),
or, when that cannot be done, an incident names the amount.

The worker runs its own short transactions and must not be called inside one.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import AppName, AppUser
from app.consumers import blacklist
from app.consumers.models import BlockedConsumer
from app.db import insert_once, retrying, transaction, utcnow
from app.errors import Conflict, DomainError, NotFound, ValidationFailed
from app.extensions import db
from app.identity.service import Actor, audit
from app.platform import leases
from app.reports import facts, rollups
from app.payouts import settlement
from app.payouts.models import (
    IncidentKind, Payout, PayoutChannel, PayoutIncident, PayoutNotification, PayoutPurpose, PayoutRef, PayoutStatus,
    Reconciliation,
)
from app.wechat import pay, redpack, runtime

log = logging.getLogger(__name__)

LEASE_SECONDS = 120  # a claimed payout is this worker's for so long (a crashed worker's returns after it)
QUERY_WAITING_SECONDS = 600  # how often a bill waiting for the user is queried (the callback may be lost)
MAX_RETRY_SECONDS = 3600
BLACKLISTED = "blacklisted"
TRANSFER_REMARK = {PayoutPurpose.PRIZE: "扫码红包", PayoutPurpose.WITHDRAWAL: "导购奖励提现"}
ACTIVE = (PayoutStatus.PENDING, PayoutStatus.CREATING, PayoutStatus.WAITING, PayoutStatus.PROCESSING,
          PayoutStatus.IN_DOUBT)
# Statuses under which a bill may exist at WeChat Pay and is not final here.
OPEN = (PayoutStatus.CREATING, PayoutStatus.WAITING, PayoutStatus.PROCESSING, PayoutStatus.IN_DOUBT)
FINAL = frozenset({PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.CANCELLED})
# How far along each status is: a payout only moves forward (IN_DOUBT ranks as the step it was on).
_RANK = {PayoutStatus.PENDING: 0, PayoutStatus.HELD: 0, PayoutStatus.CREATING: 1, PayoutStatus.IN_DOUBT: 1,
         PayoutStatus.WAITING: 2,
         PayoutStatus.PROCESSING: 3, PayoutStatus.SUCCEEDED: 4, PayoutStatus.FAILED: 4,
         PayoutStatus.CANCELLED: 4}
# WeChat's transfer bill states → ours (CANCELING: the cancel is on its way; still waiting).
TRANSFER_STATES = {"ACCEPTED": PayoutStatus.PROCESSING, "PROCESSING": PayoutStatus.PROCESSING,
                   "TRANSFERING": PayoutStatus.PROCESSING, "WAIT_USER_CONFIRM": PayoutStatus.WAITING,
                   "CANCELING": PayoutStatus.WAITING, "SUCCESS": PayoutStatus.SUCCEEDED,
                   "FAIL": PayoutStatus.FAILED, "CANCELLED": PayoutStatus.CANCELLED}
# Red packet states → ours (SENT: in the user's chat, not opened yet; WeChat refunds it after 24 h).
REDPACK_STATES = {"SENDING": PayoutStatus.PROCESSING, "SENT": PayoutStatus.WAITING,
                  "RECEIVED": PayoutStatus.SUCCEEDED, "FAILED": PayoutStatus.FAILED,
                  "RFUND_ING": PayoutStatus.CANCELLED, "REFUND": PayoutStatus.CANCELLED}


class PayoutNotFound(NotFound):
    code = "payout_not_found"
    message = "No such payout."


class PayoutNotCancellable(Conflict):
    code = "payout_not_cancellable"
    message = "Only a pending or held payout can be cancelled; this one may already be with WeChat Pay."


class PayoutNotHeld(Conflict):
    code = "payout_not_held"
    message = "Only a held payout can be released."


class PayoutSourceReused(Conflict):
    code = "payout_source_reused"
    message = "This source was queued before with another user or amount."


def bill_number(payout_id: int, channel: PayoutChannel) -> str:
    """The payout's bill number: letters and digits, 5-32 for a transfer, at most 28 for a red packet."""
    return f"MT{payout_id:020d}" if channel is PayoutChannel.TRANSFER else f"MTR{payout_id:018d}"


def _as_aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def default_channel() -> PayoutChannel:
    return PayoutChannel(current_app.config["PAYOUT_CHANNEL"])


def confirm_window() -> timedelta:
    return timedelta(hours=float(current_app.config["PAYOUT_CONFIRM_HOURS"]))


# --- the queue --------------------------------------------------------------------------------

def _by_source(source: str, *, lock: bool = False) -> Payout | None:
    query = sa.select(Payout).where(Payout.source == source)
    return db.session.scalar(query.with_for_update() if lock else query)


def enqueue(*, source: PayoutRef, app_user: AppUser, amount_fen: int,
            campaign_id: int | None = None, channel: PayoutChannel | str | None = None,
            hold_reason: str | None = None) -> Payout:
    """Queue a payout, once per source (the same source answers the payout queued before).

    Call it inside the transaction of what it pays; the worker pays it after the commit, and its
    purpose's settlement handler hears how it ended (app.payouts.settlement).
    """
    existing = _by_source(source.key)
    if existing is None:
        if amount_fen <= 0:
            raise ValidationFailed("A payout is a positive amount of fen.", code="payout_amount_invalid")
        chosen = PayoutChannel(channel) if channel else default_channel()
        if hold_reason is None and blacklist.is_blocked(app_user.openid):
            hold_reason = BLACKLISTED
        payout = Payout(purpose=source.purpose, source=source.key, app_user_id=app_user.id, app=app_user.app,
                        openid=app_user.openid, amount_fen=amount_fen, channel=chosen, campaign_id=campaign_id,
                        status=PayoutStatus.HELD if hold_reason else PayoutStatus.PENDING,
                        hold_reason=hold_reason, next_attempt_at=utcnow())
        if insert_once(payout):
            payout.out_bill_no = bill_number(payout.id, chosen)
            db.session.flush()
            return payout
        existing = _by_source(source.key, lock=True)
    if existing.app_user_id != app_user.id or existing.amount_fen != amount_fen:
        raise PayoutSourceReused()
    return existing


# --- the worker -------------------------------------------------------------------------------

@dataclass
class WorkReport:
    claimed: int = 0
    changed: dict = field(default_factory=dict)  # new status → how many
    retried: int = 0

    def count(self, status: PayoutStatus) -> None:
        self.changed[status.value] = self.changed.get(status.value, 0) + 1


@dataclass(frozen=True)
class _Job:
    id: int
    status: PayoutStatus  # the step to take: as claimed (PENDING claims are already CREATING; IN_DOUBT its doubt_from)
    channel: PayoutChannel
    purpose: PayoutPurpose
    out_bill_no: str
    openid: str
    amount_fen: int
    bill_created_at: datetime | None
    created_at: datetime
    app: AppName = AppName.CONSUMER  # the mini-program the openid belongs to
    # When a create of an earlier run was last tried with no definitive answer (it may still land).
    earlier_create_at: datetime | None = None

    @property
    def creates(self) -> bool:
        """Whether this step may create the bill (and so must record that it tried)."""
        return self.status is PayoutStatus.CREATING


@dataclass(frozen=True)
class _Outcome:
    """What one call to WeChat said: a bill state, a bill that does not exist, or nothing known."""

    state: str | None = None  # WeChat's state
    status: PayoutStatus | None = None  # ours for it
    transfer_bill_no: str | None = None
    package_info: str | None = None
    fail_reason: str | None = None
    missing: bool = False  # WeChat says it has no bill under this number
    error: str | None = None  # unknown outcome: the payout is in doubt, asked again later
    refused: str | None = None  # WeChat refused the call (a 4xx); about this bill only for a create
    create_uncertain: bool = False  # a create was sent and its outcome is unknown: it may still land


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


def hold_blacklisted(*, openid: str | None = None) -> int:
    """Hold the pending payouts of blacklisted openids (of this one, or of every listed one); how many."""
    listed = sa.select(BlockedConsumer.openid)
    if openid is not None:
        listed = listed.where(BlockedConsumer.openid == openid)
    return db.session.execute(sa.update(Payout).where(Payout.status == PayoutStatus.PENDING,
                                                      Payout.openid.in_(listed))
                              .values(status=PayoutStatus.HELD, hold_reason=BLACKLISTED)).rowcount


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
    due = db.session.execute(sa.select(Payout.id, Payout.status, Payout.doubt_from, Payout.last_create_at).where(
        Payout.status.in_(ACTIVE), Payout.next_attempt_at <= now)
        .order_by(Payout.next_attempt_at, Payout.id).limit(limit)).all()
    db.session.rollback()
    report = WorkReport()
    for payout_id, status, doubt_from, earlier_create_at in due:
        moment = fixed or utcnow()
        creates = _step_of(status, doubt_from) is PayoutStatus.CREATING
        # Claims and records race the clerk's cancel and the callback for the same rows: a
        # deadlock victim runs its short transaction again.
        if not retrying(lambda: _claim(payout_id, status, moment, creates=creates)):
            continue
        report.claimed += 1
        job = _job(db.session.get(Payout, payout_id), earlier_create_at)
        db.session.rollback()  # no transaction stays open while WeChat is waited on
        try:
            outcome = _step(job, moment)
        except Exception as exc:  # noqa: BLE001 - one payout's surprise must not stop the others
            log.exception("payout %s: unexpected error; retried later under the same bill number", job.id)
            outcome = _Outcome(error=f"{type(exc).__name__}: {exc}"[:500], create_uncertain=job.creates)
        retrying(lambda: _record(job, outcome, fixed or utcnow(), report))
    return report


def _step(job: _Job, now: datetime) -> _Outcome:
    if job.channel is PayoutChannel.REDPACK:
        return _redpack_step(job, now)
    if job.status is PayoutStatus.CREATING:
        found = _transfer_call(pay.query_transfer, out_bill_no=job.out_bill_no)
        if found.state == "WAIT_USER_CONFIRM" and not found.package_info:
            # A query carries no package_info: the same create (same number, same parameters)
            # answers the same bill with it.
            return _create_transfer(job, now)
        if not found.missing:
            return found
        return _create_transfer(job, now)  # no bill under this number: safe to create it, same number
    if job.status is PayoutStatus.WAITING and now - (job.bill_created_at or job.created_at) >= confirm_window():
        # Unconfirmed too long: cancel it. Whatever the cancel answers (CANCELING, or refused because
        # the user confirmed at the last moment), the query that follows says where the bill ended.
        cancelled = _transfer_call(pay.cancel_transfer, out_bill_no=job.out_bill_no)
        if cancelled.state == "CANCELLED":
            return cancelled
    return _transfer_call(pay.query_transfer, out_bill_no=job.out_bill_no)


def _appid(app: AppName) -> str:
    """The appid a user's openid belongs to: transfers to a clerk go under the clerk app's."""
    return runtime().app_credentials(app.value)[0]


def _create_transfer(job: _Job, now: datetime) -> _Outcome:
    created = _transfer_call(pay.create_transfer, out_bill_no=job.out_bill_no, openid=job.openid,
                             appid=_appid(job.app), amount_fen=job.amount_fen, remark=TRANSFER_REMARK[job.purpose],
                             report_infos=[{"info_type": "活动名称", "info_content": "码通"},
                                           {"info_type": "奖励说明", "info_content": TRANSFER_REMARK[job.purpose]}])
    if created.refused is None:
        return replace(created, create_uncertain=created.error is not None)
    return _refused_create(created, _transfer_call(pay.query_transfer, out_bill_no=job.out_bill_no), job, now)


def create_settle_window() -> timedelta:
    return timedelta(minutes=float(current_app.config["PAYOUT_CREATE_SETTLE_MINUTES"]))


def _refused_create(created: _Outcome, found: _Outcome, job: _Job, now: datetime) -> _Outcome:
    """A refused create made nothing, and the payout has failed, only if WeChat then has no bill under
    the number AND no earlier create of ours can still make one: one sent with no definitive answer
    (a timeout, a worker killed) may land late, so it must be PAYOUT_CREATE_SETTLE_MINUTES old."""
    if found.missing:
        if job.earlier_create_at is not None and now - job.earlier_create_at < create_settle_window():
            return _Outcome(error=f"create refused ({created.refused}) and no bill yet, but a create of "
                                  f"{job.earlier_create_at:%Y-%m-%d %H:%M:%S} UTC is unanswered and may still land")
        return _Outcome(state="FAIL", status=PayoutStatus.FAILED, fail_reason=created.refused)
    if found.status is not None and not (found.state == "WAIT_USER_CONFIRM" and not found.package_info):
        return found
    if found.status is not None:  # the bill exists, but only a create hands its package_info: ask again
        return _Outcome(error=f"create refused ({created.refused}); the bill exists, its package not yet had")
    return _Outcome(error=f"create refused ({created.refused}), then {found.error}"[:500])


def _wechat_error(exc: DomainError) -> str:
    return f"{exc.code}: {exc.errors or exc.message}"[:500]


def _transfer_call(operation, **kwargs) -> _Outcome:
    try:
        bill = operation(**kwargs)
    except pay.TransferBillNotFound:
        return _Outcome(missing=True)
    except (pay.WeChatPayUnavailable, pay.WeChatPaySignatureInvalid, pay.WeChatPayConflict) as exc:
        # No answer, an untrusted one, or a refusal in the bill's current state (a cancel too late):
        # the next query says where the bill is; never a new number.
        return _Outcome(error=_wechat_error(exc))
    except DomainError as exc:
        # Refused (NO_AUTH, SIGN_ERROR, PARAM_ERROR, NOT_ENOUGH, a too-small amount, ...). For a query
        # or a cancel that says nothing about the bill; for a create, _refused_create decides.
        reason = str((exc.errors or {}).get("wechat_code") or exc.code)[:200]
        return _Outcome(error=_wechat_error(exc), refused=reason)
    return _Outcome(state=bill.state, status=TRANSFER_STATES.get(bill.state), transfer_bill_no=bill.transfer_bill_no,
                    package_info=bill.package_info, fail_reason=bill.fail_reason)


def _redpack_step(job: _Job, now: datetime) -> _Outcome:
    if job.status is not PayoutStatus.CREATING:
        return _redpack_query(job)
    found = _redpack_query(job)
    if not found.missing:
        return found
    try:
        sent = redpack.send_redpack(mch_billno=job.out_bill_no, openid=job.openid, amount_fen=job.amount_fen,
                                    send_name="码通", act_name=TRANSFER_REMARK[job.purpose], wishing="恭喜发财",
                                    remark=TRANSFER_REMARK[job.purpose])
    except (pay.WeChatPayUnavailable, pay.WeChatPaySignatureInvalid) as exc:
        return _Outcome(error=_wechat_error(exc), create_uncertain=True)
    except DomainError as exc:
        refused = _Outcome(error=_wechat_error(exc),
                           refused=str((exc.errors or {}).get("wechat_code") or exc.code)[:200])
        return _refused_create(refused, _redpack_query(job), job, now)
    return _Outcome(state="SENT", status=PayoutStatus.WAITING, transfer_bill_no=sent.send_listid)


def _redpack_query(job: _Job) -> _Outcome:
    try:
        info = redpack.query_redpack(mch_billno=job.out_bill_no)
    except (pay.WeChatPayUnavailable, pay.WeChatPaySignatureInvalid) as exc:
        return _Outcome(error=_wechat_error(exc))
    except pay.WeChatPayRejected as exc:
        if (exc.errors or {}).get("wechat_code") == "NOT_FOUND":
            return _Outcome(missing=True)
        return _Outcome(error=_wechat_error(exc))
    return _Outcome(state=info.status, status=REDPACK_STATES.get(info.status), transfer_bill_no=info.detail_id,
                    fail_reason=info.reason)


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


def _raise_incident(payout: Payout, kind: IncidentKind, amount_fen: int, detail: str) -> None:
    """List something about a payout for people, once per payout and kind (a resolved one opens again)."""
    incident = db.session.scalar(sa.select(PayoutIncident).where(PayoutIncident.payout_id == payout.id,
                                                                 PayoutIncident.kind == kind))
    if incident is None:
        db.session.add(PayoutIncident(payout_id=payout.id, kind=kind, amount_fen=amount_fen, detail=detail[:500]))
    elif incident.resolved_at is not None:
        incident.resolved_at = incident.resolved_by = incident.resolution = None
        incident.amount_fen, incident.detail, incident.created_at = amount_fen, detail[:500], utcnow()


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


# --- WeChat's callback ------------------------------------------------------------------------

def receive_notification(*, notification: pay.TransferNotification, payload: dict) -> bool:
    """Keep a verified callback once and apply it; False for a duplicate or an unknown bill (no change)."""
    bill = notification.bill
    if db.session.scalar(sa.select(PayoutNotification.id).where(
            PayoutNotification.notification_id == notification.id)) is not None:
        return False
    kept = PayoutNotification(notification_id=notification.id[:64], out_bill_no=bill.out_bill_no[:32],
                              state=bill.state[:32], payload=payload)
    if not insert_once(kept):
        return False
    payout = db.session.scalar(sa.select(Payout).where(Payout.out_bill_no == bill.out_bill_no).with_for_update())
    status = TRANSFER_STATES.get(bill.state)
    if payout is None or status is None:
        return False
    return _apply(payout, status, state=bill.state, transfer_bill_no=bill.transfer_bill_no,
                  fail_reason=bill.fail_reason)


# --- reading and the back office -------------------------------------------------------------

def get_payout(payout_id: int, *, lock: bool = False) -> Payout:
    query = sa.select(Payout).where(Payout.id == payout_id)
    payout = db.session.scalar(query.with_for_update() if lock else query)
    if payout is None:
        raise PayoutNotFound()
    return payout


def get_user_payout(*, app_user: AppUser, payout_id: int) -> Payout:
    """A user's own payout; another's answers 404."""
    payout = db.session.get(Payout, payout_id)
    if payout is None or payout.app_user_id != app_user.id:
        raise PayoutNotFound()
    return payout


def payout_by_source(source: PayoutRef) -> Payout | None:
    return _by_source(source.key)


def list_payouts(*, status: str | None = None, purpose: str | None = None, app_user_id: int | None = None,
                 campaign_id: int | None = None, channel: str | None = None, since: datetime | None = None,
                 until: datetime | None = None):
    query = sa.select(Payout).order_by(Payout.id.desc())
    if status:
        query = query.where(Payout.status == PayoutStatus(status))
    if purpose:
        query = query.where(Payout.purpose == PayoutPurpose(purpose))
    if channel:
        query = query.where(Payout.channel == PayoutChannel(channel))
    if app_user_id is not None:
        query = query.where(Payout.app_user_id == app_user_id)
    if campaign_id is not None:
        query = query.where(Payout.campaign_id == campaign_id)
    if since is not None:
        query = query.where(Payout.created_at >= since)
    if until is not None:
        query = query.where(Payout.created_at < until)
    return query


def release(*, actor: Actor, payout_id: int) -> Payout:
    """A held payout goes to the queue."""
    payout = get_payout(payout_id, lock=True)
    if payout.status is not PayoutStatus.HELD:
        raise PayoutNotHeld()
    payout.status, payout.next_attempt_at = PayoutStatus.PENDING, utcnow()
    audit(actor, "payout.release", payout, {"hold_reason": payout.hold_reason})
    return payout


def cancel(*, actor: Actor | None, payout_id: int, reason: str = "cancelled") -> Payout:
    """Cancel a payout no bill exists for yet (pending or held); its money returns."""
    payout = get_payout(payout_id, lock=True)
    if payout.status is PayoutStatus.CANCELLED:
        return payout
    if payout.status not in (PayoutStatus.PENDING, PayoutStatus.HELD):
        raise PayoutNotCancellable()
    payout.status, payout.finished_at, payout.fail_reason = PayoutStatus.CANCELLED, utcnow(), reason[:200]
    _count_ending(payout, was_status=None, was_finished_at=None)
    _return_money(payout)
    if actor is not None:
        audit(actor, "payout.cancel", payout, {"reason": reason})
    return payout


# --- reconciliation ---------------------------------------------------------------------------

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


# --- incidents: what people must look at ------------------------------------------------------

class IncidentNotFound(NotFound):
    code = "payout_incident_not_found"
    message = "No such payout incident."


def list_incidents(*, open_only: bool = True, kind: str | None = None):
    query = sa.select(PayoutIncident).order_by(PayoutIncident.id.desc())
    if open_only:
        query = query.where(PayoutIncident.resolved_at.is_(None))
    if kind:
        query = query.where(PayoutIncident.kind == IncidentKind(kind))
    return query


def resolve_incident(*, actor: Actor, incident_id: int, resolution: str) -> PayoutIncident:
    """A person closes an incident, saying what was done (the payout itself is not changed)."""
    incident = db.session.scalar(sa.select(PayoutIncident).where(PayoutIncident.id == incident_id).with_for_update())
    if incident is None:
        raise IncidentNotFound()
    if incident.resolved_at is None:
        incident.resolved_at, incident.resolved_by, incident.resolution = utcnow(), actor.name[:128], resolution[:500]
        audit(actor, "payout.incident.resolve", incident, {"resolution": [None, incident.resolution]})
    return incident


def confirm_request(payout: Payout) -> dict:
    """What the mini-program's wx.requestMerchantTransfer needs for this payout (package while waiting)."""
    settings = runtime().pay_settings()
    # In doubt while waiting, the bill may still be confirmed: its money is still out, so paying it is right.
    waiting = payout.user_status is PayoutStatus.WAITING and payout.channel is PayoutChannel.TRANSFER
    return {"id": payout.id, "status": payout.user_status, "amount_fen": payout.amount_fen, "channel": payout.channel,
            "mch_id": settings.mchid, "app_id": _appid(payout.app),
            "package": payout.package_info if waiting else None, "created_at": payout.created_at,
            "finished_at": payout.finished_at}
