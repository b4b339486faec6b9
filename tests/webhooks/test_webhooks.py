"""Outbound events: pulls by cursor, and webhooks signed, retried with backoff, delivered once."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.db import transaction, utcnow
from app.extensions import db
from app.webhooks import service
from app.webhooks.cli import webhooks as webhooks_cli
from app.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.masterdata_factories import ACTOR


def endpoint(url: str, event_types=()):
    with transaction():
        created = service.create_endpoint(actor=ACTOR, url=url, event_types=list(event_types))
        return created.id, created.secret


def emit(type_="shipment.shipped", **payload):
    with transaction():
        return service.emit(type_, {"shipment_id": 1, **payload}).id


def deliveries():
    db.session.expire_all()
    return db.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


# --- signatures --------------------------------------------------------------------------------

def test_a_signature_verifies_only_with_its_secret_body_and_a_fresh_timestamp():
    body, secret = b'{"event_id":"e1"}', "s" * 64
    signature = service.sign(secret, "1700000000", body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert service.verify_signature(secret, "1700000000", body, signature, now=1700000100)
    assert not service.verify_signature(secret, "1700000000", body + b" ", signature, now=1700000100)
    assert not service.verify_signature("t" * 64, "1700000000", body, signature, now=1700000100)
    assert not service.verify_signature(secret, "1700000001", body, signature, now=1700000100)
    assert not service.verify_signature(secret, "1700000000", body, signature, now=1700000000 + 301)
    assert not service.verify_signature(secret, "not a time", body, signature)


# --- emit and pulls ----------------------------------------------------------------------------

def test_emit_queues_a_delivery_for_each_active_endpoint_that_wants_the_type(app):
    everything, _ = endpoint("http://127.0.0.1:9/a")
    receipts_only, _ = endpoint("http://127.0.0.1:9/b", ["receipt.confirmed"])
    off, _ = endpoint("http://127.0.0.1:9/c")
    with transaction():
        service.update_endpoint(actor=ACTOR, endpoint_id=off, changes={"status": "inactive"})
    emit("shipment.shipped")
    emit("receipt.confirmed")
    by_endpoint = {}
    for delivery in deliveries():
        by_endpoint.setdefault(delivery.endpoint_id, []).append(delivery.event_id)
    assert len(by_endpoint[everything]) == 2 and len(by_endpoint[receipts_only]) == 1 and off not in by_endpoint


def test_pulls_page_through_events_in_order_and_stop_at_the_end(app):
    ids = [emit("shipment.shipped" if n % 2 else "sale.scanned", n=n) for n in range(7)]
    seen, cursor = [], 0
    while True:
        events, cursor = service.pull_events(after=cursor, limit=3)
        if not events:
            break
        seen += [event.id for event in events]
    assert seen == ids and cursor == ids[-1]
    assert service.pull_events(after=ids[-1] + 1000) == ([], ids[-1] + 1000)
    shipped, _ = service.pull_events(after=0, types=("shipment.shipped",), limit=1000)
    assert [event.payload["n"] for event in shipped] == [1, 3, 5]


def test_events_too_young_to_have_settled_are_not_pulled_yet(app, monkeypatch):
    monkeypatch.setitem(app.config, "EVENT_PULL_SETTLE_SECONDS", 5)
    emit()
    assert service.pull_events(after=0)[0] == []
    assert len(service.pull_events(after=0, now=utcnow() + timedelta(seconds=6))[0]) == 1


def test_an_unknown_event_type_is_a_programming_error(app):
    with pytest.raises(ValueError):
        service.emit("order.teleported", {})


# --- deliveries --------------------------------------------------------------------------------

def test_a_delivery_posts_the_signed_event_once(app, receiver):
    server = receiver(200)
    endpoint_id, secret = endpoint(server.url)
    emit(shipment_id=42)
    report = service.deliver_due()
    assert (report.delivered, report.retried, report.failed) == (1, 0, 0)
    [request] = server.requests
    headers, body = request["headers"], request["body"]
    assert service.verify_signature(secret, headers["X-Matong-Timestamp"], body, headers["X-Matong-Signature"])
    sent = json.loads(body)
    assert sent["type"] == headers["X-Matong-Event-Type"] == "shipment.shipped"
    assert sent["event_id"] == headers["X-Matong-Event-Id"]
    assert sent["payload"] == {"shipment_id": 42} and sent["created_at"].endswith("Z")
    [delivery] = deliveries()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert delivery.delivered_at is not None
    assert service.deliver_due(utcnow() + timedelta(days=1)).attempted == 0
    assert len(server.requests) == 1


def test_a_failed_delivery_is_retried_with_backoff_then_delivered_and_not_again(app, receiver):
    server = receiver(500, 200)
    endpoint(server.url)
    emit()
    now = utcnow()
    assert service.deliver_due(now).retried == 1
    [delivery] = deliveries()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.last_error.startswith("HTTP 500")
    wait = delivery.next_attempt_at - now
    assert timedelta(seconds=30) <= wait <= timedelta(seconds=37.5)
    assert service.deliver_due(now + timedelta(seconds=29)).attempted == 0  # not due yet
    assert service.deliver_due(now + wait).delivered == 1
    assert service.deliver_due(now + timedelta(hours=7)).attempted == 0
    assert len(server.requests) == 2
    first, second = server.requests
    assert first["headers"]["X-Matong-Event-Id"] == second["headers"]["X-Matong-Event-Id"]
    [delivery] = deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.DELIVERED, 2, None)


def test_backoff_doubles_up_to_six_hours():
    class NoJitter:
        @staticmethod
        def uniform(a, b):
            return 0.0

    assert [service.backoff(n, rng=NoJitter).total_seconds() for n in (1, 2, 3, 10, 50)] == [
        30, 60, 120, 30 * 2 ** 9, 6 * 3600]
    assert all(30 <= service.backoff(1).total_seconds() <= 37.5 for _ in range(50))


def test_a_delivery_fails_for_good_after_the_last_attempt(app, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_MAX_ATTEMPTS", 2)
    server = receiver(503)
    endpoint(server.url)
    emit()
    now = utcnow()
    assert service.deliver_due(now).retried == 1
    assert service.deliver_due(now + timedelta(hours=1)).failed == 1
    assert service.deliver_due(now + timedelta(days=1)).attempted == 0
    [delivery] = deliveries()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    with transaction():
        service.redeliver(actor=ACTOR, delivery_id=delivery.id, now=now + timedelta(days=1))
    server.statuses = [200]
    assert service.deliver_due(now + timedelta(days=1)).delivered == 1
    assert len(server.requests) == 3


def test_an_unreachable_endpoint_is_retried(app, receiver):
    server = receiver(200)
    url = server.url
    server.close()
    endpoint(url)
    emit()
    report = service.deliver_due()
    assert report.retried == 1 and "ConnectionError" in report.errors[0]


def test_deliveries_of_an_inactive_endpoint_wait(app, receiver):
    server = receiver(200)
    endpoint_id, _ = endpoint(server.url)
    emit()
    with transaction():
        service.update_endpoint(actor=ACTOR, endpoint_id=endpoint_id, changes={"status": "inactive"})
    assert service.deliver_due().attempted == 0
    with transaction():
        service.update_endpoint(actor=ACTOR, endpoint_id=endpoint_id, changes={"status": "active"})
    assert service.deliver_due().delivered == 1


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_ends(app):
    endpoint("http://127.0.0.1:9/x")
    emit()
    [delivery] = deliveries()
    now = utcnow()
    lease = service._claim(delivery.id, now)
    assert lease is not None
    assert service._claim(delivery.id, now) is None
    assert service._claim(delivery.id, lease) is not None  # the worker died: taken over after the lease


def test_endpoint_urls_and_event_types_are_checked(app):
    for url in ("ftp://example.com/x", "not a url", "http://"):
        with pytest.raises(service.EndpointInvalid):
            endpoint(url)
    with pytest.raises(service.EndpointInvalid):
        endpoint("https://erp.example.com/hooks", ["order.teleported"])


def test_the_worker_command_posts_what_is_due(app, receiver):
    server = receiver(200)
    endpoint(server.url)
    emit()
    result = app.test_cli_runner().invoke(webhooks_cli, ["work", "--once"])
    assert result.exit_code == 0, result.output
    assert "delivered 1" in result.output and len(server.requests) == 1


# --- where webhooks may post ---------------------------------------------------------------------

# Made-up names and what they resolve to: the tests never ask outside DNS.
NAMES = {"erp.example.com": ["93.184.216.34"], "intranet.example.com": ["10.0.0.5"],
         "split.example.com": ["93.184.216.34", "192.168.1.10"], "localhost": ["127.0.0.1", "::1"]}


@pytest.fixture
def public_only(app, monkeypatch):
    """Production's rule: no private addresses; names resolved from NAMES (changeable by the test)."""
    from app.webhooks import targets

    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    names = dict(NAMES)

    def resolve(host, port):
        if host not in names:
            raise OSError("unknown name")
        return names[host]
    monkeypatch.setattr(targets, "resolve", resolve)
    return names


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:8080/hooks", "loopback"),
    ("http://[::1]/hooks", "loopback"),
    ("http://[::ffff:127.0.0.1]/hooks", "loopback"),
    ("http://[2002:7f00:1::]/hooks", "loopback"),  # 6to4 carrying 127.0.0.1
    ("http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hooks", "private"),  # Teredo carrying 10.0.0.1
    ("http://localhost/hooks", "loopback"),
    ("http://10.1.2.3/hooks", "private"),
    ("http://172.16.0.1/hooks", "private"),
    ("http://192.168.0.1/hooks", "private"),
    ("http://intranet.example.com/hooks", "private"),
    ("http://split.example.com/hooks", "private"),  # one private address is enough
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    ("http://169.254.10.1/hooks", "link-local"),
    ("http://224.0.0.1/hooks", "multicast"),
    ("http://240.0.0.1/hooks", "reserved"),
    ("http://0.0.0.0/hooks", "reserved"),
    ("http://100.64.0.1/hooks", "not public"),
    ("http://nowhere.example.com/hooks", "does not resolve"),
])
def test_registration_refuses_addresses_webhooks_may_not_reach(public_only, url, reason):
    with pytest.raises(service.EndpointRefused, match=reason) as refused:
        endpoint(url)
    assert (refused.value.status, refused.value.code) == (422, "webhook_url_refused")


