"""A recall's reach over HTTP: by production lot or raw-material lot, where the items are now, every dealer and
store they passed through, the notices those dealers and stores read, and the ERP's recall.created event.

The world (one production lot of 10 items; the numbers the tests expect are counted here):
- items 0-3 shipped by the brand warehouse to dealer A and received; A shipped 0-1 on to store S, which
  received them and sold item 0; consumers scanned items 0 and 1;
- item 4 shipped to dealer B, not yet received (in transit);
- items 5-7 in the warehouse; items 8-9 still on the line.
So: line 2, warehouse 3, dealer 2 (A: 4 - 2), store 1 (S: 2 - 1), in transit 1, sold 1; scanned 2.
A passed 4 (holds 2), B passed 1 (1 on its way), S passed 2 (holds 1, sold 1). Dealer C and store T
(also A's) handled none of it.
"""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app.db import transaction
from app.extensions import db
from app.notices.models import Notice
from app.production import service as production
from app.trace import reach, recalls
from app.units.models import Recall
from app.webhooks.models import OutboundEvent, WebhookDelivery
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, make_dealer
from tests.mp_factories import make_invitation, mp  # noqa: F401 - the fixture
from tests.production_factories import make_raw_lot

TRACE = "/api/admin/trace"
DONGCHENG, BEIJING = "110101000000", "110000000000"


@pytest.fixture
def world(client, mp):  # noqa: F811
    brand = cf.make_brand()
    a, b, c = (make_dealer(name=f"Dealer {x}", external_id=f"ERP-D{x}", territory=[BEIJING]) for x in "ABC")
    s, t = cf.make_store_of(a.id, name="Store S"), cf.make_store_of(a.id, name="Store T")
    raw, unused = make_raw_lot(), make_raw_lot()
    with transaction():
        production.add_consumption(actor=ACTOR, lot_id=brand.lot.id, raw_lot_id=raw.id, quantity="5")
        production.add_consumption(actor=ACTOR, lot_id=brand.other_lot.id, raw_lot_id=raw.id, quantity="2")
    items = uf.commission(brand.lot, 10)
    uf.receive(items[:8], warehouse_id=brand.warehouse_id)
    to_a = cf.ship_to(items[:4], shipper=("warehouse", brand.warehouse_id), receiver=("dealer", a.id))
    cf.receive(to_a.id, receiver=("dealer", a.id))
    to_s = cf.ship_to(items[:2], shipper=("dealer", a.id), receiver=("store", s.id))
    cf.receive(to_s.id, receiver=("store", s.id))
    cf.ship_to(items[4:5], shipper=("warehouse", brand.warehouse_id), receiver=("dealer", b.id))
    clerk_s = mp.bound("clerk", make_invitation(kind="store_owner", store_id=s.id).code)
    sold = client.post("/api/clerk/sales", json={"code": items[0]}, headers=clerk_s)
    assert sold.status_code == 201, sold.get_json()
    consumer, _ = mp.sign_in("consumer")
    for code in items[:2]:
        assert client.post("/api/consumer/scans", json={"code": code}, headers=consumer).status_code == 201
    return dict(brand=brand, a=a, b=b, c=c, s=s, t=t, raw=raw, unused=unused, items=items, clerk_s=clerk_s,
                dealer_a=cf.dealer_owner(mp, a)[1], dealer_c=cf.dealer_owner(mp, c)[1],
                clerk_t=mp.bound("clerk", make_invitation(kind="store_owner", store_id=t.id).code))


EXPECTED_PLACES = {"line": 2, "warehouse": 3, "dealer": 2, "store": 1, "in_transit": 1, "sold": 1,
                   "scrapped": 0, "voided": 0}


def parties_of(body) -> list[tuple]:
    return [(p["kind"], p["name"], p["passed_through"], p["held_now"], p["in_transit_to"], p["sold"])
            for p in body["parties"]]


