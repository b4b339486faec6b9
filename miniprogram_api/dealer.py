"""The dealer mini-program: bind to a dealer, its staff, invitations for the stores it serves."""
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
    AppUserReadSchema, BindSchema, MpInvitationReadSchema, MemberReadSchema, MpDealerSchema,
)
from miniprogram_api.security import audience, authenticate, current_app_user

DEALER = AppName.DEALER

blp = Blueprint("mp_dealer", __name__, url_prefix="/api/dealer",
                description="The dealer mini-program: the signed-in dealer user and its dealer's staff.")
blp.before_request(authenticate(DEALER))


class DealerMembershipSchema(ma.Schema):
    id = Int()
    role = ma.fields.Function(lambda m: m.role.value)
    dealer = ma.fields.Nested(MpDealerSchema)


class DealerMeSchema(ma.Schema):
    user = ma.fields.Nested(AppUserReadSchema)
    next_steps = ma.fields.List(ma.fields.String())
    membership = ma.fields.Nested(DealerMembershipSchema, allow_none=True)


class StoreInvitationCreateSchema(ma.Schema):
    store_id = Int(required=True)


@blp.route("/me", methods=["GET"])
@audience(DEALER)
@blp.response(200, DealerMeSchema)
def me():
    """The signed-in dealer user, its dealer and role, and what to do next"""
    user = current_app_user()
    return {"user": user, "next_steps": profiles.next_steps(user), "membership": profiles.dealer_membership(user)}


@blp.route("/bind", methods=["POST"])
@audience(DEALER)
@blp.arguments(BindSchema)
@blp.response(200, DealerMembershipSchema)
def bind(body):
    """Bind to a dealer with an invitation code, as owner or staff"""
    with transaction():
        return invitations.bind_dealer(user=current_app_user(), code=body["invitation_code"])


@blp.route("/staff", methods=["GET"])
@audience(DEALER)
@blp.response(200, MemberReadSchema(many=True))
@blp.paginate(SelectPage)
def list_staff():
    """The members of my dealer"""
    return members.list_my_dealer_staff(user=current_app_user())


@blp.route("/staff/<int:member_id>", methods=["DELETE"])
@audience(DEALER)
@blp.response(204)
def remove_staff(member_id):
    """Unbind a staff member of my dealer (owner only)"""
    with transaction():
        members.remove_dealer_staff(user=current_app_user(), member_id=member_id)


@blp.route("/store-invitations", methods=["POST"])
@audience(DEALER)
@blp.arguments(StoreInvitationCreateSchema)
@blp.response(201, MpInvitationReadSchema)
def invite_store_owner(body):
    """Invite the owner of a store my dealer serves (owner only)"""
    with transaction():
        return members.create_store_owner_invitation(user=current_app_user(), store_id=body["store_id"])


@blp.route("/store-invitations/<int:invitation_id>/wxacode.png", methods=["GET"])
@audience(DEALER)
@blp.response(200, content_type="image/png", description="A mini-program code image (PNG)")
def invitation_wxacode(invitation_id):
    """The mini-program code of an invitation I created, to show to the invitee"""
    return Response(invitations.my_invitation_wxacode(user=current_app_user(), invitation_id=invitation_id),
                    mimetype="image/png")
