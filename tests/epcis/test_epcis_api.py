"""EPCIS 2.0 over HTTP: a unit's history exported (admin), the events query (scope epcis), capture (scope
epcis_capture); every exported document is checked against GS1's EPCIS 2.0 JSON Schema, and a round trip
exports from one database and captures into another."""
from __future__ import annotations

import tempfile

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.codes import service as codes
from app.db import transaction
from app.epcis import identifiers, validation
from app.extensions import db
from app.units.models import Unit
from tests import channel_factories as cf
from tests.factories import make_api_key
from tests.masterdata_factories import ACTOR, make_dealer
from tests.epcis_factories import CAPTURE, GTIN, LINE, QUERY, SCANS, World, build_world
from tests.mp_factories import make_invitation

def run_chain(client, world: World) -> None:
    """Commission, pack item -> case -> pallet, scan the pallet into the warehouse and out to the dealer."""
    headers = {"X-Api-Key": make_api_key("production", "warehouse")}
    session = client.post(f"{LINE}/sessions", json={"line_id": world.line, "lot_id": world.lot}, headers=headers)
    assert session.status_code == 201, session.get_json()
    records = [{"type": "commission", "record_id": "c1", "scanned_at": "2026-03-02T08:00:00Z", "codes": world.items},
               {"type": "pack", "record_id": "p1", "scanned_at": "2026-03-02T08:01:00Z", "code": world.items[0],
                "parent": world.case},
               {"type": "pack", "record_id": "p2", "scanned_at": "2026-03-02T08:01:01Z", "code": world.items[1],
                "parent": world.case},
               {"type": "pack", "record_id": "p3", "scanned_at": "2026-03-02T08:02:00Z", "code": world.case,
                "parent": world.pallet}]
    answer = client.post(f"{LINE}/sessions/{session.get_json()['id']}/records", json={"records": records},
                         headers=headers).get_json()
    assert answer["accepted"] == 4, answer
    answer = client.post(SCANS, headers=headers, json={"records": [
        {"record_id": "in-1", "scanned_at": "2026-03-02T09:00:00Z", "action": "inbound", "code": world.pallet,
         "warehouse_id": world.warehouse, "source": "line"},
        {"record_id": "out-1", "scanned_at": "2026-03-02T10:00:00Z", "action": "outbound", "code": world.pallet,
         "warehouse_id": world.warehouse, "to_dealer_id": world.dealer, "order_no": "SO 1"}]}).get_json()
    assert answer["accepted"] == 2, answer


def unit_states(world: World) -> dict:
    """Each code's state, with places and lots by the identifiers both databases share."""
    from app.masterdata.models import Dealer, ProductionLine, Warehouse
    from app.production.models import ProductionLot

    models = {"line": ProductionLine, "warehouse": Warehouse, "dealer": Dealer}
    states = {}
    for code in [*world.items, world.case, world.pallet]:
        unit = db.session.get(Unit, codes.keyring().decode(code).serial)
        if unit is None:
            states[code] = None
            continue
        parent = codes.keyring().encode(unit.parent_serial, unit.key_version) if unit.parent_serial else None
        place = db.session.get(models[unit.location_kind.value], unit.location_id)
        states[code] = (unit.level.value, unit.status.value, db.session.get(ProductionLot, unit.lot_id).lot_no,
                        parent, unit.location_kind.value, place.external_id, unit.in_transit)
    return states


def all_events(client, headers, per_page=2) -> list[dict]:
    """Every event, page by page through the Link header's next URL."""
    events, url = [], f"{QUERY}?perPage={per_page}"
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_json()
        assert response.mimetype == "application/ld+json"
        document = response.get_json()
        assert validation.errors(document) == []
        events += document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        link = response.headers.get("Link")
        url = link[link.index("/api/"):link.index(">")] if link else None
    return events


