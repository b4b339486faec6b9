"""The consumer blacklist: a listed openid draws nothing and is paid nothing, in every campaign.

Listing an openid twice is refused (409 ``consumer_already_blacklisted``): the unique openid decides,
so two people listing it at once get one entry and one refusal. Adding and removing are audited.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import AppName, AppUser
from app.consumers.models import BlockedConsumer
from app.db import insert_once
from app.errors import Conflict, NotFound
from app.extensions import db
from app.identity.service import Actor, audit


class AlreadyBlacklisted(Conflict):
    code = "consumer_already_blacklisted"
    message = "This openid is on the blacklist already."


class BlacklistEntryNotFound(NotFound):
    code = "blacklist_entry_not_found"
    message = "No such blacklist entry."


def is_blocked(openid: str) -> bool:
    return db.session.scalar(sa.select(BlockedConsumer.id).where(BlockedConsumer.openid == openid)) is not None


def list_blocked(*, q: str | None = None):
    """Blacklist entries, newest first, with the consumer's id when the openid is a known consumer."""
    query = (sa.select(BlockedConsumer.id, BlockedConsumer.openid, BlockedConsumer.reason,
                       BlockedConsumer.created_by, BlockedConsumer.created_at, AppUser.id.label("app_user_id"),
                       AppUser.nickname)
             .outerjoin(AppUser, sa.and_(AppUser.openid == BlockedConsumer.openid, AppUser.app == AppName.CONSUMER))
             .order_by(BlockedConsumer.id.desc()))
    if q:
        pattern = f"%{q.strip()}%"
        query = query.where(sa.or_(BlockedConsumer.openid.like(pattern), BlockedConsumer.reason.like(pattern)))
    return query


def get_entry(entry_id: int):
    row = db.session.execute(list_blocked().where(BlockedConsumer.id == entry_id)).first()
    if row is None:
        raise BlacklistEntryNotFound()
    return row


def block(*, actor: Actor, openid: str, reason: str = "") -> BlockedConsumer:
    """Put an openid on the blacklist (409 when already there); its payouts not yet with WeChat Pay are held."""
    openid = openid.strip()
    if is_blocked(openid):
        raise AlreadyBlacklisted()
    entry = BlockedConsumer(openid=openid, reason=reason, created_by=actor.name)
    if not insert_once(entry):
        raise AlreadyBlacklisted()
    from app.payouts import service as payouts

    held = payouts.hold_blacklisted(openid=openid)
    audit(actor, "consumer_blacklist.add", entry, {"openid": [None, openid], "reason": [None, reason],
                                                    "payouts_held": [None, held]})
    return entry


def unblock(*, actor: Actor, entry_id: int) -> None:
    """Take an entry off the blacklist (by its id)."""
    entry = db.session.scalar(sa.select(BlockedConsumer).where(BlockedConsumer.id == entry_id).with_for_update())
    if entry is None:
        raise BlacklistEntryNotFound()
    audit(actor, "consumer_blacklist.remove", entry, {"openid": [entry.openid, None], "reason": [entry.reason, None]})
    db.session.delete(entry)
