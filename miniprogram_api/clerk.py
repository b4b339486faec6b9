"""The clerk mini-program: bind to a store, and the owner's clerk management."""
from __future__ import annotations

import marshmallow as ma
from flask import Response
from flask_smorest import Blueprint

from app.accounts import invitations, members, profiles
from app.accounts.models import AppName
from app.db import transaction
from app.http import SelectPage
from app.schemas import Int
from miniprogram_api.schemas import (
    AppUserReadSchema, BindSchema, MpInvitationReadSchema, MemberReadSchema, MpStoreSchema,
)
from miniprogram_api.security import audience, authenticate, current_app_user

CLERK = AppName.CLERK

blp = Blueprint("mp_clerk", __name__, url_prefix="/api/clerk",
                description="The clerk mini-program: the signed-in store owner or clerk, and the store's clerks.")
blp.before_request(authenticate(CLERK))


class StoreMembershipSchema(ma.Schema):
    id = Int()
    role = ma.fields.Function(lambda m: m.role.value)
    status = ma.fields.Function(lambda m: m.status.value)
    store = ma.fields.Nested(MpStoreSchema)


class ClerkMeSchema(ma.Schema):
    user = ma.fields.Nested(AppUserReadSchema)
    next_steps = ma.fields.List(ma.fields.String())
    membership = ma.fields.Nested(StoreMembershipSchema, allow_none=True)


class ClerkInvitationCreateSchema(ma.Schema):
    max_uses = Int(load_default=1, validate=ma.validate.Range(min=1, max=invitations.INVITATION_MAX_USES))
    expires_in_days = Int(load_default=7,
                                        validate=ma.validate.Range(min=1, max=invitations.INVITATION_MAX_DAYS))


@blp.route("/me", methods=["GET"])
@audience(CLERK)
@blp.response(200, ClerkMeSchema)
def me():
    """The signed-in clerk-app user, its store and role, and what to do next"""
    user = current_app_user()
    return {"user": user, "next_steps": profiles.next_steps(user), "membership": profiles.store_membership(user)}


@blp.route("/bind", methods=["POST"])
@audience(CLERK)
@blp.arguments(BindSchema)
@blp.response(200, StoreMembershipSchema)
def bind(body):
    """Bind to a store: as its owner (brand or dealer invitation) or as a clerk (pending the owner)"""
    with transaction():
        return invitations.bind_store(user=current_app_user(), code=body["invitation_code"])


@blp.route("/invitations", methods=["POST"])
@audience(CLERK)
@blp.arguments(ClerkInvitationCreateSchema)
@blp.response(201, MpInvitationReadSchema)
def invite_clerk(body):
    """Invite clerks to my store (owner only)"""
    with transaction():
        return members.create_clerk_invitation(user=current_app_user(), **body)


@blp.route("/clerks", methods=["GET"])
@audience(CLERK)
@blp.response(200, MemberReadSchema(many=True))
@blp.paginate(SelectPage)
def list_clerks():
    """The clerks of my store, pending and approved (owner only)"""
    return members.list_clerks(user=current_app_user())


@blp.route("/clerks/<int:member_id>/approve", methods=["POST"])
@audience(CLERK)
@blp.response(200, MemberReadSchema)
def approve_clerk(member_id):
    """Approve a pending clerk (owner only)"""
    with transaction():
        return members.approve_clerk(user=current_app_user(), member_id=member_id)


@blp.route("/clerks/<int:member_id>", methods=["DELETE"])
@audience(CLERK)
@blp.response(204)
def remove_clerk(member_id):
    """Remove a clerk from my store (owner only)"""
    with transaction():
        members.remove_clerk(user=current_app_user(), member_id=member_id)


@blp.route("/invitations/<int:invitation_id>/wxacode.png", methods=["GET"])
@audience(CLERK)
@blp.response(200, content_type="image/png", description="A mini-program code image (PNG)")
def invitation_wxacode(invitation_id):
    """The mini-program code of an invitation I created, to show to the invitee"""
    return Response(invitations.my_invitation_wxacode(user=current_app_user(), invitation_id=invitation_id),
                    mimetype="image/png")
