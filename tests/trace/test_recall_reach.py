"""A recall's reach over HTTP: by production lot or raw-material lot, where the items are now, every dealer and
store they passed through, the notices those dealers and stores read, and the ERP's recall.created event.

The world is tests/recall_factories.py's recall_world.
"""
from __future__ import annotations

import json

import sqlalchemy as sa

from app.db import transaction
from app.extensions import db
from app.notices.models import Notice
from app.trace import reach, recalls
from app.units.models import Recall
from app.webhooks.models import OutboundEvent, WebhookDelivery
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR
from tests.recall_factories import BEIJING, DONGCHENG, EXPECTED_PLACES, TRACE, parties_of


def test_a_lot_recall_answers_where_every_item_is_and_every_dealer_and_store_it_passed(client, auth, recall_world):
    headers = auth.headers_for("ops")
    response = client.post(f"{TRACE}/lots/{recall_world['brand'].lot.id}/recall", json={"reason": "seal fault"},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["lot_id"], body["raw_material_lot_id"], body["units"], body["items"]) == \
        (recall_world["brand"].lot.id, None, 10, 10)
    assert body["by_place"] == EXPECTED_PLACES
    assert body["scanned_by_consumers"] == 2
    assert (body["dealers"], body["stores"]) == (2, 1)
    assert parties_of(body) == [("dealer", "Dealer A", 4, 2, 0, 0), ("dealer", "Dealer B", 1, 0, 1, 0),
                                ("store", "Store S", 2, 1, 0, 1)]
    store_s = body["parties"][2]
    assert store_s["regions"] == [{"code": DONGCHENG, "name": "东城区"}]
    assert body["parties"][0]["regions"] == [{"code": BEIJING, "name": "北京市"}] and body["parties"][0]["tier"] == 1
    assert body["lots"] == [{"lot_id": recall_world["brand"].lot.id, "lot_no": recall_world["brand"].lot.lot_no,
                             "product_id": recall_world["brand"].product.id, "units": 10}]

    again = client.get(f"/api/admin/recalls/{body['id']}", headers=auth.headers_for("auditor")).get_json()
    assert again == body


def test_the_recalled_units_page_with_their_current_place(client, auth, recall_world):
    headers = auth.as_admin()
    recall = client.post(f"{TRACE}/lots/{recall_world['brand'].lot.id}/recall", json={"reason": "x"}, headers=headers)
    recall_id = recall.get_json()["id"]
    page = client.get(f"/api/admin/recalls/{recall_id}/units?page_size=4", headers=headers)
    assert json.loads(page.headers["X-Pagination"])["total"] == 10
    assert [u["code"] for u in page.get_json()] == sorted(recall_world["items"], key=uf.serial)[:4]
    at_dealers = client.get(f"/api/admin/recalls/{recall_id}/units?location_kind=dealer", headers=headers).get_json()
    assert sorted((u["location"]["name"], u["in_transit"]) for u in at_dealers) == \
        [("Dealer A", False), ("Dealer A", False), ("Dealer B", True)]
    sold = client.get(f"/api/admin/recalls/{recall_id}/units?location_kind=consumer", headers=headers).get_json()
    assert [(u["code"], u["location"]["id"]) for u in sold] == [(recall_world["items"][0], recall_world["s"].id)]
    unknown = client.get("/api/admin/recalls/987654/units", headers=headers)
    assert (unknown.status_code, unknown.get_json()["code"]) == (404, "recall_not_found")


def test_a_raw_material_recall_recalls_every_lot_that_consumed_it_in_one_recall(client, auth, recall_world):
    brand = recall_world["brand"]
    uf.commission(brand.other_lot, 3)  # on the line
    headers = auth.headers_for("admin")
    response = client.post(f"{TRACE}/raw-material-lots/{recall_world['raw'].id}/recall", json={"reason": "aflatoxin"},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["lot_id"], body["raw_material_lot_id"], body["units"], body["items"]) == \
        (None, recall_world["raw"].id, 13, 13)
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


def test_a_retried_raw_material_recall_answers_the_same_and_recalls_once(client, auth, recall_world):
    headers = {**auth.headers_for("ops"), "Idempotency-Key": "recall-raw-0001"}
    url = f"{TRACE}/raw-material-lots/{recall_world['raw'].id}/recall"
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


def test_bad_raw_material_recalls_are_refused_and_write_nothing(client, auth, recall_world):
    headers = auth.as_admin()
    cases = ((f"{TRACE}/raw-material-lots/987654/recall", {"reason": "x"}, 404, "raw_material_lot_not_found"),
             (f"{TRACE}/raw-material-lots/{recall_world['unused'].id}/recall", {"reason": "x"}, 409,
              "raw_material_lot_not_consumed"),
             (f"{TRACE}/raw-material-lots/{recall_world['raw'].id}/recall", {}, 422, "validation_failed"),
             (f"{TRACE}/raw-material-lots/{recall_world['raw'].id}/recall", {"reason": ""}, 422, "validation_failed"))
    for url, body, status, code in cases:
        response = client.post(url, json=body, headers=headers)
        assert (response.status_code, response.get_json()["code"]) == (status, code), (url, body)
    auditor = client.post(f"{TRACE}/raw-material-lots/{recall_world['raw'].id}/recall", json={"reason": "x"},
                          headers=auth.headers_for("auditor"))
    assert auditor.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Recall)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notice)) == 0


