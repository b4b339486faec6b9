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

The worker runs its own short transactions and must not be called inside one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
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
from app.payouts.models import (
    Payout, PayoutChannel, PayoutNotification, PayoutPurpose, PayoutStatus, Reconciliation,
)
from app.wechat import pay, redpack

log = logging.getLogger(__name__)

LEASE_SECONDS = 120  # a claimed payout is this worker's for so long (a crashed worker's returns after it)
QUERY_WAITING_SECONDS = 600  # how often a bill waiting for the user is queried (the callback may be lost)
MAX_RETRY_SECONDS = 3600
BLACKLISTED = "blacklisted"
TRANSFER_REMARK = {PayoutPurpose.PRIZE: "扫码红包", PayoutPurpose.WITHDRAWAL: "导购奖励提现"}
ACTIVE = (PayoutStatus.PENDING, PayoutStatus.CREATING, PayoutStatus.WAITING, PayoutStatus.PROCESSING)
FINAL = frozenset({PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.CANCELLED})
# How far along each status is: a payout only moves forward.
_RANK = {PayoutStatus.PENDING: 0, PayoutStatus.HELD: 0, PayoutStatus.CREATING: 1, PayoutStatus.WAITING: 2,
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


def enqueue(*, purpose: PayoutPurpose | str, source: str, app_user: AppUser, amount_fen: int,
            campaign_id: int | None = None, channel: PayoutChannel | str | None = None,
            hold_reason: str | None = None) -> Payout:
    """Queue a payout, once per source (the same source answers the payout queued before).

    Call it inside the transaction of what it pays; the worker pays it after the commit.
    """
    existing = _by_source(source)
    if existing is None:
        if amount_fen <= 0:
            raise ValidationFailed("A payout is a positive amount of fen.", code="payout_amount_invalid")
        chosen = PayoutChannel(channel) if channel else default_channel()
        if hold_reason is None and blacklist.is_blocked(app_user.openid):
            hold_reason = BLACKLISTED
        payout = Payout(purpose=PayoutPurpose(purpose), source=source, app_user_id=app_user.id, app=app_user.app,
                        openid=app_user.openid, amount_fen=amount_fen, channel=chosen, campaign_id=campaign_id,
                        status=PayoutStatus.HELD if hold_reason else PayoutStatus.PENDING,
                        hold_reason=hold_reason, next_attempt_at=utcnow())
        if insert_once(payout):
            payout.out_bill_no = bill_number(payout.id, chosen)
            db.session.flush()
            return payout
        existing = _by_source(source, lock=True)
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
    status: PayoutStatus  # as claimed (PENDING claims are already CREATING)
    channel: PayoutChannel
    purpose: PayoutPurpose
    out_bill_no: str
    openid: str
    amount_fen: int
    bill_created_at: datetime | None
    created_at: datetime
    app: AppName = AppName.CONSUMER  # the mini-program the openid belongs to


@dataclass(frozen=True)
class _Outcome:
    """What one call to WeChat said: a bill state, a bill that does not exist, or nothing known."""

    state: str | None = None  # WeChat's state
    status: PayoutStatus | None = None  # ours for it
    transfer_bill_no: str | None = None
    package_info: str | None = None
    fail_reason: str | None = None
    missing: bool = False
    error: str | None = None  # unknown outcome: retry later


def _claim(payout_id: int, status: PayoutStatus, now: datetime) -> bool:
    """Take a due payout for this worker (an atomic UPDATE); a PENDING one becomes CREATING in it."""
    values = {"next_attempt_at": now + timedelta(seconds=LEASE_SECONDS),
              "lease_until": now + timedelta(seconds=LEASE_SECONDS)}
    if status is PayoutStatus.PENDING:
        values["status"] = PayoutStatus.CREATING  # committed BEFORE the bill is created
    with transaction():
        claimed = db.session.execute(sa.update(Payout).where(
            Payout.id == payout_id, Payout.status == status, Payout.next_attempt_at <= now)
            .values(**values)).rowcount
    return claimed == 1


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


def work_due(now: datetime | None = None, *, limit: int = 100) -> WorkReport:
    """One worker step over up to ``limit`` due payouts (its own transactions; not inside one)."""
    fixed = now
    now = now or utcnow()
    retrying(_hold_all_blacklisted)  # nothing is paid to a blacklisted openid, whenever it was listed
    due = db.session.execute(sa.select(Payout.id, Payout.status).where(
        Payout.status.in_(ACTIVE), Payout.next_attempt_at <= now)
        .order_by(Payout.next_attempt_at, Payout.id).limit(limit)).all()
    db.session.rollback()
    report = WorkReport()
    for payout_id, status in due:
        moment = fixed or utcnow()
        # Claims and records race the clerk's cancel and the callback for the same rows: a
        # deadlock victim runs its short transaction again.
        if not retrying(lambda: _claim(payout_id, status, moment)):
            continue
        report.claimed += 1
        payout = db.session.get(Payout, payout_id)
        job = _Job(id=payout.id, status=payout.status, channel=payout.channel, purpose=payout.purpose,
                   out_bill_no=payout.out_bill_no, openid=payout.openid, amount_fen=payout.amount_fen,
                   bill_created_at=_as_aware(payout.bill_created_at), created_at=_as_aware(payout.created_at),
                   app=payout.app)
        db.session.rollback()  # no transaction stays open while WeChat is waited on
        try:
            outcome = _step(job, moment)
        except Exception as exc:  # noqa: BLE001 - one payout's surprise must not stop the others
            log.exception("payout %s: unexpected error; retried later under the same bill number", job.id)
            outcome = _Outcome(error=f"{type(exc).__name__}: {exc}"[:500])
        retrying(lambda: _record(job, outcome, fixed or utcnow(), report))
    return report


def _step(job: _Job, now: datetime) -> _Outcome:
    if job.channel is PayoutChannel.REDPACK:
        return _redpack_step(job)
    if job.status is PayoutStatus.CREATING:
        found = _transfer_call(pay.query_transfer, out_bill_no=job.out_bill_no)
        if found.state == "WAIT_USER_CONFIRM" and not found.package_info:
            # A query carries no package_info: the same create (same number, same parameters)
            # answers the same bill with it.
            return _create_transfer(job)
        if not found.missing:
            return found
        return _create_transfer(job)  # no bill under this number: safe to create it, same number
    if job.status is PayoutStatus.WAITING and now - (job.bill_created_at or job.created_at) >= confirm_window():
        # Unconfirmed too long: cancel it. Whatever the cancel answers (CANCELING, or refused because
        # the user confirmed at the last moment), the query that follows says where the bill ended.
        cancelled = _transfer_call(pay.cancel_transfer, out_bill_no=job.out_bill_no)
        if cancelled.state == "CANCELLED":
            return cancelled
    return _transfer_call(pay.query_transfer, out_bill_no=job.out_bill_no)


def _appid(app: AppName) -> str:
    """The appid a user's openid belongs to: transfers to a clerk go under the clerk app's."""
    from app.wechat import runtime

    return runtime().app_credentials(app.value)[0]


def _create_transfer(job: _Job) -> _Outcome:
    return _transfer_call(pay.create_transfer, out_bill_no=job.out_bill_no, openid=job.openid, appid=_appid(job.app),
                          amount_fen=job.amount_fen, remark=TRANSFER_REMARK[job.purpose],
                          report_infos=[{"info_type": "活动名称", "info_content": "码通"},
                                        {"info_type": "奖励说明", "info_content": TRANSFER_REMARK[job.purpose]}])


def _transfer_call(operation, **kwargs) -> _Outcome:
    try:
        bill = operation(**kwargs)
    except pay.TransferBillNotFound:
        return _Outcome(missing=True)
    except (pay.WeChatPayUnavailable, pay.WeChatPaySignatureInvalid) as exc:
        return _Outcome(error=f"{exc.code}: {exc.errors or exc.message}"[:500])
    except pay.WeChatPayConflict as exc:
        # The bill is final already (a cancel too late) or the number was used with other parameters:
        # the query on the next run says which; never a new number.
        return _Outcome(error=f"{exc.code}: {exc.errors or exc.message}"[:500])
    except DomainError as exc:  # WeChat refused it (FAIL, a too-small amount): nothing was created
        reason = str((exc.errors or {}).get("wechat_code") or exc.code)
        return _Outcome(state="FAIL", status=PayoutStatus.FAILED, fail_reason=reason[:200])
    return _Outcome(state=bill.state, status=TRANSFER_STATES.get(bill.state), transfer_bill_no=bill.transfer_bill_no,
                    package_info=bill.package_info, fail_reason=bill.fail_reason)


def _redpack_step(job: _Job) -> _Outcome:
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
        return _Outcome(error=f"{exc.code}: {exc.errors or exc.message}"[:500])
    except DomainError as exc:
        reason = str((exc.errors or {}).get("wechat_code") or exc.code)
        return _Outcome(state="FAILED", status=PayoutStatus.FAILED, fail_reason=reason[:200])
    return _Outcome(state="SENT", status=PayoutStatus.WAITING, transfer_bill_no=sent.send_listid)


def _redpack_query(job: _Job) -> _Outcome:
    try:
        info = redpack.query_redpack(mch_billno=job.out_bill_no)
    except (pay.WeChatPayUnavailable, pay.WeChatPaySignatureInvalid) as exc:
        return _Outcome(error=f"{exc.code}: {exc.errors or exc.message}"[:500])
    except pay.WeChatPayRejected as exc:
        if (exc.errors or {}).get("wechat_code") == "NOT_FOUND":
            return _Outcome(missing=True)
        return _Outcome(error=f"{exc.code}: {exc.errors or exc.message}"[:500])
    return _Outcome(state=info.status, status=REDPACK_STATES.get(info.status), transfer_bill_no=info.detail_id,
                    fail_reason=info.reason)


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** min(attempts, 10), MAX_RETRY_SECONDS))


