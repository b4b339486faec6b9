"""ERP orders: created, updated by version, cancelled; the channel's seller and buyer rules; progress."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.channel import errors as channel_errors
from app.channel import orders
from app.channel.models import (OrderLine, OrderStatus, PartyKind, SalesOrder, Shipment, ShipmentScan,
                                ShipmentStatus)
from app.db import transaction
from app.errors import DomainError
from app.extensions import db
from app.identity.models import AuditRecord
from app.masterdata import places
from tests.masterdata_factories import ACTOR
from tests.order_factories import order_data, ship


def upsert(data):
    with transaction():
        upserted = orders.upsert_order(actor=ACTOR, data=data)
        return upserted.order.id, upserted.result


def receive(order_id: int, line_no: int, n: int):
    """What a receipt does: the line's received count grown, the shipment that carried it received."""
    with transaction():
        line_id = db.session.scalar(sa.select(OrderLine.id).where(OrderLine.order_id == order_id,
                                                                  OrderLine.line_no == line_no))
        db.session.execute(sa.update(OrderLine).where(OrderLine.id == line_id).values(received=OrderLine.received + n))
        db.session.execute(sa.update(Shipment).where(Shipment.id.in_(
            sa.select(ShipmentScan.shipment_id).where(ShipmentScan.order_line_id == line_id)))
            .values(status=ShipmentStatus.RECEIVED))
        orders.refresh_status(orders.lock_order(order_id))


def progress(order_id: int) -> dict:
    return orders.order_progress(orders.get_order(order_id=order_id))


def refused(code: str, data):
    with pytest.raises(DomainError) as caught:
        upsert(data)
    assert caught.value.code == code, caught.value.message
    return caught.value


# --- create, retry, versions --------------------------------------------------------------------

def test_a_new_order_is_created_with_its_lines_and_audited(channel):
    order_id, result = upsert(order_data(channel))
    assert result == "created"
    state = progress(order_id)
    assert state["status"] is OrderStatus.OPEN
    assert [(line["line_no"], line["sku"], line["quantity"], line["remaining"]) for line in state["lines"]] == [
        (1, channel.sku, 100, 100), (2, channel.sku2, 50, 50)]
    assert state["totals"] == {"quantity": 150, "shipped": 0, "received": 0, "remaining": 150, "to_receive": 0}
    assert db.session.scalar(sa.select(AuditRecord.action).where(AuditRecord.entity_type == "sales_orders")) == \
        "order.create"


def test_the_same_version_sent_again_changes_nothing(channel):
    order_id, _ = upsert(order_data(channel))
    assert upsert(order_data(channel)) == (order_id, "unchanged")
    assert db.session.scalar(sa.select(sa.func.count(AuditRecord.id))
                             .where(AuditRecord.entity_type == "sales_orders")) == 1


def test_the_same_version_with_other_content_is_a_conflict(channel):
    upsert(order_data(channel))
    error = refused("order_version_conflict", order_data(channel, note="changed"))
    assert error.status == 409


def test_an_older_version_is_refused_and_changes_nothing(channel):
    order_id, _ = upsert(order_data(channel, version=3))
    refused("order_version_stale", order_data(channel, version=2, lines=[
        {"line_no": 1, "sku": channel.sku, "quantity": 1}]))
    assert progress(order_id)["totals"]["quantity"] == 150
    assert orders.get_order(order_id=order_id).version == 3


def test_a_newer_version_replaces_header_and_lines(channel):
    order_id, _ = upsert(order_data(channel))
    _, result = upsert(order_data(channel, version=2, note="urgent", lines=[
        {"line_no": 1, "sku": channel.sku, "quantity": 120, "lot_no": channel.lot_no},
        {"line_no": 3, "product_external_id": "P-2", "quantity": 10}]))
    assert result == "updated"
    order = orders.get_order(order_id=order_id)
    assert (order.version, order.note) == (2, "urgent")
    lines = progress(order_id)["lines"]
    assert [(line["line_no"], line["quantity"], line["lot_no"]) for line in lines] == [
        (1, 120, channel.lot_no), (3, 10, None)]
    assert "order.update" in db.session.scalars(sa.select(AuditRecord.action)).all()


def test_parties_can_be_named_by_external_id(channel):
    order_id, _ = upsert(order_data(channel, seller={"kind": "dealer", "external_id": "D-CITY"},
                                    buyer={"kind": "store", "external_id": "S-1"}))
    order = orders.get_order(order_id=order_id)
    assert (order.seller_kind, order.seller_id, order.buyer_kind, order.buyer_id) == (
        PartyKind.DEALER, channel.city, PartyKind.STORE, channel.store)


