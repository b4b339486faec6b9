"""The mini-program API (login, phone numbers, codes, messages, content checks) on wechatpy 1.8.18.

One client per mini-program ("dealer", "clerk", "consumer"). Every request goes to
runtime().api_base (WeChat or the sandbox) with WECHAT_TIMEOUT_SECONDS as its timeout; the access
token lives in Redis, shared by every worker (app.wechat.tokens). WeChat's failures become our
DomainErrors (app.wechat.errors). Nothing is stored in the database.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, TypeVar
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from flask import current_app, has_request_context, request
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from app.wechat import runtime
from app.wechat.errors import (TOKEN_ERRCODES, WeChatDecryptFailed, WeChatError, WeChatInvalidArgument,
                               WeChatUnavailable, from_errcode)
from app.wechat.tokens import TokenCache
from config import WECHAT_APP_NAMES

WECHAT_HOST = "https://api.weixin.qq.com"
# Calls authenticated by appid+secret, not by an access token.
TOKENLESS_PATHS = frozenset({"/sns/jscode2session", "/cgi-bin/token"})
MAX_SCENE = 32
SCENE_CHARS = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+$")  # what WeChat accepts in a scene
SEC_CHECK_SCENES = {1: "profile", 2: "comment", 3: "forum", 4: "social log"}
RETRY_PAUSE_SECONDS = 0.2

T = TypeVar("T")


def _once_per_request(key: tuple, exchange: Callable[[], T]) -> T:
    """The answer to a one-time code, kept for the rest of the request (outside one: asked each time)."""
    if not has_request_context():
        return exchange()
    answers = request.environ.setdefault("matong.wechat_one_time_codes", {})  # this request's, not g's
    if key not in answers:
        answers[key] = exchange()
    return answers[key]


@dataclass(frozen=True)
class WxSession:
    openid: str
    session_key: str  # never leaves the server
    unionid: str | None


@dataclass(frozen=True)
class SecCheckResult:
    suggest: str  # "pass" | "review" | "risky"
    label: int  # 100 = normal; else WeChat's category (10001 ad, 20001 politics, ...)


class _WeChatClient(WeChatClient):
    """wechatpy's client with every URL on our base, the shared token, and no hidden retries."""

    def __init__(self, *, appid: str, secret: str, base: str, timeout: float, tokens_for):
        # auto_retry off: wechatpy would retry refused tokens without end; we retry once, knowingly.
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self.base = base
        self.API_BASE_URL = base + "/cgi-bin/"
        self.tokens: TokenCache = tokens_for(self)

    @property
    def access_token(self) -> str:
        return self.tokens.get()

    def fetch_access_token(self) -> tuple[str, int]:
        """A new token from WeChat: (access_token, expires_in)."""
        response = self._http.get(self.base + "/cgi-bin/token", timeout=self.timeout,
                                  params={"grant_type": "client_credential", "appid": self.appid,
                                          "secret": self.secret})
        if response.status_code >= 400:
            raise _http_error(response)
        result = response.json()
        if result.get("errcode"):
            raise from_errcode(int(result["errcode"]), result.get("errmsg"))
        return result["access_token"], int(result.get("expires_in", 7200))

    def rebase(self, url: str) -> str:
        """The URL on our configured base; wechatpy writes WeChat's host into some of its calls."""
        if url.startswith(WECHAT_HOST + "/"):
            url = self.base + url[len(WECHAT_HOST):]
        if not url.startswith(self.base + "/"):
            raise ValueError(f"refusing to call {url}: not under {self.base}")
        return url

    def _request(self, method, url_or_endpoint, **kwargs):
        base = kwargs.pop("api_base_url", self.API_BASE_URL)
        if not url_or_endpoint.startswith(("http://", "https://")):
            url_or_endpoint = base + url_or_endpoint
        url = self.rebase(url_or_endpoint)
        if urlsplit(url).path in TOKENLESS_PATHS:
            # A None param is dropped by requests, and stops wechatpy fetching a token for nothing.
            kwargs.setdefault("params", {})["access_token"] = None
        kwargs.setdefault("timeout", self.timeout)
        return super()._request(method, url, **kwargs)


