"""Cash red packets (APIv2 ``mmpaymkttransfers``) through wechatpy: the second payout channel.

For merchants that already hold 现金红包. MD5-signed XML both ways; ``mch_billno`` is the
idempotency key: a send that timed out or answered SYSTEMERROR is settled by ``query_redpack``
or by sending again with the SAME ``mch_billno``, never with a new one.

WeChat signs red packet answers only sometimes: a sign, when present, must check out.
Production needs the APIv2 client certificate (WECHATPAY_V2_CERT_PATH / WECHATPAY_V2_KEY_PATH)
for sendredpack and gethbinfo; the sandbox does not ask for it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import requests
import xmltodict
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import _check_signature, calculate_signature

from app.errors import ValidationFailed
from app.wechat import runtime
from app.wechat.pay import WeChatPayRejected, WeChatPaySignatureInvalid, WeChatPayUnavailable

MIN_FEN, MAX_FEN = 100, 20000  # 1 to 200 yuan per red packet without a scene_id
# err_codes after which the outcome is unknown: query (same mch_billno) before anything else.
UNKNOWN_OUTCOME = frozenset({"SYSTEMERROR", "FREQ_LIMIT", "PROCESSING", "SENDNUM_LIMIT_RETRY"})
_BILLNO = re.compile(r"^[0-9A-Za-z]{1,28}$")
# client_ip is required by the API; wechatpy would otherwise look WeChat's host up in DNS to guess it.
DEFAULT_CLIENT_IP = "127.0.0.1"


class RedpackAmountOutOfRange(ValidationFailed):
    code = "redpack_amount_out_of_range"
    message = f"A cash red packet is {MIN_FEN} to {MAX_FEN} fen (1 to 200 yuan)."


@dataclass(frozen=True)
class RedpackSent:
    """WeChat Pay accepted the red packet."""

    mch_billno: str
    send_listid: str
    openid: str
    total_amount: int


@dataclass(frozen=True)
class RedpackInfo:
    """A red packet as gethbinfo reports it (status SENDING, SENT, FAILED, RECEIVED, RFUND_ING, REFUND)."""

    mch_billno: str
    detail_id: str
    status: str
    total_amount: int
    openid: str | None
    send_time: str | None
    rcv_time: str | None
    reason: str | None


def md5_signature(params: dict, key: str) -> str:
    """APIv2's MD5 sign of these parameters, as wechatpy computes it for our requests."""
    return calculate_signature(params, key)


def _client() -> WeChatPay:
    settings = runtime().pay_settings()
    client = WeChatPay(appid=settings.appid, api_key=settings.v2_key, mch_id=settings.mchid,
                       mch_cert=settings.v2_cert_path, mch_key=settings.v2_key_path,
                       timeout=runtime().config["WECHAT_TIMEOUT_SECONDS"])
    # wechatpy's base is api.mch.weixin.qq.com; the configured base (WeChat or the sandbox) wins.
    client.API_BASE_URL = runtime().pay_base + "/"
    return client


def _check_signed(client: WeChatPay, response) -> None:
    """A failure answer that carries a sign must carry the right one (a forged FAIL is no answer)."""
    try:
        data = xmltodict.parse(response.content)["xml"] if response is not None else None
    except Exception:  # noqa: BLE001 - not XML (e.g. a bare HTTP 500): nothing to check
        return
    if isinstance(data, dict) and "sign" in data and not _check_signature(dict(data), client.api_key):
        raise WeChatPaySignatureInvalid()


def _call(client: WeChatPay, method, **kwargs) -> dict:
    try:
        data = method(**kwargs)
    except requests.RequestException as exc:
        raise WeChatPayUnavailable(errors={"reason": type(exc).__name__}) from exc
    except WeChatPayException as exc:
        _check_signed(client, exc.response)
        details = {"wechat_code": exc.errcode or exc.return_code, "wechat_message": exc.errmsg or exc.return_msg}
        if exc.return_code is None or exc.errcode in UNKNOWN_OUTCOME:
            raise WeChatPayUnavailable(errors=details) from exc
        if exc.return_code == "FAIL" and exc.return_msg == "签名错误":
            raise WeChatPayRejected("WeChat Pay refused our signature.", errors=details) from exc
        raise WeChatPayRejected(exc.errmsg or None, errors=details) from exc
    if not isinstance(data, dict):
        raise WeChatPayUnavailable(errors={"reason": "the answer is not XML"})
    # WeChat's red packet answers come unsigned over the client-certificate TLS channel; one that
    # does carry a sign (the sandbox always signs) must carry the right one.
    if "sign" in data and not _check_signature(dict(data), client.api_key):
        raise WeChatPaySignatureInvalid()
    return data


def send_redpack(*, mch_billno: str, openid: str, amount_fen: int, send_name: str, act_name: str,
                 wishing: str, remark: str, client_ip: str = DEFAULT_CLIENT_IP) -> RedpackSent:
    """Send one cash red packet (or find it again: same mch_billno, same parameters)."""
    if not _BILLNO.match(mch_billno or ""):
        raise ValidationFailed("mch_billno is 1 to 28 letters and digits.", code="invalid_mch_billno",
                               errors={"mch_billno": ["1 to 28 letters and digits"]})
    if not MIN_FEN <= amount_fen <= MAX_FEN:
        raise RedpackAmountOutOfRange(errors={"amount_fen": [f"{MIN_FEN} to {MAX_FEN}"]})
    client = _client()
    data = _call(client, client.redpack.send, user_id=openid, total_amount=amount_fen, send_name=send_name,
                 act_name=act_name, wishing=wishing, remark=remark, client_ip=client_ip,
                 out_trade_no=mch_billno)
    return RedpackSent(mch_billno=data["mch_billno"], send_listid=data["send_listid"],
                       openid=data["re_openid"], total_amount=int(data["total_amount"]))


def query_redpack(*, mch_billno: str) -> RedpackInfo:
    """The red packet as WeChat Pay holds it now."""
    client = _client()
    data = _call(client, client.redpack.query, out_trade_no=mch_billno)
    return RedpackInfo(mch_billno=data["mch_billno"], detail_id=data.get("detail_id", ""),
                       status=data["status"], total_amount=int(data["total_amount"]),
                       openid=data.get("openid"), send_time=data.get("send_time"),
                       rcv_time=data.get("rcv_time"), reason=data.get("reason"))