def test_each_dealer_and_store_reached_reads_its_notice_and_no_one_else(client, auth, recall_world):
    recall = client.post(f"{TRACE}/lots/{recall_world['brand'].lot.id}/recall", json={"reason": "seal fault"},
                         headers=auth.as_admin()).get_json()
    dealer_a = client.get("/api/dealer/notices", headers=recall_world["dealer_a"]).get_json()
    assert [(n["kind"], n["recall_id"], n["read_at"]) for n in dealer_a] == [("recall", recall["id"], None)]
    assert (dealer_a[0]["data"]["held_now"], dealer_a[0]["data"]["passed_through"]) == (2, 4)
    assert recall_world["brand"].lot.lot_no in dealer_a[0]["title"] and "seal fault" in dealer_a[0]["body"]
    store_s = client.get("/api/clerk/notices", headers=recall_world["clerk_s"]).get_json()
    assert [(n["recall_id"], n["data"]["held_now"], n["data"]["sold"]) for n in store_s] == [(recall["id"], 1, 1)]
    assert client.get("/api/dealer/notices", headers=recall_world["dealer_c"]).get_json() == []
    assert client.get("/api/clerk/notices", headers=recall_world["clerk_t"]).get_json() == []

    notice_id = dealer_a[0]["id"]
    assert client.get("/api/dealer/notices/unread-count", headers=recall_world["dealer_a"]).get_json() == {"unread": 1}
    read = client.post(f"/api/dealer/notices/{notice_id}/read", headers=recall_world["dealer_a"])
    assert read.status_code == 200 and read.get_json()["notice_id"] == notice_id
    assert client.post(f"/api/dealer/notices/{notice_id}/read", headers=recall_world["dealer_a"]).get_json() == \
        read.get_json()  # reading again changes nothing
    assert client.get("/api/dealer/notices/unread-count", headers=recall_world["dealer_a"]).get_json() == {"unread": 0}
    assert client.get("/api/dealer/notices?unread=true", headers=recall_world["dealer_a"]).get_json() == []
    for headers, url in ((recall_world["dealer_c"], f"/api/dealer/notices/{notice_id}/read"),
                         (recall_world["clerk_s"], f"/api/clerk/notices/{notice_id}/read")):  # another's notice
        refused = client.post(url, headers=headers)
        assert (refused.status_code, refused.get_json()["code"]) == (404, "notice_not_found")
    # The store's own notice is unread for its clerk: reads are each member's own.
    assert client.get("/api/clerk/notices/unread-count", headers=recall_world["clerk_s"]).get_json() == {"unread": 1}


def test_the_recall_created_event_reaches_the_webhook_and_the_pull_feed(client, auth, recall_world):
    admin = auth.as_admin()
    endpoint = client.post("/api/admin/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook"}, headers=admin)
    assert endpoint.status_code == 201, endpoint.get_json()
    recall = client.post(f"{TRACE}/raw-material-lots/{recall_world['raw'].id}/recall", json={"reason": "aflatoxin"},
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
    assert payload["origin"] == {"kind": "raw_material_lot", "id": recall_world["raw"].id, "lot_no": recall_world["raw"].lot_no,
                                 "external_id": recall_world["raw"].external_id}
    assert [(p["kind"], p["name"], p["held_now"]) for p in payload["parties"]] == \
        [("dealer", "Dealer A", 2), ("dealer", "Dealer B", 0), ("store", "Store S", 1)]
    assert [p["external_id"] for p in payload["parties"]] == ["ERP-DA", "ERP-DB", None]  # the store: none synced
    assert {lot["product"]["sku"] for lot in payload["lots"]} == {recall_world["brand"].product.sku}
    units = client.get(f"{payload['units_url']}?page_size=100", headers=erp)
    assert units.status_code == 200, units.get_json()
    assert sorted(u["code"] for u in units.get_json()) == sorted(recall_world["items"])
    by_code = {u["code"]: u for u in units.get_json()}
    held_by_a = by_code[recall_world["items"][2]]
    assert held_by_a["product"]["sku"] == recall_world["brand"].product.sku
    assert (held_by_a["location"]["kind"], held_by_a["location"]["name"], held_by_a["location"]["external_id"]) == \
        ("dealer", "Dealer A", "ERP-DA")


def test_the_reach_costs_the_same_queries_for_a_large_lot_as_for_a_small_one(app, recall_world):
    """Set-based: the reach's queries do not grow with the recalled units (same parties, 60 times the items)."""
    brand, a, b, s = recall_world["brand"], recall_world["a"].id, recall_world["b"].id, recall_world["s"].id
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
