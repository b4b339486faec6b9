import sqlalchemy as sa

from app.codes.models import CodeBatch
from app.extensions import db


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
    body = {"level": "item", "count": 10}
    # The first attempt claims the key and is still in flight...
    with client.application.test_request_context("/api/admin/code-batches", method="POST",
                                                  headers=headers, json=body):
        assert idempotency.before_request() is None
    # ...when the client's retry arrives.
    response = client.post("/api/admin/code-batches", json=body, headers=headers)
    assert response.status_code == 409
    assert response.get_json()["code"] == "request_in_progress"
    assert _batches() == 0


def test_a_malformed_key_is_refused(client, auth):
    response = _issue(client, auth.as_admin(), key="no")
    assert response.status_code == 422
    assert response.get_json()["code"] == "idempotency_key_invalid"