def test_a_units_history_exports_as_a_valid_epcis_document(app, client, auth):
    world = build_world(app)
    run_chain(client, world)

    response = client.get(f"/api/admin/trace/codes/{world.items[0]}/epcis", headers=auth.as_admin())

    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    assert "attachment" in response.headers["Content-Disposition"]
    document = response.get_json()
    assert validation.errors(document) == []
    events = document["epcisBody"]["eventList"]
    assert [(e["type"], e["action"], e["bizStep"]) for e in events] == [
        ("ObjectEvent", "ADD", "commissioning"), ("AggregationEvent", "ADD", "packing"),
        ("AggregationEvent", "ADD", "packing"), ("ObjectEvent", "OBSERVE", "receiving"),
        ("ObjectEvent", "OBSERVE", "shipping")]
    item_epc = f"https://m.example.com/01/{GTIN}/21/{world.items[0]}"
    assert events[0]["epcList"] == [item_epc]
    assert events[0]["ilmd"] == {"cbvmda:lotNumber": "LOT-RT"}
    assert events[0]["readPoint"] == {"id": "https://m.example.com/epcis/loc/line/ext/LINE-1"}
    assert events[1]["childEPCs"] == [item_epc]
    assert events[2]["parentID"].startswith("https://m.example.com/00/") and len(events[2]["parentID"]) == 43
    ship = events[4]
    assert ship["sourceList"] == [{"type": "location", "source": "https://m.example.com/epcis/loc/warehouse/ext/WH-1"}]
    assert ship["destinationList"] == [{"type": "location",
                                        "destination": "https://m.example.com/epcis/loc/dealer/ext/DL-1"}]
    assert ship["bizTransactionList"] == [{"type": "po", "bizTransaction": "https://m.example.com/epcis/order/SO%201"}]
    assert ship["disposition"] == "in_transit"
    assert all(e["eventID"].startswith("ni:///sha-256;") for e in events)
    assert len({e["eventID"] for e in events}) == len(events)


def test_scrap_replace_unpack_and_recall_export_with_their_cbv_steps(app, client, auth):
    world = build_world(app)
    run_chain(client, world)
    headers = {"X-Api-Key": make_api_key("production")}
    with transaction():
        spare, _ = codes.issue_batch(actor=ACTOR, product_id=None, level="item", count=1)
    new_label = codes.keyring().encode(spare.serial_start, spare.key_version)
    session = client.post(f"{LINE}/sessions", json={"line_id": world.line, "lot_id": world.lot}, headers=headers)
    answer = client.post(f"{LINE}/sessions/{session.get_json()['id']}/records", headers=headers, json={"records": [
        {"type": "replace", "record_id": "r1", "scanned_at": "2026-03-02T08:05:00Z", "code": world.items[2],
         "new_code": new_label},
        {"type": "scrap", "record_id": "s1", "scanned_at": "2026-03-02T08:06:00Z", "code": new_label}]}).get_json()
    assert answer["accepted"] == 2, answer
    admin = auth.as_admin()
    assert client.post(f"/api/admin/trace/lots/{world.lot}/recall", headers=admin,
                       json={"reason": "seal"}).status_code == 201

    scrapped = client.get(f"/api/admin/trace/codes/{new_label}/epcis", headers=admin).get_json()
    shipped = client.get(f"/api/admin/trace/codes/{world.items[0]}/epcis", headers=admin).get_json()

    for document in (scrapped, shipped):
        assert validation.errors(document) == []
    steps = [(e["action"], e["bizStep"], e.get("disposition")) for e in scrapped["epcisBody"]["eventList"]]
    assert steps == [("ADD", "commissioning", "active"), ("OBSERVE", "replacing", "active"),
                     ("DELETE", "destroying", "destroyed")]
    assert shipped["epcisBody"]["eventList"][-1]["bizStep"] == "holding"
    assert shipped["epcisBody"]["eventList"][-1]["disposition"] == "recalled"


