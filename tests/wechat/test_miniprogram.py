"""The mini-program adapter against the sandbox, over real HTTP on loopback."""
from __future__ import annotations

import io
import threading

import pytest
import requests
from flask import current_app
from PIL import Image

from app.errors import handle_domain_error
from app.wechat import miniprogram as mp
from app.wechat.errors import WeChatDecryptFailed, WeChatError
from app.wechat.sandbox import faults
from app.wechat.sandbox.miniprogram import encrypt_for_session, mp_state

# WeChat's published example of open-data decryption (开放数据校验与解密, WXBizDataCrypt demo).
OFFICIAL_APPID = "wx4f4bc4dec97d474b"
OFFICIAL_SESSION_KEY = "tiihtNczf5v6AKRyjwEUhQ=="
OFFICIAL_IV = "r7BXXKkLb8qrSNn05n0qiA=="
OFFICIAL_ENCRYPTED_DATA = (
    "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+"
    "3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6"
    "/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs"
    "8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns"
    "/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG"
    "20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
)


@pytest.fixture
def consumer(sandbox):
    return mp.client("consumer")


def token_requests(sandbox, name="consumer") -> int:
    return mp_state(sandbox.state).token_requests[sandbox.credentials.apps[name].appid]


def new_client(sandbox, name="consumer", timeout=5.0) -> mp.MiniProgramClient:
    """A client of its own (as another worker would have), sharing only Redis."""
    app = sandbox.credentials.apps[name]
    return mp.MiniProgramClient(name=name, appid=app.appid, secret=app.secret, api_base=sandbox.url,
                                timeout=timeout, redis=current_app.extensions["redis"])


# --- login --------------------------------------------------------------------------------------------

def test_a_test_user_has_a_stable_openid_per_app_and_one_unionid(consumer):
    first = consumer.code_to_session("sandbox:alice")
    again = consumer.code_to_session("sandbox:alice:2")  # the same user, a new code
    as_dealer = mp.client("dealer").code_to_session("sandbox:alice")
    bob = consumer.code_to_session("sandbox:bob")
    assert first.openid == again.openid != as_dealer.openid
    assert first.unionid == as_dealer.unionid != bob.unionid
    assert first.session_key != again.session_key  # a fresh session key per login
    assert len(first.openid) == 28 and first.openid.startswith("o")


def test_a_login_code_works_once(consumer):
    consumer.code_to_session("sandbox:carol")
    with pytest.raises(WeChatError) as caught:
        consumer.code_to_session("sandbox:carol")
    assert (caught.value.status, caught.value.code) == (401, "wechat_code_invalid")
    assert caught.value.errors["errcode"] == 40029


def test_an_unknown_login_code_is_invalid(consumer):
    with pytest.raises(WeChatError, match="invalid or already used") as caught:
        consumer.code_to_session("061abcDEF")
    assert caught.value.status == 401


def test_login_needs_no_access_token(sandbox, consumer):
    consumer.code_to_session("sandbox:dora")
    assert token_requests(sandbox) == 0


# --- phone numbers ------------------------------------------------------------------------------------

def test_a_phone_code_gives_the_pure_phone_number_once(consumer):
    assert consumer.get_phone_number("sandbox-phone:13800138000") == "13800138000"
    with pytest.raises(WeChatError) as caught:
        consumer.get_phone_number("sandbox-phone:13800138000")
    assert caught.value.code == "wechat_code_invalid"


def test_legacy_encrypted_phone_is_decrypted_with_the_session_key(sandbox, consumer):
    session = consumer.code_to_session("sandbox:erin")
    encrypted = requests.get(sandbox.url + "/__sandbox__/encrypted-phone", timeout=5, params={
        "appid": consumer.appid, "openid": session.openid, "phone": "13912345678"}).json()
    data = consumer.decrypt(session.session_key, encrypted["encryptedData"], encrypted["iv"])
    assert data["purePhoneNumber"] == "13912345678"
    assert data["watermark"]["appid"] == consumer.appid


def test_data_encrypted_for_another_app_is_refused(sandbox, consumer):
    session = consumer.code_to_session("sandbox:frank")
    encrypted = requests.get(sandbox.url + "/__sandbox__/encrypted-phone", timeout=5, params={
        "appid": consumer.appid, "openid": session.openid, "phone": "13912345678"}).json()
    with pytest.raises(WeChatDecryptFailed) as caught:
        mp.client("dealer").decrypt(session.session_key, encrypted["encryptedData"], encrypted["iv"])
    assert (caught.value.status, caught.value.code) == (422, "wechat_decrypt_failed")


def test_wechats_published_decryption_example_decrypts_to_the_documented_json():
    data = mp.decrypt_data(appid=OFFICIAL_APPID, session_key=OFFICIAL_SESSION_KEY,
                           encrypted_data=OFFICIAL_ENCRYPTED_DATA, iv=OFFICIAL_IV)
    assert data["openId"] == "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
    assert data["unionId"] == "ocMvos6NjeKLIBqg5Mr9QjxrP1FA"
    assert (data["nickName"], data["gender"], data["city"], data["province"], data["country"]) == (
        "Band", 1, "Guangzhou", "Guangdong", "CN")
    assert data["watermark"] == {"timestamp": 1477314187, "appid": OFFICIAL_APPID}


