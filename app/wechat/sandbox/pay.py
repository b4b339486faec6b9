"""The sandbox's WeChat Pay: 商家转账 transfer bills (APIv3) and cash red packets (APIv2).

Same paths, payloads and signatures as WeChat Pay: requests must carry the merchant's
WECHATPAY2-SHA256-RSA2048 Authorization (checked with the merchant's public key); every answer is
signed with the sandbox's platform key and named by its public key id; callbacks are encrypted
with the APIv3 key (AEAD_AES_256_GCM, associated data "mch_payment") and delivered from a
background thread with retries. APIv2 red packets are MD5-signed XML both ways.

Acting as the user in WeChat: GET /__sandbox__/transfers/<out_bill_no> shows Confirm / Decline.
The sandbox clock can be moved forward (POST /__sandbox__/pay/clock) to close bills left
unconfirmed for 24 hours, as WeChat does.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import requests
import xmltodict
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Blueprint, Response, current_app, g, redirect, render_template_string, request, url_for

from app.wechat.sandbox import faults
from app.wechat.sandbox.credentials import SandboxCredentials
from app.wechat.sandbox.state import SandboxState

log = logging.getLogger(__name__)

blp = Blueprint("sandbox_pay", __name__)

TRANSFERS = "/v3/fund-app/mch-transfer/transfer-bills"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
CLOSE_AFTER_SECONDS = 24 * 3600  # an unconfirmed bill is closed after 24 hours
PENDING_STATES = ("ACCEPTED", "WAIT_USER_CONFIRM")
# Delays between callback attempts (WeChat spreads them over hours; the sandbox over seconds).
CALLBACK_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
CALLBACK_TIMEOUT_SECONDS = 5
DECLINED_REASON = "TRANSFER_REJECTED"  # the sandbox's fail_reason when the user declines
CHINA = timezone(timedelta(hours=8))  # WeChat Pay's clock (Beijing time), not our business day: the sandbox stands alone


# --- state -------------------------------------------------------------------------------------

@dataclass
class Bill:
    out_bill_no: str
    transfer_bill_no: str
    params: dict  # what the merchant sent, to tell a repeat from a reuse of the number
    state: str
    created_at: float
    updated_at: float
    package_info: str
    fail_reason: str | None = None

    def payload(self, mchid: str) -> dict:
        data = {"mch_id": mchid, "out_bill_no": self.out_bill_no, "transfer_bill_no": self.transfer_bill_no,
                "appid": self.params["appid"], "state": self.state,
                "transfer_amount": self.params["transfer_amount"],
                "transfer_remark": self.params["transfer_remark"], "openid": self.params["openid"],
                "create_time": _rfc3339(self.created_at), "update_time": _rfc3339(self.updated_at)}
        if self.fail_reason:
            data["fail_reason"] = self.fail_reason
        return data


@dataclass
class PayState:
    bills: dict[str, Bill] = field(default_factory=dict)
    redpacks: dict[str, dict] = field(default_factory=dict)
    clock_offset: float = 0.0
    deliveries: list[dict] = field(default_factory=list)  # every callback attempt, for tests
    held: list[tuple] = field(default_factory=list)  # callbacks held back to arrive out of order


def pay_state(state: SandboxState) -> PayState:
    with state.lock:
        if not hasattr(state, "pay"):
            state.pay = PayState()
        return state.pay


def sandbox_now(state: SandboxState) -> float:
    """The sandbox's clock: real time plus however far a test moved it."""
    return time.time() + pay_state(state).clock_offset


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, CHINA).isoformat(timespec="seconds")


def _state() -> SandboxState:
    return current_app.extensions["sandbox_state"]


def _credentials() -> SandboxCredentials:
    return current_app.config["SANDBOX_CREDENTIALS"]


# --- signatures (APIv3) ----------------------------------------------------------------------

def _load_private(pem: str):
    return serialization.load_pem_private_key(pem.encode(), password=None)


def _load_public(pem: str):
    return serialization.load_pem_public_key(pem.encode())


