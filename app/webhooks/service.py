"""Outbound events: written in the transaction of the fact they report, then pulled or pushed.

``emit`` adds the event and one pending delivery per active endpoint that wants its type, so a
fact and its notification commit or roll back together (no event for a fact that didn't happen,
no fact without its event).

Pulls read events by their id (the cursor). Pushes are webhook deliveries: ``deliver_due`` claims
a due delivery with an atomic UPDATE that moves its next attempt past a lease (so two workers never
post the same delivery at once, and a worker that dies mid-post only delays it by the lease), posts
it signed with HMAC-SHA256 outside any transaction, then records the outcome. Delivery is at least
once: receivers deduplicate by ``event_id``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from flask import current_app

from app.db import transaction, utcnow
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.identity.service import Actor, apply_changes, audit
from app.masterdata.models import Status
from app.platform import leases, logs
from app.webhooks import targets
from app.webhooks.models import DeliveryStatus, OutboundEvent, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

EVENT_TYPES = ("shipment.shipped", "receipt.confirmed", "receipt.discrepancy", "order.closed", "sale.scanned",
               "recall.created", "unit.scrapped", "diversion_alert.raised", "diversion_alert.resolved",
               "rebate_statement.approved")
MAX_PULL = 1000
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 6 * 3600
LEASE_SECONDS = 60  # a claimed delivery is retried after this if its worker never reports
SIGNATURE_TOLERANCE_SECONDS = 300


def emit(type_: str, payload: dict) -> OutboundEvent:
    """Record an outbound event (and its pending deliveries) in the current transaction."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown outbound event type {type_!r}")
    event = OutboundEvent(event_id=str(uuid.uuid4()), type=type_, payload=payload, request_id=logs.current())
    db.session.add(event)
    db.session.flush()
    for endpoint in db.session.scalars(sa.select(WebhookEndpoint).where(WebhookEndpoint.status == Status.ACTIVE)):
        if not endpoint.event_types or type_ in endpoint.event_types:
            db.session.add(WebhookDelivery(event_id=event.id, endpoint_id=endpoint.id))
    return event


# --- pulls -------------------------------------------------------------------------------------

def settle_seconds() -> float:
    """Events younger than this are not pulled yet: a transaction that took a lower id may still commit."""
    return float(current_app.config["EVENT_PULL_SETTLE_SECONDS"])


def pull_events(*, after: int = 0, types: tuple[str, ...] | None = None, limit: int = 100,
                now: datetime | None = None) -> tuple[list[OutboundEvent], int]:
    """Events with id > after, oldest first (at most ``limit``), and the cursor to pull from next."""
    limit = max(1, min(limit, MAX_PULL))
    query = sa.select(OutboundEvent).where(OutboundEvent.id > after).order_by(OutboundEvent.id).limit(limit)
    if types:
        query = query.where(OutboundEvent.type.in_(types))
    settle = settle_seconds()
    if settle > 0:
        query = query.where(OutboundEvent.created_at <= (now or utcnow()) - timedelta(seconds=settle))
    events = list(db.session.scalars(query))
    return events, (events[-1].id if events else after)


def envelope(event: OutboundEvent) -> dict:
    """What a webhook posts and a pull returns for one event."""
    created = event.created_at.astimezone(timezone.utc) if event.created_at.tzinfo else \
        event.created_at.replace(tzinfo=timezone.utc)
    return {"event_id": event.event_id, "type": event.type,
            "created_at": created.isoformat().replace("+00:00", "Z"), "payload": event.payload}


