"""WeChat Pay's transfer callback (MCHTRANSFER.BILL.FINISHED): what is kept of it, and applying it once."""
from __future__ import annotations

import json

from app.payouts import service
from app.wechat import pay


def receive_transfer_callback(*, notification: pay.TransferNotification, body: bytes) -> bool:
    """Keep a verified callback and apply it once; False for a duplicate or an unknown bill (no change)."""
    return service.receive_notification(notification=notification, payload=_kept(notification, body))


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
