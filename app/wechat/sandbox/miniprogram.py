"""The mini-program API as WeChat answers it: token, login, phone numbers, codes, messages, checks.

Test login codes: `sandbox:<name>` logs in the user <name> (a stable openid per appid, one unionid
across the three apps); `sandbox:<name>:<anything>` logs in the same user again with a fresh code;
`sandbox-phone:<digits>` is a phone-number code. Every code works once, as on WeChat.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import qrcode
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from flask import Blueprint, Response, current_app, jsonify, request

from app.wechat.sandbox import faults

bp = Blueprint("sandbox_miniprogram", __name__)

TOKEN_SECONDS = 7200
LOGIN_PREFIX = "sandbox:"
PHONE_PREFIX = "sandbox-phone:"
MAX_SCENE = 32
# Labels of msg_sec_check version 2 (100 = normal).
LABEL_NORMAL = 100
LABEL_OTHER = 21000

ERRORS = {
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40125: "invalid appsecret",
    40169: "invalid length for scene, or the data is not json string",
    41001: "access_token missing",
    42001: "access_token expired",
    47001: "data format error",
}


@dataclass
class MiniProgramState:
    """What WeChat holds for the mini-programs: tokens, spent codes, sessions, messages."""

    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (appid, expires at)
    token_requests: Counter = field(default_factory=Counter)  # appid -> tokens issued
    spent_codes: set[tuple[str, str]] = field(default_factory=set)  # (appid, code)
    sessions: dict[tuple[str, str], str] = field(default_factory=dict)  # (appid, openid) -> session_key
    subscribe_messages: list[dict] = field(default_factory=list)
    risky_words: list[str] = field(default_factory=list)
    review_words: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expire_tokens(self) -> None:
        """Every token issued so far answers 42001 from now on."""
        with self.lock:
            self.tokens = {t: (appid, 0.0) for t, (appid, _) in self.tokens.items()}


def mp_state(state=None) -> MiniProgramState:
    state = state or current_app.extensions["sandbox_state"]
    with state.lock:
        if not hasattr(state, "miniprogram"):
            state.miniprogram = MiniProgramState()
        return state.miniprogram


# --- who is who ------------------------------------------------------------------------------------

def _secrets_by_appid() -> dict[str, str]:
    return {a.appid: a.secret for a in current_app.config["SANDBOX_CREDENTIALS"].apps.values()}


def _derive(key: str, name: str) -> str:
    digest = hmac.new(key.encode(), name.encode(), hashlib.sha256).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode()[:27]


def openid_for(appid: str, name: str) -> str:
    """The stable openid of test user <name> in this mini-program."""
    return _derive(appid, name)


def unionid_for(name: str) -> str:
    """The unionid of test user <name>: the same in the three mini-programs."""
    return _derive("sandbox-open-platform", name)


def error(errcode: int, errmsg: str | None = None) -> Response:
    # WeChat answers its errors with HTTP 200 and an errcode in the body.
    return jsonify({"errcode": errcode, "errmsg": errmsg or ERRORS.get(errcode, "error")})


def fault_answer(operation: str) -> Response | None:
    """Play the fault armed for this operation: None means answer normally (maybe after a stall)."""
    fault = faults.take_fault(current_app.extensions["sandbox_state"], operation)
    if fault is None:
        return None
    if fault.kind == faults.TIMEOUT:
        fault.sleep()
        return None
    if fault.kind == faults.HTTP_500:
        return Response("Internal Server Error", status=500, mimetype="text/plain")
    return jsonify(fault.miniprogram_error())


def _check_app() -> tuple[str | None, Response | None]:
    appid, secret = request.args.get("appid", ""), request.args.get("secret", "")
    known = _secrets_by_appid()
    if appid not in known:
        return None, error(40013)
    if not hmac.compare_digest(secret, known[appid]):
        return None, error(40125)
    return appid, None


def _token_app() -> tuple[str | None, Response | None]:
    """The appid of the call's access token, or WeChat's error for a missing, wrong or old one."""
    token = request.args.get("access_token")
    if not token:
        return None, error(41001)
    state = mp_state()
    with state.lock:
        entry = state.tokens.get(token)
    if entry is None:
        return None, error(40001)
    appid, expires_at = entry
    if expires_at <= time.time():
        return None, error(42001)
    return appid, None


def _body() -> dict:
    data = request.get_json(force=True, silent=True)
    return data if isinstance(data, dict) else {}


# --- the API -----------------------------------------------------------------------------------------

@bp.get("/cgi-bin/token")
def token():
    if (answer := fault_answer("token")) is not None:
        return answer
    if request.args.get("grant_type") != "client_credential":
        return error(40002)
    appid, failure = _check_app()
    if failure:
        return failure
    access_token = secrets.token_urlsafe(96)
    state = mp_state()
    with state.lock:
        state.tokens[access_token] = (appid, time.time() + TOKEN_SECONDS)
        state.token_requests[appid] += 1
    return jsonify({"access_token": access_token, "expires_in": TOKEN_SECONDS})


@bp.get("/sns/jscode2session")
def jscode2session():
    if (answer := fault_answer("jscode2session")) is not None:
        return answer
    if request.args.get("grant_type") != "authorization_code":
        return error(40002)
    appid, failure = _check_app()
    if failure:
        return failure
    code = request.args.get("js_code", "")
    name = code[len(LOGIN_PREFIX):].split(":", 1)[0]
    state = mp_state()
    with state.lock:
        if not code.startswith(LOGIN_PREFIX) or not name or (appid, code) in state.spent_codes:
            return error(40029)
        state.spent_codes.add((appid, code))
        openid = openid_for(appid, name)
        session_key = base64.b64encode(secrets.token_bytes(16)).decode()
        state.sessions[(appid, openid)] = session_key
    return jsonify({"openid": openid, "session_key": session_key, "unionid": unionid_for(name)})


@bp.post("/wxa/business/getuserphonenumber")
def get_user_phone_number():
    if (answer := fault_answer("getuserphonenumber")) is not None:
        return answer
    appid, failure = _token_app()
    if failure:
        return failure
    code = str(_body().get("code", ""))
    digits = code[len(PHONE_PREFIX):]
    state = mp_state()
    with state.lock:
        if not code.startswith(PHONE_PREFIX) or not digits.isdigit() or (appid, code) in state.spent_codes:
            return error(40029)
        state.spent_codes.add((appid, code))
    return jsonify({"errcode": 0, "errmsg": "ok", "phone_info": phone_info(appid, digits)})


def phone_info(appid: str, digits: str) -> dict:
    return {"phoneNumber": digits, "purePhoneNumber": digits, "countryCode": "86",
            "watermark": {"timestamp": int(time.time()), "appid": appid}}


@bp.post("/wxa/getwxacodeunlimit")
def get_wxacode_unlimit():
    if (answer := fault_answer("getwxacodeunlimit")) is not None:
        return answer
    _, failure = _token_app()
    if failure:
        return failure
    data = _body()
    scene = data.get("scene")
    if not isinstance(scene, str) or not scene or len(scene) > MAX_SCENE:
        return error(40169)
    image = qrcode.make(json.dumps({"scene": scene, "page": data.get("page")}, ensure_ascii=False))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return Response(out.getvalue(), mimetype="image/png")


@bp.post("/cgi-bin/message/subscribe/send")
def send_subscribe_message():
    if (answer := fault_answer("subscribe_send")) is not None:
        return answer
    appid, failure = _token_app()
    if failure:
        return failure
    data = _body()
    state = mp_state()
    with state.lock:
        if (appid, data.get("touser")) not in state.sessions:
            return error(40003)
        if not data.get("template_id") or not isinstance(data.get("data"), dict):
            return error(47001)
        state.subscribe_messages.append({"appid": appid, **data, "sent_at": int(time.time())})
    return jsonify({"errcode": 0, "errmsg": "ok", "msgid": secrets.randbits(60)})


@bp.post("/wxa/msg_sec_check")
def msg_sec_check():
    if (answer := fault_answer("msg_sec_check")) is not None:
        return answer
    appid, failure = _token_app()
    if failure:
        return failure
    data = _body()
    state = mp_state()
    content = data.get("content")
    if (data.get("version") != 2 or data.get("scene") not in (1, 2, 3, 4)
            or not isinstance(content, str) or (appid, data.get("openid")) not in state.sessions):
        return error(47001)
    with state.lock:
        risky = [w for w in state.risky_words if w and w in content]
        review = [w for w in state.review_words if w and w in content]
    suggest, label = ("risky", LABEL_OTHER) if risky else ("review", LABEL_OTHER) if review else ("pass", LABEL_NORMAL)
    detail = [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label,
               **({"keyword": (risky or review)[0]} if risky or review else {})}]
    return jsonify({"errcode": 0, "errmsg": "ok", "result": {"suggest": suggest, "label": label},
                    "detail": detail, "trace_id": secrets.token_hex(12)})


# --- what tests need from the user's side ----------------------------------------------------------

def encrypt_for_session(session_key: str, payload: dict) -> tuple[str, str]:
    """(encryptedData, iv) as wx.getPhoneNumber's legacy form: AES-128-CBC with the session key."""
    iv = secrets.token_bytes(16)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(payload, ensure_ascii=False).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(base64.b64decode(session_key)), modes.CBC(iv)).encryptor()
    data = encryptor.update(plain) + encryptor.finalize()
    return base64.b64encode(data).decode(), base64.b64encode(iv).decode()


def encrypted_phone(appid: str, openid: str, phone: str) -> dict | None:
    """The legacy encryptedData+iv of a phone number for this user's latest session, if any."""
    state = mp_state()
    with state.lock:
        session_key = state.sessions.get((appid, openid))
    if session_key is None:
        return None
    encrypted_data, iv = encrypt_for_session(session_key, phone_info(appid, phone))
    return {"encryptedData": encrypted_data, "iv": iv}
