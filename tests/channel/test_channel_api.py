"""Back office: every order and its progress, shipments with their receipts and discrepancies, webhook
endpoints and deliveries."""
from __future__ import annotations

import pytest

from app.channel import orders
from app.channel.models import (Discrepancy, DiscrepancyKind, PartyKind, Receipt, ReceiptMode, Shipment,
                                ShipmentStatus)
from app.db import transaction
from app.extensions import db
from app.identity.models import Role
from app.masterdata import places
from app.webhooks import service as webhooks
from tests.masterdata_factories import ACTOR, make_dealer, make_product

URL = "/api/admin"


@pytest.fixture
def an_order(app):
    with transaction():
        warehouse = places.create_warehouse(actor=ACTOR, data={"name": "Brand DC"})
    dealer = make_dealer()
    product = make_product()
    with transaction():
        order = orders.upsert_order(actor=ACTOR, data={
            "order_no": "SO-1", "version": 1, "seller": {"kind": "warehouse", "id": warehouse.id},
            "buyer": {"kind": "dealer", "id": dealer.id},
            "lines": [{"line_no": 1, "sku": product.sku, "quantity": 48}]}).order
        return order.id, warehouse.id, dealer.id


@pytest.fixture
def a_received_shipment(an_order):
    order_id, warehouse_id, dealer_id = an_order
    with transaction():
        shipment = Shipment(order_id=order_id, shipper_kind=PartyKind.WAREHOUSE, shipper_id=warehouse_id,
                            receiver_kind=PartyKind.DEALER, receiver_id=dealer_id, status=ShipmentStatus.RECEIVED,
                            items=48, created_by="pda-1")
        db.session.add(shipment)
        db.session.flush()
        receipt = Receipt(shipment_id=shipment.id, receiver_kind=PartyKind.DEALER, receiver_id=dealer_id,
                          mode=ReceiptMode.SCANNED, expected=48, received=46, missing=2, damaged=1,
                          confirmed_by="dealer-1")
        db.session.add(receipt)
        db.session.flush()
        for kind, serial in ((DiscrepancyKind.MISSING, 1), (DiscrepancyKind.MISSING, 2),
                             (DiscrepancyKind.DAMAGED, 3)):
            db.session.add(Discrepancy(receipt_id=receipt.id, shipment_id=shipment.id, kind=kind, serial=serial))
        return shipment.id


def test_every_role_sees_orders_and_their_progress(client, auth, an_order):
    order_id, _, _ = an_order
    headers = auth.headers_for(Role.FINANCE)
    listed = client.get(f"{URL}/orders?status=open", headers=headers)
    assert listed.status_code == 200, listed.get_json()
    assert [o["order_no"] for o in listed.get_json()] == ["SO-1"]
    assert listed.headers["X-Pagination"]
    assert client.get(f"{URL}/orders?status=closed", headers=headers).get_json() == []
    detail = client.get(f"{URL}/orders/{order_id}", headers=headers).get_json()
    assert detail["lines"][0]["quantity"] == 48 and detail["totals"]["remaining"] == 48
    assert client.get(f"{URL}/orders/{order_id + 1000}", headers=headers).status_code == 404


def test_shipments_show_their_receipt_and_discrepancies(client, auth, a_received_shipment):
    headers = auth.headers_for(Role.AUDITOR)
    [listed] = client.get(f"{URL}/shipments?status=received", headers=headers).get_json()
    assert (listed["id"], listed["order_no"], listed["items"]) == (a_received_shipment, "SO-1", 48)
    detail = client.get(f"{URL}/shipments/{a_received_shipment}", headers=headers).get_json()
    assert (detail["receipt"]["missing"], detail["receipt"]["damaged"], detail["receipt"]["mode"]) == (2, 1, "scanned")
    assert (detail["order_no"], detail["status"], detail["created_by"]) == ("SO-1", "received", "pda-1")
    found = client.get(f"{URL}/shipments/{a_received_shipment}/discrepancies", headers=headers).get_json()
    assert [(d["kind"], d["serial"]) for d in found] == [("missing", 1), ("missing", 2), ("damaged", 3)]
    damaged = client.get(f"{URL}/shipments/{a_received_shipment}/discrepancies?kind=damaged", headers=headers)
    assert [d["serial"] for d in damaged.get_json()] == [3]
    assert client.get(f"{URL}/shipments/{a_received_shipment + 1}", headers=headers).status_code == 404
    assert client.get(f"{URL}/shipments/{a_received_shipment + 1}/discrepancies",
                      headers=headers).status_code == 404