def rsa_sign(private_pem: str, message: str) -> str:
    signature = _load_private(private_pem).sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa_verify(public_pem: str, message: str, signature: str) -> bool:
    try:
        _load_public(public_pem).verify(base64.b64decode(signature), message.encode(),
                                        padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def signed_headers(credentials: SandboxCredentials, body: str) -> dict:
    """WeChat Pay's signature headers over a response or callback body."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    pay = credentials.pay
    return {"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": rsa_sign(pay["platform_private_key"], f"{timestamp}\n{nonce}\n{body}\n"),
            "Wechatpay-Serial": pay["platform_public_key_id"], "Wechatpay-Signature-Type": SIGNATURE_TYPE}


def _authorization_error() -> tuple[int, dict] | None:
    """Check the merchant's WECHATPAY2-SHA256-RSA2048 Authorization header, as WeChat Pay does."""
    credentials = _credentials()
    scheme, _, rest = request.headers.get("Authorization", "").partition(" ")
    if scheme != SIGNATURE_TYPE:
        return 401, {"code": "SIGN_ERROR", "message": "Authorization 缺失或认证类型错误"}
    params = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        params[name] = value.strip('"')
    if params.get("mchid") != credentials.mchid:
        return 401, {"code": "SIGN_ERROR", "message": "商户号与签名不匹配"}
    if params.get("serial_no") != credentials.pay["merchant_cert_serial_no"]:
        return 401, {"code": "SIGN_ERROR", "message": "商户证书序列号有误"}
    try:
        skew = abs(time.time() - int(params.get("timestamp", "")))
    except ValueError:
        skew = float("inf")
    if skew > 300:
        return 401, {"code": "SIGN_ERROR", "message": "时间戳与系统时间相差过大"}
    path = request.full_path.rstrip("?") if request.query_string else request.path
    message = "\n".join([request.method, path, params["timestamp"], params.get("nonce_str", ""),
                         request.get_data(as_text=True)]) + "\n"
    if not rsa_verify(credentials.pay["merchant_public_key"], message, params.get("signature", "")):
        return 401, {"code": "SIGN_ERROR", "message": "签名错误"}
    serial = request.headers.get("Wechatpay-Serial")
    if serial and serial != credentials.pay["platform_public_key_id"]:
        return 400, {"code": "PARAM_ERROR", "message": "Wechatpay-Serial 与微信支付公钥ID不匹配"}
    return None


def _answer(status: int, payload: dict, fault: faults.Fault | None = None) -> Response:
    """A signed JSON answer (or, under a fault, a mis-signed or unsigned one)."""
    body = json.dumps(payload, ensure_ascii=False)
    headers = signed_headers(_credentials(), body)
    if fault is not None and fault.kind == faults.BAD_SIGNATURE:
        # Signed, then changed on the way: what a man in the middle would send.
        body = json.dumps({**payload, "state": "SUCCESS"}, ensure_ascii=False)
        if body == json.dumps(payload, ensure_ascii=False):
            body = body + " "
    if fault is not None and fault.kind == faults.UNSIGNED:
        headers = {}
    headers["Request-ID"] = secrets.token_hex(16)
    return Response(body, status=status, headers=headers, content_type="application/json; charset=utf-8")


def _fault_answer(fault: faults.Fault | None) -> Response | None:
    """The failure a request fault stands for, or None to carry on (after a stall for timeouts)."""
    if fault is None:
        return None
    if fault.kind == faults.TIMEOUT:
        fault.sleep()
        return None
    if fault.kind == faults.HTTP_500:
        return Response("Internal Server Error", status=500, content_type="text/plain")
    if fault.kind == faults.SYSTEM_ERROR:
        return _answer(500, {"code": "SYSTEM_ERROR", "message": fault.errmsg or "系统异常，请稍后重试"})
    if fault.kind == faults.RATE_LIMITED:
        return _answer(429, {"code": "FREQUENCY_LIMITED", "message": fault.errmsg or "频率超限"})
    if fault.kind == faults.HIGH_RISK:
        return _answer(403, {"code": "NO_AUTH", "message": fault.errmsg or "收款用户存在风险，无法转账"})
    if fault.kind == faults.FAIL:
        return _answer(fault.http_status or 403, {"code": str(fault.errcode or "NOT_ENOUGH"),
                                                  "message": fault.errmsg or "商户余额不足"})
    return None


def _v3_call(operation: str, handler) -> Response:
    problem = _authorization_error()
    if problem:
        return _answer(*problem)
    fault = faults.take_fault(_state(), operation)
    failure = _fault_answer(fault)
    if failure is not None:
        return failure
    status, payload = handler()
    return _answer(status, payload, fault)


# --- transfer bills ----------------------------------------------------------------------------

def _param_error(message: str) -> tuple[int, dict]:
    return 400, {"code": "PARAM_ERROR", "message": message}


def _new_bill_no(mchid: str) -> str:
    return "1330" + mchid + datetime.now(CHINA).strftime("%Y%m%d") + str(secrets.randbelow(10**18)).zfill(18)


@blp.post(TRANSFERS)
def create_transfer_bill():
    return _v3_call("transfer_bills.create", _create_transfer_bill)


def _create_transfer_bill() -> tuple[int, dict]:
    data = request.get_json(silent=True) or {}
    required = ("appid", "out_bill_no", "transfer_scene_id", "openid", "transfer_amount", "transfer_remark")
    missing = [name for name in required if not data.get(name)]
    if missing:
        return _param_error(f"输入参数有误: 缺少 {', '.join(missing)}")
    amount = data["transfer_amount"]
    if not isinstance(amount, int) or amount < 10:
        return _param_error("转账金额不能低于0.1元")
    if len(data["transfer_remark"]) > 32:
        return _param_error("转账备注不能超过32个字符")
    params = {name: data.get(name) for name in (*required, "transfer_scene_report_infos",
                                                "user_recv_perception", "notify_url")}
    state, credentials = _state(), _credentials()
    pay = pay_state(state)
    with state.lock:
        now = sandbox_now(state)
        bill = pay.bills.get(data["out_bill_no"])
        if bill is not None and bill.params != params:
            return 400, {"code": "INVALID_REQUEST", "message": "商户单号重复，且请求参数与原单不一致"}
        if bill is None:
            bill = Bill(out_bill_no=data["out_bill_no"], transfer_bill_no=_new_bill_no(credentials.mchid),
                        params=params, state="WAIT_USER_CONFIRM", created_at=now, updated_at=now,
                        package_info=base64.b64encode(secrets.token_bytes(48)).decode())
            pay.bills[bill.out_bill_no] = bill
        answer = {"out_bill_no": bill.out_bill_no, "transfer_bill_no": bill.transfer_bill_no,
                  "create_time": _rfc3339(bill.created_at), "state": bill.state}
        if bill.state == "WAIT_USER_CONFIRM":
            answer["package_info"] = bill.package_info
        if bill.fail_reason:
            answer["fail_reason"] = bill.fail_reason
    return 200, answer


@blp.get(f"{TRANSFERS}/out-bill-no/<out_bill_no>")
def query_transfer_bill(out_bill_no: str):
    return _v3_call("transfer_bills.query", lambda: _query_transfer_bill(out_bill_no))


def _query_transfer_bill(out_bill_no: str) -> tuple[int, dict]:
    state = _state()
    close_expired(state, current_app._get_current_object())
    with state.lock:
        bill = pay_state(state).bills.get(out_bill_no)
        if bill is None:
            return 404, {"code": "NOT_FOUND", "message": "记录不存在"}
        return 200, bill.payload(_credentials().mchid)


@blp.post(f"{TRANSFERS}/out-bill-no/<out_bill_no>/cancel")
def cancel_transfer_bill(out_bill_no: str):
    return _v3_call("transfer_bills.cancel", lambda: _cancel_transfer_bill(out_bill_no))


def _cancel_transfer_bill(out_bill_no: str) -> tuple[int, dict]:
    state, sandbox = _state(), current_app._get_current_object()
    close_expired(state, sandbox)
    with state.lock:
        bill = pay_state(state).bills.get(out_bill_no)
        if bill is None:
            return 404, {"code": "NOT_FOUND", "message": "记录不存在"}
        if bill.state in ("SUCCESS", "FAIL"):
            return 400, {"code": "INVALID_REQUEST", "message": "转账单已处于终态，不可撤销"}
        answer_state = "CANCELLED" if bill.state == "CANCELLED" else "CANCELING"
        if bill.state in PENDING_STATES:
            # WeChat accepts the cancel (CANCELING) and settles it (CANCELLED) right after.
            _finish(sandbox, bill, "CANCELLED", None)
        return 200, {"out_bill_no": bill.out_bill_no, "transfer_bill_no": bill.transfer_bill_no,
                     "state": answer_state, "update_time": _rfc3339(bill.updated_at)}


def _finish(sandbox, bill: Bill, final_state: str, fail_reason: str | None) -> None:
    """Move a bill to its final state and send the MCHTRANSFER.BILL.FINISHED callback."""
    state = sandbox.extensions["sandbox_state"]
    bill.state, bill.fail_reason, bill.updated_at = final_state, fail_reason, sandbox_now(state)
    notify(sandbox, bill)


def close_expired(state: SandboxState, sandbox=None, now: float | None = None) -> list[str]:
    """Close bills left unconfirmed for 24 hours (CANCELLED, as WeChat does); answers their numbers."""
    now = sandbox_now(state) if now is None else now
    closed = []
    with state.lock:
        for bill in pay_state(state).bills.values():
            if bill.state in PENDING_STATES and now - bill.created_at >= CLOSE_AFTER_SECONDS:
                bill.state, bill.fail_reason, bill.updated_at = "CANCELLED", "OVERDUE_CLOSE", now
                closed.append(bill.out_bill_no)
                if sandbox is not None:
                    notify(sandbox, bill)
    return closed


def user_decides(sandbox, out_bill_no: str, *, confirm: bool) -> Bill | None:
    """Act as the user in WeChat: confirm (SUCCESS) or decline (FAIL) a bill awaiting them."""
    state = sandbox.extensions["sandbox_state"]
    close_expired(state, sandbox)
    with state.lock:
        bill = pay_state(state).bills.get(out_bill_no)
        if bill is None or bill.state not in PENDING_STATES:
            return bill
        _finish(sandbox, bill, "SUCCESS" if confirm else "FAIL", None if confirm else DECLINED_REASON)
        return bill


# --- callbacks ---------------------------------------------------------------------------------

def encrypt_resource(apiv3_key: str, plaintext: str, associated_data: str = "mch_payment") -> dict:
    """WeChat Pay's AEAD_AES_256_GCM resource (12-character nonce, base64 ciphertext+tag)."""
    nonce = secrets.token_hex(6)
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext.encode(),
                                                     associated_data.encode())
    return {"original_type": "mch_payment", "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(), "associated_data": associated_data,
            "nonce": nonce}


