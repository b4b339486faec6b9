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


def test_every_openapi_tag_has_a_human_name_in_exactly_one_audience(client):
    spec = client.get("/openapi.json").get_json()
    used = {tag for operations in spec["paths"].values() for operation in operations.values()
            if isinstance(operation, dict) for tag in operation.get("tags", [])}
    described = {tag["name"]: tag.get("description") for tag in spec["tags"]}
    groups = [group["tags"] for group in spec["x-tagGroups"]]
    assert [group["name"] for group in spec["x-tagGroups"]] == [
        "Back office", "Reports", "Machine API (ERP, line, warehouse)", "Mini-programs (dealer, clerk, consumer)",
        "Public"]
    assert used and used <= set(described)
    raw = [tag for tag in described if "_" in tag or " · " not in tag]  # a blueprint's name, not a person's
    assert raw == []
    assert all(described[tag] for tag in used)
    assert {tag: sum(tag in group for group in groups) for tag in described} == {tag: 1 for tag in described}
    assert spec["paths"]["/api/admin/code-batches"]["get"]["tags"] == ["Back office · Code batches"]


def test_openapi_documents_who_may_call_what(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert paths["/api/admin/auth/login"]["post"]["security"] == []
    users = paths["/api/admin/users"]["post"]
    assert users["security"] == [{"bearerAuth": []}] and users["x-roles"] == ["admin"]


def test_every_view_declares_who_may_call_it(app):
    """Authenticated by default: a view without roles, scopes, @public or its own credential would be refused."""
    undeclared = []
    for endpoint, view in app.view_functions.items():
        if endpoint == "static" or endpoint.startswith(("api-docs", "swagger_ui")):
            continue
        functions = ([getattr(view.view_class, m.lower()) for m in view.view_class.methods]
                     if hasattr(view, "view_class") else [view])
        for fn in functions:
            if not any(hasattr(fn, a) for a in ("_allowed_roles", "_needed_scopes", "_public", "_own_credential")):
                undeclared.append(endpoint)
    assert undeclared == []


def test_readyz_is_503_when_redis_is_down(client, monkeypatch):
    from app.extensions import redis

    def refuse():
        raise ConnectionError("redis down")

    monkeypatch.setattr(redis._get_current_object(), "ping", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == "not_ready" and body["errors"] == {"database": "ok", "redis": "unreachable"}
