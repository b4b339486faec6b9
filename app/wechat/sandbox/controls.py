"""Sandbox controls under /__sandbox__/: what a tester does that WeChat gives no API for.

Credentials for a client of a standalone sandbox, faults to inject, messages sent, the word list of
msg_sec_check, a reset. The sandbox is never exposed beyond a test or local stack.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from app.wechat.sandbox import faults
from app.wechat.sandbox import miniprogram as mp

bp = Blueprint("sandbox_controls", __name__, url_prefix="/__sandbox__")


def _state():
    return current_app.extensions["sandbox_state"]


def _problem(message: str, status: int = 400):
    return jsonify({"message": message}), status


@bp.get("/credentials")
def credentials():
    """What the sandbox issued (appids, secrets, merchant keys), for a client of a standalone sandbox."""
    return jsonify(current_app.config["SANDBOX_CREDENTIALS"].as_dict())


@bp.get("/faults")
def list_faults():
    return jsonify([f.as_dict() for f in faults.armed_faults(_state())])


@bp.post("/faults")
def inject_fault():
    """Arm a fault: {operation, kind, times?, delay?, errcode?, errmsg?, http_status?}."""
    data = request.get_json(force=True, silent=True) or {}
    if not isinstance(data, dict) or not isinstance(data.get("operation"), str):
        return _problem("operation (a string) is required")
    try:
        fault = faults.inject(_state(), data["operation"], str(data.get("kind")),
                              times=int(data.get("times", 1)), delay=data.get("delay"),
                              errcode=data.get("errcode"), errmsg=data.get("errmsg"),
                              http_status=int(data["http_status"]) if data.get("http_status") else None)
    except (TypeError, ValueError) as exc:
        return _problem(str(exc))
    return jsonify(fault.as_dict()), 201


@bp.delete("/faults")
def clear_faults():
    """Disarm every fault, or those of ?operation=."""
    return jsonify({"removed": faults.clear_faults(_state(), request.args.get("operation"))})


@bp.get("/subscribe-messages")
def subscribe_messages():
    """Subscribe messages sent so far (?appid= / ?openid= narrow them)."""
    state = mp.mp_state()
    with state.lock:
        sent = list(state.subscribe_messages)
    for name, key in (("appid", "appid"), ("openid", "touser")):
        if request.args.get(name):
            sent = [m for m in sent if m.get(key) == request.args[name]]
    return jsonify(sent)


@bp.put("/msg-sec-check/words")
def set_sec_check_words():
    """Replace the words msg_sec_check flags: {risky: [...], review: [...]}."""
    data = request.get_json(force=True, silent=True) or {}
    lists = {name: data.get(name, []) for name in ("risky", "review")}
    if not all(isinstance(v, list) and all(isinstance(w, str) for w in v) for v in lists.values()):
        return _problem("risky and review are lists of strings")
    state = mp.mp_state()
    with state.lock:
        state.risky_words, state.review_words = lists["risky"], lists["review"]
    return jsonify(lists)


@bp.get("/token-requests")
def token_requests():
    """How many access tokens each appid has asked for."""
    state = mp.mp_state()
    with state.lock:
        return jsonify(dict(state.token_requests))


@bp.post("/tokens/expire")
def expire_tokens():
    """Make every access token issued so far answer 42001 (expired)."""
    mp.mp_state().expire_tokens()
    return jsonify({"expired": True})


@bp.get("/encrypted-phone")
def encrypted_phone():
    """Legacy encryptedData+iv of ?phone= for the latest session of ?appid= and ?openid=."""
    args = request.args
    if not args.get("phone", "").isdigit():
        return _problem("phone (digits) is required")
    answer = mp.encrypted_phone(args.get("appid", ""), args.get("openid", ""), args["phone"])
    if answer is None:
        return _problem("no session for this appid and openid: log in first", 404)
    return jsonify(answer)


@bp.post("/reset")
def reset():
    """Forget everything the sandbox holds (tokens, sessions, messages, faults, bills); keep its keys."""
    state = _state()
    with state.lock:
        lock = state.lock
        for name in [n for n in vars(state) if n != "lock"]:
            delattr(state, name)
        state.__init__()
        state.lock = lock  # requests waiting on the old lock must still exclude each other
    return jsonify({"reset": True})