def build_callback(credentials: SandboxCredentials, bill: Bill) -> tuple[dict, str]:
    """The signed headers and body of a bill's MCHTRANSFER.BILL.FINISHED callback."""
    resource = bill.payload(credentials.mchid)
    resource.pop("appid"), resource.pop("transfer_remark")
    body = json.dumps({
        "id": "EV-" + secrets.token_hex(12),
        "create_time": _rfc3339(bill.updated_at),
        "resource_type": "encrypt-resource",
        "event_type": "MCHTRANSFER.BILL.FINISHED",
        "summary": "商家转账单据终态通知",
        "resource": encrypt_resource(credentials.apiv3_key, json.dumps(resource, ensure_ascii=False)),
    }, ensure_ascii=False)
    headers = {**signed_headers(credentials, body), "Content-Type": "application/json"}
    return headers, body


def notify(sandbox, bill: Bill) -> None:
    """Send the bill's callback from a background thread, with the callback fault if one is armed."""
    url = bill.params.get("notify_url")
    if not url:
        return
    state = sandbox.extensions["sandbox_state"]
    pay = pay_state(state)
    headers, body = build_callback(sandbox.config["SANDBOX_CREDENTIALS"], bill)
    fault = faults.take_fault(state, "callback")
    kind = fault.kind if fault else None
    if kind == faults.NEVER:
        with state.lock:
            pay.deliveries.append({"out_bill_no": bill.out_bill_no, "state": bill.state, "dropped": True})
        return
    job = (url, headers, body, bill.out_bill_no, bill.state)
    if kind == faults.OUT_OF_ORDER:
        # Held back until the next callback has gone out (or the held ones are flushed).
        with state.lock:
            pay.held.append(job)
        return
    with state.lock:
        jobs = [job] * (2 if kind == faults.DUPLICATE else 1)
        jobs += pay.held
        pay.held.clear()
    delay = fault.delay if kind == faults.TIMEOUT else 0.0
    threading.Thread(target=_deliver_all, args=(state, jobs, delay), name="sandbox-pay-callback",
                     daemon=True).start()


