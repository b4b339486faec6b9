"""The clerk mini-program: store owners bind with the brand's or the dealer's invitation; clerks join pending."""
from __future__ import annotations

from tests.masterdata_factories import make_store
from tests.mp_factories import make_invitation


def _owner(mp, store):
    return mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code)


def _clerk_invitation(client, owner, **body):
    response = client.post("/api/clerk/invitations", json=body, headers=owner)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_store_owner_binds_with_the_brands_invitation(client, mp):
    store = make_store()
    owner = _owner(mp, store)
    me = client.get("/api/clerk/me", headers=owner).get_json()
    assert me["membership"] == {"id": me["membership"]["id"], "role": "owner", "status": "approved",
                                "store": {"kind": "store", "id": store.id, "name": store.name}}


def test_a_clerk_is_pending_then_approved_then_removed(client, mp):
    store = make_store()
    owner = _owner(mp, store)
    invitation = _clerk_invitation(client, owner)
    assert invitation["kind"] == "store_clerk" and invitation["role"] == "clerk"
    clerk = mp.bound("clerk", invitation["code"])
    me = client.get("/api/clerk/me", headers=clerk).get_json()
    assert me["membership"]["status"] == "pending" and "await_approval" in me["next_steps"]

    clerks = client.get("/api/clerk/clerks", headers=owner).get_json()
    assert [c["status"] for c in clerks] == ["pending"]
    approved = client.post(f"/api/clerk/clerks/{clerks[0]['id']}/approve", headers=owner)
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    assert "await_approval" not in client.get("/api/clerk/me", headers=clerk).get_json()["next_steps"]

    assert client.delete(f"/api/clerk/clerks/{clerks[0]['id']}", headers=owner).status_code == 204
    assert client.get("/api/clerk/clerks", headers=owner).get_json() == []
    assert client.get("/api/clerk/me", headers=clerk).get_json()["membership"] is None


def test_a_clerk_cannot_manage_clerks(client, mp):
    owner = _owner(mp, make_store())
    clerk = mp.bound("clerk", _clerk_invitation(client, owner)["code"])
    for method, path in (("post", "/api/clerk/invitations"), ("get", "/api/clerk/clerks"),
                         ("post", "/api/clerk/clerks/1/approve"), ("delete", "/api/clerk/clerks/1")):
        response = getattr(client, method)(path, headers=clerk, json={} if method == "post" else None)
        assert response.status_code == 403, (path, response.get_json())


def test_another_stores_clerk_is_404(client, mp):
    owner = _owner(mp, make_store())
    other_owner = _owner(mp, make_store())
    mp.bound("clerk", _clerk_invitation(client, other_owner)["code"])
    their_clerk = client.get("/api/clerk/clerks", headers=other_owner).get_json()[0]["id"]
    for response in (client.post(f"/api/clerk/clerks/{their_clerk}/approve", headers=owner),
                     client.delete(f"/api/clerk/clerks/{their_clerk}", headers=owner)):
        assert response.status_code == 404 and response.get_json()["code"] == "member_not_found"


def test_a_clerk_invitation_of_several_uses(client, mp):
    owner = _owner(mp, make_store())
    code = _clerk_invitation(client, owner, max_uses=2)["code"]
    mp.bound("clerk", code)
    mp.bound("clerk", code)
    assert len(client.get("/api/clerk/clerks", headers=owner).get_json()) == 2
    headers, _ = mp.sign_in("clerk")
    response = client.post("/api/clerk/bind", json={"invitation_code": code}, headers=headers)
    assert response.status_code == 409 and response.get_json()["code"] == "invitation_used_up"


def test_a_store_invitation_used_from_the_dealer_app_is_422(client, mp):
    code = make_invitation(kind="store_owner", store_id=make_store().id).code
    headers, _ = mp.sign_in("dealer")
    response = client.post("/api/dealer/bind", json={"invitation_code": code}, headers=headers)
    assert response.status_code == 422 and response.get_json()["code"] == "invitation_wrong_app"


def test_a_bound_clerk_app_user_cannot_bind_again(client, mp):
    owner = _owner(mp, make_store())
    code = make_invitation(kind="store_owner", store_id=make_store().id).code
    response = client.post("/api/clerk/bind", json={"invitation_code": code}, headers=owner)
    assert response.status_code == 409 and response.get_json()["code"] == "already_bound"


def test_an_unbound_clerk_app_user_has_no_clerks(client, mp):
    headers, _ = mp.sign_in("clerk")
    response = client.get("/api/clerk/clerks", headers=headers)
    assert response.status_code == 403 and response.get_json()["code"] == "not_bound"


def test_the_owner_shows_a_clerk_invitation_as_a_mini_program_code(client, mp):
    owner = _owner(mp, make_store())
    invitation = _clerk_invitation(client, owner)
    image = client.get(f"/api/clerk/invitations/{invitation['id']}/wxacode.png", headers=owner)
    assert image.status_code == 200 and image.mimetype == "image/png"
    other_owner = _owner(mp, make_store())
    assert client.get(f"/api/clerk/invitations/{invitation['id']}/wxacode.png", headers=other_owner).status_code == 404
