import pytest
import sqlalchemy as sa

from app.codes.models import CodeBatch
from app.extensions import db, redis
from app.identity.models import Role


def _batches():
    return db.session.scalar(sa.select(sa.func.count()).select_from(CodeBatch))


def _issue(client, headers, key=None, count=10):
    if key:
        headers = {**headers, "Idempotency-Key": key}
    return client.post("/api/admin/code-batches", json={"level": "item", "count": count}, headers=headers)


def test_a_retried_issue_with_the_same_key_issues_once_and_answers_the_same(client, auth):
    headers = auth.as_admin()
    first = _issue(client, headers, key="issue-2026-11-25-0001")
    retry = _issue(client, headers, key="issue-2026-11-25-0001")
    assert first.status_code == retry.status_code == 202
    assert retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert _batches() == 1


def test_without_a_key_each_request_is_new(client, auth):
    headers = auth.as_admin()
    _issue(client, headers)
    _issue(client, headers)
    assert _batches() == 2


def test_the_same_key_with_another_body_is_refused(client, auth):
    headers = auth.as_admin()
    _issue(client, headers, key="issue-2026-11-25-0002", count=10)
    response = _issue(client, headers, key="issue-2026-11-25-0002", count=11)
    assert response.status_code == 422
    assert response.get_json()["code"] == "idempotency_key_reused"
    assert _batches() == 1


def test_a_request_still_running_is_not_run_twice(client, auth):
    from app import idempotency

    headers = {**auth.as_admin(), "Idempotency-Key": "issue-2026-11-25-0003"}
    me = client.get("/api/admin/auth/me", headers=headers).get_json()
    body = {"level": "item", "count": 10}
    # The first attempt claims the key and is still in flight...
    with client.application.test_request_context("/api/admin/code-batches", method="POST",
                                                  headers=headers, json=body):
        assert idempotency.begin(principal=f"user:{me['id']}") is None
    # ...when the client's retry arrives.
    response = client.post("/api/admin/code-batches", json=body, headers=headers)
    assert response.status_code == 409
    assert response.get_json()["code"] == "request_in_progress"
    assert _batches() == 0


def test_a_malformed_key_is_refused(client, auth):
    response = _issue(client, auth.as_admin(), key="no")
    assert response.status_code == 422
    assert response.get_json()["code"] == "idempotency_key_invalid"


def _kept_keys() -> list:
    return list(redis.scan_iter("idem:*"))


@pytest.mark.parametrize("path, headers", [
    ("/api/admin/code-batches", {}),
    ("/api/admin/code-batches", {"Authorization": "Bearer not-a-token"}),
    ("/api/integration/line/sessions", {"X-Api-Key": "mtk_000000000000_forged"}),
    ("/api/consumer/scans", {"Authorization": "Bearer not-a-token"}),
    ("/api/admin/auth/login", {}),  # public: nothing to scope a key to
])
def test_a_request_nobody_is_authenticated_for_keeps_nothing(client, path, headers):
    for n in range(30):
        client.post(path, json={"username": "x", "password": "y"},
                    headers={**headers, "Idempotency-Key": f"anonymous-key-{n:04d}"})
    assert _kept_keys() == []


def test_a_role_that_may_not_write_keeps_nothing(client, auth):
    response = _issue(client, auth.headers_for(Role.AUDITOR), key="auditor-key-0001")
    assert response.status_code == 403
    assert _kept_keys() == []


def test_another_user_sending_the_same_key_gets_their_own_answer(client, auth):
    alice, bob = auth.as_admin(), auth.as_admin()
    first = _issue(client, alice, key="shared-key-0001")
    theirs = _issue(client, bob, key="shared-key-0001")
    assert first.status_code == theirs.status_code == 202
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["batch"]["id"] != first.get_json()["batch"]["id"]
    assert _batches() == 2
    # Each one's retry answers what each one got.
    assert _issue(client, bob, key="shared-key-0001").get_json() == theirs.get_json()


def test_a_key_is_scoped_to_the_user_not_the_token(client, auth):
    from tests.factories import make_user

    user = make_user(Role.ADMIN)
    tokens = [auth.login(user.username).get_json()["token"] for _ in range(2)]
    first = _issue(client, {"Authorization": f"Bearer {tokens[0]}"}, key="relogin-key-0001")
    # Logged in again (a new token) and retried: still the same request.
    retry = _issue(client, {"Authorization": f"Bearer {tokens[1]}"}, key="relogin-key-0001")
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.get_json() == first.get_json()
    # Logged out: the token is refused before any stored answer is looked at.
    client.post("/api/admin/auth/logout", headers={"Authorization": f"Bearer {tokens[1]}"})
    gone = _issue(client, {"Authorization": f"Bearer {tokens[1]}"}, key="relogin-key-0001")
    assert gone.status_code == 401 and "Idempotent-Replayed" not in gone.headers


def test_mini_program_users_are_their_own_principals(client, mp):  # noqa: F811
    first, _ = mp.sign_in("consumer")
    second, _ = mp.sign_in("consumer")
    body = {"code": "0" * 18}
    answers = [client.post("/api/consumer/scans", json=body, headers={**h, "Idempotency-Key": "scan-key-0001"})
               for h in (first, second)]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].get_json()["scan_id"] != answers[1].get_json()["scan_id"]
    assert "Idempotent-Replayed" not in answers[1].headers