def _record(job: _Job, outcome: _Outcome, now: datetime, report: WorkReport) -> None:
    with transaction():
        payout = db.session.scalar(sa.select(Payout).where(Payout.id == job.id).with_for_update())
        payout.attempts += 1
        payout.lease_until = None
        if outcome.status is not None:
            if _apply(payout, outcome.status, state=outcome.state, transfer_bill_no=outcome.transfer_bill_no,
                      package_info=outcome.package_info, fail_reason=outcome.fail_reason, now=now):
                report.count(payout.status)
            payout.last_error = None
            payout.next_attempt_at = now + timedelta(seconds=QUERY_WAITING_SECONDS)
        else:
            # Unknown (or no bill where a cancel or query expected one): ask again later, same number.
            payout.last_error = outcome.error or "no such bill"
            payout.next_attempt_at = now + _retry_delay(payout.attempts - 1)
            report.retried += 1
        if payout.status is PayoutStatus.WAITING and payout.channel is PayoutChannel.TRANSFER:
            # Never later than the moment it must be cancelled.
            expiry = _as_aware(payout.bill_created_at or payout.created_at) + confirm_window()
            payout.next_attempt_at = max(now, min(_as_aware(payout.next_attempt_at), expiry))


def _apply(payout: Payout, status: PayoutStatus, *, state: str | None, transfer_bill_no: str | None = None,
           package_info: str | None = None, fail_reason: str | None = None, now: datetime | None = None) -> bool:
    """Move a (locked) payout forward to what WeChat says; True when it changed. Never backwards."""
    now = now or utcnow()
    if transfer_bill_no and not payout.transfer_bill_no:
        payout.transfer_bill_no = transfer_bill_no
    if package_info and payout.status not in FINAL:
        payout.package_info = package_info
    if payout.bill_created_at is None and (transfer_bill_no or _RANK[status] >= _RANK[PayoutStatus.WAITING]
                                           and status is not PayoutStatus.FAILED):
        payout.bill_created_at = now  # the bill exists from now: the confirm window runs from here
    if payout.status in FINAL or _RANK[status] <= _RANK[payout.status]:
        return False
    payout.status = status
    payout.wechat_state = state
    if status in FINAL:
        payout.finished_at = now
        payout.fail_reason = (fail_reason or None) if status is not PayoutStatus.SUCCEEDED else None
        if status is PayoutStatus.SUCCEEDED:
            _settle_paid(payout)
        else:
            _return_money(payout)
    return True