def test_a_lot_recall_answers_where_every_item_is_and_every_dealer_and_store_it_passed(client, auth, world):
    headers = auth.headers_for("ops")
    response = client.post(f"{TRACE}/lots/{world['brand'].lot.id}/recall", json={"reason": "seal fault"},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["lot_id"], body["raw_material_lot_id"], body["units"], body["items"]) == \
        (world["brand"].lot.id, None, 10, 10)
    assert body["by_place"] == EXPECTED_PLACES
    assert body["scanned_by_consumers"] == 2
    assert (body["dealers"], body["stores"]) == (2, 1)
    assert parties_of(body) == [("dealer", "Dealer A", 4, 2, 0, 0), ("dealer", "Dealer B", 1, 0, 1, 0),
                                ("store", "Store S", 2, 1, 0, 1)]
    store_s = body["parties"][2]
    assert store_s["regions"] == [{"code": DONGCHENG, "name": "东城区"}]
    assert body["parties"][0]["regions"] == [{"code": BEIJING, "name": "北京市"}] and body["parties"][0]["tier"] == 1
    assert body["lots"] == [{"lot_id": world["brand"].lot.id, "lot_no": world["brand"].lot.lot_no,
                             "product_id": world["brand"].product.id, "units": 10}]

    again = client.get(f"/api/admin/recalls/{body['id']}", headers=auth.headers_for("auditor")).get_json()
    assert again == body


def test_the_recalled_units_page_with_their_current_place(client, auth, world):
    headers = auth.as_admin()
    recall = client.post(f"{TRACE}/lots/{world['brand'].lot.id}/recall", json={"reason": "x"}, headers=headers)
    recall_id = recall.get_json()["id"]
    page = client.get(f"/api/admin/recalls/{recall_id}/units?page_size=4", headers=headers)
    assert json.loads(page.headers["X-Pagination"])["total"] == 10
    assert [u["code"] for u in page.get_json()] == sorted(world["items"], key=uf.serial)[:4]
    at_dealers = client.get(f"/api/admin/recalls/{recall_id}/units?location_kind=dealer", headers=headers).get_json()
    assert sorted((u["location"]["name"], u["in_transit"]) for u in at_dealers) == \
        [("Dealer A", False), ("Dealer A", False), ("Dealer B", True)]
    sold = client.get(f"/api/admin/recalls/{recall_id}/units?location_kind=consumer", headers=headers).get_json()
    assert [(u["code"], u["location"]["id"]) for u in sold] == [(world["items"][0], world["s"].id)]
    unknown = client.get("/api/admin/recalls/987654/units", headers=headers)
    assert (unknown.status_code, unknown.get_json()["code"]) == (404, "recall_not_found")


def test_a_raw_material_recall_recalls_every_lot_that_consumed_it_in_one_recall(client, auth, world):
    brand = world["brand"]
    uf.commission(brand.other_lot, 3)  # on the line
    headers = auth.headers_for("admin")
    response = client.post(f"{TRACE}/raw-material-lots/{world['raw'].id}/recall", json={"reason": "aflatoxin"},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["lot_id"], body["raw_material_lot_id"], body["units"], body["items"]) == \
        (None, world["raw"].id, 13, 13)
    assert [(lot["lot_id"], lot["units"]) for lot in body["lots"]] == [(brand.lot.id, 10), (brand.other_lot.id, 3)]
    assert body["by_place"] == {**EXPECTED_PLACES, "line": 5}
    assert parties_of(body)[0] == ("dealer", "Dealer A", 4, 2, 0, 0)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Recall)) == 1
    # Both lots are covered: each lists the recall, and recalling one of them now finds nothing new.
    for lot in (brand.lot, brand.other_lot):
        assert [r["id"] for r in client.get(f"/api/admin/recalls?lot_id={lot.id}", headers=headers).get_json()] == \
            [body["id"]]
    again = client.post(f"{TRACE}/lots/{brand.lot.id}/recall", json={"reason": "x"}, headers=headers)
    assert (again.status_code, again.get_json()["code"]) == (409, "lot_already_recalled")