def test_the_events_query_filters_pages_and_needs_its_scope(app, client, auth):
    world = build_world(app)
    run_chain(client, world)
    headers = {"X-Api-Key": make_api_key("epcis")}

    events = all_events(client, headers, per_page=2)
    shipping = client.get(QUERY, headers=headers, query_string={
        "EQ_bizStep": "shipping|receiving", "GE_eventTime": "2026-03-02T09:30:00Z"}).get_json()
    by_epc = client.get(QUERY, headers=headers, query_string={
        "MATCH_anyEPC": f"https://id.gs1.org/01/{GTIN}/21/{world.items[0]}"}).get_json()

    assert [e["bizStep"] for e in events].count("packing") == 3 and len(events) == 8
    assert [e["bizStep"] for e in shipping["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == ["shipping"]
    assert [e["bizStep"] for e in by_epc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == [
        "commissioning", "packing"]
    bad = client.get(QUERY, headers=headers, query_string={"perPage": 2, "nextPageToken": "5.forged"})
    assert (bad.status_code, bad.get_json()["code"]) == (400, "epcis_page_token_invalid")
    assert client.get(QUERY, headers={"X-Api-Key": make_api_key("warehouse")}).status_code == 403
    assert client.get(QUERY).status_code == 401


@pytest.fixture
def second_app(monkeypatch):
    """Another instance of the app on its own SQLite file and in-process Redis (a partner's copy of the data)."""
    folder = tempfile.TemporaryDirectory(prefix="matong-epcis-")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{folder.name}/second.db")
    monkeypatch.delenv("REDIS_URL", raising=False)
    other = create_app("testing")
    with other.app_context():
        upgrade()
        db.session.remove()
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()
    folder.cleanup()


def test_a_round_trip_export_then_capture_gives_the_same_units(app, client, second_app):
    world = build_world(app)
    run_chain(client, world)
    events = all_events(client, {"X-Api-Key": make_api_key("epcis")}, per_page=3)
    expected = unit_states(world)
    document = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-03T00:00:00Z",
                "epcisBody": {"eventList": events}}

    with second_app.app_context():
        other = build_world(second_app)
        assert other.items == world.items and other.pallet == world.pallet
        partner = second_app.test_client()
        headers = {"X-Api-Key": make_api_key("epcis_capture", name="3pl")}
        first = partner.post(CAPTURE, json=document, headers=headers)
        again = partner.post(CAPTURE, json=document, headers=headers)
        captured = unit_states(other)
        db.session.remove()

    assert first.status_code == 200, first.get_json()
    assert (first.get_json()["accepted"], first.get_json()["rejected"]) == (8, 0), first.get_json()
    assert (again.get_json()["duplicate"], again.get_json()["accepted"]) == (8, 0)
    assert [r["eventID"] for r in again.get_json()["results"]] == [e["eventID"] for e in events]
    assert captured == expected
    assert expected[world.items[0]] == ("item", "active", "LOT-RT", world.case, "dealer", "DL-1", True)


def test_capture_answers_each_event_and_refuses_a_bad_document(app, client):
    world = build_world(app)
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    base = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-03T00:00:00Z"}
    line = "https://m.example.com/epcis/loc/line/ext/LINE-1"
    commission = {"type": "ObjectEvent", "eventTime": "2026-03-02T08:00:00Z", "eventTimeZoneOffset": "+08:00",
                  "epcList": [f"https://id.gs1.org/01/{GTIN}/21/{world.items[0]}"], "action": "ADD",
                  "bizStep": "commissioning", "readPoint": {"id": line}, "ilmd": {"cbvmda:lotNumber": "LOT-RT"}}
    events = [commission,
              {**commission, "epcList": [f"https://id.gs1.org/01/06901234567908/21/{world.items[1]}"]},
              {**commission, "ilmd": {"cbvmda:lotNumber": "NO-SUCH-LOT"}, "epcList": [
                  f"https://id.gs1.org/01/{GTIN}/21/{world.items[2]}"]},
              {**commission, "epcList": ["https://id.gs1.org/01/06901234567892/21/NOTACODE"]},
              {**{k: v for k, v in commission.items() if k != "ilmd"}, "action": "OBSERVE", "bizStep": "inspecting"}]

    answer = client.post(CAPTURE, headers=headers, json={**base, "epcisBody": {"eventList": events}})

    assert answer.status_code == 200, answer.get_json()
    results = answer.get_json()["results"]
    assert [(r["status"], r.get("reason")) for r in results] == [
        ("accepted", None), ("rejected", "epc_gtin_mismatch"), ("rejected", "lot_unknown"),
        ("rejected", "epc_unknown"), ("rejected", "unsupported_event")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Unit)) == 1
    invalid = client.post(CAPTURE, headers=headers, json={**base, "epcisBody": {"eventList": [
        {"type": "ObjectEvent", "action": "ADD"}]}})
    assert (invalid.status_code, invalid.get_json()["code"]) == (422, "epcis_document_invalid")
    remote = client.post(CAPTURE, headers=headers, json={
        **base, "@context": ["https://example.org/other-context.jsonld"], "epcisBody": {"eventList": [commission]}})
    assert (remote.status_code, remote.get_json()["code"]) == (422, "epcis_document_invalid")
    assert client.post(CAPTURE, headers={"X-Api-Key": make_api_key("epcis")},
                       json={**base, "epcisBody": {"eventList": []}}).status_code == 403


def test_a_code_never_commissioned_exports_no_events_and_a_forged_one_is_404(app, client, auth):
    world = build_world(app)
    admin = auth.as_admin()

    empty = client.get(f"/api/admin/trace/codes/{world.items[0]}/epcis", headers=admin)
    code = world.items[0]
    forged = client.get(f"/api/admin/trace/codes/{code[:-1]}{'1' if code[-1] == '0' else '0'}/epcis", headers=admin)

    assert empty.status_code == 200
    assert empty.get_json()["epcisBody"]["eventList"] == []
    assert validation.errors(empty.get_json()) == []
    assert (forged.status_code, forged.get_json()["code"]) == (404, "code_not_found")
    assert client.get(f"/api/admin/trace/codes/{world.items[0]}/epcis").status_code == 401


def test_a_sold_items_channel_history_exports_with_dealer_and_store_steps(client, auth, mp):
    brand, dealer = cf.make_brand(), make_dealer()
    store = cf.make_store_of(dealer.id)
    case = cf.dealer_stock(brand, dealer.id, cases_=1)
    shipment = cf.ship_to(case, shipper=("dealer", dealer.id), receiver=("store", store.id))
    clerk = mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code)
    assert client.post(f"/api/clerk/receipts/{shipment.id}", json={}, headers=clerk).status_code == 201
    parent = codes.keyring().decode(case[0]).serial
    unit = db.session.scalar(sa.select(Unit).where(Unit.parent_serial == parent).order_by(Unit.serial).limit(1))
    item = codes.keyring().encode(unit.serial, unit.key_version)
    assert client.post("/api/clerk/sales", json={"code": item}, headers=clerk).status_code == 201

    document = client.get(f"/api/admin/trace/codes/{item}/epcis", headers=auth.as_admin()).get_json()

    assert validation.errors(document) == []
    steps = [(e["bizStep"], e.get("disposition")) for e in document["epcisBody"]["eventList"]]
    # The sale takes the item out of its case first (an unpacking), then sells it.
    assert steps[-6:] == [("shipping", "in_transit"), ("receiving", "sellable_not_accessible"),
                          ("shipping", "in_transit"), ("receiving", "sellable_accessible"),
                          ("unpacking", None), ("retail_selling", "retail_sold")]
    to_store = document["epcisBody"]["eventList"][-4]
    assert to_store["destinationList"][0]["destination"].endswith(f"/epcis/loc/store/{store.id}")
    assert to_store["sourceList"][0]["source"].endswith(f"/epcis/loc/dealer/{dealer.id}")


