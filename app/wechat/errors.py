"""WeChat's failures as our DomainErrors: each has a stable code and the HTTP meaning for our clients."""
from __future__ import annotations

from app.errors import DomainError

RETRY_AFTER_SECONDS = 5
RATE_LIMIT_RETRY_AFTER_SECONDS = 60  # WeChat's minute quota


class WeChatError(DomainError):
    status = 502
    code = "wechat_error"
    message = "WeChat refused the request."


class WeChatCodeInvalid(WeChatError):
    status = 401
    code = "wechat_code_invalid"
    message = "The WeChat code is invalid or already used; get a new one and try again."


class WeChatRateLimited(WeChatError):
    status = 429
    code = "wechat_rate_limited"
    message = "WeChat is rate-limiting us; try again in a minute."

    def __init__(self, message: str | None = None, **kwargs):
        kwargs.setdefault("headers", {"Retry-After": str(RATE_LIMIT_RETRY_AFTER_SECONDS)})
        super().__init__(message, **kwargs)


class WeChatUserHighRisk(WeChatError):
    status = 403
    code = "wechat_user_high_risk"
    message = "WeChat flags this user as high-risk."


class WeChatUnavailable(WeChatError):
    status = 503
    code = "wechat_unavailable"
    message = "WeChat is not answering; try again shortly."

    def __init__(self, message: str | None = None, **kwargs):
        kwargs.setdefault("headers", {"Retry-After": str(RETRY_AFTER_SECONDS)})
        super().__init__(message, **kwargs)


class WeChatDecryptFailed(WeChatError):
    status = 422
    code = "wechat_decrypt_failed"
    message = "The encrypted data cannot be decrypted with this session, or is not for this app."


class WeChatInvalidArgument(WeChatError):
    status = 422
    code = "wechat_invalid_argument"
    message = "WeChat would refuse this argument."


# errcode -> our error class; anything else is a 502 wechat_error carrying the errcode.
ERRCODES: dict[int, type[WeChatError]] = {
    -1: WeChatUnavailable,  # "system error": WeChat is busy
    40029: WeChatCodeInvalid,  # invalid code
    40163: WeChatCodeInvalid,  # code been used
    45011: WeChatRateLimited,  # api minute-quota reached
    40226: WeChatUserHighRisk,  # high risk user
}

# The access token was refused: refresh it once and retry, WeChat did nothing.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})


def from_errcode(errcode: int | None, errmsg: str | None = None) -> WeChatError:
    """Our error for WeChat's errcode (None: an HTTP failure with no WeChat body)."""
    errors = {"errcode": errcode, "errmsg": errmsg} if errcode is not None else {"errmsg": errmsg}
    if errcode is None:
        return WeChatUnavailable(errors=errors)
    return ERRCODES.get(errcode, WeChatError)(errors=errors)