def flush_held(sandbox) -> int:
    """Deliver the callbacks held back by an out_of_order fault; answers how many."""
    state = sandbox.extensions["sandbox_state"]
    pay = pay_state(state)
    with state.lock:
        jobs, pay.held[:] = list(pay.held), []
    if jobs:
        threading.Thread(target=_deliver_all, args=(state, jobs, 0.0), daemon=True).start()
    return len(jobs)


def _deliver_all(state: SandboxState, jobs: list[tuple], delay: float) -> None:
    if delay:
        time.sleep(delay)
    for job in jobs:
        _deliver(state, *job)


def _deliver(state: SandboxState, url: str, headers: dict, body: str, out_bill_no: str, bill_state: str) -> None:
    """POST one callback, retrying until the merchant answers 2xx (as WeChat Pay retries)."""
    pay = pay_state(state)
    for attempt, pause in enumerate((0.0, *CALLBACK_RETRY_DELAYS), start=1):
        time.sleep(pause)
        try:
            status = requests.post(url, data=body.encode(), headers=headers,
                                   timeout=CALLBACK_TIMEOUT_SECONDS).status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        with state.lock:
            pay.deliveries.append({"out_bill_no": out_bill_no, "state": bill_state, "attempt": attempt,
                                   "status": status})
        if isinstance(status, int) and 200 <= status < 300:
            return
    log.info("sandbox: callback for %s given up after %d attempts", out_bill_no, attempt)


