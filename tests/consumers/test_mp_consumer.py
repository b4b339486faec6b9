"""The consumer mini-program: a profile of nickname and avatar; no binding."""
from __future__ import annotations



def test_a_consumer_sets_nickname_and_avatar(client, mp):
    headers, _ = mp.sign_in("consumer")
    body = {"nickname": " 小王 ", "avatar_url": "https://thirdwx.qlogo.cn/a.png"}
    response = client.patch("/api/consumer/me", json=body, headers=headers)
    assert response.status_code == 200
    user = response.get_json()["user"]
    assert user["nickname"] == "小王" and user["avatar_url"] == body["avatar_url"]
    assert client.get("/api/consumer/me", headers=headers).get_json()["user"]["nickname"] == "小王"


def test_profile_limits(client, mp):
    headers, _ = mp.sign_in("consumer")
    for body in ({"nickname": "x" * 65}, {"avatar_url": "https://a/" + "x" * 500}):
        assert client.patch("/api/consumer/me", json=body, headers=headers).status_code == 422
    response = client.patch("/api/consumer/me", json={"avatar_url": "http://plain.example/a.png"}, headers=headers)
    assert response.status_code == 422 and response.get_json()["code"] == "profile_invalid"


def test_a_consumer_has_no_membership_fields(client, mp):
    headers, _ = mp.sign_in("consumer")
    assert set(client.get("/api/consumer/me", headers=headers).get_json()) == {"user", "next_steps"}
    assert client.post("/api/consumer/bind", json={"invitation_code": "X"}, headers=headers).status_code in (404, 405)