def _http_error(response) -> WeChatError:
    if response is None or response.status_code >= 500:
        return WeChatUnavailable(errors={"http_status": getattr(response, "status_code", None)})
    return WeChatError(errors={"http_status": response.status_code})


def _token_of(request) -> str | None:
    query = parse_qs(urlsplit(getattr(request, "url", "") or "").query)
    return (query.get("access_token") or [None])[0]


class MiniProgramClient:
    """One mini-program's calls to WeChat, with WeChat's failures mapped to ours."""

    def __init__(self, *, name: str, appid: str, secret: str, api_base: str, timeout: float, redis):
        self.name = name
        self.appid = appid
        self._api = _WeChatClient(
            appid=appid, secret=secret, base=api_base, timeout=timeout,
            tokens_for=lambda api: TokenCache(redis, appid, lambda: self._call(api.fetch_access_token,
                                                                               retry=True),
                                              timeout=timeout))

    # --- the calls ------------------------------------------------------------------------------

    def code_to_session(self, code: str) -> WxSession:
        """Exchange a wx.login code for the user's openid, session_key and unionid."""
        # Not retried: a code works once, so a second try after a lost answer would only fail. For the
        # same reason a use case run again within the request (app.http.retry_writes, after a database
        # error) gets the answer the first run had, not a second exchange of a spent code.
        def exchange() -> WxSession:
            result = self._call(lambda: self._api.wxa.code_to_session(code))
            return WxSession(openid=result["openid"], session_key=result["session_key"],
                             unionid=result.get("unionid"))
        return _once_per_request(("code2session", self.appid, code), exchange)

    def get_phone_number(self, code: str) -> str:
        """The phone number (without country code) for a getPhoneNumber code (one-time, as a login code)."""
        def exchange() -> str:
            result = self._call(lambda: self._api.post("wxa/business/getuserphonenumber",
                                                       data={"code": code}, api_base_url=self._api.base + "/"))
            info = result.get("phone_info") or {}
            if (info.get("watermark") or {}).get("appid") != self.appid:
                raise WeChatError("WeChat answered a phone number for another app.")
            return info["purePhoneNumber"]
        return _once_per_request(("getuserphonenumber", self.appid, code), exchange)

    def decrypt(self, session_key: str, encrypted_data: str, iv: str) -> dict:
        """Legacy encryptedData+iv (wx.getPhoneNumber, wx.getUserInfo) decrypted for this app."""
        return decrypt_data(appid=self.appid, session_key=session_key, encrypted_data=encrypted_data,
                            iv=iv)

    def get_wxacode_unlimit(self, scene: str, page: str | None = None, width: int = 430) -> bytes:
        """A mini-program code image (PNG) that opens `page` with `scene`."""
        if not isinstance(scene, str) or not 0 < len(scene) <= MAX_SCENE or not SCENE_CHARS.match(scene):
            raise WeChatInvalidArgument(
                f"scene must be 1 to {MAX_SCENE} characters of letters, digits and !#$&'()*+,/:;=?@-._~",
                errors={"scene": scene})
        if not 280 <= width <= 1280:
            raise WeChatInvalidArgument("width must be between 280 and 1280", errors={"width": width})
        response = self._call(lambda: self._api.wxa.get_wxa_code_unlimited(scene, width=width, page=page),
                              retry=True)
        if not isinstance(response, requests.Response) or not response.headers.get(
                "Content-Type", "").startswith("image/"):
            raise WeChatError("WeChat answered something other than an image.")
        return response.content

    def send_subscribe_message(self, openid: str, template_id: str, data: dict,
                               page: str | None = None) -> None:
        """Send a subscribe message the user agreed to receive."""
        # Not retried: a lost answer may hide a sent message, and a retry would send it twice.
        self._call(lambda: self._api.wxa.send_subscribe_message(openid, template_id, data, page=page))

    def msg_sec_check(self, openid: str, content: str, scene: int) -> SecCheckResult:
        """WeChat's verdict (version 2) on text a user wrote."""
        if scene not in SEC_CHECK_SCENES:
            raise WeChatInvalidArgument("scene must be 1 (profile), 2 (comment), 3 (forum) or 4 (social log)",
                                        errors={"scene": scene})
        result = self._call(lambda: self._api.post(
            "wxa/msg_sec_check", api_base_url=self._api.base + "/",
            data={"content": content, "version": 2, "scene": scene, "openid": openid}), retry=True)
        verdict = result.get("result") or {}
        return SecCheckResult(suggest=verdict.get("suggest", "review"), label=int(verdict.get("label", 0)))

    # --- errors and retries -----------------------------------------------------------------------

    def _call(self, operation: Callable[[], T], *, retry: bool = False) -> T:
        """Run one call with WeChat's failures mapped to ours; `retry` only for idempotent reads."""
        # A refused token is refreshed and the call retried once: WeChat did nothing with it.
        # A busy or unreachable WeChat may have done the work, so only reads get a second try.
        token_retried = False
        tries_left = 2 if retry else 1
        while True:
            try:
                return operation()
            except WeChatClientException as exc:
                if exc.errcode in TOKEN_ERRCODES and not token_retried:
                    token_retried = True
                    if token := _token_of(exc.request):
                        self._api.tokens.invalidate(token)
                    continue
                error = (from_errcode(exc.errcode, exc.errmsg) if exc.errcode is not None
                         else _http_error(exc.response))
            except requests.RequestException as exc:
                error = WeChatUnavailable(errors={"reason": type(exc).__name__})
            except WeChatError as exc:
                error = exc
            tries_left -= 1
            if not (tries_left and isinstance(error, WeChatUnavailable)):
                raise error
            time.sleep(RETRY_PAUSE_SECONDS)