def test_capture_reads_epcs_through_a_registered_reader_and_reports_refused_epcs(app, client, monkeypatch):
    world = build_world(app)
    tags = {"urn:epc:id:sgtin:6901234.056789.1": world.items[0], "urn:epc:id:sgtin:6901234.056789.2": world.items[1]}
    monkeypatch.setattr(identifiers, "_readers", [tags.get])  # the RFID binding registers its reader here
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    line = "https://m.example.com/epcis/loc/line/ext/LINE-1"
    pallet = f"https://m.example.com/00/{codes.resolve_code(world.pallet).urls.sscc}"
    document = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-03T00:00:00Z",
                "epcisBody": {"eventList": [
                    {"type": "ObjectEvent", "eventTime": "2026-03-02T08:00:00Z", "eventTimeZoneOffset": "+08:00",
                     "epcList": list(tags), "action": "ADD", "bizStep": "commissioning", "readPoint": {"id": line},
                     "ilmd": {"cbvmda:lotNumber": "LOT-RT"}},
                    {"type": "AggregationEvent", "eventTime": "2026-03-02T08:01:00Z", "eventTimeZoneOffset": "+08:00",
                     "parentID": f"https://m.example.com/c/{world.case}", "action": "ADD", "bizStep": "packing",
                     "childEPCs": [*tags, f"https://id.gs1.org/01/{GTIN}/21/{world.items[2]}"],
                     "readPoint": {"id": line}},
                    {"type": "AggregationEvent", "eventTime": "2026-03-02T08:02:00Z", "eventTimeZoneOffset": "+08:00",
                     "parentID": pallet, "childEPCs": [f"https://m.example.com/c/{world.case}"], "action": "ADD",
                     "bizStep": "packing", "readPoint": {"id": line}}]}}

    answer = client.post(CAPTURE, headers=headers, json=document).get_json()

    first, packing, pallet_packing = answer["results"]
    assert (first["status"], first["applied"]) == ("accepted", 1)
    # The third child was never commissioned: refused alone, the two tagged items are in the case.
    assert (packing["status"], packing["reason"], packing["applied"]) == ("rejected", "not_commissioned", 2)
    assert packing["rejected_epcs"] == [{"epc": f"https://id.gs1.org/01/{GTIN}/21/{world.items[2]}",
                                         "reason": "not_commissioned"}]
    assert pallet_packing["status"] == "accepted"
    states = unit_states(world)
    assert states[world.items[0]][3] == world.case and states[world.case][3] == world.pallet
    assert states[world.items[2]] is None


