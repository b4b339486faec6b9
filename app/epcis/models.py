"""What a capture remembers of a partner's events: each eventID's content, so a reused eventID is refused."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import utcnow
from app.extensions import db


class CapturedEvent(db.Model):
    """An eventID a source's capture applied, with the event hash of its content.

    The key is the source (the API key's events namespace, as its records carry) and the SHA-256 of the
    eventID (an eventID is up to 512 characters: too long to index as it is). A second capture of the
    eventID with the same content is a retry; with other content it is refused (``event_id_reused``).
    """

    __tablename__ = "epcis_captured_events"

    source: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    event_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # sha256(eventID), hex
    event_id: Mapped[str] = mapped_column(sa.String(512))
    content_hash: Mapped[str] = mapped_column(sa.String(128))  # the EPCIS event hash (ni:///sha-256;…)
    captured_at: Mapped[datetime] = mapped_column(default=utcnow)
