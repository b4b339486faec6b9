"""The consumer blacklist: a listed openid draws nothing and is paid nothing, in every campaign."""
from __future__ import annotations

import sqlalchemy as sa

from app.consumers.models import BlockedConsumer
from app.extensions import db


def is_blocked(openid: str) -> bool:
    return db.session.scalar(sa.select(BlockedConsumer.id).where(BlockedConsumer.openid == openid)) is not None
