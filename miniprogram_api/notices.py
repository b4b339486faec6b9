"""Notices in the dealer and clerk mini-programs: what the brand told my dealer or my store (a recall...).

A notice belongs to a dealer or a store; every member of it reads it, and each member marks it read
for themselves. Another dealer's or store's notice answers 404, as if it did not exist.
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.accounts import profiles
from app.accounts.errors import NotBound
from app.accounts.models import AppName
from app.db import transaction
from app.http import RowPage
from app.notices import service
from app.notices.models import NoticeKind, Recipient
from app.retail import stores
from app.schemas import Int
from miniprogram_api.security import audience, authenticate, current_app_user

dealer_blp = Blueprint("mp_dealer_notices", __name__, url_prefix="/api/dealer",
                       description="The dealer mini-program: notices to my dealer (recalls of goods it handled).")
dealer_blp.before_request(authenticate(AppName.DEALER))
clerk_blp = Blueprint("mp_clerk_notices", __name__, url_prefix="/api/clerk",
                      description="The clerk mini-program: notices to my store (recalls of goods it handled).")
clerk_blp.before_request(authenticate(AppName.CLERK))
BLUEPRINTS = (dealer_blp, clerk_blp)


def _my_dealer() -> tuple[Recipient, int]:
    membership = profiles.dealer_membership(current_app_user())
    if membership is None:
        raise NotBound()
    return Recipient.DEALER, membership.dealer_id


def _my_store() -> tuple[Recipient, int]:
    return Recipient.STORE, stores.current_store(user=current_app_user()).store_id


class NoticeReadSchema(ma.Schema):
    id = Int()
    kind = ma.fields.Enum(NoticeKind, by_value=True)
    recall_id = Int(allow_none=True)
    title = ma.fields.String()
    body = ma.fields.String()
    data = ma.fields.Dict(metadata={"description": "recall: recall_id, lots, reason, passed_through, held_now, "
                                                   "in_transit_to, sold (items of the recall, for this recipient)"})
    created_at = ma.fields.DateTime()
    read_at = ma.fields.DateTime(allow_none=True, metadata={"description": "When I read it; null: unread"})


class NoticeQuerySchema(ma.Schema):
    unread = ma.fields.Boolean(metadata={"description": "true: only unread; false: only read"})


class UnreadSchema(ma.Schema):
    unread = Int()


class MarkedReadSchema(ma.Schema):
    notice_id = Int()
    read_at = ma.fields.DateTime()


def _list(recipient, query):
    kind, recipient_id = recipient
    return service.list_notices(recipient_kind=kind, recipient_id=recipient_id, app_user_id=current_app_user().id,
                                unread=query.get("unread"))


def _unread(recipient):
    kind, recipient_id = recipient
    return {"unread": service.unread_count(recipient_kind=kind, recipient_id=recipient_id,
                                           app_user_id=current_app_user().id)}


def _mark(recipient, notice_id):
    kind, recipient_id = recipient
    with transaction():
        return service.mark_read(recipient_kind=kind, recipient_id=recipient_id, app_user_id=current_app_user().id,
                                 notice_id=notice_id)


@dealer_blp.route("/notices", methods=["GET"])
@audience(AppName.DEALER)
@dealer_blp.arguments(NoticeQuerySchema, location="query")
@dealer_blp.response(200, NoticeReadSchema(many=True))
@dealer_blp.paginate(RowPage)
def dealer_notices(query):
    """My dealer's notices, newest first, with whether I read each"""
    return _list(_my_dealer(), query)


@dealer_blp.route("/notices/unread-count", methods=["GET"])
@audience(AppName.DEALER)
@dealer_blp.response(200, UnreadSchema)
def dealer_unread():
    """How many of my dealer's notices I have not read"""
    return _unread(_my_dealer())


@dealer_blp.route("/notices/<int:notice_id>/read", methods=["POST"])
@audience(AppName.DEALER)
@dealer_blp.response(200, MarkedReadSchema)
def dealer_mark_read(notice_id):
    """Mark a notice of my dealer read (for me; again: no change)"""
    return _mark(_my_dealer(), notice_id)


@clerk_blp.route("/notices", methods=["GET"])
@audience(AppName.CLERK)
@clerk_blp.arguments(NoticeQuerySchema, location="query")
@clerk_blp.response(200, NoticeReadSchema(many=True))
@clerk_blp.paginate(RowPage)
def clerk_notices(query):
    """My store's notices, newest first, with whether I read each"""
    return _list(_my_store(), query)


@clerk_blp.route("/notices/unread-count", methods=["GET"])
@audience(AppName.CLERK)
@clerk_blp.response(200, UnreadSchema)
def clerk_unread():
    """How many of my store's notices I have not read"""
    return _unread(_my_store())


@clerk_blp.route("/notices/<int:notice_id>/read", methods=["POST"])
@audience(AppName.CLERK)
@clerk_blp.response(200, MarkedReadSchema)
def clerk_mark_read(notice_id):
    """Mark a notice of my store read (for me; again: no change)"""
    return _mark(_my_store(), notice_id)
