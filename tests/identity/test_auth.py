from datetime import timedelta

import sqlalchemy as sa

from app.db import utcnow
from app.extensions import db
from app.identity.models import AdminToken, AuditRecord, Role
from tests.factories import PASSWORD, make_user


def test_login_returns_a_bearer_token_that_authenticates(client, auth):
    user = make_user(Role.OPS)
    response = auth.login(user.username)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert body["user"]["role"] == "ops"
    me = client.get("/api/admin/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.get_json()["username"] == user.username


def test_wrong_password_and_unknown_user_get_the_same_401(auth):
    user = make_user()
    wrong = auth.login(user.username, "not the password")
    unknown = auth.login("nobody-here", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.get_json()["code"] == "invalid_credentials"
        assert set(response.get_json()) == {"code", "status", "message", "errors"}


ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
OWNER = {"REMOTE_ADDR": "198.51.100.20"}


def _login(client, username, password=PASSWORD, address=ATTACKER):
    return client.post("/api/admin/auth/login", json={"username": username, "password": password},
                       environ_base=address)


def test_wrong_passwords_from_one_address_throttle_that_address_not_the_account(app, client):
    user = make_user()
    free = app.config["LOGIN_FREE_FAILURES"]
    codes = [_login(client, user.username, "wrong password!").status_code for _ in range(free + 1)]
    assert codes == [401] * (free + 1)
    throttled = _login(client, user.username, PASSWORD)  # even the right password waits its turn
    assert throttled.status_code == 429 and throttled.get_json()["code"] == "login_throttled"
    assert int(throttled.headers["Retry-After"]) >= 1
    # The owner, from another address, logs in as ever.
    assert _login(client, user.username, PASSWORD, address=OWNER).status_code == 200


def test_delays_grow_with_each_failure_up_to_the_cap(app):
    from app.platform import ratelimit

    delays = [ratelimit.fail("test:login", window=900, free=3, cap=10) for _ in range(9)]
    assert delays == [0, 0, 0, 1, 2, 4, 8, 10, 10]
    assert 8 <= ratelimit.waiting("test:login", "test:other") <= 10


def test_spraying_usernames_from_one_address_is_throttled(app, client):
    users = [make_user() for _ in range(3)]
    names = [u.username for u in users] + [f"guess-{n}" for n in range(17)]
    codes = [_login(client, name, "Spring2026!").status_code for name in names]
    limit = app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    assert codes[:limit + 1] == [401] * (limit + 1) and codes[limit + 1] == 429
    # Each password tried past the limit doubles the wait: a slow machine may see a 1 s wait lapse, no more.
    assert codes.count(401) <= limit + 3
    # Nobody else is slowed down by it.
    assert all(_login(client, u.username, address=OWNER).status_code == 200 for u in users)


def test_a_guess_spread_over_many_addresses_throttles_the_account(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
    user = make_user()
    for n in range(6):
        assert _login(client, user.username, "wrong password!", {"REMOTE_ADDR": f"192.0.2.{n}"}).status_code == 401
    assert _login(client, user.username, address=OWNER).status_code == 429


def test_an_admin_lifts_the_throttles(app, client, auth):
    user = make_user()
    for _ in range(app.config["LOGIN_FREE_FAILURES"] + 1):
        _login(client, user.username, "wrong password!")
    assert _login(client, user.username).status_code == 429
    assert client.post(f"/api/admin/users/{user.id}/unlock", headers=auth.as_admin()).status_code == 200
    assert _login(client, user.username).status_code == 200


def test_missing_or_garbage_token_is_401(client):
    assert client.get("/api/admin/auth/me").status_code == 401
    response = client.get("/api/admin/auth/me", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_invalid"


def test_expired_token_is_refused(client, auth):
    headers = auth.headers_for(Role.FINANCE)
    db.session.execute(sa.update(AdminToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert client.get("/api/admin/auth/me", headers=headers).status_code == 401


def test_logout_revokes_the_token(client, auth):
    headers = auth.headers_for(Role.AUDITOR)
    assert client.post("/api/admin/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/admin/auth/me", headers=headers).status_code == 401


def test_deactivating_a_user_revokes_their_tokens(client, auth):
    admin = auth.as_admin()
    user = make_user(Role.MARKETER)
    token = auth.login(user.username).get_json()["token"]
    response = client.patch(f"/api/admin/users/{user.id}", json={"is_active": False}, headers=admin)
    assert response.status_code == 200
    assert client.get("/api/admin/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert auth.login(user.username).status_code == 401


def test_login_validates_its_body(auth, client):
    response = client.post("/api/admin/auth/login", json={"username": "x"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "validation_failed"
    assert "password" in body["errors"]["json"]


def test_password_is_stored_hashed_with_argon2(app):
    user = make_user()
    assert user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash


def test_user_changes_are_audited(client, auth):
    admin = auth.as_admin()
    created = client.post("/api/admin/users", headers=admin,
                          json={"username": "mia", "password": "a long password", "role": "marketer"})
    assert created.status_code == 201
    user_id = created.get_json()["id"]
    client.patch(f"/api/admin/users/{user_id}", json={"role": "ops"}, headers=admin)
    records = db.session.scalars(
        sa.select(AuditRecord).where(AuditRecord.entity_id == str(user_id)).order_by(AuditRecord.id)
    ).all()
    assert [r.action for r in records] == ["user.create", "user.update"]
    assert records[1].changes == {"role": ["marketer", "ops"]}
    assert records[1].actor_type == "user"
