"""Log lines an operator can follow: one JSON object a line (LOG_FORMAT=json) or plain text, each with the
request id of the request it belongs to, and a worker's lines with the id of the request that queued its item.

The request id is the caller's `X-Request-Id` when it is a short token of safe characters (a proxy or the
mini-program made it), else a new one; the answer echoes it. A worker working on an item that remembers the
request that queued it (a payout, a webhook delivery, an export job) logs under that id (``bound``).
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

HEADER = "X-Request-Id"
_SAFE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# A worker's item (``bound``); a request keeps its own id in flask.g, so none outlives its request.
_bound: contextvars.ContextVar[str | None] = contextvars.ContextVar("bound_request_id", default=None)
_TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


class _RequestId(logging.Filter):
    """Gives every record the request id of its context ('-': none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current() or "-"
        return True


class _Json(JsonFormatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's name
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")  # UTC, ISO 8601


def configure(log_format: str) -> None:
    """The process's log handler (made once, like logging.basicConfig: not where one exists already)."""
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if getattr(handler, "_matong", False)]
    if not ours and root.handlers:
        return  # someone else (a test runner, an embedding program) handles the logs
    if not ours:
        handler = logging.StreamHandler(sys.stderr)
        handler._matong = True  # type: ignore[attr-defined]
        handler.addFilter(_RequestId())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        ours = [handler]
    for handler in ours:
        handler.setFormatter(_Json() if log_format == "json" else logging.Formatter(_TEXT))


def init_app(app: Flask) -> None:
    """Name each request (X-Request-Id) for its log lines and its answer."""
    app.before_request(_begin)
    app.after_request(_echo)


def current() -> str | None:
    """The request id of this context (a worker's item, or a request): None outside both."""
    bound_id = _bound.get()
    if bound_id is not None:
        return bound_id
    return g.get("request_id") if has_request_context() else None


@contextlib.contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Log under request_id (a worker on an item a request queued) until the block ends."""
    token = _bound.set(request_id)
    try:
        yield
    finally:
        _bound.reset(token)


def _begin() -> None:
    given = request.headers.get(HEADER, "")
    g.request_id = given if _SAFE.fullmatch(given) else uuid.uuid4().hex


def _echo(response):
    if "request_id" in g:
        response.headers[HEADER] = g.request_id
    return response