def test_a_retried_raw_material_recall_answers_the_same_and_recalls_once(client, auth, world):
    headers = {**auth.headers_for("ops"), "Idempotency-Key": "recall-raw-0001"}
    url = f"{TRACE}/raw-material-lots/{world['raw'].id}/recall"
    first = client.post(url, json={"reason": "aflatoxin"}, headers=headers)
    retry = client.post(url, json={"reason": "aflatoxin"}, headers=headers)
    assert (first.status_code, retry.status_code, retry.headers.get("Idempotent-Replayed")) == (201, 201, "true")
    assert retry.get_json() == first.get_json()
    counts = [db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in (Recall, Notice)]
    assert counts == [1, 3]  # one recall, a notice each to A, B and S
    events = db.session.scalars(sa.select(OutboundEvent).where(OutboundEvent.type == "recall.created")).all()
    assert len(events) == 1
    # Without the key, a second recall finds nothing left to mark.
    del headers["Idempotency-Key"]
    plain = client.post(url, json={"reason": "aflatoxin"}, headers=headers)
    assert (plain.status_code, plain.get_json()["code"]) == (409, "raw_material_lot_already_recalled")


def test_bad_raw_material_recalls_are_refused_and_write_nothing(client, auth, world):
    headers = auth.as_admin()
    cases = ((f"{TRACE}/raw-material-lots/987654/recall", {"reason": "x"}, 404, "raw_material_lot_not_found"),
             (f"{TRACE}/raw-material-lots/{world['unused'].id}/recall", {"reason": "x"}, 409,
              "raw_material_lot_not_consumed"),
             (f"{TRACE}/raw-material-lots/{world['raw'].id}/recall", {}, 422, "validation_failed"),
             (f"{TRACE}/raw-material-lots/{world['raw'].id}/recall", {"reason": ""}, 422, "validation_failed"))
    for url, body, status, code in cases:
        response = client.post(url, json=body, headers=headers)
        assert (response.status_code, response.get_json()["code"]) == (status, code), (url, body)
    auditor = client.post(f"{TRACE}/raw-material-lots/{world['raw'].id}/recall", json={"reason": "x"},
                          headers=auth.headers_for("auditor"))
    assert auditor.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Recall)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notice)) == 0


def test_each_dealer_and_store_reached_reads_its_notice_and_no_one_else(client, auth, world):
    recall = client.post(f"{TRACE}/lots/{world['brand'].lot.id}/recall", json={"reason": "seal fault"},
                         headers=auth.as_admin()).get_json()
    dealer_a = client.get("/api/dealer/notices", headers=world["dealer_a"]).get_json()
    assert [(n["kind"], n["recall_id"], n["read_at"]) for n in dealer_a] == [("recall", recall["id"], None)]
    assert (dealer_a[0]["data"]["held_now"], dealer_a[0]["data"]["passed_through"]) == (2, 4)
    assert world["brand"].lot.lot_no in dealer_a[0]["title"] and "seal fault" in dealer_a[0]["body"]
    store_s = client.get("/api/clerk/notices", headers=world["clerk_s"]).get_json()
    assert [(n["recall_id"], n["data"]["held_now"], n["data"]["sold"]) for n in store_s] == [(recall["id"], 1, 1)]
    assert client.get("/api/dealer/notices", headers=world["dealer_c"]).get_json() == []
    assert client.get("/api/clerk/notices", headers=world["clerk_t"]).get_json() == []

    notice_id = dealer_a[0]["id"]
    assert client.get("/api/dealer/notices/unread-count", headers=world["dealer_a"]).get_json() == {"unread": 1}
    read = client.post(f"/api/dealer/notices/{notice_id}/read", headers=world["dealer_a"])
    assert read.status_code == 200 and read.get_json()["notice_id"] == notice_id
    assert client.post(f"/api/dealer/notices/{notice_id}/read", headers=world["dealer_a"]).get_json() == \
        read.get_json()  # reading again changes nothing
    assert client.get("/api/dealer/notices/unread-count", headers=world["dealer_a"]).get_json() == {"unread": 0}
    assert client.get("/api/dealer/notices?unread=true", headers=world["dealer_a"]).get_json() == []
    for headers, url in ((world["dealer_c"], f"/api/dealer/notices/{notice_id}/read"),
                         (world["clerk_s"], f"/api/clerk/notices/{notice_id}/read")):  # another's notice
        refused = client.post(url, headers=headers)
        assert (refused.status_code, refused.get_json()["code"]) == (404, "notice_not_found")
    # The store's own notice is unread for its clerk: reads are each member's own.
    assert client.get("/api/clerk/notices/unread-count", headers=world["clerk_s"]).get_json() == {"unread": 1}