def test_capture_applies_events_in_the_order_they_happened_whatever_their_offsets(app, client):
    world = build_world(app)
    line = {"id": "https://m.example.com/epcis/loc/line/ext/LINE-1"}
    item = f"https://id.gs1.org/01/{GTIN}/21/{world.items[0]}"
    document = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-03T00:00:00Z",
                "epcisBody": {"eventList": [
                    {"type": "AggregationEvent", "eventTime": "2026-03-02T08:00:00Z", "eventTimeZoneOffset": "+00:00",
                     "parentID": f"https://m.example.com/c/{world.case}", "childEPCs": [item], "action": "ADD",
                     "bizStep": "packing", "readPoint": line},
                    # 15:00 in Beijing is 07:00 UTC: commissioned an hour before the packing above.
                    {"type": "ObjectEvent", "eventTime": "2026-03-02T15:00:00+08:00", "eventTimeZoneOffset": "+08:00",
                     "epcList": [item], "action": "ADD", "bizStep": "commissioning", "readPoint": line,
                     "ilmd": {"cbvmda:lotNumber": "LOT-RT"}}]}}

    answer = client.post(CAPTURE, headers={"X-Api-Key": make_api_key("epcis_capture")}, json=document).get_json()

    assert [r["status"] for r in answer["results"]] == ["accepted", "accepted"], answer
    assert unit_states(world)[world.items[0]][3] == world.case
    too_many = {**document, "epcisBody": {"eventList": [{"type": "ObjectEvent"}] * 1001}}
    refused = client.post(CAPTURE, headers={"X-Api-Key": make_api_key("epcis_capture")}, json=too_many)
    assert (refused.status_code, refused.get_json()["code"]) == (422, "epcis_too_many_events")


