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


def test_repeated_failures_lock_the_account_even_for_the_right_password(app, auth):
    user = make_user()
    limit = app.config["LOGIN_MAX_FAILURES"]
    codes = [auth.login(user.username, "wrong password!").status_code for _ in range(limit)]
    assert codes[:-1] == [401] * (limit - 1)
    assert codes[-1] == 429
    locked = auth.login(user.username, PASSWORD)
    assert locked.status_code == 429
    assert locked.get_json()["code"] == "account_locked"
    assert int(locked.headers["Retry-After"]) > 0


def test_a_lock_expires(app, auth):
    user = make_user()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        auth.login(user.username, "wrong password!")
    db.session.refresh(user)
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert auth.login(user.username).status_code == 200


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