@pytest.mark.parametrize("session_key, encrypted_data, iv", [
    ("AiihtNczf5v6AKRyjwEUhQ==", OFFICIAL_ENCRYPTED_DATA, OFFICIAL_IV),  # another key
    (OFFICIAL_SESSION_KEY, OFFICIAL_ENCRYPTED_DATA[:-24] + "==", OFFICIAL_IV),  # truncated
    (OFFICIAL_SESSION_KEY, "not base64!", OFFICIAL_IV),
    (OFFICIAL_SESSION_KEY, OFFICIAL_ENCRYPTED_DATA, "c2hvcnQ="),  # a short iv
])
def test_tampered_encrypted_data_is_refused_not_a_500(session_key, encrypted_data, iv):
    with pytest.raises(WeChatDecryptFailed):
        mp.decrypt_data(appid=OFFICIAL_APPID, session_key=session_key, encrypted_data=encrypted_data, iv=iv)


def test_a_watermark_of_another_appid_is_refused():
    session_key = "AAAAAAAAAAAAAAAAAAAAAA=="
    encrypted, iv = encrypt_for_session(session_key, {"purePhoneNumber": "1", "watermark": {"appid": "wxother"}})
    with pytest.raises(WeChatDecryptFailed, match="not for this app"):
        mp.decrypt_data(appid="wxmine", session_key=session_key, encrypted_data=encrypted, iv=iv)


# --- mini-program codes, messages, content checks ------------------------------------------------------

def test_a_mini_program_code_is_a_real_png(consumer):
    png = consumer.get_wxacode_unlimit("inv=AB12cd34", page="pages/bind/index", width=430)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(png)).format == "PNG"


@pytest.mark.parametrize("scene", ["x" * 33, "", "中文"])
def test_a_scene_wechat_would_refuse_is_refused_before_calling(sandbox, consumer, scene):
    with pytest.raises(WeChatError) as caught:
        consumer.get_wxacode_unlimit(scene)
    assert caught.value.status == 422
    assert token_requests(sandbox) == 0


def test_the_sandbox_refuses_a_long_scene_as_wechat_does(consumer):
    with pytest.raises(WeChatError) as caught:
        consumer._call(lambda: consumer._api.wxa.get_wxa_code_unlimited("y" * 33))
    assert (caught.value.status, caught.value.errors["errcode"]) == (502, 40169)


def test_subscribe_messages_are_recorded_and_listable(sandbox, consumer):
    openid = consumer.code_to_session("sandbox:gina").openid
    consumer.send_subscribe_message(openid, "TPL-1", {"thing1": {"value": "红包已到账"}}, page="pages/me")
    sent = requests.get(sandbox.url + "/__sandbox__/subscribe-messages", params={"openid": openid},
                        timeout=5).json()
    assert [(m["template_id"], m["data"], m["page"], m["appid"]) for m in sent] == [
        ("TPL-1", {"thing1": {"value": "红包已到账"}}, "pages/me", consumer.appid)]


def test_a_message_to_an_unknown_openid_is_a_wechat_error_with_its_errcode(consumer):
    with pytest.raises(WeChatError) as caught:
        consumer.send_subscribe_message("o" + "x" * 27, "TPL-1", {"thing1": {"value": "x"}})
    assert (caught.value.status, caught.value.code, caught.value.errors["errcode"]) == (
        502, "wechat_error", 40003)


def test_msg_sec_check_flags_the_configured_words(sandbox, consumer):
    openid = consumer.code_to_session("sandbox:hank").openid
    requests.put(sandbox.url + "/__sandbox__/msg-sec-check/words", timeout=5,
                 json={"risky": ["假货"], "review": ["微信号"]})
    assert consumer.msg_sec_check(openid, "很好喝", 2) == mp.SecCheckResult("pass", 100)
    assert consumer.msg_sec_check(openid, "这是假货", 2).suggest == "risky"
    assert consumer.msg_sec_check(openid, "加我微信号", 1).suggest == "review"


# --- the access token ---------------------------------------------------------------------------------

def test_the_token_is_cached_in_redis_and_shared_by_clients(sandbox):
    first, second = new_client(sandbox), new_client(sandbox)
    first.get_phone_number("sandbox-phone:13000000001")
    second.get_phone_number("sandbox-phone:13000000002")
    assert token_requests(sandbox) == 1


def test_concurrent_workers_refresh_the_token_once(sandbox):
    # A slow token answer keeps the refresh lock held while the other workers arrive.
    faults.inject(sandbox.state, "token", "timeout", delay=0.3)
    clients = [new_client(sandbox) for _ in range(8)]
    tokens, errors = [], []

    def work(client):
        try:
            tokens.append(client._api.access_token)
        except Exception as exc:  # noqa: BLE001 - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(tokens)) == 1 and len(tokens) == 8
    assert token_requests(sandbox) == 1


