"""Races on MariaDB: the same new order sent twice at once, an ERP update against a dealer's scan,
two webhook workers on one delivery."""
from __future__ import annotations

import threading

import sqlalchemy as sa

from app.channel import orders
from app.channel.models import OrderLine
from app.db import retrying, transaction
from app.errors import DomainError
from app.extensions import db
from app.webhooks import service as webhooks
from tests.concurrency import at_once, meeting_in, once_per_thread
from tests.masterdata_factories import ACTOR
from tests.order_factories import order_data, ship
from tests.webhook_receiver import Receiver


def test_the_same_new_order_sent_twice_at_once_is_created_once(app, mariadb, channel, monkeypatch):
    meet = once_per_thread(threading.Barrier(2, timeout=10).wait)
    lines = orders._lines

    def lines_when_both_are_ready(raw):
        result = lines(raw)
        meet()
        return result

    monkeypatch.setattr(orders, "_lines", lines_when_both_are_ready)

    def put():  # as the ERP's PUT does it: a deadlock victim runs again
        def once():
            with transaction():
                return orders.upsert_order(actor=ACTOR, data=order_data(channel)).result
        return retrying(once)

    assert sorted(at_once(app, put, put)) == ["created", "unchanged"]


def test_an_erp_update_and_a_dealer_scan_at_once_never_ship_past_the_quantity(app, mariadb, channel, monkeypatch):
    with transaction():
        order_id = orders.upsert_order(actor=ACTOR, data=order_data(channel)).order.id
    meet = once_per_thread(threading.Barrier(2, timeout=10).wait)

    def update():
        with transaction():
            meet()
            return orders.upsert_order(actor=ACTOR, data=order_data(channel, version=2, lines=[
                {"line_no": 1, "sku": channel.sku, "quantity": 50},
                {"line_no": 2, "sku": channel.sku2, "quantity": 50}])).result

    def scan():
        ship(order_id, 1, 60, ready=meet)
        return "shipped"

    updated, shipped = at_once(app, update, scan)
    line = db.session.scalar(sa.select(OrderLine).where(OrderLine.order_id == order_id, OrderLine.line_no == 1)
                             .execution_options(populate_existing=True))
    assert line.shipped <= line.quantity
    if line.shipped == 60:  # the scan won: the update was refused, not applied
        assert isinstance(updated, DomainError) and updated.code == "order_line_below_shipped"
        assert line.quantity == 100
    else:  # the update won: the scan found no room (the shipment service answers "line complete")
        assert updated == "updated" and line.quantity == 50 and isinstance(shipped, AssertionError)


def test_two_workers_post_a_delivery_once(app, mariadb):
    server = Receiver((200,))
    try:
        with transaction():
            webhooks.create_endpoint(actor=ACTOR, url=server.url)
        with transaction():
            webhooks.emit("sale.scanned", {"serial": 1})
        with meeting_in(webhooks, "_claim"):
            reports = at_once(app, webhooks.deliver_due, webhooks.deliver_due)
        assert sorted(report.delivered for report in reports) == [0, 1]
        assert len(server.requests) == 1
    finally:
        server.close()