def test_a_public_name_is_accepted(public_only):
    assert endpoint("https://erp.example.com/hooks")[0] > 0


def test_the_back_office_gets_422_with_a_code(public_only, client, auth):
    response = client.post("/api/admin/webhook-endpoints", headers=auth.as_admin(),
                           json={"url": "http://169.254.169.254/latest/meta-data/"})
    assert response.status_code == 422
    assert response.get_json()["code"] == "webhook_url_refused" and "metadata" in response.get_json()["message"]


def test_https_only_where_it_is_required(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_HTTPS_ONLY", True)
    with pytest.raises(service.EndpointRefused, match="https"):
        endpoint("http://erp.example.com/hooks")
    from config import get_config
    assert get_config("testing").WEBHOOK_HTTPS_ONLY is False


def test_a_name_pointed_at_a_private_address_after_registration_is_not_posted_to(public_only, receiver):
    server = receiver(200)
    port = server.server.server_address[1]
    endpoint(f"http://erp.example.com:{port}/hooks/matong")
    public_only["erp.example.com"] = ["127.0.0.1"]  # the name now points at our own machine
    emit()
    report = service.deliver_due()
    assert report.retried == 1 and server.requests == []
    [delivery] = deliveries()
    assert delivery.status is DeliveryStatus.PENDING and delivery.last_error.startswith("refused: ")
    assert "loopback" in delivery.last_error


def test_a_connection_that_reaches_a_private_address_sends_nothing(public_only, receiver, monkeypatch):
    # The check saw a public address, but the connection's own lookup lands on loopback (DNS rebinding).
    import socket

    server = receiver(200)
    port = server.server.server_address[1]
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *args, **kw: real(
        "127.0.0.1" if host == "erp.example.com" else host, *args, **kw))
    endpoint(f"http://erp.example.com:{port}/hooks/matong")
    emit()
    service.deliver_due()
    [delivery] = deliveries()
    assert server.requests == [] and "refused" in delivery.last_error and "loopback" in delivery.last_error