def test_the_recall_created_event_reaches_the_webhook_and_the_pull_feed(client, auth, world):
    admin = auth.as_admin()
    endpoint = client.post("/api/admin/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook"}, headers=admin)
    assert endpoint.status_code == 201, endpoint.get_json()
    recall = client.post(f"{TRACE}/raw-material-lots/{world['raw'].id}/recall", json={"reason": "aflatoxin"},
                         headers=admin).get_json()
    event = db.session.scalar(sa.select(OutboundEvent).where(OutboundEvent.type == "recall.created"))
    assert db.session.scalar(sa.select(WebhookDelivery.endpoint_id).where(WebhookDelivery.event_id == event.id)) == \
        endpoint.get_json()["id"]
    erp = auth.key_headers("orders")
    pulled = client.get("/api/integration/events?type=recall.created", headers=erp).get_json()["items"]
    assert len(pulled) == 1
    payload = pulled[0]["payload"]
    assert (payload["recall_id"], payload["units"], payload["items"], payload["by_place"]) == \
        (recall["id"], 10, 10, EXPECTED_PLACES)
    assert payload["origin"] == {"kind": "raw_material_lot", "id": world["raw"].id, "lot_no": world["raw"].lot_no,
                                 "external_id": world["raw"].external_id}
    assert [(p["kind"], p["name"], p["held_now"]) for p in payload["parties"]] == \
        [("dealer", "Dealer A", 2), ("dealer", "Dealer B", 0), ("store", "Store S", 1)]
    assert [p["external_id"] for p in payload["parties"]] == ["ERP-DA", "ERP-DB", None]  # the store: none synced
    assert {lot["product"]["sku"] for lot in payload["lots"]} == {world["brand"].product.sku}
    units = client.get(f"{payload['units_url']}?page_size=100", headers=erp)
    assert units.status_code == 200, units.get_json()
    assert sorted(u["code"] for u in units.get_json()) == sorted(world["items"])
    by_code = {u["code"]: u for u in units.get_json()}
    held_by_a = by_code[world["items"][2]]
    assert held_by_a["product"]["sku"] == world["brand"].product.sku
    assert (held_by_a["location"]["kind"], held_by_a["location"]["name"], held_by_a["location"]["external_id"]) == \
        ("dealer", "Dealer A", "ERP-DA")


def test_the_reach_costs_the_same_queries_for_a_large_lot_as_for_a_small_one(app, world):
    """Set-based: the reach's queries do not grow with the recalled units (same parties, 60 times the items)."""
    brand, a, b, s = world["brand"], world["a"].id, world["b"].id, world["s"].id
    cases = cf.cases(brand.other_lot, 25, warehouse_id=brand.warehouse_id)  # 600 items
    to_a = cf.ship_to(cases[:10], shipper=("warehouse", brand.warehouse_id), receiver=("dealer", a))
    cf.receive(to_a.id, receiver=("dealer", a))
    to_s = cf.ship_to(cases[:4], shipper=("dealer", a), receiver=("store", s))
    cf.receive(to_s.id, receiver=("store", s))
    cf.ship_to(cases[10:11], shipper=("warehouse", brand.warehouse_id), receiver=("dealer", b))

    with transaction():
        small = recalls.recall_lot(actor=ACTOR, lot_id=brand.lot.id, reason="x")
        large = recalls.recall_lot(actor=ACTOR, lot_id=brand.other_lot.id, reason="x")
    counts, reaches = [], []
    for recall in (small, large):
        statements = []

        def listener(conn, cursor, statement, *args):
            statements.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            reaches.append(reach.reach(db.session.get(Recall, recall.id)))
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        counts.append(len(statements))
    large_reach = reaches[1]
    assert large_reach.by_place == {**dict.fromkeys(reach.PLACES, 0), "warehouse": 336, "dealer": 144,
                                    "store": 96, "in_transit": 24}
    assert [(p.kind, p.id, p.passed_through, p.held_now, p.in_transit_to) for p in large_reach.parties] == \
        [("dealer", a, 240, 144, 0), ("dealer", b, 24, 0, 24), ("store", s, 96, 96, 0)]
    assert counts[0] == counts[1]
