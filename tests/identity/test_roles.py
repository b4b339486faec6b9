from app.identity.models import Role
from tests.factories import make_user


def test_a_marketer_cannot_manage_users(client, auth):
    headers = auth.headers_for(Role.MARKETER)
    assert client.get("/api/admin/users", headers=headers).status_code == 403
    response = client.post("/api/admin/users", headers=headers,
                           json={"username": "eve", "password": "a long password", "role": "admin"})
    assert response.status_code == 403
    assert response.get_json()["code"] == "role_forbidden"


def test_an_auditor_can_read_the_audit_trail_but_not_change_anything(client, auth):
    admin = auth.as_admin()
    client.post("/api/admin/users", headers=admin,
                json={"username": "sam", "password": "a long password", "role": "ops"})
    auditor = auth.headers_for(Role.AUDITOR)
    trail = client.get("/api/admin/audit", headers=auditor)
    assert trail.status_code == 200
    assert any(r["action"] == "user.create" for r in trail.get_json())
    user = make_user(Role.OPS)
    assert client.patch(f"/api/admin/users/{user.id}", json={"role": "admin"}, headers=auditor).status_code == 403
    assert client.post("/api/admin/api-keys", json={"name": "x", "scopes": ["codes"]},
                       headers=auditor).status_code == 403


def test_only_admins_and_auditors_read_the_audit_trail(client, auth):
    for role in (Role.MARKETER, Role.OPS, Role.FINANCE):
        assert client.get("/api/admin/audit", headers=auth.headers_for(role)).status_code == 403
