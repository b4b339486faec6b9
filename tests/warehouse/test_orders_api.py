"""ERP over HTTP: orders by number and version, cancellation, progress, pulls after a cursor (scope orders)."""
from __future__ import annotations

import pytest

from app.db import transaction
from app.masterdata import places
from app.webhooks import service as webhooks
from tests.masterdata_factories import ACTOR, make_dealer, make_product, make_store

URL = "/api/integration"


@pytest.fixture
def world(app):
    with transaction():
        places.create_warehouse(actor=ACTOR, data={"name": "Brand DC", "external_id": "WH-1"})
    dealer = make_dealer(external_id="D-1")
    make_store(dealer_ids=[dealer.id], external_id="S-1")
    make_product(sku="TEA-500", external_id="P-TEA")
    make_product(sku="TEA-250")
    return dealer


@pytest.fixture
def erp(auth):
    return auth.key_headers("orders")


def order(version=1, quantity=120, **extra):
    return {"version": version, "seller": {"kind": "warehouse", "external_id": "WH-1"},
            "buyer": {"kind": "dealer", "external_id": "D-1"},
            "lines": [{"line_no": 1, "sku": "TEA-500", "quantity": quantity},
                      {"line_no": 2, "product_external_id": "P-TEA", "quantity": 24}],
            "ordered_at": "2026-03-05T08:00:00Z", **extra}


def test_an_order_is_created_retried_updated_and_read_with_its_progress(client, world, erp):
    created = client.put(f"{URL}/orders/SO-1", headers=erp, json=order())
    assert created.status_code == 200, created.get_json()
    body = created.get_json()
    assert (body["result"], body["status"], body["version"]) == ("created", "open", 1)
    assert body["buyer"] == {"kind": "dealer", "id": world.id, "name": world.name, "external_id": "D-1"}
    assert (body["seller"]["kind"], body["seller"]["external_id"]) == ("warehouse", "WH-1")
    assert [(line["product"]["sku"], line["product"]["external_id"]) for line in body["lines"]] == \
        [("TEA-500", "P-TEA"), ("TEA-500", "P-TEA")]
    assert [line["remaining"] for line in body["lines"]] == [120, 24]
    assert body["totals"]["quantity"] == 144
    assert client.put(f"{URL}/orders/SO-1", headers=erp, json=order()).get_json()["result"] == "unchanged"
    updated = client.put(f"{URL}/orders/SO-1", headers=erp, json=order(version=2, quantity=240)).get_json()
    assert (updated["result"], updated["totals"]["quantity"]) == ("updated", 264)
    read = client.get(f"{URL}/orders/SO-1", headers=erp).get_json()
    assert read["version"] == 2 and read["lines"][0]["sku"] == "TEA-500" and "result" not in read


def test_stale_and_conflicting_versions_are_409(client, world, erp):
    client.put(f"{URL}/orders/SO-1", headers=erp, json=order(version=2))
    stale = client.put(f"{URL}/orders/SO-1", headers=erp, json=order(version=1))
    assert (stale.status_code, stale.get_json()["code"]) == (409, "order_version_stale")
    conflict = client.put(f"{URL}/orders/SO-1", headers=erp, json=order(version=2, note="other"))
    assert (conflict.status_code, conflict.get_json()["code"]) == (409, "order_version_conflict")


@pytest.mark.parametrize("change, status, code", [
    ({"seller": {"kind": "dealer", "external_id": "D-1"}, "buyer": {"kind": "store", "external_id": "S-404"}},
     422, "order_party_unknown"),
    ({"buyer": {"kind": "warehouse", "external_id": "WH-1"}}, 422, "order_party_kind_invalid"),
    ({"lines": [{"line_no": 1, "sku": "NOPE", "quantity": 1}]}, 422, "order_product_unknown"),
    ({"lines": [{"line_no": 1, "sku": "TEA-500", "quantity": 1, "lot_no": "L9"}]}, 422, "order_lot_unknown"),
    ({"lines": [{"line_no": 1, "sku": "TEA-500", "product_external_id": "P-TEA", "quantity": 1}]}, 422,
     "validation_failed"),
    ({"lines": [{"line_no": 1, "sku": "TEA-500", "quantity": 0}]}, 422, "validation_failed"),
    ({"version": 0}, 422, "validation_failed"),
])
def test_bad_orders_are_refused_with_a_reason(client, world, erp, change, status, code):
    response = client.put(f"{URL}/orders/SO-1", headers=erp, json={**order(), **change})
    assert (response.status_code, response.get_json()["code"]) == (status, code), response.get_json()
    assert client.get(f"{URL}/orders/SO-1", headers=erp).status_code == 404


