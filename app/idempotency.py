"""Retry-safe writes: an `Idempotency-Key` header makes a retried request answer as the first did.

A client that may retry a write (a timeout, a dropped connection) sends the same key with each
attempt. The first attempt runs and its response is kept in Redis for a day; a retry with the same
key, principal (the user, API key or mini-program user), method and path gets that response back
(`Idempotent-Replayed: true`) and runs nothing. Keys are claimed only once the caller is
authenticated and allowed (each audience's authenticating hook calls ``begin``): an anonymous
request stores nothing, and another principal's key is another key, never someone else's answer.
A retry while the first attempt still runs is 409 `request_in_progress`; the same key with a
different body is 422 `idempotency_key_reused`. Server errors (5xx) and answers of a use case that did
not run (401, 403, 429) are not kept, so they can be retried. Writes that are idempotent by nature (ERP upserts by external id) don't need the header.
"""
from __future__ import annotations

import hashlib
import json
import re

from flask import Flask, g, request

from app.errors import Conflict, ValidationFailed
from app.extensions import redis

HEADER = "Idempotency-Key"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{8,128}$")
RESULT_TTL_SECONDS = 24 * 3600
IN_PROGRESS_TTL_SECONDS = 120


class KeyInvalid(ValidationFailed):
    code = "idempotency_key_invalid"
    message = f"{HEADER} must be 8 to 128 letters, digits or _ . : -"


class KeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    message = f"This {HEADER} was used for a different request; use a new key for a new request."


class InProgress(Conflict):
    code = "request_in_progress"
    message = "A request with this Idempotency-Key is still being processed; retry shortly."


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _redis_key(principal: str, key: str) -> str:
    return f"idem:{principal}:{request.method}:{request.path}:{key}"


def begin(*, principal: str):
    """Claim this write's Idempotency-Key for ``principal``, who is authenticated and allowed.

    None: run the request (its response is kept by after_request); else the response to answer.
    """
    key = request.headers.get(HEADER)
    if key is None or request.method not in WRITE_METHODS:
        return None
    if not KEY_PATTERN.match(key):
        raise KeyInvalid()
    redis_key = _redis_key(principal, key)
    fingerprint = _sha256(request.get_data() + request.query_string)
    claim = json.dumps({"state": "running", "fingerprint": fingerprint})
    if redis.set(redis_key, claim, nx=True, ex=IN_PROGRESS_TTL_SECONDS):
        g.idempotency = redis_key, fingerprint
        return None
    stored = redis.get(redis_key)
    if stored is None:  # expired between the two calls: treat as in progress, the client retries
        raise InProgress()
    stored = json.loads(stored)
    if stored["fingerprint"] != fingerprint:
        raise KeyReused()
    if stored["state"] == "running":
        raise InProgress()
    response = Flask.response_class(stored["body"], status=stored["status"],
                                    content_type=stored["content_type"])
    response.headers["Idempotent-Replayed"] = "true"
    return response


# Answers of a request whose use case did not run: a token revoked or an account refused after the key was
# claimed (401, 403), a rate limit (429: the retry after Retry-After must run). Kept, the retry with the same
# key would get them back for a day.
NOT_RUN = frozenset({401, 403, 429})


def after_request(response):
    pending = g.pop("idempotency", None)
    if pending is None:
        return response
    redis_key, fingerprint = pending
    if response.status_code >= 500 or response.status_code in NOT_RUN or response.direct_passthrough:
        redis.delete(redis_key)  # not kept: the client may retry it
        return response
    redis.set(redis_key, json.dumps({
        "state": "done", "fingerprint": fingerprint, "status": response.status_code,
        "content_type": response.content_type, "body": response.get_data(as_text=True),
    }), ex=RESULT_TTL_SECONDS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(after_request)