# --- the user in WeChat, and the pay controls ------------------------------------------------

CONFIRM_PAGE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>收款确认 (sandbox)</title></head>
<body style="font-family: sans-serif; max-width: 28rem; margin: 2rem auto">
<h1>收款确认</h1>
{% if bill %}
<p>商家单号 <code>{{ bill.out_bill_no }}</code></p>
<p>金额 <strong>¥{{ '%.2f' % (bill.params.transfer_amount / 100) }}</strong> · {{ bill.params.transfer_remark }}</p>
<p>状态 <strong id="state">{{ bill.state }}</strong>{% if bill.fail_reason %} ({{ bill.fail_reason }}){% endif %}</p>
{% if bill.state in pending %}
<form method="post" action="{{ url_for('sandbox_pay.confirm_transfer', out_bill_no=bill.out_bill_no) }}" style="display:inline">
<input type="hidden" name="page" value="1"><button type="submit">确认收款 Confirm</button></form>
<form method="post" action="{{ url_for('sandbox_pay.decline_transfer', out_bill_no=bill.out_bill_no) }}" style="display:inline">
<input type="hidden" name="page" value="1"><button type="submit">拒绝 Decline</button></form>
{% endif %}
{% else %}<p>No transfer bill {{ out_bill_no }}.</p>{% endif %}
</body></html>"""


TRANSFERS_PAGE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>转账单 Transfers (sandbox)</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 2rem auto">
<h1>转账单 Transfers</h1>
<p>The transfer bills this sandbox holds, newest first: open one to confirm or decline it as its user would in
WeChat.</p>
<table><tr><th>商家单号 Bill</th><th>金额 Amount</th><th>状态 State</th></tr>
{% for bill in bills %}<tr><td><a href="{{ url_for('sandbox_pay.transfer_page', out_bill_no=bill.out_bill_no) }}">
<code>{{ bill.out_bill_no }}</code></a></td><td>¥{{ '%.2f' % (bill.params.transfer_amount / 100) }}</td>
<td>{{ bill.state }}</td></tr>
{% else %}<tr><td colspan="3">No transfer bill yet.</td></tr>{% endfor %}
</table></body></html>"""


@blp.get("/__sandbox__/transfers")
def transfers_page():
    """Every transfer bill with a link to its confirm page (the page `make run` prints)."""
    state = _state()
    close_expired(state, current_app._get_current_object())
    with state.lock:
        bills = sorted(pay_state(state).bills.values(), key=lambda bill: bill.created_at, reverse=True)
    return render_template_string(TRANSFERS_PAGE, bills=bills)


@blp.get("/__sandbox__/transfers/<out_bill_no>")
def transfer_page(out_bill_no: str):
    state = _state()
    close_expired(state, current_app._get_current_object())
    bill = pay_state(state).bills.get(out_bill_no)
    return render_template_string(CONFIRM_PAGE, bill=bill, out_bill_no=out_bill_no,
                                  pending=PENDING_STATES), (200 if bill else 404)


