"""WeChat Pay 商家转账 (APIv3 transfer bills) through wechatpayv3, pointed at WeChat Pay or the sandbox.

A bill is created with a deterministic ``out_bill_no``; its response carries ``package_info`` for
the mini-program's ``wx.requestMerchantTransfer``; the outcome comes by callback
(MCHTRANSFER.BILL.FINISHED) and by query.

Retry rule: a create that timed out or failed with an unknown error (``WeChatPayUnavailable``)
may have created the bill. Query it (or create again) with the SAME ``out_bill_no``; never switch
to a new number, or the user may be paid twice. WeChat answers a repeated create with the same
parameters with the same bill.

Every response is checked against WeChat Pay's public key before it is believed; an unsigned or
mis-signed answer raises ``WeChatPaySignatureInvalid``.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import requests
from wechatpayv3 import WeChatPay, WeChatPayType

from app.errors import Conflict, DomainError, NotFound, ValidationFailed
from app.wechat import PaySettings, runtime
from app.wechat.errors import WeChatUnavailable

MIN_TRANSFER_FEN = 10  # WeChat Pay refuses transfers below 0.1 yuan
DEFAULT_SCENE_ID = "1000"  # 现金营销 (cash marketing)
FINISHED_EVENT = "MCHTRANSFER.BILL.FINISHED"
FINAL_STATES = frozenset({"SUCCESS", "FAIL", "CANCELLED"})
# WeChat Pay's replay window for signed messages.
MAX_CLOCK_SKEW_SECONDS = 300
_OUT_BILL_NO = re.compile(r"^[0-9A-Za-z]{5,32}$")


class WeChatPayUnavailable(WeChatUnavailable):
    message = ("WeChat Pay did not answer in time or is busy; retry later with the same "
               "out_bill_no (query it first), never with a new one.")


class WeChatPaySignatureInvalid(DomainError):
    status = 502
    code = "wechatpay_signature_invalid"
    message = ("WeChat Pay's answer is not signed by WeChat Pay; it was not trusted. "
               "Query the bill with the same out_bill_no.")


class WeChatPayRejected(DomainError):
    status = 422
    code = "wechatpay_rejected"
    message = "WeChat Pay refused the request."


class WeChatPayConflict(Conflict):
    code = "wechatpay_conflict"
    message = "WeChat Pay refused the request in the bill's current state or for a reused out_bill_no."


class TransferBillNotFound(NotFound):
    code = "transfer_bill_not_found"
    message = "WeChat Pay has no transfer bill with this out_bill_no."


class TransferAmountTooSmall(ValidationFailed):
    code = "transfer_amount_too_small"
    message = f"A transfer is at least {MIN_TRANSFER_FEN} fen (0.1 yuan)."


class CallbackInvalid(DomainError):
    status = 400
    code = "wechatpay_callback_invalid"
    message = "The callback is not signed by WeChat Pay or cannot be decrypted."


@dataclass(frozen=True)
class TransferBill:
    """A transfer bill as WeChat Pay reports it."""

    out_bill_no: str
    transfer_bill_no: str
    state: str
    package_info: str | None = None
    create_time: str | None = None
    update_time: str | None = None
    transfer_amount: int | None = None
    openid: str | None = None
    fail_reason: str | None = None

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @classmethod
    def from_payload(cls, data: dict) -> "TransferBill":
        return cls(out_bill_no=data["out_bill_no"], transfer_bill_no=data.get("transfer_bill_no", ""),
                   state=data["state"], package_info=data.get("package_info"),
                   create_time=data.get("create_time"), update_time=data.get("update_time"),
                   transfer_amount=data.get("transfer_amount"), openid=data.get("openid"),
                   fail_reason=data.get("fail_reason"))


@dataclass(frozen=True)
class TransferNotification:
    """A verified, decrypted MCHTRANSFER.BILL.FINISHED callback."""

    id: str
    event_type: str
    create_time: str
    bill: TransferBill


def _client(settings: PaySettings) -> WeChatPay:
    timeout = runtime().config["WECHAT_TIMEOUT_SECONDS"]
    client = WeChatPay(wechatpay_type=WeChatPayType.MINIPROG, mchid=settings.mchid,
                       private_key=settings.private_key, cert_serial_no=settings.cert_serial_no,
                       appid=settings.appid, apiv3_key=settings.apiv3_key, notify_url=settings.notify_url,
                       timeout=timeout, public_key=settings.public_key,
                       public_key_id=settings.public_key_id)
    # wechatpayv3 hard-codes api.mch.weixin.qq.com; the configured base (WeChat or the sandbox) wins.
    client._core._gate_way = runtime().pay_base
    return client


def _call(operation, *args, **kwargs) -> dict:
    """Run one wechatpayv3 call and turn its outcome into a payload or one of our errors."""
    try:
        status, text = operation(*args, **kwargs)
    except requests.RequestException as exc:
        raise WeChatPayUnavailable(errors={"reason": type(exc).__name__}) from exc
    except Exception as exc:  # noqa: BLE001 - wechatpayv3 raises bare Exception for bad signatures
        raise WeChatPaySignatureInvalid(errors={"reason": str(exc)}) from exc
    try:
        data = json.loads(text) if text else {}
    except (TypeError, ValueError):
        data = {}
    if 200 <= status < 300:
        return data
    wechat = {"wechat_code": data.get("code"), "wechat_message": data.get("message")}
    if status >= 500 or status == 429 or data.get("code") in {"SYSTEM_ERROR", "FREQUENCY_LIMITED"}:
        raise WeChatPayUnavailable(errors=wechat)
    if status == 404 and data.get("code") == "NOT_FOUND":
        # Only WeChat's own "no such bill" says the bill does not exist; a bare 404 (a proxy, a wrong
        # path) says nothing about it.
        raise TransferBillNotFound(errors=wechat)
    if data.get("code") in {"INVALID_REQUEST", "ALREADY_EXISTS"}:
        raise WeChatPayConflict(data.get("message") or None, errors=wechat)
    raise WeChatPayRejected(data.get("message") or None, errors=wechat)


def _check_out_bill_no(out_bill_no: str) -> None:
    if not _OUT_BILL_NO.match(out_bill_no or ""):
        raise ValidationFailed("out_bill_no is 5 to 32 letters and digits.",
                               errors={"out_bill_no": ["5 to 32 letters and digits"]},
                               code="invalid_out_bill_no")


def create_transfer(*, out_bill_no: str, openid: str, amount_fen: int, remark: str,
                    scene_id: str = DEFAULT_SCENE_ID, report_infos: list[dict] | None = None,
                    user_recv_perception: str | None = None, notify_url: str | None = None,
                    appid: str | None = None) -> TransferBill:
    """Create (or find again, same out_bill_no) a transfer bill the user confirms in WeChat.

    ``appid`` is the mini-program the openid belongs to (a clerk's is the clerk app's); by default
    the merchant's configured one.
    """
    _check_out_bill_no(out_bill_no)
    if amount_fen < MIN_TRANSFER_FEN:
        raise TransferAmountTooSmall(errors={"amount_fen": [f"at least {MIN_TRANSFER_FEN}"]})
    if not remark or len(remark) > 32:
        raise ValidationFailed("The remark is 1 to 32 characters.", errors={"remark": ["1 to 32 characters"]})
    settings = runtime().pay_settings()
    client = _client(settings)
    data = _call(client.mch_transfer_bills, out_bill_no=out_bill_no, transfer_scene_id=scene_id,
                 openid=openid, transfer_amount=amount_fen, transfer_remark=remark,
                 user_recv_perception=user_recv_perception,
                 transfer_scene_report_infos=report_infos or [], appid=appid or settings.appid,
                 notify_url=notify_url or settings.notify_url)
    return TransferBill.from_payload({"transfer_amount": amount_fen, "openid": openid, **data})


def query_transfer(*, out_bill_no: str) -> TransferBill:
    """The bill as WeChat Pay holds it now (the way to settle a create that timed out)."""
    _check_out_bill_no(out_bill_no)
    client = _client(runtime().pay_settings())
    return TransferBill.from_payload(_call(client.mch_transfer_bills_query, out_bill_no=out_bill_no))


def cancel_transfer(*, out_bill_no: str) -> TransferBill:
    """Withdraw a bill the user has not confirmed yet (answers CANCELING or CANCELLED)."""
    _check_out_bill_no(out_bill_no)
    client = _client(runtime().pay_settings())
    return TransferBill.from_payload(_call(client.mch_transfer_bills_cancel, out_bill_no=out_bill_no))


def parse_transfer_callback(headers, body: bytes | str) -> TransferNotification:
    """Verify a MCHTRANSFER.BILL.FINISHED callback's signature and decrypt its resource."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    names = ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial",
             "Wechatpay-Signature-Type")
    signed = {name: headers.get(name, "") for name in names}
    try:
        timestamp = int(signed["Wechatpay-Timestamp"])
    except ValueError:
        raise CallbackInvalid(errors={"reason": "no timestamp"}) from None
    # A signed callback replayed long after it was sent is refused, as WeChat Pay advises.
    if abs(time.time() - timestamp) > MAX_CLOCK_SKEW_SECONDS:
        raise CallbackInvalid(errors={"reason": "stale timestamp"})
    client = _client(runtime().pay_settings())
    try:
        result = client.callback(signed, text)
    except Exception as exc:  # noqa: BLE001 - wechatpayv3 raises bare Exception on unknown schemes
        raise CallbackInvalid(errors={"reason": str(exc)}) from exc
    if not result or not isinstance(result.get("resource"), dict):
        raise CallbackInvalid(errors={"reason": "bad signature or undecryptable resource"})
    if result.get("event_type") != FINISHED_EVENT:
        raise CallbackInvalid(errors={"reason": f"unexpected event {result.get('event_type')!r}"})
    return TransferNotification(id=result.get("id", ""), event_type=result["event_type"],
                                create_time=result.get("create_time", ""),
                                bill=TransferBill.from_payload(result["resource"]))
