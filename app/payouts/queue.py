"""The payout queue: money to a WeChat user, queued once per thing it pays.

A payout is written (``enqueue``) in the same transaction as what it pays, before any money moves.
Its bill number (``out_bill_no`` for a transfer, ``mch_billno`` for a red packet) is derived from its
id and set at creation, so every retry asks WeChat about the SAME bill. Nothing is paid to a
blacklisted openid: its payouts wait, HELD, for a person to release or cancel them.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import AppUser
from app.consumers import blacklist
from app.consumers.models import BlockedConsumer
from app.db import insert_once, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.payouts.errors import PayoutSourceReused
from app.payouts.models import Payout, PayoutChannel, PayoutRef, PayoutStatus
from app.platform import logs

BLACKLISTED = "blacklisted"


def bill_number(payout_id: int, channel: PayoutChannel) -> str:
    """The payout's bill number: letters and digits, 5-32 for a transfer, at most 28 for a red packet."""
    return f"MT{payout_id:020d}" if channel is PayoutChannel.TRANSFER else f"MTR{payout_id:018d}"


def default_channel() -> PayoutChannel:
    return PayoutChannel(current_app.config["PAYOUT_CHANNEL"])


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
                        request_id=logs.current(),
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


def payout_by_source(source: PayoutRef) -> Payout | None:
    return _by_source(source.key)


def hold_blacklisted(*, openid: str | None = None) -> int:
    """Hold the pending payouts of blacklisted openids (of this one, or of every listed one); how many."""
    listed = sa.select(BlockedConsumer.openid)
    if openid is not None:
        listed = listed.where(BlockedConsumer.openid == openid)
    return db.session.execute(sa.update(Payout).where(Payout.status == PayoutStatus.PENDING,
                                                      Payout.openid.in_(listed))
                              .values(status=PayoutStatus.HELD, hold_reason=BLACKLISTED)).rowcount