def _decide(out_bill_no: str, confirm: bool):
    bill = user_decides(current_app._get_current_object(), out_bill_no, confirm=confirm)
    if request.form.get("page"):
        return redirect(url_for("sandbox_pay.transfer_page", out_bill_no=out_bill_no), code=303)
    if bill is None:
        return {"code": "NOT_FOUND", "message": f"no transfer bill {out_bill_no}"}, 404
    return {"out_bill_no": bill.out_bill_no, "state": bill.state, "fail_reason": bill.fail_reason}


@blp.post("/__sandbox__/transfers/<out_bill_no>/confirm")
def confirm_transfer(out_bill_no: str):
    return _decide(out_bill_no, True)


@blp.post("/__sandbox__/transfers/<out_bill_no>/decline")
def decline_transfer(out_bill_no: str):
    return _decide(out_bill_no, False)


@blp.post("/__sandbox__/pay/clock")
def advance_clock():
    seconds = float((request.get_json(silent=True) or {}).get("advance_seconds", 0))
    state = _state()
    with state.lock:
        pay_state(state).clock_offset += seconds
    closed = close_expired(state, current_app._get_current_object())
    return {"now": _rfc3339(sandbox_now(state)), "closed": closed}


@blp.get("/__sandbox__/pay/callbacks")
def list_deliveries():
    state = _state()
    with state.lock:
        return {"deliveries": list(pay_state(state).deliveries), "held": len(pay_state(state).held)}


@blp.post("/__sandbox__/pay/callbacks/flush")
def flush_callbacks():
    return {"delivered": flush_held(current_app._get_current_object())}


# --- APIv2 cash red packets (MD5-signed XML) ---------------------------------------------------

def md5_sign(params: dict, key: str) -> str:
    """APIv2's MD5 signature: non-empty params sorted by name, &key=KEY, upper-case hex."""
    text = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] not in (None, ""))
    return hashlib.md5(f"{text}&key={key}".encode()).hexdigest().upper()


def _xml(params: dict) -> Response:
    params = {k: v for k, v in params.items() if v is not None}
    params["sign"] = md5_sign(params, _credentials().v2_key)
    body = "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in params.items()) + "</xml>"
    return Response(body, content_type="text/xml; charset=utf-8")


def _v2_fail(err_code: str, des: str, **extra) -> Response:
    return _xml({"return_code": "SUCCESS", "return_msg": des, "result_code": "FAIL", "err_code": err_code,
                 "err_code_des": des, **extra})


def _v2_request() -> tuple[dict | None, Response | None]:
    try:
        data = dict(xmltodict.parse(request.get_data())["xml"])
    except Exception:  # noqa: BLE001 - any unparsable body is WeChat's "XML format error"
        return None, _xml({"return_code": "FAIL", "return_msg": "XML格式错误"})
    if data.get("sign") != md5_sign(data, _credentials().v2_key):
        return None, _xml({"return_code": "FAIL", "return_msg": "签名错误"})
    if data.get("mch_id") != _credentials().mchid:
        return None, _xml({"return_code": "FAIL", "return_msg": "商户号错误"})
    return data, None


def _v2_answer(response: Response) -> Response:
    """The answer as it leaves, spoilt if a bad_signature or unsigned fault was taken."""
    fault = g.get("pay_fault")
    if fault is None or fault.kind not in (faults.BAD_SIGNATURE, faults.UNSIGNED):
        return response
    body = response.get_data(as_text=True)
    if fault.kind == faults.UNSIGNED:
        body = re.sub(r"<sign>.*?</sign>", "", body)
    else:
        body = body.replace("<total_amount><![CDATA[", "<total_amount><![CDATA[1")
    return Response(body, content_type="text/xml; charset=utf-8")


def _v2_fault(operation: str) -> Response | None:
    fault = g.pay_fault = faults.take_fault(_state(), operation)
    if fault is None:
        return None
    if fault.kind == faults.TIMEOUT:
        fault.sleep()
        return None
    if fault.kind == faults.HTTP_500:
        return Response("Internal Server Error", status=500, content_type="text/plain")
    if fault.kind == faults.SYSTEM_ERROR:
        return _v2_fail("SYSTEMERROR", fault.errmsg or "系统繁忙，请稍后再试")
    if fault.kind == faults.RATE_LIMITED:
        return _v2_fail("FREQ_LIMIT", fault.errmsg or "超过频率限制，请稍后再试")
    if fault.kind in (faults.BAD_SIGNATURE, faults.UNSIGNED):
        return None  # the answer is spoilt on its way out (_v2_answer)
    return _v2_fail(str(fault.errcode or "NOTENOUGH"), fault.errmsg or "帐号余额不足，请到商户平台充值后再重试")


