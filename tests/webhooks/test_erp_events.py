"""The ERP's events over HTTP: each fact done through the API as its party does it, then read back from the
pull feed and from a webhook posted to a receiver on loopback, with the parties and products named by the
ERP's own external ids.

The world is pushed by the ERP itself (master data by external id): a product, the brand warehouse, a
Beijing dealer, a store of its in Beijing and one in Shanghai (outside the dealer's territory).
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.masterdata.models import Dealer, Product, Store, Warehouse
from app.db import utcnow
from app.platform.clock import china_day
from app.webhooks import service as webhooks
from app.webhooks.cli import webhooks as webhooks_cli
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import make_factory
from tests.mp_factories import make_invitation
from tests.production_factories import make_line, make_production_lot

URL = "/api/integration"
BEIJING, DONGCHENG, HUANGPU = "110000000000", "110101000000", "310101000000"


def push(client, erp, kind: str, items: list[dict]) -> None:
    answer = client.put(f"{URL}/masterdata/{kind}", headers=erp, json={"items": items})
    assert answer.status_code == 200, answer.get_json()


@pytest.fixture
def world(client, auth):
    erp = auth.key_headers("masterdata", "orders")
    push(client, erp, "products", [{"external_id": "P-TEA", "sku": "TEA-500", "name": "明前龙井 500ml",
                                    "units_per_case": 24, "cases_per_pallet": 50}])
    push(client, erp, "warehouses", [{"external_id": "WH-1", "name": "杭州成品仓"}])
    push(client, erp, "dealers", [{"external_id": "D-BJ", "name": "北京经销商", "territory": [BEIJING]}])
    push(client, erp, "stores", [{"external_id": "S-BJ", "name": "东城便利店", "region_code": DONGCHENG,
                                  "dealer_external_ids": ["D-BJ"]},
                                 {"external_id": "S-SH", "name": "黄浦超市", "region_code": HUANGPU,
                                  "dealer_external_ids": ["D-BJ"]}])
    ids = {row.external_id: row.id for model in (Product, Warehouse, Dealer, Store)
           for row in db.session.execute(sa.select(model.id, model.external_id))}
    factory = make_factory()
    line = make_line(factory.id)
    lot = make_production_lot(product_id=ids["P-TEA"], factory_id=factory.id, line_id=line.id)
    return dict(erp=erp, ids=ids, lot=lot, line=line)


def subscribe(client, auth, url: str, *types: str) -> tuple[int, str]:
    created = client.post("/api/admin/webhook-endpoints", json={"url": url, "event_types": list(types)},
                          headers=auth.as_admin())
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"], created.get_json()["secret"]


def pulled(client, erp, type_: str) -> list[dict]:
    answer = client.get(f"{URL}/events", headers=erp, query_string={"type": type_})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


def posted(app, server, secret: str) -> list[dict]:
    """Run the webhook worker once; the events the receiver got, each checked against its signature."""
    result = app.test_cli_runner().invoke(webhooks_cli, ["work", "--once"])
    assert result.exit_code == 0, result.output
    bodies = []
    for request in server.requests:
        headers = request["headers"]
        assert webhooks.verify_signature(secret, headers["X-Matong-Timestamp"], request["body"],
                                         headers["X-Matong-Signature"])
        bodies.append(json.loads(request["body"]))
    return bodies


PARTY = ("kind", "name", "external_id")


def named(party: dict) -> tuple:
    return tuple(party[key] for key in PARTY)


def test_an_order_shipped_and_received_short_closes_with_a_receipt_discrepancy(app, client, auth, mp, world,  # noqa: F811
                                                                              receiver):  # noqa: F811
    ids, erp = world["ids"], world["erp"]
    server = receiver(200)
    _, secret = subscribe(client, auth, server.url, "order.closed", "receipt.discrepancy")
    order = {"version": 1, "seller": {"kind": "warehouse", "external_id": "WH-1"},
             "buyer": {"kind": "dealer", "external_id": "D-BJ"},
             "lines": [{"line_no": 1, "product_external_id": "P-TEA", "quantity": 48}]}
    assert client.put(f"{URL}/orders/SO-77", headers=erp, json=order).status_code == 200
    case_codes = cf.cases(world["lot"], 2, warehouse_id=ids["WH-1"])
    scans = client.post(f"{URL}/warehouse/scans", headers=auth.key_headers("warehouse"), json={"records": [
        {"record_id": f"out-{i}", "scanned_at": "2026-12-01T08:00:00Z", "action": "outbound", "code": code,
         "warehouse_id": ids["WH-1"], "to_dealer_id": ids["D-BJ"], "order_no": "SO-77"}
        for i, code in enumerate(case_codes)]})
    assert scans.status_code == 200 and scans.get_json()["accepted"] == 2, scans.get_json()
    assert pulled(client, erp, "order.closed") == []

    _, dealer = cf.dealer_owner(mp, db.session.get(Dealer, ids["D-BJ"]))
    (shipment,) = client.get("/api/dealer/receipts/pending", headers=dealer).get_json()
    received = client.post(f"/api/dealer/shipments/{shipment['id']}/receipt", headers=dealer,
                           json={"codes": [case_codes[0]], "note": "one case short"})
    assert received.status_code == 201, received.get_json()

    (shipped,) = pulled(client, erp, "shipment.shipped")
    assert named(shipped["payload"]["shipper"]) == ("warehouse", "杭州成品仓", "WH-1")
    assert named(shipped["payload"]["receiver"]) == ("dealer", "北京经销商", "D-BJ")
    assert [(p["product"]["external_id"], p["items"]) for p in shipped["payload"]["products"]] == [("P-TEA", 48)]
    assert [(line["line_no"], line["product"]["external_id"], line["items"])
            for line in shipped["payload"]["lines"]] == [(1, "P-TEA", 48)]
    (confirmed,) = pulled(client, erp, "receipt.confirmed")
    assert named(confirmed["payload"]["receiver"]) == ("dealer", "北京经销商", "D-BJ")

    (short,) = pulled(client, erp, "receipt.discrepancy")
    payload = short["payload"]
    assert (payload["order_no"], payload["expected"], payload["received"], payload["missing"]) == ("SO-77", 48, 24, 24)
    assert named(payload["shipper"]) == ("warehouse", "杭州成品仓", "WH-1") and payload["note"] == "one case short"
    assert payload["listed_all"] is True and len(payload["discrepancies"]) == 24
    assert {(d["kind"], d["product"]["external_id"]) for d in payload["discrepancies"]} == {("missing", "P-TEA")}

    (closed,) = pulled(client, erp, "order.closed")
    payload = closed["payload"]
    assert (payload["order_no"], payload["version"]) == ("SO-77", 1)
    assert named(payload["seller"]) == ("warehouse", "杭州成品仓", "WH-1")
    assert named(payload["buyer"]) == ("dealer", "北京经销商", "D-BJ")
    assert [(line["product"]["external_id"], line["product"]["sku"], line["quantity"], line["shipped"],
             line["received"]) for line in payload["lines"]] == [("P-TEA", "TEA-500", 48, 48, 24)]
    assert payload["totals"] == {"quantity": 48, "shipped": 48, "received": 24} and payload["closed_at"]
    assert short["id"] < closed["id"]  # the receipt's events come before the order's close

    bodies = posted(app, server, secret)
    assert [(b["type"], b["event_id"]) for b in bodies] == [("receipt.discrepancy", short["event_id"]),
                                                          ("order.closed", closed["event_id"])]
    assert bodies[1]["payload"] == closed["payload"]


def _dealer_holds(world, cases_: int) -> list[str]:
    ids = world["ids"]
    codes = cf.cases(world["lot"], cases_, warehouse_id=ids["WH-1"])
    shipment = cf.ship_to(codes, shipper=("warehouse", ids["WH-1"]), receiver=("dealer", ids["D-BJ"]))
    cf.receive(shipment.id, receiver=("dealer", ids["D-BJ"]))
    return codes


def test_a_store_outside_the_territory_raises_one_event_for_the_case_and_its_resolution_another(
        app, client, auth, mp, world, receiver):  # noqa: F811
    ids, erp = world["ids"], world["erp"]
    server = receiver(200)
    _, secret = subscribe(client, auth, server.url, "diversion_alert.raised", "diversion_alert.resolved")
    (case,) = _dealer_holds(world, 1)
    shipment = cf.ship_to([case], shipper=("dealer", ids["D-BJ"]), receiver=("store", ids["S-SH"]))
    clerk = mp.bound("clerk", make_invitation(kind="store_owner", store_id=ids["S-SH"]).code)
    received = client.post(f"/api/clerk/receipts/{shipment.id}", headers=clerk, json={})
    assert received.status_code == 201, received.get_json()

    (raised,) = pulled(client, erp, "diversion_alert.raised")  # 24 items, one event
    payload = raised["payload"]
    assert named(payload["dealer"]) == ("dealer", "北京经销商", "D-BJ")
    assert named(payload["seen"]["place"]) == ("store", "黄浦超市", "S-SH")
    assert (payload["seen"]["kind"], payload["seen"]["region_code"], payload["count"]) == ("receipt", HUANGPU, 24)
    assert {a["product"]["external_id"] for a in payload["alerts"]} == {"P-TEA"}
    alert_id = payload["alerts"][0]["alert_id"]

    resolve = client.post(f"/api/admin/diversion-alerts/{alert_id}/resolve", headers=auth.headers_for("ops"),
                          json={"status": "resolved", "resolution": "Dealer fined: sold across the border"})
    assert resolve.status_code == 200, resolve.get_json()
    (resolved,) = pulled(client, erp, "diversion_alert.resolved")
    payload = resolved["payload"]
    assert (payload["alert_id"], payload["status"], payload["code"]) == \
        (alert_id, "resolved", raised["payload"]["alerts"][0]["code"])
    assert named(payload["dealer"]) == ("dealer", "北京经销商", "D-BJ")
    assert payload["product"]["external_id"] == "P-TEA" and payload["resolution"].startswith("Dealer fined")

    bodies = posted(app, server, secret)
    assert [b["event_id"] for b in bodies] == [raised["event_id"], resolved["event_id"]]


def test_an_approved_rebate_statement_names_its_dealer_and_products(app, client, auth, world, receiver):  # noqa: F811
    ids, erp = world["ids"], world["erp"]
    server = receiver(200)
    _, secret = subscribe(client, auth, server.url, "rebate_statement.approved")
    (case,) = _dealer_holds(world, 1)
    shipment = cf.ship_to([case], shipper=("dealer", ids["D-BJ"]), receiver=("store", ids["S-BJ"]))
    cf.receive(shipment.id, receiver=("store", ids["S-BJ"]))
    today = china_day(utcnow())
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    finance = auth.headers_for("finance")
    rule = client.post("/api/admin/rebate-rules", headers=finance, json={
        "name": "Per case to a store", "basis": "case_to_store", "amount_fen": 500, "product_id": ids["P-TEA"],
        "starts_on": first.isoformat(), "ends_on": last.isoformat()})
    assert rule.status_code == 201, rule.get_json()
    statement = client.post("/api/admin/rebate-statements", headers=finance, json={
        "dealer_id": ids["D-BJ"], "period_start": first.isoformat(), "period_end": last.isoformat()}).get_json()
    assert statement["total_fen"] == 500, statement
    assert pulled(client, erp, "rebate_statement.approved") == []  # a draft is not news for the ERP
    approved = client.post(f"/api/admin/rebate-statements/{statement['id']}/approve", headers=finance)
    assert approved.status_code == 200, approved.get_json()

    (event,) = pulled(client, erp, "rebate_statement.approved")
    payload = event["payload"]
    assert (payload["statement_id"], payload["total_fen"], payload["period_start"], payload["period_end"]) == \
        (statement["id"], 500, first.isoformat(), last.isoformat())
    assert named(payload["dealer"]) == ("dealer", "北京经销商", "D-BJ")
    assert [(line["product"]["external_id"], line["basis"], line["quantity"], line["amount_fen"])
            for line in payload["lines"]] == [("P-TEA", "case_to_store", 1, 500)]
    assert payload["approved_by"] and payload["approved_at"]
    assert [b["event_id"] for b in posted(app, server, secret)] == [event["event_id"]]


def test_a_case_scrapped_on_the_line_is_one_event_with_what_it_held(app, client, auth, world, receiver):  # noqa: F811
    ids, erp = world["ids"], world["erp"]
    server = receiver(200)
    _, secret = subscribe(client, auth, server.url, "unit.scrapped")
    line = auth.key_headers("production")
    session = client.post(f"{URL}/line/sessions", headers=line,
                          json={"line_id": world["line"].id, "lot_id": world["lot"].id, "operator": "Li"})
    assert session.status_code == 201, session.get_json()
    url = f"{URL}/line/sessions/{session.get_json()['id']}/records"
    items = uf.issue(3, product_id=ids["P-TEA"])
    case = uf.issue(1, level="case", product_id=ids["P-TEA"])[0]
    at = "2026-12-01T08:00:0{}Z".format
    packed = client.post(url, headers=line, json={"records": [
        {"type": "commission", "record_id": "c1", "scanned_at": at(1), "codes": items.codes},
        *({"type": "pack", "record_id": f"p{i}", "scanned_at": at(2), "code": items[i], "parent": case}
          for i in range(3))]})
    assert packed.status_code == 200 and packed.get_json()["rejected"] == 0, packed.get_json()
    assert pulled(client, erp, "unit.scrapped") == []

    scrapped = client.post(url, headers=line, json={"records": [
        {"type": "scrap", "record_id": "s1", "scanned_at": at(5), "code": case}]})
    assert scrapped.status_code == 200 and scrapped.get_json()["accepted"] == 1, scrapped.get_json()
    again = client.post(url, headers=line, json={"records": [
        {"type": "scrap", "record_id": "s1", "scanned_at": at(5), "code": case}]})
    assert again.get_json()["duplicate"] == 1  # a retried upload scraps nothing twice, nor tells it twice

    (event,) = pulled(client, erp, "unit.scrapped")
    payload = event["payload"]
    assert (payload["code"], payload["level"], payload["units"], payload["items"], payload["record_id"]) == \
        (case, "case", 4, 3, "s1")
    assert (payload["product"]["external_id"], payload["lot"]["lot_no"], payload["lot"]["external_id"]) == \
        ("P-TEA", world["lot"].lot_no, world["lot"].external_id)
    assert payload["place"]["kind"] == "line" and payload["place"]["id"] == world["line"].id
    assert payload["scrapped_at"].startswith("2026-12-01T08:00:05")
    assert [b["event_id"] for b in posted(app, server, secret)] == [event["event_id"]]


def test_every_new_type_may_be_pulled_and_subscribed_to(client, auth, world):
    for type_ in ("order.closed", "receipt.discrepancy", "unit.scrapped", "diversion_alert.raised",
                  "diversion_alert.resolved", "rebate_statement.approved", "recall.created"):
        assert client.get(f"{URL}/events", headers=world["erp"], query_string={"type": type_}).status_code == 200
    unknown = client.get(f"{URL}/events", headers=world["erp"], query_string={"type": "order.lost"})
    assert unknown.status_code == 422
