import sqlalchemy as sa

from app.extensions import db
from app.identity.models import ApiKey


def test_an_api_key_is_shown_once_and_stored_hashed(client, auth):
    admin = auth.as_admin()
    created = client.post("/api/admin/api-keys", json={"name": "ERP", "scopes": ["masterdata"]}, headers=admin)
    assert created.status_code == 201
    raw = created.get_json()["key"]
    stored = db.session.scalar(sa.select(ApiKey))
    assert raw not in (stored.key_hash, stored.prefix) and stored.prefix in raw
    listed = client.get("/api/admin/api-keys", headers=admin).get_json()
    assert "key" not in listed[0] and listed[0]["scopes"] == ["masterdata"]


def test_unknown_scope_is_refused(client, auth):
    response = client.post("/api/admin/api-keys", json={"name": "x", "scopes": ["everything"]},
                           headers=auth.as_admin())
    assert response.status_code == 422


def test_api_key_cannot_call_the_back_office(client, auth):
    headers = auth.key_headers("masterdata")
    assert client.get("/api/admin/users", headers=headers).status_code == 401


def test_using_a_key_records_when_it_was_last_used(client, auth):
    headers = auth.key_headers("masterdata")
    key = db.session.scalar(sa.select(ApiKey))
    assert key.last_used_at is None
    response = client.put("/api/integration/masterdata/products", headers=headers, json={"items": [
        {"external_id": "P1", "sku": "P1", "name": "Tea"}]})
    assert response.status_code == 200
    db.session.refresh(key)
    assert key.last_used_at is not None


def test_a_revoked_key_stops_working_at_once(client, auth):
    admin = auth.as_admin()
    created = client.post("/api/admin/api-keys", json={"name": "PDA", "scopes": ["masterdata"]},
                          headers=admin).get_json()
    headers = {"X-Api-Key": created["key"]}
    body = {"items": [{"external_id": "P1", "sku": "P1", "name": "Tea"}]}
    assert client.put("/api/integration/masterdata/products", headers=headers, json=body).status_code == 200
    assert client.post(f"/api/admin/api-keys/{created['id']}/revoke", headers=admin).status_code == 200
    response = client.put("/api/integration/masterdata/products", headers=headers, json=body)
    assert response.status_code == 401 and response.get_json()["code"] == "api_key_invalid"