def test_capture_reads_a_bound_rfid_tag_by_its_sgtin_uris(app, client):
    """A tag bound at commissioning (the line upload's epc) is named by a partner by its pure identity URI
    (whatever its filter value) or its tag URI; a URI of an unbound tag, or of the wrong filter, is refused."""
    from app import rfid

    world = build_world(app)
    headers = {"X-Api-Key": make_api_key("production", "epcis_capture")}
    session = client.post(f"{LINE}/sessions", json={"line_id": world.line, "lot_id": world.lot}, headers=headers)
    tag = rfid.encode_sgtin96(gtin=GTIN, company_prefix_digits=7, serial=41, filter=3)
    answer = client.post(f"{LINE}/sessions/{session.get_json()['id']}/records", headers=headers, json={"records": [
        {"type": "commission", "record_id": "c1", "scanned_at": "2026-03-02T08:00:00Z", "code": world.items[0],
         "epc": tag},
        {"type": "commission", "record_id": "c2", "scanned_at": "2026-03-02T08:00:01Z", "code": world.items[1]}]})
    assert answer.get_json()["accepted"] == 2, answer.get_json()
    assert rfid.decode_sgtin96(tag).uri == "urn:epc:id:sgtin:6901234.056789.41"
    line = {"id": "https://m.example.com/epcis/loc/line/ext/LINE-1"}
    case = f"https://m.example.com/c/{world.case}"
    def packing(minute: int, child: str) -> dict:
        return {"type": "AggregationEvent", "eventTime": f"2026-03-02T08:0{minute}:00Z", "eventTimeZoneOffset": "+08:00",
                "parentID": case, "action": "ADD", "bizStep": "packing", "readPoint": line, "childEPCs": [child]}
    document = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-03T00:00:00Z",
                "epcisBody": {"eventList": [packing(1, "urn:epc:id:sgtin:6901234.056789.41"),
                                            packing(2, "urn:epc:tag:sgtin-96:1.6901234.056789.41"),
                                            packing(3, "urn:epc:id:sgtin:6901234.056789.42")]}}

    pure, wrong_filter, unbound = client.post(CAPTURE, headers=headers, json=document).get_json()["results"]

    assert (pure["status"], pure["applied"]) == ("accepted", 1), pure  # the tag carries filter 3
    assert unit_states(world)[world.items[0]][3] == world.case
    for refused in (wrong_filter, unbound):
        assert (refused["status"], refused["reason"], refused["applied"]) == ("rejected", "epc_unknown", 0), refused


CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"mt": "urn:matong:epcis:"}]
LINE_URI = "https://m.example.com/epcis/loc/line/ext/LINE-1"


def capture_document(*events: dict) -> dict:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-03-03T00:00:00Z", "epcisBody": {"eventList": list(events)}}


def commissioning(code: str, *, minute: int = 0, lot: str = "LOT-RT", **more) -> dict:
    return {"type": "ObjectEvent", "eventTime": f"2026-03-02T08:{minute:02d}:00Z", "eventTimeZoneOffset": "+08:00",
            "epcList": [f"https://id.gs1.org/01/{GTIN}/21/{code}"], "action": "ADD", "bizStep": "commissioning",
            "readPoint": {"id": LINE_URI}, "ilmd": {"cbvmda:lotNumber": lot}, **more}


def test_an_event_id_sent_again_with_other_content_is_refused(app, client):
    """A retry of an event is a duplicate; its eventID on another event is refused and applies nothing. An
    event refused whole keeps no eventID (the partner may correct it), and another key has its own eventIDs."""
    world = build_world(app)
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    event_id = "urn:uuid:6f2c4a1e-0b7d-4c8e-9a51-3d2f1e0c9b8a"

    def post(event: dict, headers=headers) -> dict:
        answer = client.post(CAPTURE, headers=headers, json=capture_document(event))
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()["results"][0]

    refused = post(commissioning(world.items[0], lot="NO-SUCH-LOT", eventID=event_id))
    first = post(commissioning(world.items[0], eventID=event_id))
    again = post(commissioning(world.items[0], eventID=event_id))
    reused = post(commissioning(world.items[1], eventID=event_id))
    moved = post(commissioning(world.items[0], minute=5, eventID=event_id))
    elsewhere = post(commissioning(world.items[2], eventID=event_id),
                     headers={"X-Api-Key": make_api_key("epcis_capture", name="co-packer")})

    assert (refused["status"], refused["reason"]) == ("rejected", "lot_unknown")
    assert (first["status"], first["applied"], first["eventID"]) == ("accepted", 1, event_id)
    assert (again["status"], again["applied"]) == ("duplicate", 0)
    for other in (reused, moved):
        assert (other["status"], other["reason"], other["applied"]) == ("rejected", "event_id_reused", 0), other
    assert (elsewhere["status"], elsewhere["applied"]) == ("accepted", 1)
    states = unit_states(world)
    assert states[world.items[1]] is None
    assert states[world.items[0]][:3] == states[world.items[2]][:3] == ("item", "active", "LOT-RT")


