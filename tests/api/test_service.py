def test_healthz_is_public(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_openapi_document_is_served(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/admin/auth/login" in spec["paths"]


def test_docs_ui_is_served(client):
    assert client.get("/docs/").status_code == 200


def test_unknown_route_gets_the_error_body(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"
