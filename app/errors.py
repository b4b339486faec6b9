"""Domain errors carry their HTTP meaning; one handler renders every error the same way.

Every error body is ``{code, status, message, errors}``: ``code`` is a stable machine-readable
string, ``status`` the HTTP status, ``message`` a sentence for people, ``errors`` details
(field messages, per-record reasons) or ``{}``.
"""
from __future__ import annotations

import logging

import marshmallow as ma
from flask import jsonify
from flask_smorest import Api as SmorestApi
from werkzeug.exceptions import HTTPException

from app import faults

log = logging.getLogger(__name__)


class DomainError(Exception):
    status = 400
    code = "bad_request"
    message = "The request cannot be processed."

    def __init__(self, message: str | None = None, *, errors: dict | None = None,
                 code: str | None = None, headers: dict | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.errors = errors or {}
        self.headers = headers or {}
        if code:
            self.code = code


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    message = "Authentication is required."


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    message = "You are not allowed to do this."


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = "Not found."


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message = "The request conflicts with the current state."


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    message = "A service this request needs is unavailable for a moment; retry shortly."


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"
    message = "The request is not valid."


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"
    message = "Too many requests; slow down."


# Codes of HTTP errors raised outside our domain code (routing, webargs, werkzeug).
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def error_response(status: int, code: str, message: str, errors=None, headers=None):
    response = jsonify({"code": code, "status": status, "message": message, "errors": errors or {}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class ErrorSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "Machine-readable error code"})
    status = ma.fields.Integer(metadata={"description": "HTTP status"})
    message = ma.fields.String(metadata={"description": "Human-readable message"})
    errors = ma.fields.Dict(metadata={"description": "Details: field errors or per-item reasons"})


class Api(SmorestApi):
    """flask-smorest's Api with our error body for every HTTP error."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        status = error.code or 500
        errors = data.get("errors") or data.get("messages") or {}
        # webargs nests messages by location ("json", "query"); keep it, it tells where.
        message = data.get("message") or error.description or error.name
        if status == 422 and not data.get("message"):
            message = "The request is not valid; see errors for each field."
        return error_response(status, data.get("code") or HTTP_CODES.get(status, "error"),
                              message, errors, {**_headers_of(error), **(data.get("headers") or {})})


def _headers_of(error: HTTPException) -> dict:
    """The headers werkzeug's error carries (Allow on a 405, Retry-After...), but not its content type."""
    return {name: value for name, value in error.get_headers() if name.lower() != "content-type"}


def handle_domain_error(error: DomainError):
    return error_response(error.status, error.code, error.message, error.errors, error.headers)


# How long a client should wait before retrying a request refused for an outage (seconds).
RETRY_AFTER_SECONDS = 5


def handle_unexpected_error(error: Exception):
    if isinstance(error, HTTPException):
        return error_response(error.code or 500, HTTP_CODES.get(error.code, "error"),
                              error.description or error.name, headers=_headers_of(error))
    if faults.is_outage(error) or faults.is_busy(error):
        # The database or Redis is away or overloaded (app.faults): a retry later will do. One line, not
        # a traceback per request of an outage.
        log.warning("request refused, a dependency is unavailable: %s: %s", type(error).__name__,
                    str(error).splitlines()[0][:300] if str(error) else "")
        return handle_domain_error(ServiceUnavailable(headers={"Retry-After": str(RETRY_AFTER_SECONDS)}))
    log.exception("unhandled error")
    return error_response(500, "internal_error", "An unexpected error occurred; it has been logged.")


def register_error_handlers(app) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected_error)
