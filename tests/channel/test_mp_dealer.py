"""The dealer mini-program: bind with an invitation, staff, and store-owner invitations."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import Invitation
from app.db import utcnow
from app.extensions import db
from tests.masterdata_factories import make_dealer, make_store
from tests.mp_factories import make_invitation


def _invite(dealer, role="staff", **data):
    return make_invitation(kind="dealer_member", dealer_id=dealer.id, role=role, **data).code


def test_a_dealer_user_binds_as_owner_with_an_invitation(client, mp):
    dealer = make_dealer()
    headers, login = mp.sign_in("dealer")
    assert "bind_dealer" in login["next_steps"]
    response = client.post("/api/dealer/bind", json={"invitation_code": _invite(dealer, "owner")}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["role"] == "owner"
    assert response.get_json()["dealer"] == {"kind": "dealer", "id": dealer.id, "name": dealer.name}
    me = client.get("/api/dealer/me", headers=headers).get_json()
    assert me["membership"]["role"] == "owner" and "bind_dealer" not in me["next_steps"]


def test_the_invitation_code_is_case_insensitive_and_fits_a_scene(client, mp):
    dealer = make_dealer()
    code = _invite(dealer)
    assert len(code) <= 32 and code.isalnum()
    headers, _ = mp.sign_in("dealer")
    assert client.post("/api/dealer/bind", json={"invitation_code": code.lower()}, headers=headers).status_code == 200


def test_a_used_invitation_binds_nobody_else(client, mp):
    code = _invite(make_dealer())
    mp.bound("dealer", code)
    headers, _ = mp.sign_in("dealer")
    response = client.post("/api/dealer/bind", json={"invitation_code": code}, headers=headers)
    assert response.status_code == 409 and response.get_json()["code"] == "invitation_used_up"


def test_an_invitation_of_several_uses(client, mp):
    code = _invite(make_dealer(), max_uses=2)
    mp.bound("dealer", code)
    mp.bound("dealer", code)
    headers, _ = mp.sign_in("dealer")
    assert client.post("/api/dealer/bind", json={"invitation_code": code}, headers=headers).status_code == 409


def test_expired_revoked_and_unknown_invitations(client, mp, auth):
    dealer = make_dealer()
    expired, revoked = _invite(dealer), _invite(dealer)
    db.session.execute(sa.update(Invitation).where(Invitation.code == expired)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    invitation_id = db.session.scalar(sa.select(Invitation.id).where(Invitation.code == revoked))
    assert client.post(f"/api/admin/invitations/{invitation_id}/revoke", headers=auth.as_admin()).status_code == 200
    headers, _ = mp.sign_in("dealer")
    for code, status, error in ((expired, 422, "invitation_expired"), (revoked, 422, "invitation_revoked"),
                                ("NOSUCHCODE", 404, "invitation_not_found")):
        response = client.post("/api/dealer/bind", json={"invitation_code": code}, headers=headers)
        assert (response.status_code, response.get_json()["code"]) == (status, error)


def test_a_dealer_invitation_used_from_the_clerk_app_is_422(client, mp):
    code = _invite(make_dealer())
    headers, _ = mp.sign_in("clerk")
    response = client.post("/api/clerk/bind", json={"invitation_code": code}, headers=headers)
    assert response.status_code == 422 and response.get_json()["code"] == "invitation_wrong_app"
    # The failed attempt took no use of it.
    assert mp.bound("dealer", code)


def test_a_bound_dealer_user_cannot_bind_again(client, mp):
    headers = mp.bound("dealer", _invite(make_dealer()))
    second = _invite(make_dealer())
    response = client.post("/api/dealer/bind", json={"invitation_code": second}, headers=headers)
    assert response.status_code == 409 and response.get_json()["code"] == "already_bound"
    assert mp.bound("dealer", second)  # still unused


def _team(mp, dealer):
    owner = mp.bound("dealer", _invite(dealer, "owner"))
    staff = mp.bound("dealer", _invite(dealer, "staff"))
    return owner, staff


def _members(client, headers):
    response = client.get("/api/dealer/staff", headers=headers)
    assert response.status_code == 200
    return {m["role"]: m for m in response.get_json()}


def test_the_owner_unbinds_staff(client, mp):
    dealer = make_dealer()
    owner, staff = _team(mp, dealer)
    members = _members(client, staff)  # staff may see the team
    assert set(members) == {"owner", "staff"}
    response = client.delete(f"/api/dealer/staff/{members['staff']['id']}", headers=owner)
    assert response.status_code == 204
    assert set(_members(client, owner)) == {"owner"}
    me = client.get("/api/dealer/me", headers=staff).get_json()
    assert me["membership"] is None and "bind_dealer" in me["next_steps"]
    assert client.get("/api/dealer/staff", headers=staff).get_json()["code"] == "not_bound"


def test_staff_cannot_unbind_and_the_owner_is_not_removed_from_the_app(client, mp):
    dealer = make_dealer()
    owner, staff = _team(mp, dealer)
    members = _members(client, owner)
    response = client.delete(f"/api/dealer/staff/{members['owner']['id']}", headers=staff)
    assert response.status_code == 403 and response.get_json()["code"] == "owner_only"
    response = client.delete(f"/api/dealer/staff/{members['owner']['id']}", headers=owner)
    assert response.status_code == 403 and response.get_json()["code"] == "owner_cannot_be_removed"


def test_another_dealers_member_is_404(client, mp):
    owner, _ = _team(mp, make_dealer())
    _, their_staff = _team(mp, make_dealer())
    their_id = _members(client, their_staff)["staff"]["id"]
    response = client.delete(f"/api/dealer/staff/{their_id}", headers=owner)
    assert response.status_code == 404 and response.get_json()["code"] == "member_not_found"


def test_the_admin_unbinds_a_dealer_member_and_it_is_audited(client, mp, auth):
    dealer = make_dealer()
    owner, staff = _team(mp, dealer)
    admin = auth.as_admin()
    members = client.get(f"/api/admin/dealers/{dealer.id}/members", headers=admin).get_json()
    staff_id = next(m["id"] for m in members if m["role"] == "staff")
    assert client.delete(f"/api/admin/dealers/{dealer.id}/members/{staff_id}", headers=admin).status_code == 204
    assert client.get("/api/dealer/me", headers=staff).get_json()["membership"] is None
    other = make_dealer()
    response = client.delete(f"/api/admin/dealers/{other.id}/members/{staff_id}", headers=admin)
    assert response.status_code == 404
    records = client.get("/api/admin/audit", headers=admin,
                         query_string={"action": "dealer_member.remove"}).get_json()
    assert [r["entity_id"] for r in records] == [str(staff_id)]


def test_a_dealer_owner_invites_the_owner_of_a_store_it_serves(client, mp):
    dealer = make_dealer()
    served, elsewhere = make_store(dealer_ids=[dealer.id]), make_store()
    owner, staff = _team(mp, dealer)
    response = client.post("/api/dealer/store-invitations", json={"store_id": served.id}, headers=owner)
    assert response.status_code == 201, response.get_json()
    invitation = response.get_json()
    assert invitation["kind"] == "store_owner" and invitation["store_id"] == served.id
    response = client.post("/api/dealer/store-invitations", json={"store_id": elsewhere.id}, headers=owner)
    assert response.status_code == 404 and response.get_json()["code"] == "store_not_found"
    response = client.post("/api/dealer/store-invitations", json={"store_id": served.id}, headers=staff)
    assert response.status_code == 403 and response.get_json()["code"] == "owner_only"
    store_owner = mp.bound("clerk", invitation["code"])
    me = client.get("/api/clerk/me", headers=store_owner).get_json()
    assert me["membership"]["role"] == "owner" and me["membership"]["store"]["id"] == served.id


def test_an_invitation_to_an_inactive_dealer_binds_nobody(client, mp):
    from app.db import transaction
    from app.masterdata import dealers as masterdata_dealers
    from tests.masterdata_factories import ACTOR

    dealer = make_dealer()
    code = _invite(dealer)
    with transaction():
        masterdata_dealers.deactivate_dealer(actor=ACTOR, dealer_id=dealer.id)
    headers, _ = mp.sign_in("dealer")
    response = client.post("/api/dealer/bind", json={"invitation_code": code}, headers=headers)
    assert response.status_code == 422 and response.get_json()["code"] == "invitation_target_inactive"


def test_the_dealer_owner_shows_its_store_invitation_as_a_mini_program_code(client, mp):
    dealer = make_dealer()
    store = make_store(dealer_ids=[dealer.id])
    owner, staff = _team(mp, dealer)
    invitation = client.post("/api/dealer/store-invitations", json={"store_id": store.id}, headers=owner).get_json()
    image = client.get(f"/api/dealer/store-invitations/{invitation['id']}/wxacode.png", headers=owner)
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG\r\n\x1a\n")
    response = client.get(f"/api/dealer/store-invitations/{invitation['id']}/wxacode.png", headers=staff)
    assert response.status_code == 404 and response.get_json()["code"] == "invitation_not_found"
