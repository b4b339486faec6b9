"""What a request must be before any view reads it: within its size, JSON a view can take, and
asking only what the view understands.

One check for every endpoint, run before authentication (the logins take JSON from anyone):
a query parameter the view does not declare (its query schemas, its paging) is 422 naming it,
where it used to be dropped silently and the answer was about something else than was asked;
a body over MAX_CONTENT_LENGTH is 413 `payload_too_large`; JSON nested deeper than MAX_JSON_DEPTH
is 400 `json_too_deep` (100,000 levels would blow Python's stack in the parser); a string holding
a lone UTF-16 surrogate ("\\ud800", legal JSON, not text) is 400 `invalid_text` (the database, Redis
and our own responses cannot encode it). Views that decode their body themselves, strictly and
fast (the line upload's msgspec), say so with ``@decodes_own_body`` and may take a larger body.
"""
from __future__ import annotations

import array
import functools
import itertools
import json
import re
from typing import Callable

from flask import Flask, request

from app.errors import DomainError, ValidationFailed
from app.http import declared_on_view, view_function

MAX_JSON_DEPTH = 64
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class JsonTooDeep(DomainError):
    status = 400
    code = "json_too_deep"
    message = f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels."


# Python reads no integer of more digits than this (sys.get_int_max_str_digits): json.loads raises a bare
# ValueError, which the parsers don't answer. No value of ours needs a tenth of it.
MAX_NUMBER_DIGITS = 4300
_LONG_NUMBER = re.compile(r"\d{%d,}" % (MAX_NUMBER_DIGITS + 1))


class NumberTooLong(DomainError):
    status = 400
    code = "json_number_too_long"
    message = f"A number in the JSON body has more than {MAX_NUMBER_DIGITS:,} digits."


class InvalidText(DomainError):
    status = 400
    code = "invalid_text"
    message = "A string holds a lone UTF-16 surrogate (such as \\ud800), which is not text."


def decodes_own_body(*, max_bytes: Callable[[], int]):
    """This view decodes its body itself (refusing deep nesting and bad text), up to max_bytes() bytes."""
    def decorate(fn):
        fn._body_max_bytes = max_bytes
        return fn
    return decorate


# The body a small form takes at most (a login, a scan, a claim: a few hundred bytes): refused with 413
# before anything reads it, so an anonymous megabyte costs a public endpoint nothing.
SMALL_BODY_BYTES = 4096


def body_limit(max_bytes: int):
    """This view's body is at most max_bytes (below MAX_CONTENT_LENGTH), with every other check kept."""
    def decorate(fn):
        fn._body_limit = max_bytes
        return fn
    return decorate


def open_query(fn):
    """This page takes any query string: browsers and WeChat append their own to printed URLs."""
    fn._open_query = True
    return fn


def check_request():
    """before_request of the app: the query's names, the body's size, then its JSON's depth and text."""
    _check_query()
    own_limit = declared_on_view("_body_max_bytes")
    if own_limit is not None:
        request.max_content_length = own_limit()
    elif (small := declared_on_view("_body_limit")) is not None:
        request.max_content_length = min(small, request.max_content_length or small)
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise too_large(limit)
    if own_limit is not None or not request.is_json:
        return None
    check_json_text(read_body())
    return None


def read_body() -> bytes:
    """The request's body, read once (413 when a body without Content-Length passes the limit)."""
    body = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and request.content_length is None and len(body) >= limit:
        # A body without Content-Length (chunked) is read up to the limit and silently cut there.
        raise too_large(limit)
    return body


def check_json_text(body: bytes) -> None:
    """The body's JSON: its depth, its numbers' length and its text (for a view that decodes its own body
    and hands what its decoder refuses to a schema's parser, before that parser)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None  # not UTF-8: the view's parser answers 400 with its own words
    # Measured on the text, so the parser never meets 100,000 levels (Python's stack would not hold them).
    if _depth(text) > MAX_JSON_DEPTH:
        raise JsonTooDeep()
    if len(text) > MAX_NUMBER_DIGITS and _LONG_NUMBER.search(_STRING.sub("", text)):
        raise NumberTooLong()
    # UTF-8 cannot carry a surrogate; only a \u escape can, so most bodies need no second look.
    if "\\u" in text and _has_lone_surrogate(text):
        raise InvalidText()


def _check_query() -> None:
    if not request.args:
        return
    view = view_function()
    if view is None or not hasattr(view, "_apidoc") or getattr(view, "_open_query", False):
        return  # not an API operation (the docs' pages, a 404) or a page open by design
    unknown = sorted(set(request.args) - _query_names(view))
    if unknown:
        raise ValidationFailed(
            f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"This endpoint takes {', '.join(sorted(_query_names(view))) or 'none'}.",
            errors={"query": {name: ["Unknown field."] for name in unknown}})


@functools.cache
def _query_names(view) -> frozenset[str]:
    """The query parameters a view declares: the fields of its query schemas and of its paging."""
    apidoc = view._apidoc
    declared = [*apidoc.get("arguments", {}).get("parameters", []),
                apidoc.get("pagination", {}).get("parameters")]
    names = set()
    for parameters in filter(None, declared):
        if parameters["in"] in ("query", "querystring"):
            schema = parameters["schema"]
            schema = schema() if isinstance(schema, type) else schema
            names.update(field.data_key or name for name, field in schema.fields.items() if not field.dump_only)
    # Taken by every view of a kind, through a hook rather than its schemas (`format` on the lists: app.exports).
    names.update(getattr(view, "_extra_query_names", ()))
    return frozenset(names)


def too_large(limit: int) -> PayloadTooLarge:
    """The error of a body over limit bytes."""
    return PayloadTooLarge(f"The request body is larger than {limit:,} bytes, the limit of this endpoint.",
                           errors={"max_bytes": limit})


def _depth(text: str) -> int:
    """How deep the JSON text's arrays and objects may nest: exact when it could pass MAX_JSON_DEPTH."""
    openers = text.count("[") + text.count("{")
    if openers <= MAX_JSON_DEPTH:
        return openers  # it can nest no deeper than this: most bodies stop here
    # Outside strings, every bracket as a signed byte (+1 an opener, -1 a closer), the rest deleted: in C.
    steps = _STRING.sub("", text).encode("utf-8").translate(_STEPS, _NOT_BRACKETS)
    return max(itertools.accumulate(array.array("b", steps)), default=0)


def _has_lone_surrogate(text: str) -> bool:
    try:
        document = json.loads(text)
    except ValueError:
        return False  # not JSON: the view's parser answers 400
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def init_app(app: Flask) -> None:
    app.before_request(check_request)