def _settle_paid(payout: Payout) -> None:
    """What a paid payout settles: a withdrawal becomes paid (a prize needs nothing more)."""
    if payout.purpose is PayoutPurpose.WITHDRAWAL:
        from app.retail import service as retail

        retail.settle_withdrawal(payout_id=payout.id, paid=True)


def _return_money(payout: Payout) -> None:
    """The money of a payout that failed or was cancelled goes back where it came from, in this transaction.

    - A withdrawal: the withdrawal fails and the cash is credited back to the clerk's balance
      (ledger source "withdrawal-return:<withdrawal id>", once).
    - A prize: its amount returns to the campaign's budget (and its day's), the prize to its stock.
    """
    if payout.purpose is PayoutPurpose.WITHDRAWAL:
        from app.retail import service as retail

        retail.settle_withdrawal(payout_id=payout.id, paid=False)
    elif payout.purpose is PayoutPurpose.PRIZE and payout.source.startswith("draw:"):
        from app.campaigns import claims

        claims.return_prize(draw_id=int(payout.source.split(":", 1)[1]), amount_fen=payout.amount_fen)


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


def payout_by_source(source: str) -> Payout | None:
    return _by_source(source)


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
    _return_money(payout)
    if actor is not None:
        audit(actor, "payout.cancel", payout, {"reason": reason})
    return payout