def test_an_order_number_too_long_is_refused(client, world, erp):
    response = client.put(f"{URL}/orders/{'N' * 65}", headers=erp, json=order())
    assert (response.status_code, response.get_json()["code"]) == (422, "order_no_invalid")


def test_an_order_is_cancelled_and_a_retry_answers_the_same(client, world, erp):
    client.put(f"{URL}/orders/SO-1", headers=erp, json=order())
    first = client.post(f"{URL}/orders/SO-1/cancel", headers=erp, json={"version": 2})
    assert (first.status_code, first.get_json()["status"], first.get_json()["version"]) == (200, "cancelled", 2)
    assert client.post(f"{URL}/orders/SO-1/cancel", headers=erp, json={}).get_json()["status"] == "cancelled"
    later = client.put(f"{URL}/orders/SO-1", headers=erp, json=order(version=3))
    assert (later.status_code, later.get_json()["code"]) == (409, "order_cancelled")
    missing = client.post(f"{URL}/orders/SO-404/cancel", headers=erp, json={})
    assert (missing.status_code, missing.get_json()["code"]) == (404, "order_not_found")


def emit(type_, **payload):
    with transaction():
        return webhooks.emit(type_, payload).id


def test_pulls_page_through_events_after_a_cursor(client, erp):
    ids = [emit("shipment.shipped", n=0), emit("receipt.confirmed", n=1), emit("sale.scanned", n=2),
           emit("shipment.shipped", n=3)]
    page = client.get(f"{URL}/events?after=0&limit=3", headers=erp).get_json()
    assert [item["id"] for item in page["items"]] == ids[:3] and page["next_cursor"] == ids[2]
    assert {"event_id", "type", "created_at", "payload"} <= set(page["items"][0])
    rest = client.get(f"{URL}/events?after={page['next_cursor']}", headers=erp).get_json()
    assert [item["payload"]["n"] for item in rest["items"]] == [3]
    end = client.get(f"{URL}/events?after={rest['next_cursor'] + 10}", headers=erp).get_json()
    assert end == {"items": [], "next_cursor": rest["next_cursor"] + 10}
    typed = client.get(f"{URL}/events?type=sale.scanned", headers=erp).get_json()
    assert [item["payload"]["n"] for item in typed["items"]] == [2]
    for path, expected in (("shipments", [0, 3]), ("receipts", [1]), ("sale-scans", [2])):
        pulled = client.get(f"{URL}/{path}?after=0", headers=erp).get_json()
        assert [item["payload"]["n"] for item in pulled["items"]] == expected, path
    too_many = client.get(f"{URL}/events?limit=1001", headers=erp)
    assert too_many.status_code == 422


@pytest.mark.parametrize("method, path", [
    ("put", "/orders/SO-1"), ("post", "/orders/SO-1/cancel"), ("get", "/orders/SO-1"), ("get", "/events"),
    ("get", "/shipments"), ("get", "/receipts"), ("get", "/sale-scans"),
])
def test_every_endpoint_needs_the_orders_scope(client, auth, world, method, path):
    wrong = auth.key_headers("warehouse", "masterdata")
    response = getattr(client, method)(f"{URL}{path}", headers=wrong, json=order() if method == "put" else {})
    assert (response.status_code, response.get_json()["code"]) == (403, "scope_forbidden")
    anonymous = getattr(client, method)(f"{URL}{path}", json=order() if method == "put" else {})
    assert anonymous.status_code == 401
