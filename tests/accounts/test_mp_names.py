"""Mini-program answers name every party and product they refer to: a party is {kind, id, name} in every
app, a product id comes with its sku and product_name, and a list reads its names in one query per kind
(issue 16 §1)."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date

import sqlalchemy as sa

from app.db import transaction
from app.extensions import db
from app.rebates import service as rebates
from tests import channel_factories as cf
from tests.masterdata_factories import ACTOR, make_dealer
from tests.mp_factories import make_invitation
from tests.retail_factories import items_of, rule


def party(kind, obj):
    return {"kind": kind, "id": obj.id, "name": obj.name}


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


@contextmanager
def statements():
    """The SQL statements run inside the block."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)


def test_the_dealer_app_names_parties_and_products(client, mp):
    brand = cf.make_brand()
    dealer, headers = cf.dealer_owner(mp)
    store = cf.make_store_of(dealer.id, name="Lakeside Mart")
    warehouse = {"kind": "warehouse", "id": brand.warehouse_id, "name": "Brand DC"}
    product = {"product_id": brand.product.id, "sku": brand.product.sku, "product_name": brand.product.name}

    erp = cf.make_order(seller=("warehouse", brand.warehouse_id), buyer=("dealer", dealer.id),
                        lines=[(brand.product.id, 48)])
    listed = ok(client.get("/api/dealer/orders", headers=headers))
    assert (listed[0]["seller"], listed[0]["buyer"]) == (warehouse, party("dealer", dealer))
    detail = ok(client.get(f"/api/dealer/orders/{erp.id}", headers=headers))
    assert detail["buyer"] == party("dealer", dealer)
    assert {k: detail["lines"][0][k] for k in product} == product

    codes = cf.cases(brand.lot, 2, warehouse_id=brand.warehouse_id)
    cf.warehouse_outbound(codes, warehouse_id=brand.warehouse_id, dealer_id=dealer.id, order_no=erp.order_no)
    inbound = ok(client.get("/api/dealer/receipts/pending", headers=headers))[0]
    assert (inbound["shipper"], inbound["receiver"]) == (warehouse, party("dealer", dealer))
    ok(client.post(f"/api/dealer/shipments/{inbound['id']}/receipt", json={}, headers=headers), 201)
    assert ok(client.get(f"/api/dealer/shipments/{inbound['id']}", headers=headers))["shipper"] == warehouse

    out = ok(client.post("/api/dealer/shipments", json={"receiver_kind": "store", "receiver_id": store.id},
                         headers=headers), 201)
    assert (out["shipper"], out["receiver"]) == (party("dealer", dealer), party("store", store))
    scanned = ok(client.post(f"/api/dealer/shipments/{out['id']}/scans", json={"codes": [codes[0]]}, headers=headers))
    assert scanned["shipment"]["receiver"]["name"] == "Lakeside Mart"
    assert ok(client.get("/api/dealer/shipments", headers=headers))[0]["receiver"] == party("store", store)

    performance = ok(client.get("/api/dealer/performance", headers=headers,
                                query_string={"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}))
    assert performance["dealer"] == party("dealer", dealer) and performance["dealer_id"] == dealer.id
    invitation = ok(client.post("/api/dealer/store-invitations", json={"store_id": store.id}, headers=headers), 201)
    assert invitation["store_id"] == store.id and invitation["store"] == party("store", store)
    assert ok(client.get("/api/dealer/me", headers=headers))["membership"]["dealer"] == party("dealer", dealer)


def test_a_dealers_rebate_statement_names_the_product_of_each_line(client, mp):
    brand = cf.make_brand()
    dealer, headers = cf.dealer_owner(mp)
    store = cf.make_store_of(dealer.id)
    case = cf.dealer_stock(brand, dealer.id, cases_=1)
    shipment = cf.ship_to(case, shipper=("dealer", dealer.id), receiver=("store", store.id))
    cf.receive(shipment.id, receiver=("store", store.id))
    today = date.today()
    with transaction():
        rebates.create_rule(actor=ACTOR, data={"name": "Cases", "basis": "case_to_store", "amount_fen": 500,
                                               "starts_on": date(today.year, 1, 1), "ends_on": date(today.year, 12, 31)})
        statement = rebates.compute_statement(actor=ACTOR, dealer_id=dealer.id, period_start=date(today.year, 1, 1),
                                              period_end=date(today.year, 12, 31))
        rebates.approve_statement(actor=ACTOR, statement_id=statement.id)
    lines = ok(client.get(f"/api/dealer/rebate-statements/{statement.id}", headers=headers))["lines"]
    assert [(ln["product_id"], ln["sku"], ln["product_name"]) for ln in lines] == [
        (brand.product.id, brand.product.sku, brand.product.name)]


def test_the_clerk_app_names_parties_and_products(client, mp):
    brand = cf.make_brand()
    dealer = make_dealer()
    store = cf.make_store_of(dealer.id, name="Corner Shop")
    headers = mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code)
    case = cf.dealer_stock(brand, dealer.id, cases_=1)
    shipment = cf.ship_to(case, shipper=("dealer", dealer.id), receiver=("store", store.id))
    rule(amount=5, kind="points")

    pending = ok(client.get("/api/clerk/receipts/pending", headers=headers))[0]
    assert (pending["shipper_kind"], pending["shipper_id"]) == ("dealer", dealer.id)  # kept as they were
    assert pending["shipper"] == party("dealer", dealer)
    contents = ok(client.get(f"/api/clerk/receipts/{shipment.id}", headers=headers))
    assert contents["shipment"]["shipper"] == party("dealer", dealer)
    ok(client.post(f"/api/clerk/receipts/{shipment.id}", json={}, headers=headers), 201)

    sold = ok(client.post("/api/clerk/sales", json={"code": items_of(case[0])[0]}, headers=headers), 201)
    assert sold["sale"]["store"] == party("store", store) and sold["sale"]["product_name"] == brand.product.name
    listed = ok(client.get("/api/clerk/sales", headers=headers))[0]
    assert (listed["store"], listed["product_id"], listed["sku"], listed["product_name"]) == (
        party("store", store), brand.product.id, brand.product.sku, brand.product.name)

    stores = ok(client.get("/api/clerk/rankings/stores", headers=headers))
    assert stores["me"]["store"] == party("store", store) and stores["top"][0]["store"] == party("store", store)
    clerks = ok(client.get("/api/clerk/rankings/clerks", headers=headers))
    assert clerks["me"]["store"] == party("store", store)
    me = ok(client.get("/api/clerk/me", headers=headers))
    assert me["membership"]["store"] == party("store", store)
    invitation = ok(client.post("/api/clerk/invitations", json={}, headers=headers), 201)
    assert invitation["store"] == party("store", store)


def test_a_list_reads_its_names_in_one_query_per_kind_whatever_its_length(client, mp):
    dealer, headers = cf.dealer_owner(mp)
    stores = [cf.make_store_of(dealer.id, name=f"Shop {n}") for n in range(5)]
    counts = []
    for n, store in enumerate(stores):
        ok(client.post("/api/dealer/shipments", json={"receiver_kind": "store", "receiver_id": store.id},
                       headers=headers), 201)
        if n in (0, 4):
            with statements() as seen:
                listed = ok(client.get("/api/dealer/shipments", headers=headers))
            counts.append(len(seen))
    assert [s["receiver"]["name"] for s in listed] == [f"Shop {n}" for n in reversed(range(5))]
    assert counts[0] == counts[1], counts  # one shipment or five: the same statements


def test_the_openapi_document_describes_a_party_with_its_name(client):
    spec = client.get("/openapi.json").get_json()
    components = spec["components"]["schemas"]
    assert set(components["MpParty"]["properties"]) == {"kind", "id", "name"}
    for schema, field in (("DealerShipmentRead", "shipper"), ("DealerOrderRead", "buyer"),
                          ("ClerkShipmentRead", "shipper"), ("ClerkSaleRead", "store")):
        prop = components[schema]["properties"][field]
        assert (prop.get("$ref") or prop["allOf"][0]["$ref"]).endswith("/MpParty"), (schema, field)
    for schema in ("DealerLineProgress", "DealerStatementLine", "ClerkSaleRead", "MyConsumerScan"):
        assert {"sku", "product_name"} <= set(components[schema]["properties"]), schema
