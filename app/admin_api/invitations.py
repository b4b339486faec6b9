"""Invitations that bind dealer users and store owners (with their mini-program code image), and
dealer members the back office unbinds."""
from __future__ import annotations

import marshmallow as ma
from flask import Response
from flask_smorest import Blueprint

from app.accounts import invitations, members
from app.accounts.models import InvitationKind, MemberRole
from app.db import transaction
from app.http import SelectPage, authenticate_back_office, current_actor, national_only, roles
from app.identity.models import Role
from app.identity.personal_data import PHONE
from app.schemas import Int, Masked

WRITERS = (Role.ADMIN, Role.OPS)

blp = Blueprint("admin_invitations", __name__, url_prefix="/api/admin/invitations",
                description="Invitations for dealer users and store owners (admins and operations).")
blp.before_request(authenticate_back_office)

members_blp = Blueprint("admin_dealer_members", __name__, url_prefix="/api/admin/dealers",
                        description="Users bound to a dealer in the dealer mini-program.")
members_blp.before_request(authenticate_back_office)


class InvitationCreateSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(
        [InvitationKind.DEALER_MEMBER.value, InvitationKind.STORE_OWNER.value]))
    dealer_id = Int(allow_none=True)
    store_id = Int(allow_none=True)
    role = ma.fields.String(validate=ma.validate.OneOf([MemberRole.OWNER.value, MemberRole.STAFF.value]),
                            metadata={"description": "owner or staff (dealer_member); owner (store_owner)"})
    expires_in_days = Int(load_default=7, validate=ma.validate.Range(
        min=1, max=invitations.INVITATION_MAX_DAYS))
    max_uses = Int(load_default=1, validate=ma.validate.Range(min=1, max=invitations.INVITATION_MAX_USES))


class InvitationQuerySchema(ma.Schema):
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in InvitationKind]))
    dealer_id = Int()
    store_id = Int()


class InvitationReadSchema(ma.Schema):
    id = Int()
    code = ma.fields.String(metadata={"description": "What the user enters; also the mini-program code's scene"})
    kind = ma.fields.Function(lambda i: i.kind.value)
    role = ma.fields.Function(lambda i: i.role.value)
    dealer_id = Int(allow_none=True)
    store_id = Int(allow_none=True)
    created_by_admin_id = Int(allow_none=True)
    created_by_app_user_id = Int(allow_none=True)
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime()
    max_uses = Int()
    used_count = Int()
    revoked_at = ma.fields.DateTime(allow_none=True)
    wxacode_url = ma.fields.Function(lambda i: f"/api/admin/invitations/{i.id}/wxacode.png")


class DealerMemberReadSchema(ma.Schema):
    id = Int()
    dealer_id = Int()
    app_user_id = Int()
    role = ma.fields.Function(lambda m: m.role.value)
    status = ma.fields.Function(lambda m: m.status.value)
    nickname = ma.fields.Function(lambda m: m.app_user.nickname)
    phone = Masked(PHONE, attribute="app_user.phone", allow_none=True)
    created_at = ma.fields.DateTime()
    removed_at = ma.fields.DateTime(allow_none=True)


@blp.route("", methods=["POST"])
@roles(*WRITERS)
@national_only("binding people to dealers and stores is not split by region yet")
@blp.arguments(InvitationCreateSchema)
@blp.response(201, InvitationReadSchema)
def create_invitation(body):
    """Invite a dealer's owner or staff, or a store's owner"""
    with transaction():
        return invitations.create_invitation(created_by=current_actor(), **body)


@blp.route("", methods=["GET"])
@roles(*WRITERS)
@national_only("binding people to dealers and stores is not split by region yet")
@blp.arguments(InvitationQuerySchema, location="query")
@blp.response(200, InvitationReadSchema(many=True))
@blp.paginate(SelectPage)
def list_invitations(query):
    """List invitations, newest first"""
    return invitations.list_invitations(**query)


@blp.route("/<int:invitation_id>", methods=["GET"])
@roles(*WRITERS)
@national_only("binding people to dealers and stores is not split by region yet")
@blp.response(200, InvitationReadSchema)
def get_invitation(invitation_id):
    """One invitation"""
    return invitations.get_invitation(invitation_id)


@blp.route("/<int:invitation_id>/revoke", methods=["POST"])
@roles(*WRITERS)
@national_only("binding people to dealers and stores is not split by region yet")
@blp.response(200, InvitationReadSchema)
def revoke_invitation(invitation_id):
    """Revoke an invitation: it binds nobody any more"""
    with transaction():
        return invitations.revoke_invitation(actor=current_actor(), invitation_id=invitation_id)


@blp.route("/<int:invitation_id>/wxacode.png", methods=["GET"])
@roles(*WRITERS)
@national_only("binding people to dealers and stores is not split by region yet")
@blp.response(200, content_type="image/png", description="A mini-program code image (PNG)")
def invitation_wxacode(invitation_id):
    """The mini-program code that opens the right mini-program with this invitation"""
    return Response(invitations.invitation_wxacode(invitation_id=invitation_id), mimetype="image/png")


@members_blp.route("/<int:dealer_id>/members", methods=["GET"])
@roles(*WRITERS)
@national_only("binding people to dealers and stores is not split by region yet")
@members_blp.response(200, DealerMemberReadSchema(many=True))
@members_blp.paginate(SelectPage)
def list_dealer_members(dealer_id):
    """The users bound to a dealer"""
    return members.list_dealer_members(dealer_id=dealer_id)


@members_blp.route("/<int:dealer_id>/members/<int:member_id>", methods=["DELETE"])
@roles(*WRITERS)
@national_only("binding people to dealers and stores is not split by region yet")
@members_blp.response(204)
def remove_dealer_member(dealer_id, member_id):
    """Unbind a user from a dealer"""
    with transaction():
        members.admin_remove_dealer_member(actor=current_actor(), dealer_id=dealer_id, member_id=member_id)