# --- shipped lines are protected ---------------------------------------------------------------

def test_a_line_cannot_go_below_what_was_shipped(channel):
    order_id, _ = upsert(order_data(channel))
    ship(order_id, 1, 60)
    refused("order_line_below_shipped", order_data(channel, version=2, lines=[
        {"line_no": 1, "sku": channel.sku, "quantity": 59}, {"line_no": 2, "sku": channel.sku2, "quantity": 50}]))
    _, result = upsert(order_data(channel, version=2, lines=[
        {"line_no": 1, "sku": channel.sku, "quantity": 60}, {"line_no": 2, "sku": channel.sku2, "quantity": 50}]))
    assert result == "updated"
    assert progress(order_id)["lines"][0]["remaining"] == 0


def test_a_line_with_shipments_cannot_be_removed_or_change_product(channel):
    order_id, _ = upsert(order_data(channel))
    ship(order_id, 2, 1)
    refused("order_line_has_shipments", order_data(channel, version=2, lines=[
        {"line_no": 1, "sku": channel.sku, "quantity": 100}]))
    refused("order_line_has_shipments", order_data(channel, version=2, lines=[
        {"line_no": 1, "sku": channel.sku, "quantity": 100}, {"line_no": 2, "sku": channel.sku, "quantity": 50}]))
    _, result = upsert(order_data(channel, version=2, lines=[{"line_no": 2, "sku": channel.sku2, "quantity": 5}]))
    assert result == "updated"  # line 1 had nothing shipped: it may go
    assert [line["line_no"] for line in progress(order_id)["lines"]] == [2]


def test_the_parties_of_an_order_with_shipments_stay(channel):
    order_id, _ = upsert(order_data(channel))
    ship(order_id, 1, 1)
    refused("order_parties_locked", order_data(channel, version=2, buyer={"kind": "dealer", "id": channel.city}))


# --- status from the lines ---------------------------------------------------------------------

def test_status_follows_shipped_and_received(channel):
    order_id, _ = upsert(order_data(channel))
    ship(order_id, 1, 100)
    assert orders.get_order(order_id=order_id).status is OrderStatus.SHIPPING
    ship(order_id, 2, 50)
    assert orders.get_order(order_id=order_id).status is OrderStatus.SHIPPED
    receive(order_id, 1, 100)
    assert orders.get_order(order_id=order_id).status is OrderStatus.SHIPPED
    receive(order_id, 2, 50)
    order = orders.get_order(order_id=order_id)
    assert order.status is OrderStatus.CLOSED and order.closed_at is not None
    assert progress(order_id)["totals"] == {"quantity": 150, "shipped": 150, "received": 150, "remaining": 0,
                                            "to_receive": 0}


def test_the_database_refuses_over_shipping(channel):
    order_id, _ = upsert(order_data(channel))
    with transaction():
        line_id = db.session.scalar(sa.select(OrderLine.id).where(OrderLine.order_id == order_id,
                                                                  OrderLine.line_no == 2))
        assert db.session.execute(sa.text(
            "UPDATE sales_order_lines SET shipped = shipped + :n WHERE id = :id AND shipped + :n <= quantity"),
            {"n": 51, "id": line_id}).rowcount == 0


# --- cancel ------------------------------------------------------------------------------------

def cancel(order_no="SO-1", version=None):
    with transaction():
        return orders.cancel_order(actor=ACTOR, order_no=order_no, version=version)


def test_an_order_with_nothing_shipped_can_be_cancelled_and_a_retry_answers_the_same(channel):
    order_id, _ = upsert(order_data(channel))
    order = cancel(version=2)
    assert (order.status, order.version) == (OrderStatus.CANCELLED, 2)
    assert cancel().status is OrderStatus.CANCELLED
    refused("order_cancelled", order_data(channel, version=3))


def test_a_cancelled_order_refuses_an_older_version(channel):
    upsert(order_data(channel, version=2))
    cancel()
    refused("order_version_stale", order_data(channel, version=1))


def test_an_order_with_shipments_cannot_be_cancelled(channel):
    order_id, _ = upsert(order_data(channel))
    ship(order_id, 1, 1)
    with pytest.raises(channel_errors.OrderHasShipments):
        cancel()
    assert orders.get_order(order_id=order_id).status is OrderStatus.SHIPPING


def test_an_unknown_order_cannot_be_cancelled(channel):
    with pytest.raises(channel_errors.OrderNotFound):
        cancel("nope")


