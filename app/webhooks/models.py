"""Facts the ERP pulls or is pushed: outbound events (the pull cursor is their id) and their deliveries."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import BigId, JSONType, TimestampMixin, enum_type, utcnow
from app.extensions import db
from app.masterdata.models import Status


class OutboundEvent(db.Model):
    """A fact for the ERP (service.EVENT_TYPES: shipment.shipped, order.closed, ...), written with the fact."""

    __tablename__ = "outbound_events"
    __table_args__ = (sa.Index("ix_outbound_events_type_id", "type", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)  # the pull cursor
    event_id: Mapped[str] = mapped_column(sa.String(36), unique=True)  # receivers deduplicate on it
    type: Mapped[str] = mapped_column(sa.String(32))
    payload: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))  # of the request that queued it (logs)


class WebhookEndpoint(TimestampMixin, db.Model):
    """Where to push events, and the secret their HMAC signature uses."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(500))
    secret: Mapped[str] = mapped_column(sa.String(64))
    event_types: Mapped[list] = mapped_column(JSONType, default=list)  # empty: every type
    status: Mapped[Status] = mapped_column(enum_type(Status), default=Status.ACTIVE)


class DeliveryStatus(str, enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last attempt


class WebhookDelivery(db.Model):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.UniqueConstraint("event_id", "endpoint_id"),
                      sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("outbound_events.id"))
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_endpoints.id"), index=True)
    status: Mapped[DeliveryStatus] = mapped_column(enum_type(DeliveryStatus), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    delivered_at: Mapped[datetime | None]