def test_a_webhook_endpoint_shows_its_secret_once(client, auth):
    headers = auth.as_admin()
    created = client.post(f"{URL}/webhook-endpoints", headers=headers,
                          json={"url": "https://erp.example.com/hooks", "event_types": ["receipt.confirmed"]})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert len(body["secret"]) == 64 and body["status"] == "active"
    read = client.get(f"{URL}/webhook-endpoints/{body['id']}", headers=headers).get_json()
    assert "secret" not in read and read["event_types"] == ["receipt.confirmed"]
    assert all("secret" not in e for e in client.get(f"{URL}/webhook-endpoints", headers=headers).get_json())
    rotated = client.post(f"{URL}/webhook-endpoints/{body['id']}/rotate-secret", headers=headers).get_json()
    assert rotated["secret"] != body["secret"] and len(rotated["secret"]) == 64
    patched = client.patch(f"{URL}/webhook-endpoints/{body['id']}", headers=headers,
                           json={"event_types": [], "url": "https://erp.example.com/v2"}).get_json()
    assert (patched["event_types"], patched["url"]) == ([], "https://erp.example.com/v2")
    removed = client.delete(f"{URL}/webhook-endpoints/{body['id']}", headers=headers).get_json()
    assert removed["status"] == "inactive"
    bad = client.post(f"{URL}/webhook-endpoints", headers=headers, json={"url": "file:///etc/passwd"})
    assert (bad.status_code, bad.get_json()["code"]) == (422, "webhook_endpoint_invalid")


def test_only_admin_and_ops_change_webhooks(client, auth):
    ops = auth.headers_for(Role.OPS)
    created = client.post(f"{URL}/webhook-endpoints", headers=ops, json={"url": "https://erp.example.com/h"})
    assert created.status_code == 201
    endpoint_id = created.get_json()["id"]
    marketer = auth.headers_for(Role.MARKETER)
    assert client.get(f"{URL}/webhook-endpoints", headers=marketer).status_code == 200
    for method, path in (("post", ""), ("patch", f"/{endpoint_id}"), ("delete", f"/{endpoint_id}"),
                         ("post", f"/{endpoint_id}/rotate-secret")):
        response = getattr(client, method)(f"{URL}/webhook-endpoints{path}", headers=marketer,
                                           json={"url": "https://x.example.com"})
        assert response.status_code == 403, (method, path)
    assert client.get(f"{URL}/webhook-endpoints").status_code == 401


def test_deliveries_are_listed_by_status_and_redelivered(client, auth):
    headers = auth.as_admin()
    endpoint_id = client.post(f"{URL}/webhook-endpoints", headers=headers,
                              json={"url": "http://127.0.0.1:9/h"}).get_json()["id"]
    with transaction():
        webhooks.emit("sale.scanned", {"serial": 1})
    [pending] = client.get(f"{URL}/webhook-deliveries?status=pending", headers=headers).get_json()
    assert (pending["endpoint_id"], pending["attempts"]) == (endpoint_id, 0)
    assert client.get(f"{URL}/webhook-deliveries?status=failed", headers=headers).get_json() == []
    redelivered = client.post(f"{URL}/webhook-deliveries/{pending['id']}/redeliver", headers=headers)
    assert redelivered.status_code == 200 and redelivered.get_json()["status"] == "pending"
    assert client.post(f"{URL}/webhook-deliveries/{pending['id']}/redeliver",
                       headers=auth.headers_for(Role.FINANCE)).status_code == 403
    assert client.post(f"{URL}/webhook-deliveries/{pending['id'] + 1}/redeliver", headers=headers).status_code == 404