def test_an_expired_token_is_refreshed_once_and_the_call_retried(sandbox, consumer):
    consumer.get_phone_number("sandbox-phone:13000000003")
    requests.post(sandbox.url + "/__sandbox__/tokens/expire", timeout=5)
    assert consumer.get_phone_number("sandbox-phone:13000000004") == "13000000004"
    assert token_requests(sandbox) == 2


def test_a_token_refused_again_after_refresh_is_not_retried_forever(sandbox, consumer):
    faults.inject(sandbox.state, "getuserphonenumber", "fail", times=2, errcode=40001, errmsg="invalid credential")
    with pytest.raises(WeChatError) as caught:
        consumer.get_phone_number("sandbox-phone:13000000005")
    assert caught.value.errors["errcode"] == 40001
    assert token_requests(sandbox) == 2


def test_a_token_request_that_times_out_is_retried(sandbox):
    faults.inject(sandbox.state, "token", "timeout", delay=1.0)
    client = new_client(sandbox, timeout=0.3)
    assert client.get_phone_number("sandbox-phone:13000000006") == "13000000006"


# --- WeChat's failures become ours ----------------------------------------------------------------------

@pytest.mark.parametrize("kind, status, code", [
    ("system_error", 503, "wechat_unavailable"),
    ("http_500", 503, "wechat_unavailable"),
    ("timeout", 503, "wechat_unavailable"),
    ("rate_limited", 429, "wechat_rate_limited"),
    ("high_risk", 403, "wechat_user_high_risk"),
    ("fail", 502, "wechat_error"),
])
def test_each_fault_kind_maps_to_our_error(sandbox, kind, status, code):
    faults.inject(sandbox.state, "jscode2session", kind, delay=1.0)
    with pytest.raises(WeChatError) as caught:
        new_client(sandbox, timeout=0.3).code_to_session("sandbox:ivan")
    assert (caught.value.status, caught.value.code) == (status, code)
    if status in (429, 503):
        assert int(caught.value.headers["Retry-After"]) > 0


def test_an_idempotent_read_is_retried_once_when_wechat_is_busy(sandbox, consumer):
    openid = consumer.code_to_session("sandbox:jane").openid
    faults.inject(sandbox.state, "msg_sec_check", "system_error")
    assert consumer.msg_sec_check(openid, "你好", 2).suggest == "pass"


def test_a_login_is_not_retried_when_wechat_is_busy(sandbox, consumer):
    faults.inject(sandbox.state, "jscode2session", "system_error")
    with pytest.raises(WeChatError, match="not answering"):
        consumer.code_to_session("sandbox:kate")
    assert consumer.code_to_session("sandbox:kate").openid  # the code was never spent


def test_a_busy_answer_twice_fails_even_an_idempotent_read(sandbox, consumer):
    faults.inject(sandbox.state, "getwxacodeunlimit", "system_error", times=2)
    with pytest.raises(WeChatError) as caught:
        consumer.get_wxacode_unlimit("a=1")
    assert caught.value.status == 503


def test_the_domain_error_renders_with_our_body(app, sandbox):
    faults.inject(sandbox.state, "jscode2session", "rate_limited")
    with app.test_request_context():
        with pytest.raises(WeChatError) as caught:
            mp.client("clerk").code_to_session("sandbox:leo")
        response = handle_domain_error(caught.value)
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert response.get_json()["code"] == "wechat_rate_limited"
    assert response.get_json()["errors"]["errcode"] == 45011


# --- nothing leaves loopback ---------------------------------------------------------------------------

def test_every_request_stays_on_loopback(sandbox, monkeypatch):
    seen = []
    real_send = requests.Session.send

    def recording_send(self, request, **kwargs):
        seen.append((request.url, kwargs.get("timeout")))
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording_send)
    client = new_client(sandbox, name="clerk")
    openid = client.code_to_session("sandbox:mike").openid
    client.get_phone_number("sandbox-phone:13100000000")
    client.get_wxacode_unlimit("s=1")
    client.send_subscribe_message(openid, "TPL", {"thing1": {"value": "v"}})
    client.msg_sec_check(openid, "hello", 1)
    assert len(seen) == 6  # the token, then one request per call
    assert all(url.startswith(sandbox.url + "/") for url, _ in seen)
    assert all(timeout == 5.0 for _, timeout in seen)  # every request has the timeout


def test_wechats_host_is_rewritten_and_any_other_host_refused(sandbox):
    api = new_client(sandbox)._api
    assert api.rebase("https://api.weixin.qq.com/sns/jscode2session") == sandbox.url + "/sns/jscode2session"
    with pytest.raises(ValueError, match="refusing"):
        api.rebase("https://example.com/cgi-bin/token")


def test_an_unknown_mini_program_is_refused(app):
    with pytest.raises(ValueError, match="unknown mini-program"):
        mp.client("admin")
