"""Back-office invitations: create (with a mini-program code image), list, revoke; roles; audit."""
from __future__ import annotations

from app.identity.models import Role
from tests.masterdata_factories import make_dealer, make_store

PNG = b"\x89PNG\r\n\x1a\n"


def test_an_admin_creates_a_dealer_invitation_with_its_mini_program_code(client, auth):
    dealer = make_dealer()
    admin = auth.as_admin()
    response = client.post("/api/admin/invitations", headers=admin, json={
        "kind": "dealer_member", "dealer_id": dealer.id, "role": "owner", "expires_in_days": 3})
    assert response.status_code == 201, response.get_json()
    invitation = response.get_json()
    assert invitation["role"] == "owner" and invitation["max_uses"] == 1 and invitation["used_count"] == 0
    assert len(invitation["code"]) <= 32
    image = client.get(invitation["wxacode_url"], headers=admin)
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data.startswith(PNG)
    listed = client.get("/api/admin/invitations", headers=admin, query_string={"dealer_id": dealer.id})
    assert [i["id"] for i in listed.get_json()] == [invitation["id"]]
    audit = client.get("/api/admin/audit", headers=admin, query_string={"action": "invitation.create"})
    assert [r["entity_id"] for r in audit.get_json()] == [str(invitation["id"])]


def test_operations_may_invite_store_owners_and_revoke(client, auth):
    ops = auth.headers_for(Role.OPS)
    store = make_store()
    response = client.post("/api/admin/invitations", headers=ops, json={"kind": "store_owner", "store_id": store.id})
    assert response.status_code == 201 and response.get_json()["role"] == "owner"
    revoked = client.post(f"/api/admin/invitations/{response.get_json()['id']}/revoke", headers=ops)
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]


def test_invitations_are_for_admins_and_operations_only(client, auth):
    dealer = make_dealer()
    for role in (Role.MARKETER, Role.FINANCE, Role.AUDITOR):
        response = client.post("/api/admin/invitations", headers=auth.headers_for(role),
                               json={"kind": "dealer_member", "dealer_id": dealer.id})
        assert response.status_code == 403


def test_invalid_invitations_are_422_or_404(client, auth):
    admin = auth.as_admin()
    dealer, store = make_dealer(), make_store()
    for body, status in (
        ({"kind": "dealer_member", "store_id": store.id}, 422),
        ({"kind": "store_owner", "store_id": store.id, "role": "staff"}, 422),
        ({"kind": "store_clerk", "store_id": store.id}, 422),
        ({"kind": "dealer_member", "dealer_id": dealer.id, "max_uses": 0}, 422),
        ({"kind": "dealer_member", "dealer_id": dealer.id, "expires_in_days": 1000}, 422),
        ({"kind": "dealer_member", "dealer_id": 10**12}, 404),
    ):
        response = client.post("/api/admin/invitations", headers=admin, json=body)
        assert response.status_code == status, (body, response.get_json())
    assert client.get("/api/admin/invitations/999999/wxacode.png", headers=admin).status_code == 404
