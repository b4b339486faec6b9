"""The calls to WeChat Pay for one step of a payout, and what each says about the bill.

A step (``_step``) creates, queries or cancels a transfer bill, or sends or queries a red packet,
always under the payout's own bill number. What comes back is an ``_Outcome``: a bill state, a bill
that does not exist, or nothing known. Unknown is not failed: a timeout, a 5xx, an unsigned answer or
a 4xx that is not about this bill (NO_AUTH, SIGN_ERROR) is an error the worker asks about again; a
refused create means the payout failed only when WeChat then has no bill under the number and no
earlier create of ours can still land (``_refused_create``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flask import current_app

from app.accounts.models import AppName
from app.errors import DomainError
from app.payouts.models import PayoutChannel, PayoutPurpose, PayoutStatus
from app.wechat import pay, redpack, runtime

TRANSFER_REMARK = {PayoutPurpose.PRIZE: "扫码红包", PayoutPurpose.WITHDRAWAL: "导购奖励提现"}
# WeChat's transfer bill states → ours (CANCELING: the cancel is on its way; still waiting).
TRANSFER_STATES = {"ACCEPTED": PayoutStatus.PROCESSING, "PROCESSING": PayoutStatus.PROCESSING,
                   "TRANSFERING": PayoutStatus.PROCESSING, "WAIT_USER_CONFIRM": PayoutStatus.WAITING,
                   "CANCELING": PayoutStatus.WAITING, "SUCCESS": PayoutStatus.SUCCEEDED,
                   "FAIL": PayoutStatus.FAILED, "CANCELLED": PayoutStatus.CANCELLED}
# Red packet states → ours (SENT: in the user's chat, not opened yet; WeChat refunds it after 24 h).
REDPACK_STATES = {"SENDING": PayoutStatus.PROCESSING, "SENT": PayoutStatus.WAITING,
                  "RECEIVED": PayoutStatus.SUCCEEDED, "FAILED": PayoutStatus.FAILED,
                  "RFUND_ING": PayoutStatus.CANCELLED, "REFUND": PayoutStatus.CANCELLED}


def confirm_window() -> timedelta:
    return timedelta(hours=float(current_app.config["PAYOUT_CONFIRM_HOURS"]))


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
