"""The sandbox's mini-program API answers as WeChat does (raw HTTP, no adapter)."""
from __future__ import annotations

import base64

import pytest
import requests

from app.wechat.sandbox.miniprogram import openid_for


@pytest.fixture
def consumer_app(sandbox):
    return sandbox.credentials.apps["consumer"]


def get(sandbox, path, **params):
    return requests.get(sandbox.url + path, params=params, timeout=5).json()


def token_for(sandbox, app) -> str:
    return get(sandbox, "/cgi-bin/token", grant_type="client_credential", appid=app.appid,
               secret=app.secret)["access_token"]


def test_token_answers_an_access_token_for_two_hours(sandbox, consumer_app):
    answer = get(sandbox, "/cgi-bin/token", grant_type="client_credential", appid=consumer_app.appid,
                 secret=consumer_app.secret)
    assert answer["expires_in"] == 7200 and len(answer["access_token"]) > 100


@pytest.mark.parametrize("change, errcode", [
    ({"appid": "wxnobody"}, 40013), ({"secret": "wrong"}, 40125), ({"grant_type": "password"}, 40002)])
def test_token_checks_appid_secret_and_grant_type(sandbox, consumer_app, change, errcode):
    params = {"grant_type": "client_credential", "appid": consumer_app.appid, "secret": consumer_app.secret}
    assert get(sandbox, "/cgi-bin/token", **{**params, **change})["errcode"] == errcode


def test_jscode2session_answers_openid_session_key_and_unionid(sandbox, consumer_app):
    answer = get(sandbox, "/sns/jscode2session", appid=consumer_app.appid, secret=consumer_app.secret,
                 js_code="sandbox:olga", grant_type="authorization_code")
    assert answer["openid"] == openid_for(consumer_app.appid, "olga")
    assert set(answer) == {"openid", "session_key", "unionid"}
    assert len(base64.b64decode(answer["session_key"])) == 16


def test_jscode2session_checks_the_secret(sandbox, consumer_app):
    answer = get(sandbox, "/sns/jscode2session", appid=consumer_app.appid, secret="nope",
                 js_code="sandbox:olga", grant_type="authorization_code")
    assert answer["errcode"] == 40125


@pytest.mark.parametrize("token, errcode", [(None, 41001), ("forged", 40001)])
def test_calls_need_a_valid_access_token(sandbox, token, errcode):
    params = {"access_token": token} if token else {}
    answer = requests.post(sandbox.url + "/wxa/business/getuserphonenumber", params=params,
                           json={"code": "sandbox-phone:1"}, timeout=5).json()
    assert answer["errcode"] == errcode


def test_a_token_of_one_app_answers_for_that_app(sandbox, consumer_app):
    token = token_for(sandbox, consumer_app)
    answer = requests.post(sandbox.url + "/wxa/business/getuserphonenumber", params={"access_token": token},
                           json={"code": "sandbox-phone:13500000000"}, timeout=5).json()
    assert answer["errcode"] == 0
    assert answer["phone_info"]["countryCode"] == "86"
    assert answer["phone_info"]["watermark"]["appid"] == consumer_app.appid


def test_the_encrypted_phone_helper_needs_a_session(sandbox, consumer_app):
    answer = requests.get(sandbox.url + "/__sandbox__/encrypted-phone", timeout=5, params={
        "appid": consumer_app.appid, "openid": "o" + "z" * 27, "phone": "1"})
    assert answer.status_code == 404


def test_msg_sec_check_wants_version_2(sandbox, consumer_app):
    token = token_for(sandbox, consumer_app)
    answer = requests.post(sandbox.url + "/wxa/msg_sec_check", params={"access_token": token},
                           json={"content": "hi", "version": 1, "scene": 1, "openid": "o"}, timeout=5).json()
    assert answer["errcode"] == 47001


def test_an_http_500_fault_is_a_bare_500(sandbox, consumer_app):
    requests.post(sandbox.url + "/__sandbox__/faults", json={"operation": "token", "kind": "http_500"},
                  timeout=5)
    response = requests.get(sandbox.url + "/cgi-bin/token", timeout=5, params={
        "grant_type": "client_credential", "appid": consumer_app.appid, "secret": consumer_app.secret})
    assert response.status_code == 500
    assert token_for(sandbox, consumer_app)  # one-shot: the next call is answered