@blp.post("/mmpaymkttransfers/sendredpack")
def send_redpack():
    data, refusal = _v2_request()
    if refusal is not None:
        return refusal
    failure = _v2_fault("redpack.send")
    if failure is not None:
        return failure
    billno = data.get("mch_billno", "")
    missing = [k for k in ("mch_billno", "wxappid", "send_name", "re_openid", "total_amount", "total_num",
                           "wishing", "client_ip", "act_name", "remark") if not data.get(k)]
    if missing:
        return _v2_fail("PARAM_ERROR", f"参数错误: 缺少 {', '.join(missing)}")
    amount = int(data["total_amount"])
    if not 100 <= amount <= 20000:
        return _v2_fail("MONEY_LIMIT", "每个红包的金额必须在默认额度内（1-200元）")
    if data["total_num"] != "1" or len(billno) > 28:
        return _v2_fail("PARAM_ERROR", "参数错误")
    params = {k: data[k] for k in ("wxappid", "re_openid", "total_amount", "send_name", "act_name",
                                   "wishing", "remark")}
    state = _state()
    with state.lock:
        redpacks = pay_state(state).redpacks
        existing = redpacks.get(billno)
        if existing is not None and existing["params"] != params:
            return _v2_fail("PARAM_ERROR", "商户订单号重复，且参数与原单不一致", mch_billno=billno)
        if existing is None:
            existing = redpacks[billno] = {
                "params": params, "send_listid": "1000041701" + str(secrets.randbelow(10**18)).zfill(18),
                "status": "SENT", "send_time": datetime.fromtimestamp(sandbox_now(state), CHINA)
                .strftime("%Y-%m-%d %H:%M:%S"), "rcv_time": None}
    return _v2_answer(_xml({
        "return_code": "SUCCESS", "return_msg": "发放成功", "result_code": "SUCCESS", "err_code": "SUCCESS",
        "err_code_des": "发放成功", "mch_billno": billno, "mch_id": data["mch_id"], "wxappid": params["wxappid"],
        "re_openid": params["re_openid"], "total_amount": params["total_amount"],
        "send_listid": existing["send_listid"]}))


@blp.post("/mmpaymkttransfers/gethbinfo")
def query_redpack():
    data, refusal = _v2_request()
    if refusal is not None:
        return refusal
    failure = _v2_fault("redpack.query")
    if failure is not None:
        return failure
    state = _state()
    with state.lock:
        packet = pay_state(state).redpacks.get(data.get("mch_billno", ""))
        if packet is None:
            return _v2_fail("NOT_FOUND", "指定单号数据不存在")
        params = packet["params"]
        return _v2_answer(_xml({
            "return_code": "SUCCESS", "return_msg": "OK", "result_code": "SUCCESS", "err_code": "SUCCESS",
            "err_code_des": "OK", "mch_billno": data["mch_billno"], "mch_id": data["mch_id"],
            "detail_id": packet["send_listid"], "status": packet["status"], "send_type": "API",
            "hb_type": "NORMAL", "total_num": "1", "total_amount": params["total_amount"],
            "send_time": packet["send_time"], "openid": params["re_openid"], "amount": params["total_amount"],
            "rcv_time": packet["rcv_time"]}))


@blp.post("/__sandbox__/redpacks/<mch_billno>/receive")
def receive_redpack(mch_billno: str):
    state = _state()
    with state.lock:
        packet = pay_state(state).redpacks.get(mch_billno)
        if packet is None:
            return {"code": "NOT_FOUND", "message": f"no red packet {mch_billno}"}, 404
        packet["status"] = "RECEIVED"
        packet["rcv_time"] = datetime.fromtimestamp(sandbox_now(state), CHINA).strftime("%Y-%m-%d %H:%M:%S")
    return {"mch_billno": mch_billno, "status": "RECEIVED"}