def test_a_stale_cancellation_is_refused(channel):
    upsert(order_data(channel, version=4))
    with pytest.raises(channel_errors.VersionStale):
        cancel(version=3)


# --- the channel's rules -----------------------------------------------------------------------

def test_the_brand_sells_to_a_dealer_of_any_tier_and_to_a_store(channel):
    assert upsert(order_data(channel, buyer={"kind": "dealer", "id": channel.city}))[1] == "created"
    assert upsert(order_data(channel, order_no="SO-2", buyer={"kind": "store", "id": channel.lonely_store}))[1] \
        == "created"


def test_a_dealer_sells_only_to_its_own_sub_dealers(channel):
    assert upsert(order_data(channel, seller={"kind": "dealer", "id": channel.province},
                             buyer={"kind": "dealer", "id": channel.city}))[1] == "created"
    refused("order_seller_not_parent", order_data(channel, order_no="SO-2", seller={
        "kind": "dealer", "id": channel.province}, buyer={"kind": "dealer", "id": channel.other_city}))
    refused("order_seller_not_parent", order_data(channel, order_no="SO-3", seller={
        "kind": "dealer", "id": channel.city}, buyer={"kind": "dealer", "id": channel.province}))


def test_a_dealer_sells_only_to_stores_it_serves(channel):
    assert upsert(order_data(channel, seller={"kind": "dealer", "id": channel.city},
                             buyer={"kind": "store", "id": channel.store}))[1] == "created"
    refused("order_store_not_served", order_data(channel, order_no="SO-2", seller={
        "kind": "dealer", "id": channel.province}, buyer={"kind": "store", "id": channel.store}))


@pytest.mark.parametrize("seller, buyer, code", [
    ({"kind": "store", "id": 1}, None, "order_party_kind_invalid"),
    (None, {"kind": "warehouse", "id": 1}, "order_party_kind_invalid"),
    ({"kind": "warehouse", "id": 999_999}, None, "order_party_unknown"),
    (None, {"kind": "dealer", "external_id": "nobody"}, "order_party_unknown"),
    (None, {"kind": "dealer"}, "order_party_unknown"),
])
def test_unknown_or_wrong_parties_are_refused(channel, seller, buyer, code):
    error = refused(code, order_data(channel, seller=seller, buyer=buyer))
    assert error.status == 422


def test_an_inactive_seller_is_refused(channel):
    with transaction():
        places.deactivate_warehouse(actor=ACTOR, warehouse_id=channel.warehouse)
    refused("order_party_inactive", order_data(channel))


@pytest.mark.parametrize("lines, code", [
    ([{"line_no": 1, "sku": "NOPE", "quantity": 1}], "order_product_unknown"),
    ([{"line_no": 1, "sku": "SKU", "quantity": 1, "lot_no": "NOPE"}], "order_lot_unknown"),
    ([{"line_no": 1, "sku": "SKU", "quantity": 1}, {"line_no": 1, "sku": "SKU", "quantity": 2}],
     "order_lines_invalid"),
    ([{"line_no": 1, "sku": "SKU", "quantity": 0}], "order_lines_invalid"),
    ([], "order_lines_invalid"),
])
def test_bad_lines_are_refused(channel, lines, code):
    lines = [{**line, "sku": channel.sku if line["sku"] == "SKU" else line["sku"]} for line in lines]
    refused(code, order_data(channel, lines=lines))
    assert db.session.scalar(sa.select(sa.func.count(SalesOrder.id))) == 0


def test_a_lot_of_another_product_is_refused(channel):
    refused("order_lot_unknown", order_data(channel, lines=[
        {"line_no": 1, "sku": channel.sku2, "quantity": 1, "lot_no": channel.lot_no}]))


def test_listing_filters_by_either_side(channel):
    upsert(order_data(channel))
    upsert(order_data(channel, order_no="SO-2", seller={"kind": "dealer", "id": channel.province},
                      buyer={"kind": "dealer", "id": channel.city}))
    listed = lambda **kw: [o.order_no for o in db.session.scalars(orders.list_orders(**kw))]  # noqa: E731
    assert listed(party_kind=PartyKind.DEALER, party_id=channel.province) == ["SO-2", "SO-1"]
    assert listed(seller_kind=PartyKind.DEALER, seller_id=channel.province) == ["SO-2"]
    assert listed(buyer_kind=PartyKind.DEALER, buyer_id=channel.city, status=OrderStatus.OPEN) == ["SO-2"]
    assert listed(status=OrderStatus.CLOSED) == []