def decrypt_data(*, appid: str, session_key: str, encrypted_data: str, iv: str) -> dict:
    """WeChat's AES-128-CBC (PKCS#7) open data, checked to be meant for `appid`."""
    try:
        key, vector, data = (base64.b64decode(v, validate=True) for v in (session_key, iv, encrypted_data))
        if len(key) != 16 or len(vector) != 16 or not data or len(data) % 16:
            raise ValueError("wrong lengths")
        decryptor = Cipher(algorithms.AES(key), modes.CBC(vector)).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        plain = unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
        payload = json.loads(plain.decode("utf-8"))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise WeChatDecryptFailed(errors={"reason": type(exc).__name__}) from exc
    if not isinstance(payload, dict) or (payload.get("watermark") or {}).get("appid") != appid:
        raise WeChatDecryptFailed(errors={"reason": "watermark appid mismatch"})
    return payload


_clients_lock = threading.Lock()


def client(app_name: str) -> MiniProgramClient:
    """The client of the "dealer", "clerk" or "consumer" mini-program."""
    if app_name not in WECHAT_APP_NAMES:
        raise ValueError(f"unknown mini-program {app_name!r}; one of {', '.join(WECHAT_APP_NAMES)}")
    wechat = runtime()
    appid, secret = wechat.app_credentials(app_name)
    settings = (app_name, appid, secret, wechat.api_base, current_app.config["WECHAT_TIMEOUT_SECONDS"])
    with _clients_lock:
        # One client per settings, so its HTTP connections are reused; changed settings get a new one.
        clients = current_app.extensions.setdefault("wechat_miniprogram_clients", {})
        if settings not in clients:
            clients[settings] = MiniProgramClient(name=app_name, appid=appid, secret=secret,
                                                  api_base=settings[3], timeout=settings[4],
                                                  redis=current_app.extensions["redis"])
        return clients[settings]
