"""The signed mini-program access tokens on the consumer scan, attacked: forged, tampered, another
audience's, logged out, expired, replaced by a refresh."""
from __future__ import annotations


from app.accounts import tokens
from app.extensions import redis

SCANS = "/api/consumer/scans"


def _token(headers):
    return headers["Authorization"].split(" ", 1)[1]


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_a_token_whose_mac_is_not_ascii_is_a_401_not_a_500(client, mp, goods):  # noqa: F811
    headers, _ = mp.sign_in("consumer")
    token = _token(headers)
    body, _, mac = token.rpartition(".")
    forged = f"{body}.{mac[:-1]}\u00e9"  # a latin-1 byte in the header: hmac.compare_digest raises TypeError
    response = client.post(SCANS, json={"code": goods["items"][0]}, headers=_bearer(forged))
    assert response.status_code == 401, (response.status_code, response.get_data(as_text=True)[:300])


def test_tampered_tokens_are_refused(client, mp, goods):  # noqa: F811
    headers, body = mp.sign_in("consumer")
    token = _token(headers)
    parts = token.split(".")
    other_headers, _ = mp.sign_in("consumer")
    other = _token(other_headers).split(".")
    variants = []
    for i in range(1, 7):
        changed = list(parts)
        changed[i] = other[i] if other[i] != parts[i] else parts[i] + "0"
        variants.append(".".join(changed))
    variants += [token + ".", token[:-1], "m2." + ".".join(parts[1:6]) + ".", ".".join(parts[:6]),
                 token.replace("m2.", "M2."), "m2" + token[2:] + "x", "m2...........",
                 ".".join(parts[:4] + ["99999999999"] + parts[5:])]
    for variant in variants:
        response = client.post(SCANS, json={"code": goods["items"][0]}, headers=_bearer(variant))
        assert response.status_code == 401, (variant, response.status_code, response.json)


def test_other_audiences_with_a_valid_signature_are_refused(client, mp, goods):  # noqa: F811
    for app in ("dealer", "clerk"):
        headers, _ = mp.sign_in(app)
        response = client.post(SCANS, json={"code": goods["items"][0]}, headers=headers)
        assert response.status_code in (401, 403), (app, response.json)
        assert response.json["code"] in ("token_audience_mismatch", "audience_forbidden"), response.json


def test_a_logged_out_token_is_refused_by_the_scan(client, mp, goods):  # noqa: F811
    headers, _ = mp.sign_in("consumer")
    assert client.post(SCANS, json={"code": goods["items"][0]}, headers=headers).status_code == 201
    assert client.post("/api/consumer/auth/logout", headers=headers).status_code in (200, 204)
    response = client.post(SCANS, json={"code": goods["items"][0]}, headers=headers)
    assert response.status_code == 401, response.json
    redis.delete(tokens.key_of(tokens.token_hash(_token(headers))))  # Redis lost it: the database decides
    assert client.post(SCANS, json={"code": goods["items"][0]}, headers=headers).status_code == 401


def test_an_expired_signed_token_is_refused_even_while_redis_still_says_ok(client, mp, goods, app):  # noqa: F811
    from datetime import UTC, datetime, timedelta

    headers, _ = mp.sign_in("consumer")
    parts = _token(headers).split(".")
    with app.app_context():
        expired = tokens.sign(user_id=int(parts[1]), app="consumer", openid=parts[3],
                              expires_at=datetime.now(UTC) - timedelta(seconds=1))
    tokens.issued(tokens.token_hash(expired), 3600)  # Redis would say ok
    response = client.post(SCANS, json={"code": goods["items"][0]}, headers=_bearer(expired))
    assert response.status_code == 401 and response.json["code"] == "token_expired", response.json


def test_a_token_replaced_by_a_refresh_is_refused_by_the_scan(client, mp, goods):  # noqa: F811
    headers, body = mp.sign_in("consumer")
    refreshed = client.post("/api/consumer/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.json
    assert client.post(SCANS, json={"code": goods["items"][0]}, headers=headers).status_code == 401
    new = _bearer(refreshed.json["token"])
    assert client.post(SCANS, json={"code": goods["items"][0]}, headers=new).status_code == 201
    # reusing the refresh token revokes the family, the new access token with it
    assert client.post("/api/consumer/auth/refresh", json={"refresh_token": body["refresh_token"]}).status_code in (401, 409)
    assert client.post(SCANS, json={"code": goods["items"][1]}, headers=new).status_code == 401