# --- reconciliation ---------------------------------------------------------------------------

def reconcile(day: datetime) -> Reconciliation:
    """Compare the day's payouts (created that UTC day) with WeChat's bills; list the mismatches.

    Runs its own transactions (WeChat is queried outside any); a second run of a day replaces the first.
    """
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    rows = db.session.execute(sa.select(Payout.id, Payout.status, Payout.channel, Payout.out_bill_no).where(
        Payout.created_at >= start, Payout.created_at < start + timedelta(days=1),
        Payout.status.not_in((PayoutStatus.PENDING, PayoutStatus.HELD))).order_by(Payout.id)).all()
    db.session.rollback()
    mismatches = []
    for payout_id, status, channel, out_bill_no in rows:
        job = _Job(id=payout_id, status=PayoutStatus.PROCESSING, channel=channel, purpose=PayoutPurpose.PRIZE,
                   out_bill_no=out_bill_no, openid="", amount_fen=0, bill_created_at=None, created_at=start)
        if channel is PayoutChannel.REDPACK:
            found = _redpack_query(job)
        else:
            found = _transfer_call(pay.query_transfer, out_bill_no=out_bill_no)
        if found.error:
            mismatches.append({"payout_id": payout_id, "out_bill_no": out_bill_no, "ours": status.value,
                               "wechat": None, "note": found.error[:200]})
        elif found.missing:
            if status is not PayoutStatus.CANCELLED and status is not PayoutStatus.FAILED:
                mismatches.append({"payout_id": payout_id, "out_bill_no": out_bill_no, "ours": status.value,
                                   "wechat": None, "note": "no bill at WeChat Pay"})
        elif found.status is not status:
            mismatches.append({"payout_id": payout_id, "out_bill_no": out_bill_no, "ours": status.value,
                               "wechat": found.state, "note": ""})
    with transaction():
        row = db.session.scalar(sa.select(Reconciliation).where(Reconciliation.day == start).with_for_update())
        if row is None:
            row = Reconciliation(day=start)
            db.session.add(row)
        row.checked, row.mismatches, row.created_at = len(rows), mismatches, utcnow()
    return row


def list_reconciliations():
    return sa.select(Reconciliation).order_by(Reconciliation.day.desc())


def confirm_request(payout: Payout) -> dict:
    """What the mini-program's wx.requestMerchantTransfer needs for this payout (package while waiting)."""
    from app.wechat import runtime

    settings = runtime().pay_settings()
    waiting = payout.status is PayoutStatus.WAITING and payout.channel is PayoutChannel.TRANSFER
    return {"id": payout.id, "status": payout.status, "amount_fen": payout.amount_fen, "channel": payout.channel,
            "mch_id": settings.mchid, "app_id": _appid(payout.app),
            "package": payout.package_info if waiting else None, "created_at": payout.created_at,
            "finished_at": payout.finished_at}
