"""Login to the three mini-programs through the sandbox, tokens per audience, refresh, logout, phone."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AccessToken, AppUser, Person, RefreshToken
from app.db import utcnow
from app.extensions import db, redis
from app.wechat import runtime

APPS = ("dealer", "clerk", "consumer")


@pytest.mark.parametrize("app_name", APPS)
def test_login_gives_tokens_and_next_steps(client, mp, app_name):
    response = mp.login(app_name)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token"] and body["refresh_token"] and body["expires_in"] == 7200
    assert body["user"]["app"] == app_name and body["user"]["phone"] is None
    first_step = {"dealer": "bind_dealer", "clerk": "bind_store", "consumer": "bind_phone"}[app_name]
    assert body["next_steps"][0] == first_step
    me = client.get(f"/api/{app_name}/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.get_json()["user"]["id"] == body["user"]["id"]


def test_logging_in_again_is_the_same_user(mp):
    name = mp.new_name()
    _, first = mp.sign_in("consumer", name)
    _, second = mp.sign_in("consumer", name)
    assert first["user"]["id"] == second["user"]["id"] and first["token"] != second["token"]


def test_one_person_across_the_three_apps_by_unionid(mp):
    name = mp.new_name()
    people = {mp.sign_in(app, name)[1]["user"]["person_id"] for app in APPS}
    assert len(people) == 1
    other = mp.sign_in("consumer")[1]["user"]["person_id"]
    assert other not in people
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 2


def test_the_session_key_never_leaves_the_server(client, mp):
    name = mp.new_name()
    headers, body = mp.sign_in("consumer", name)
    session_key = redis.get(f"mp:session_key:consumer:{mp.openid('consumer', name)}").decode()
    assert session_key and 0 < redis.ttl(f"mp:session_key:consumer:{mp.openid('consumer', name)}") <= 3 * 86400
    responses = [
        mp.login("consumer", name),
        client.get("/api/consumer/me", headers=headers),
        client.post("/api/consumer/auth/phone", json={"code": "sandbox-phone:13800000000"}, headers=headers),
        client.post("/api/consumer/auth/refresh", json={"refresh_token": body["refresh_token"]}),
    ]
    for response in responses:
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "session_key" not in text and session_key not in text
        assert redis.get(f"mp:session_key:consumer:{mp.openid('consumer', name)}").decode() not in text


def test_a_spent_login_code_is_401(client, mp):
    code = mp.code(mp.new_name())
    assert client.post("/api/dealer/auth/login", json={"code": code}).status_code == 200
    response = client.post("/api/dealer/auth/login", json={"code": code})
    assert response.status_code == 401 and response.get_json()["code"] == "wechat_code_invalid"


def test_a_token_is_valid_for_its_own_app_only(client, mp):
    headers, _ = mp.sign_in("consumer")
    for path in ("/api/dealer/me", "/api/clerk/me", "/api/dealer/staff"):
        response = client.get(path, headers=headers)
        assert response.status_code == 403 and response.get_json()["code"] == "token_audience_mismatch"
    assert client.get("/api/consumer/me", headers=headers).status_code == 200


def test_missing_unknown_or_back_office_tokens_are_401(client, mp, auth):
    assert client.get("/api/dealer/me").status_code == 401
    assert client.get("/api/dealer/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    response = client.get("/api/dealer/me", headers=auth.as_admin())
    assert response.status_code == 401 and response.get_json()["code"] == "token_invalid"


def test_an_expired_token_is_401(client, mp):
    headers, body = mp.sign_in("clerk")
    db.session.execute(sa.update(AccessToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    response = client.get("/api/clerk/me", headers=headers)
    assert response.status_code == 401 and response.get_json()["code"] == "token_expired"


def test_refresh_rotates_the_pair(client, mp):
    _, body = mp.sign_in("dealer")
    response = client.post("/api/dealer/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 200
    fresh = response.get_json()
    assert fresh["token"] != body["token"] and fresh["refresh_token"] != body["refresh_token"]
    assert fresh["user"]["id"] == body["user"]["id"]
    assert client.get("/api/dealer/me", headers={"Authorization": f"Bearer {fresh['token']}"}).status_code == 200


def test_a_refresh_revokes_the_access_token_it_replaces(client, mp):
    old_headers, body = mp.sign_in("clerk")
    other_login, _ = mp.sign_in("clerk")
    response = client.post("/api/clerk/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 200
    replaced = client.get("/api/clerk/me", headers=old_headers)
    assert (replaced.status_code, replaced.get_json()["code"]) == (401, "token_invalid")
    assert client.get("/api/clerk/me", headers={"Authorization": f"Bearer {response.get_json()['token']}"}).status_code == 200
    assert client.get("/api/clerk/me", headers=other_login).status_code == 200  # another login is untouched


def test_reusing_a_refresh_token_revokes_the_whole_login(client, mp):
    _, body = mp.sign_in("dealer")
    fresh = client.post("/api/dealer/auth/refresh", json={"refresh_token": body["refresh_token"]}).get_json()
    replay = client.post("/api/dealer/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert replay.status_code == 401 and replay.get_json()["code"] == "refresh_token_reused"
    # The thief's replay also ends the legitimate session: both its tokens are dead.
    assert client.get("/api/dealer/me", headers={"Authorization": f"Bearer {fresh['token']}"}).status_code == 401
    again = client.post("/api/dealer/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert again.status_code == 401


def test_a_refresh_token_of_another_app_is_403(client, mp):
    _, body = mp.sign_in("consumer")
    response = client.post("/api/dealer/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 403 and response.get_json()["code"] == "token_audience_mismatch"


def test_an_expired_refresh_token_is_401(client, mp):
    _, body = mp.sign_in("consumer")
    db.session.execute(sa.update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    response = client.post("/api/consumer/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 401 and response.get_json()["code"] == "token_expired"


def test_logout_revokes_the_token_and_its_refresh_token(client, mp):
    headers, body = mp.sign_in("consumer")
    other_headers, _ = mp.sign_in("consumer")
    assert client.post("/api/consumer/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/consumer/me", headers=headers).status_code == 401
    response = client.post("/api/consumer/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 401
    assert client.get("/api/consumer/me", headers=other_headers).status_code == 200


def test_a_disabled_account_cannot_log_in(client, mp):
    name = mp.new_name()
    headers, _ = mp.sign_in("consumer", name)
    db.session.execute(sa.update(AppUser).values(status="disabled"))
    db.session.commit()
    assert client.get("/api/consumer/me", headers=headers).get_json()["code"] == "account_disabled"
    response = mp.login("consumer", name)
    assert response.status_code == 403 and response.get_json()["code"] == "account_disabled"


def test_login_is_rate_limited_per_ip(app, client, mp, monkeypatch):
    monkeypatch.setitem(app.config, "MP_LOGIN_LIMIT_PER_IP", 3)
    for _ in range(3):
        assert mp.login("consumer").status_code == 200
    response = mp.login("consumer")
    assert response.status_code == 429 and response.get_json()["code"] == "too_many_logins"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    other_ip = mp.login("consumer", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other_ip.status_code == 200


def test_login_is_rate_limited_per_openid(app, client, mp, monkeypatch):
    monkeypatch.setitem(app.config, "MP_LOGIN_LIMIT_PER_OPENID", 2)
    name = mp.new_name()
    for n in range(2):
        assert mp.login("dealer", name, environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).status_code == 200
    response = mp.login("dealer", name, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 429 and response.get_json()["code"] == "too_many_logins"
    assert mp.login("dealer").status_code == 200  # another user is not held back


def test_phone_binding_by_code(client, mp):
    headers, _ = mp.sign_in("consumer")
    response = client.post("/api/consumer/auth/phone", json={"code": "sandbox-phone:13912345678"}, headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["phone"] == "13912345678" and "bind_phone" not in body["next_steps"]
    bad = client.post("/api/consumer/auth/phone", json={"code": "sandbox-phone:13912345678"}, headers=headers)
    assert bad.status_code == 401 and bad.get_json()["code"] == "wechat_code_invalid"


def test_phone_binding_by_legacy_encrypted_data(client, mp):
    name = mp.new_name()
    headers, _ = mp.sign_in("clerk", name)
    appid = runtime().app_credentials("clerk")[0]
    sandbox = runtime().sandbox_url()
    import requests

    encrypted = requests.get(f"{sandbox}/__sandbox__/encrypted-phone", timeout=5, params={
        "appid": appid, "openid": mp.openid("clerk", name), "phone": "13700001111"}).json()
    response = client.post("/api/clerk/auth/phone", headers=headers,
                           json={"encrypted_data": encrypted["encryptedData"], "iv": encrypted["iv"]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["user"]["phone"] == "13700001111"


def test_legacy_phone_data_of_another_session_fails_to_decrypt(client, mp):
    name = mp.new_name()
    headers, _ = mp.sign_in("clerk", name)
    appid = runtime().app_credentials("clerk")[0]
    import requests

    encrypted = requests.get(f"{runtime().sandbox_url()}/__sandbox__/encrypted-phone", timeout=5, params={
        "appid": appid, "openid": mp.openid("clerk", name), "phone": "13700001111"}).json()
    mp.sign_in("clerk", name)  # a new login replaces the session key
    response = client.post("/api/clerk/auth/phone", headers=headers,
                           json={"encrypted_data": encrypted["encryptedData"], "iv": encrypted["iv"]})
    assert response.status_code == 422 and response.get_json()["code"] == "wechat_decrypt_failed"


def test_legacy_phone_binding_needs_a_live_session_key(client, mp):
    name = mp.new_name()
    headers, _ = mp.sign_in("consumer", name)
    redis.delete(f"mp:session_key:consumer:{mp.openid('consumer', name)}")
    response = client.post("/api/consumer/auth/phone", headers=headers, json={"encrypted_data": "abcd", "iv": "abcd"})
    assert response.status_code == 409 and response.get_json()["code"] == "session_key_missing"


def test_phone_binding_wants_code_or_encrypted_data(client, mp):
    headers, _ = mp.sign_in("consumer")
    for body in ({}, {"code": "x", "iv": "y"}, {"encrypted_data": "x"}):
        response = client.post("/api/consumer/auth/phone", headers=headers, json=body)
        assert response.status_code == 422 and response.get_json()["code"] == "phone_arguments_invalid"


def test_every_mini_program_view_declares_its_audience(app):
    """Fail closed: every mini-program view is public or open to exactly its own mini-program."""
    undeclared = []
    for endpoint, view in app.view_functions.items():
        if not endpoint.startswith("mp_"):
            continue
        audience = endpoint.split("_")[1].split(".")[0]
        fn = view
        if getattr(fn, "_public", False):
            continue
        if getattr(fn, "_allowed_roles", None) != frozenset({f"miniprogram:{audience}"}):
            undeclared.append(endpoint)
    assert undeclared == []
    assert sum(e.startswith("mp_") for e in app.view_functions) >= 20
