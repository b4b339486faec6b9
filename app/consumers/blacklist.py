"""The consumer blacklist: a listed openid draws nothing and is paid nothing, in every campaign.

Listing an openid twice is refused (409 ``consumer_already_blacklisted``): the unique openid decides,
so two people listing it at once get one entry and one refusal. Adding and removing are audited.
Other domains react to a listing through ``react_to_blocks`` (payouts holds the openid's payouts), wired
by ``app.bootstrap``: this module imports none of them.
"""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa

from app.accounts.models import AppName, AppUser
from app.consumers.errors import AlreadyBlacklisted, BlacklistEntryNotFound
from app.consumers.models import BlockedConsumer
from app.db import insert_once
from app.extensions import db
from app.identity.service import Actor, audit


# What other domains do when an openid is listed, by the name their count has in the audit record.
_reactions: dict[str, Callable[..., int]] = {}


def react_to_blocks(reactions: dict[str, Callable[..., int]]) -> None:
    """Say what runs, in the listing's transaction, when an openid is listed: {audit name: f(*, openid) -> count}."""
    _reactions.clear()
    _reactions.update(reactions)


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
    """Put an openid on the blacklist (409 when already there); the domains that react do so (its payouts
    not yet with WeChat Pay are held)."""
    openid = openid.strip()
    if is_blocked(openid):
        raise AlreadyBlacklisted()
    entry = BlockedConsumer(openid=openid, reason=reason, created_by=actor.name)
    if not insert_once(entry):
        raise AlreadyBlacklisted()
    reacted = {name: [None, react(openid=openid)] for name, react in _reactions.items()}
    audit(actor, "consumer_blacklist.add", entry, {"openid": [None, openid], "reason": [None, reason], **reacted})
    return entry


def unblock(*, actor: Actor, entry_id: int) -> None:
    """Take an entry off the blacklist (by its id)."""
    entry = db.session.scalar(sa.select(BlockedConsumer).where(BlockedConsumer.id == entry_id).with_for_update())
    if entry is None:
        raise BlacklistEntryNotFound()
    audit(actor, "consumer_blacklist.remove", entry, {"openid": [entry.openid, None], "reason": [entry.reason, None]})
    db.session.delete(entry)