def body_of(event: OutboundEvent) -> bytes:
    """The exact bytes a webhook posts (and signs) for an event."""
    return json.dumps(envelope(event), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


# --- signatures ------------------------------------------------------------------------------

def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>.<body>")."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str,
                     tolerance: int = SIGNATURE_TOLERANCE_SECONDS, now: float | None = None) -> bool:
    """For receivers: the signature is ours and the timestamp within ``tolerance`` seconds of now."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


# --- endpoints -------------------------------------------------------------------------------

class EndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"
    message = "No webhook endpoint has this id."


class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"
    message = "No webhook delivery has this id."


class EndpointInvalid(ValidationFailed):
    code = "webhook_endpoint_invalid"
    message = "The webhook endpoint is not valid."


class EndpointRefused(ValidationFailed):
    code = "webhook_url_refused"
    message = "Webhooks may not post to this address."


def _url(url: str) -> str:
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        raise EndpointInvalid("The URL is an http(s) URL of at most 500 characters.",
                              errors={"url": ["http(s) URL"]}) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        raise EndpointInvalid("The URL is an http(s) URL of at most 500 characters.", errors={"url": ["http(s) URL"]})
    config = current_app.config
    if config["WEBHOOK_HTTPS_ONLY"] and parts.scheme != "https":
        raise EndpointRefused("Webhooks post over https only here.", errors={"url": ["https only"]})
    if not config["WEBHOOK_ALLOW_PRIVATE"]:
        try:
            targets.check_url(url)
        except targets.Refused as exc:
            raise EndpointRefused(f"Webhooks may not post there: {exc}.", errors={"url": [str(exc)]}) from None
    return url


def _event_types(types) -> list[str]:
    types = sorted(set(types or []))
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise EndpointInvalid(f"Unknown event types: {', '.join(unknown)}.",
                              errors={"event_types": [f"one of {', '.join(EVENT_TYPES)}"]})
    return types


def create_endpoint(*, actor: Actor, url: str, event_types=None) -> WebhookEndpoint:
    """A new active endpoint with a fresh secret (read it from the result once; it is not shown again)."""
    endpoint = WebhookEndpoint(url=_url(url), event_types=_event_types(event_types),
                               secret=secrets.token_hex(32), status=Status.ACTIVE)
    db.session.add(endpoint)
    db.session.flush()
    audit(actor, "webhook_endpoint.create", endpoint,
          {"url": [None, endpoint.url], "event_types": [None, endpoint.event_types]})
    return endpoint


def get_endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise EndpointNotFound()
    return endpoint


def list_endpoints(*, status=None):
    query = sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id)
    return query.where(WebhookEndpoint.status == status) if status is not None else query


def update_endpoint(*, actor: Actor, endpoint_id: int, changes: dict) -> WebhookEndpoint:
    """Change an endpoint's URL, event types or status (inactive: no new deliveries, due ones wait)."""
    endpoint = get_endpoint(endpoint_id)
    values = {}
    if "url" in changes:
        values["url"] = _url(changes["url"])
    if "event_types" in changes:
        values["event_types"] = _event_types(changes["event_types"])
    if "status" in changes:
        values["status"] = Status(changes["status"])
    diff = apply_changes(endpoint, values)
    if diff:
        audit(actor, "webhook_endpoint.update", endpoint, diff)
    return endpoint


def rotate_secret(*, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    """A new secret for an endpoint (the old one stops signing at once)."""
    endpoint = get_endpoint(endpoint_id)
    endpoint.secret = secrets.token_hex(32)
    audit(actor, "webhook_endpoint.rotate_secret", endpoint, {"secret": ["…", "…"]})
    return endpoint


# --- deliveries ------------------------------------------------------------------------------

def list_deliveries(*, status=None, endpoint_id=None, event_id=None):
    query = sa.select(WebhookDelivery).order_by(WebhookDelivery.id.desc())
    for column, value in ((WebhookDelivery.status, status), (WebhookDelivery.endpoint_id, endpoint_id),
                          (WebhookDelivery.event_id, event_id)):
        if value is not None:
            query = query.where(column == value)
    return query


def get_delivery(delivery_id: int) -> WebhookDelivery:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise DeliveryNotFound()
    return delivery


def redeliver(*, actor: Actor, delivery_id: int, now: datetime | None = None) -> WebhookDelivery:
    """Send a delivery again (failed, or delivered and asked for again) with a fresh retry schedule."""
    delivery = get_delivery(delivery_id)
    old = delivery.status
    db.session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now or utcnow(), last_error=None))
    db.session.refresh(delivery)
    audit(actor, "webhook_delivery.redeliver", delivery, {"status": [old, DeliveryStatus.PENDING]})
    return delivery


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """Wait after the n-th failed attempt: 30 s · 2^(n-1), up to a quarter more (jitter), capped at 6 h."""
    delay = BACKOFF_BASE_SECONDS * 2 ** min(max(attempts - 1, 0), 20)
    delay *= 1 + (rng or random).uniform(0, 0.25)
    return timedelta(seconds=min(delay, BACKOFF_CAP_SECONDS))


