"""Reading payouts, and what the back office does to them: release a held one, cancel one not yet
with WeChat Pay. The mini-program reads its user's own payouts and what confirming one needs.

Queueing is in app.payouts.queue, paying in app.payouts.worker, WeChat's callback in
app.payouts.callbacks, the daily check in app.payouts.reconciliation, incidents in app.payouts.incidents.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.accounts.models import AppUser
from app.db import utcnow
from app.extensions import db
from app.identity.service import Actor, audit
from app.payouts.errors import PayoutNotCancellable, PayoutNotFound, PayoutNotHeld
from app.payouts.models import Payout, PayoutChannel, PayoutPurpose, PayoutStatus
from app.payouts.transitions import _count_ending, _return_money
from app.payouts.wechat_calls import _appid
from app.platform.filters import Filters
from app.wechat import runtime


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


_PAYOUT_FILTERS = Filters(
    status=lambda value: Payout.status == PayoutStatus(value),
    purpose=lambda value: Payout.purpose == PayoutPurpose(value),
    channel=lambda value: Payout.channel == PayoutChannel(value),
    app_user_id=lambda value: Payout.app_user_id == value,
    campaign_id=lambda value: Payout.campaign_id == value,
    since=lambda value: Payout.created_at >= value,
    until=lambda value: Payout.created_at < value,
)


def list_payouts(*, status: str | None = None, purpose: str | None = None, app_user_id: int | None = None,
                 campaign_id: int | None = None, channel: str | None = None, since: datetime | None = None,
                 until: datetime | None = None):
    """The back office's payout list, newest first, narrowed by the filters given."""
    return _PAYOUT_FILTERS.apply(sa.select(Payout).order_by(Payout.id.desc()), status=status, purpose=purpose,
                                 channel=channel, app_user_id=app_user_id, campaign_id=campaign_id,
                                 since=since, until=until)


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


def confirm_request(payout: Payout) -> dict:
    """What the mini-program's wx.requestMerchantTransfer needs for this payout (package while waiting)."""
    settings = runtime().pay_settings()
    # In doubt while waiting, the bill may still be confirmed: its money is still out, so paying it is right.
    waiting = payout.user_status is PayoutStatus.WAITING and payout.channel is PayoutChannel.TRANSFER
    return {"id": payout.id, "status": payout.user_status, "amount_fen": payout.amount_fen, "channel": payout.channel,
            "mch_id": settings.mchid, "app_id": _appid(payout.app),
            "package": payout.package_info if waiting else None, "created_at": payout.created_at,
            "finished_at": payout.finished_at}