def test_two_captures_of_one_event_id_at_once_apply_one_event(app, client, mariadb):
    """Two partners' requests with one key race on an eventID with different content: one applies, the
    other is refused (the locking read of the eventID, and a deadlock's retry, order them)."""
    from tests.concurrency import at_once

    world = build_world(app)
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    event_id = "urn:uuid:0d9e3c1b-5a7f-4e2d-8b6c-1f0a9e8d7c6b"

    def post(code: str):
        return lambda: app.test_client().post(
            CAPTURE, headers=headers, json=capture_document(commissioning(code, eventID=event_id))).get_json()

    answers = at_once(app, post(world.items[0]), post(world.items[1]))

    results = sorted((answer["results"][0]["status"], answer["results"][0].get("reason")) for answer in answers)
    assert results == [("accepted", None), ("rejected", "event_id_reused")], answers
    states = unit_states(world)
    assert sum(states[code] is not None for code in world.items[:2]) == 1


def test_capture_binds_rfid_tags_at_commissioning_packing_and_encoding(app, client):
    """mt:rfidTags binds an item's tags at commissioning, a parent's at packing, and tags written later
    (encoding) as tag events; a tag taken is refused alone, tags on an event that binds none refuse it."""
    from app import rfid
    from app.units import unit_rows
    from app.units.models import Event, EventKind

    world = build_world(app)
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    item_tag = rfid.encode_sgtin96(gtin=GTIN, company_prefix_digits=7, serial=7)
    item_tid, case_tid, late_tid = "E2801160600002084B8C7A1F", "E2801160600002084B8C7A20", "E2801160600002084B8C7A21"
    case = f"https://m.example.com/c/{world.case}"
    packing = {"type": "AggregationEvent", "eventTime": "2026-03-02T08:03:00Z", "eventTimeZoneOffset": "+08:00",
               "parentID": case, "childEPCs": [f"https://id.gs1.org/01/{GTIN}/21/{code}" for code in world.items[:2]],
               "action": "ADD", "bizStep": "packing", "readPoint": {"id": LINE_URI}, "mt:rfidTags": [case_tid]}
    encoding = {"type": "ObjectEvent", "eventTime": "2026-03-02T08:04:00Z", "eventTimeZoneOffset": "+08:00",
                "epcList": [f"https://id.gs1.org/01/{GTIN}/21/{world.items[1]}"], "action": "OBSERVE",
                "bizStep": "encoding", "readPoint": {"id": LINE_URI}, "mt:rfidTags": [late_tid.lower()]}
    events = [commissioning(world.items[0], **{"mt:rfidTags": [item_tag, item_tid]}),
              commissioning(world.items[1], minute=1),
              commissioning(world.items[2], minute=2, **{"mt:rfidTags": [item_tag]}),
              packing, encoding,
              commissioning(world.items[2], minute=6, **{"mt:rfidTags": ["not-hex"]}),
              {**encoding, "bizStep": "inspecting"}]
    document = capture_document(*events)
    assert validation.errors(document) == []

    answer = client.post(CAPTURE, headers=headers, json=document).get_json()
    again = client.post(CAPTURE, headers=headers, json=document).get_json()

    results = answer["results"]
    assert [(r["status"], r["applied"]) for r in results[:2]] == [("accepted", 2), ("accepted", 1)], results
    assert results[2]["rejected_epcs"] == [{"epc": events[2]["epcList"][0], "tag": item_tag, "reason": "epc_taken"}]
    assert (results[3]["status"], results[3]["applied"], results[4]["status"]) == ("accepted", 2, "accepted")
    assert [(r["status"], r["reason"]) for r in results[5:]] == [("rejected", "rfid_tags_invalid")] * 2
    serial = {code: codes.keyring().decode(code).serial for code in [*world.items, world.case]}
    assert unit_rows.epc_bindings([item_tag, item_tid, case_tid, late_tid]) == {
        item_tag: serial[world.items[0]], item_tid: serial[world.items[0]], case_tid: serial[world.case],
        late_tid: serial[world.items[1]]}
    tags = db.session.execute(sa.select(Event.serial, Event.data).where(Event.kind == EventKind.TAG)
                              .order_by(Event.id)).all()
    assert [(s, d["epc"]) for s, d in tags] == [(serial[world.items[0]], item_tid), (serial[world.items[1]], late_tid)]
    assert [r["status"] for r in again["results"][:2]] == ["duplicate", "duplicate"]
    assert unit_states(world)[world.items[2]] is None