@dataclass
class WorkReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retried + self.failed


def _claim(delivery_id: int, now: datetime) -> datetime | None:
    """Take a due delivery for this worker (an atomic UPDATE); the lease's end, or None if taken."""
    return leases.take(WebhookDelivery, delivery_id, now=now, seconds=LEASE_SECONDS,
                       where=(WebhookDelivery.status == DeliveryStatus.PENDING,))


@dataclass(frozen=True)
class _Post:
    url: str
    secret: str
    event_id: str
    type: str
    body: bytes


def _post(post: _Post, timeout: float, allow_private: bool = False) -> str | None:
    """POST the signed event; None on a 2xx, else what went wrong (a refused address connects to nothing)."""
    if not allow_private:
        try:
            targets.check_url(post.url)  # again: the name may point elsewhere since it was registered
        except targets.Refused as exc:
            return f"refused: {exc}"[:500]
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "Matong-Webhooks/1",
               "X-Matong-Event-Id": post.event_id, "X-Matong-Event-Type": post.type,
               "X-Matong-Timestamp": timestamp, "X-Matong-Signature": sign(post.secret, timestamp, post.body)}
    try:
        poster = requests if allow_private else targets.public_session()
        response = poster.post(post.url, data=post.body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}: {response.text[:200]}"[:500]


def _record(delivery_id: int, lease: datetime, error: str | None, now: datetime, max_attempts: int,
            report: WorkReport) -> None:
    """Write the attempt's outcome, unless the lease ran out and another worker took the delivery."""
    mine = (*leases.held(WebhookDelivery, delivery_id, lease), WebhookDelivery.status == DeliveryStatus.PENDING)
    with transaction():
        delivery = db.session.scalar(sa.select(WebhookDelivery).where(*mine).with_for_update()
                                     .execution_options(populate_existing=True))
        if delivery is None:
            return
        delivery.attempts += 1
        if error is None:
            delivery.status, delivery.delivered_at, delivery.last_error = DeliveryStatus.DELIVERED, now, None
            report.delivered += 1
        elif delivery.attempts >= max_attempts:
            delivery.status, delivery.last_error = DeliveryStatus.FAILED, error
            report.failed += 1
        else:
            delivery.next_attempt_at, delivery.last_error = now + backoff(delivery.attempts), error
            report.retried += 1
    if error is not None:
        report.errors.append(f"delivery {delivery_id}: {error}")


def deliver_due(now: datetime | None = None, *, limit: int = 100) -> WorkReport:
    """One worker step: post every due pending delivery of an active endpoint (up to ``limit``).

    It runs its own short transactions (claim, record) and must not be called inside one.
    """
    fixed, now = now, now or utcnow()
    config = current_app.config
    max_attempts = config["WEBHOOK_MAX_ATTEMPTS"]
    timeout = float(config["WEBHOOK_TIMEOUT_SECONDS"])
    due = db.session.scalars(sa.select(WebhookDelivery.id).join(
        WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id).where(
        WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now,
        WebhookEndpoint.status == Status.ACTIVE).order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)).all()
    db.session.rollback()  # end the read's transaction: each claim is its own
    report = WorkReport()
    for delivery_id in due:
        # Each claim's lease starts when it is taken, not when the batch began: a batch of slow
        # posts must not leave later claims with leases already expired (another worker's to take).
        lease = _claim(delivery_id, fixed or utcnow())
        if lease is None:
            continue
        delivery = db.session.get(WebhookDelivery, delivery_id)
        endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
        event = db.session.get(OutboundEvent, delivery.event_id)
        post = _Post(url=endpoint.url, secret=endpoint.secret, event_id=event.event_id, type=event.type,
                     body=body_of(event))
        request_id = event.request_id
        db.session.rollback()  # no transaction stays open while the network is waited on
        with logs.bound(request_id):  # its log lines name the request whose fact it carries
            error = _post(post, timeout, allow_private=config["WEBHOOK_ALLOW_PRIVATE"])
            _record(delivery_id, lease, error, fixed or utcnow(), max_attempts, report)
    return report
