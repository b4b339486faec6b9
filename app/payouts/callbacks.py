"""WeChat Pay's transfer callback (MCHTRANSFER.BILL.FINISHED): what is kept of it, and applying it once."""
from __future__ import annotations

import json

import sqlalchemy as sa

from app.db import insert_once
from app.extensions import db
from app.payouts.models import Payout, PayoutNotification
from app.payouts.transitions import _apply
from app.payouts.wechat_calls import TRANSFER_STATES
from app.wechat import pay


def receive_transfer_callback(*, notification: pay.TransferNotification, body: bytes) -> bool:
    """Keep a verified callback and apply it once; False for a duplicate or an unknown bill (no change)."""
    return receive_notification(notification=notification, payload=_kept(notification, body))


def _kept(notification: pay.TransferNotification, body: bytes) -> dict:
    """The envelope's id, type and time with the decrypted bill: what the callback said, without its ciphertext."""
    envelope = _envelope(body)
    bill = notification.bill
    return {"id": envelope.get("id"), "event_type": envelope.get("event_type"),
            "create_time": envelope.get("create_time"),
            "bill": {"out_bill_no": bill.out_bill_no, "transfer_bill_no": bill.transfer_bill_no,
                     "state": bill.state, "fail_reason": bill.fail_reason}}


def _envelope(body: bytes) -> dict:
    # The signature verified and the resource decrypted: an envelope that isn't JSON only loses its labels.
    try:
        return json.loads(body)
    except ValueError:
        return {}


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