def test_a_round_trip_carries_rfid_tags(app, client, auth, second_app):
    """Tags bound through the line upload (at commissioning, at packing, late) export as mt:rfidTags on
    their events, valid against the schema, and a capture into another database binds them the same."""
    from app import rfid
    from app.units import unit_rows

    world = build_world(app)
    headers = {"X-Api-Key": make_api_key("production")}
    item_tag = rfid.encode_sgtin96(gtin=GTIN, company_prefix_digits=7, serial=900)
    pallet_tid, late_tid = "E2801160600002084B8C7B01", "E2801160600002084B8C7B02"
    session = client.post(f"{LINE}/sessions", json={"line_id": world.line, "lot_id": world.lot}, headers=headers)
    records = [{"type": "commission", "record_id": "c1", "scanned_at": "2026-03-02T08:00:00Z", "code": world.items[0],
                "epc": item_tag},
               {"type": "commission", "record_id": "c2", "scanned_at": "2026-03-02T08:00:01Z", "code": world.items[1]},
               {"type": "pack", "record_id": "p1", "scanned_at": "2026-03-02T08:01:00Z", "code": world.items[0],
                "parent": world.case},
               {"type": "pack", "record_id": "p2", "scanned_at": "2026-03-02T08:02:00Z", "code": world.case,
                "parent": world.pallet, "parent_epc": pallet_tid},
               {"type": "commission", "record_id": "t1", "scanned_at": "2026-03-02T08:03:00Z", "code": world.items[1],
                "epc": late_tid}]
    answer = client.post(f"{LINE}/sessions/{session.get_json()['id']}/records", json={"records": records},
                         headers=headers).get_json()
    assert answer["accepted"] == 5, answer
    trace = client.get(f"/api/admin/trace/codes/{world.items[1]}", headers=auth.as_admin()).get_json()
    assert [e["kind"] for e in trace["timeline"]] == ["commission", "tag"]
    events = all_events(client, {"X-Api-Key": make_api_key("epcis")}, per_page=4)
    assert [(e["bizStep"], e["mt:rfidTags"]) for e in events if "mt:rfidTags" in e] == [
        ("commissioning", [item_tag]), ("packing", [pallet_tid]), ("encoding", [late_tid])]
    tags = [item_tag, pallet_tid, late_tid]
    expected, bound = unit_states(world), unit_rows.epc_bindings(tags)

    with second_app.app_context():
        other = build_world(second_app)
        partner = second_app.test_client()
        captured = partner.post(CAPTURE, json=capture_document(*events),
                                headers={"X-Api-Key": make_api_key("epcis_capture", name="3pl")}).get_json()
        states, rebound = unit_states(other), unit_rows.epc_bindings(tags)
        db.session.remove()

    assert (captured["accepted"], captured["rejected"]) == (len(events), 0), captured
    assert states == expected
    assert rebound == bound and len(bound) == 3
