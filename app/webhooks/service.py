"""Outbound events: written in the transaction of the fact they report, then pulled or pushed.

``emit`` adds the event and one pending delivery per active endpoint that wants its type, so a
fact and its notification commit or roll back together (no event for a fact that didn't happen,
no fact without its event).
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from app.extensions import db
from app.masterdata.models import Status
from app.webhooks.models import OutboundEvent, WebhookDelivery, WebhookEndpoint

EVENT_TYPES = ("shipment.shipped", "receipt.confirmed", "sale.scanned")


def emit(type_: str, payload: dict) -> OutboundEvent:
    """Record an outbound event (and its pending deliveries) in the current transaction."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown outbound event type {type_!r}")
    event = OutboundEvent(event_id=str(uuid.uuid4()), type=type_, payload=payload)
    db.session.add(event)
    db.session.flush()
    for endpoint in db.session.scalars(sa.select(WebhookEndpoint).where(WebhookEndpoint.status == Status.ACTIVE)):
        if not endpoint.event_types or type_ in endpoint.event_types:
            db.session.add(WebhookDelivery(event_id=event.id, endpoint_id=endpoint.id))
    return event
