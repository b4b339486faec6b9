"""RFID over HTTP: EPCs bound at commissioning by line uploads, refused when bad, mismatched or taken,
and read in place of their codes by warehouse, dealer and store scans."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from app import rfid
from app.codes import service as codes
from app.db import transaction
from app.extensions import db
from app.masterdata.models import Product
from app.units import unit_rows
from app.units.models import EpcBinding, Event, EventKind, Unit
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.concurrency import at_once
from tests.masterdata_factories import make_dealer
from tests.mp_factories import make_invitation

GTIN = "80614141123458"  # the GTIN of the GS1 Tag Data Standard's SGTIN-96 example
OTHER_GTIN = "04006381333931"
SESSIONS = "/api/integration/line/sessions"
AT = datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def epc(serial: int, gtin: str = GTIN) -> str:
    return rfid.encode_sgtin96(gtin=gtin, company_prefix_digits=7, serial=serial, filter=1)


def tagged_brand():
    """The channel factories' brand, its product carrying the GTIN the EPCs name."""
    brand = cf.make_brand()
    with transaction():
        db.session.execute(sa.update(Product).where(Product.id == brand.product.id).values(gtin=GTIN))
    return brand


def line_session(client, auth, brand) -> tuple[dict, int]:
    headers = auth.key_headers("production")
    response = client.post(SESSIONS, headers=headers, json={"line_id": brand.line_id, "lot_id": brand.lot.id})
    assert response.status_code == 201, response.get_json()
    return headers, response.get_json()["id"]


def upload(client, headers, session_id, *records) -> dict:
    response = client.post(f"{SESSIONS}/{session_id}/records", headers=headers, json={"records": list(records)})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def tag(code: str, tag_epc: str) -> None:
    """Bind a tag to a unit the factories made as the line would have: the factories make it out of the
    factory already, where the line no longer tags (test_a_unit_that_left_the_factory_is_not_tagged_late)."""
    epc_read = rfid.parse_epc(tag_epc)
    with transaction():
        unit_rows.bind_epcs([{"epc": epc_read.hex, "kind": epc_read.kind, "serial": uf.serial(code), "source": "test",
                          "bound_at": datetime.now(timezone.utc)}])


def bound_serial(hexa: str) -> int | None:
    return db.session.scalar(sa.select(EpcBinding.serial).where(EpcBinding.epc == hexa))


def test_an_item_commissioned_with_its_epc_and_a_case_packed_with_its_tag_are_bound(client, auth):
    brand = tagged_brand()
    headers, session_id = line_session(client, auth, brand)
    items = uf.issue(2, product_id=brand.product.id)
    case = uf.issue(1, level="case", product_id=brand.product.id)[0]
    tid = "E2801160200074CF085B0AD2"
    answer = upload(client, headers, session_id,
                    {"type": "commission", "record_id": "c1", "scanned_at": AT, "code": items[0],
                     "epc": epc(1).lower()},
                    {"type": "commission", "record_id": "c2", "scanned_at": AT, "code": items[1]},
                    {"type": "pack", "record_id": "p1", "scanned_at": AT, "code": items[0], "parent": case,
                     "parent_epc": tid},
                    {"type": "pack", "record_id": "p2", "scanned_at": AT, "code": items[1], "parent": case})
    assert [r["status"] for r in answer["results"]] == ["accepted"] * 4, answer
    assert bound_serial(epc(1)) == uf.serial(items[0]) and bound_serial(tid) == uf.serial(case)
    kinds = dict(db.session.execute(sa.select(EpcBinding.epc, EpcBinding.kind)).all())
    assert kinds == {epc(1): "sgtin96", tid: "tid"}
    commission = db.session.scalar(sa.select(Event).where(Event.kind == EventKind.COMMISSION,
                                                          Event.serial == uf.serial(items[0])))
    assert commission.data == {"epc": epc(1)}

    # The back office's trace shows the tags, and finds a code by its tag.
    for looked_up in (items[0], epc(1).lower()):
        traced = client.get(f"/api/admin/trace/codes/{looked_up}", headers=auth.headers_for("ops"))
        assert traced.status_code == 200, traced.get_json()
        assert traced.get_json()["code"] == items[0]
        assert [(e["epc"], e["kind"], e["uri"]) for e in traced.get_json()["epcs"]] == [
            (epc(1), "sgtin96", "urn:epc:id:sgtin:0614141.812345.1")]
    case_trace = client.get(f"/api/admin/trace/codes/{tid}", headers=auth.headers_for("ops")).get_json()
    assert (case_trace["code"], case_trace["epcs"][0]["kind"], case_trace["epcs"][0]["uri"]) == (case, "tid", None)
    unbound = client.get(f"/api/admin/trace/codes/{epc(2)}", headers=auth.headers_for("ops"))
    assert (unbound.status_code, unbound.get_json()["code"]) == (404, "code_not_found")

    again = upload(client, headers, session_id,
                   {"type": "commission", "record_id": "c1", "scanned_at": AT, "code": items[0], "epc": epc(1)},
                   {"type": "commission", "record_id": "c1-again", "scanned_at": AT, "code": items[0],
                    "epc": epc(1)})
    assert [(r["status"], r.get("previously_applied", False)) for r in again["results"]] == \
        [("duplicate", True), ("duplicate", False)]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EpcBinding)) == 2


def test_a_bad_mismatched_or_taken_epc_is_refused_per_record_and_writes_nothing(client, auth):
    brand = tagged_brand()
    headers, session_id = line_session(client, auth, brand)
    items = uf.issue(5, product_id=brand.product.id)
    answer = upload(client, headers, session_id,
                    {"type": "commission", "record_id": "ok", "scanned_at": AT, "code": items[0], "epc": epc(7)},
                    {"type": "commission", "record_id": "other-gtin", "scanned_at": AT, "code": items[1],
                     "epc": epc(8, OTHER_GTIN)},
                    {"type": "commission", "record_id": "not-hex", "scanned_at": AT, "code": items[2],
                     "epc": "not an epc"},
                    {"type": "commission", "record_id": "sgtin-198", "scanned_at": AT, "code": items[3],
                     "epc": "3674257BF7194E4000001A85"},
                    {"type": "commission", "record_id": "taken", "scanned_at": AT, "code": items[4], "epc": epc(7)})
    assert [(r["status"], r.get("reason")) for r in answer["results"]] == [
        ("accepted", None), ("rejected", "epc_mismatch"), ("rejected", "epc_invalid"),
        ("rejected", "epc_invalid"), ("rejected", "epc_taken")]
    assert all(r["message"] for r in answer["results"][1:])
    # A refused record commissions nothing: the code stays empty for a correct retry.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Unit)) == 1
    assert bound_serial(epc(7)) == uf.serial(items[0])

    # An EPC binds to one code, ever: a later upload can't move it either.
    later = upload(client, headers, session_id,
                   {"type": "commission", "record_id": "taken-later", "scanned_at": AT, "code": items[1],
                    "epc": epc(7).lower()})
    assert later["results"][0]["reason"] == "epc_taken"
    report = client.get(f"{SESSIONS}/{session_id}", headers=headers).get_json()
    assert report["rejected_by_reason"] == {"epc_invalid": 2, "epc_mismatch": 1, "epc_taken": 2}


def test_an_epc_goes_with_one_code_only(client, auth):
    brand = tagged_brand()
    headers, session_id = line_session(client, auth, brand)
    items = uf.issue(2, product_id=brand.product.id)
    response = client.post(f"{SESSIONS}/{session_id}/records", headers=headers, json={"records": [
        {"type": "commission", "record_id": "r", "scanned_at": AT, "codes": items.codes, "epc": epc(1)}]})
    assert (response.status_code, response.get_json()["code"]) == (422, "invalid_records")


def test_a_warehouse_ships_a_case_by_its_tag(client, auth):
    brand = tagged_brand()
    dealer = make_dealer()
    case = cf.cases(brand.lot, 1, warehouse_id=brand.warehouse_id)[0]
    tag(case, epc(42))

    headers = auth.key_headers("warehouse")
    response = client.post("/api/integration/warehouse/scans", headers=headers, json={"records": [
        {"record_id": "out-1", "scanned_at": AT, "action": "outbound", "code": epc(42),
         "warehouse_id": brand.warehouse_id, "to_dealer_id": dealer.id},
        {"record_id": "out-2", "scanned_at": AT, "action": "outbound", "code": epc(43),
         "warehouse_id": brand.warehouse_id, "to_dealer_id": dealer.id}]})
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert (results[0]["status"], results[0]["units"]) == ("accepted", 24)
    assert (results[1]["status"], results[1]["reason"]) == ("rejected", "epc_unknown") and results[1]["message"]
    shipped = db.session.get(Unit, uf.serial(case))
    assert (shipped.location_kind.value, shipped.location_id, shipped.in_transit) == ("dealer", dealer.id, True)


def test_a_dealer_scans_out_and_receives_by_tag(client, auth, mp):
    brand = tagged_brand()
    t1, h1 = cf.dealer_owner(mp)
    t2, h2 = cf.dealer_owner(mp, make_dealer(parent_id=t1.id))
    cases = cf.dealer_stock(brand, t1.id, cases_=1)
    tid = "E28011602000ABCDEF012345"
    tag(cases[0], tid)

    order = cf.make_order(seller=("dealer", t1.id), buyer=("dealer", t2.id), lines=[(brand.product.id, 24)])
    shipment = client.post(f"/api/dealer/orders/{order.id}/shipments", headers=h1).get_json()
    scanned = client.post(f"/api/dealer/shipments/{shipment['id']}/scans", headers=h1,
                          json={"codes": [tid.lower(), "E2801160200000000000FFFF"]})
    assert scanned.status_code == 200, scanned.get_json()
    body = scanned.get_json()
    assert body["accepted"] == 1 and body["lines"][0]["picked"] == 24
    assert [(r["status"], r.get("reason")) for r in body["results"]] == [("accepted", None),
                                                                          ("refused", "epc_unknown")]
    assert client.post(f"/api/dealer/shipments/{shipment['id']}/ship", headers=h1).status_code == 200

    receipt = client.post(f"/api/dealer/shipments/{shipment['id']}/receipt", headers=h2, json={"codes": [tid]})
    assert receipt.status_code == 201, receipt.get_json()
    assert (receipt.get_json()["received"], receipt.get_json()["missing"]) == (24, 0)


def test_a_clerk_sells_an_item_by_its_tag(client, auth, mp):
    brand = tagged_brand()
    dealer = make_dealer()
    store = cf.make_store_of(dealer.id)
    cases = cf.dealer_stock(brand, dealer.id, cases_=1)
    shipment = cf.ship_to(cases, shipper=("dealer", dealer.id), receiver=("store", store.id))
    cf.receive(shipment.id, receiver=("store", store.id))
    item = codes.keyring().encode(
        db.session.scalar(sa.select(sa.func.min(Unit.serial)).where(Unit.parent_serial == uf.serial(cases[0]))),
        codes.keyring().current)
    tag(item, epc(99))
    headers = mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code)

    sold = client.post("/api/clerk/sales", json={"code": epc(99)}, headers=headers)
    assert sold.status_code == 201, sold.get_json()
    assert sold.get_json()["sale"]["code"] == item
    again = client.post("/api/clerk/sales", json={"code": item}, headers=headers)
    assert (again.status_code, again.get_json()["code"]) == (409, "already_sold")
    unknown = client.post("/api/clerk/sales", json={"code": epc(100)}, headers=headers)
    assert (unknown.status_code, unknown.get_json()["code"]) == (422, "epc_unknown")


def test_two_lines_binding_one_epc_to_two_codes_at_once_bind_it_once(app, client, auth, mariadb):
    brand = tagged_brand()
    (headers, first), (_, second) = line_session(client, auth, brand), line_session(client, auth, brand)
    items = uf.issue(2, product_id=brand.product.id)

    def upload_at_once(session_id, code):
        def run():
            response = app.test_client().post(f"{SESSIONS}/{session_id}/records", headers=headers, json={
                "records": [{"type": "commission", "record_id": f"c-{code}", "scanned_at": AT, "code": code,
                             "epc": epc(5)}]})
            return response.status_code, response.get_json()["results"][0].get("reason")
        return run

    results = at_once(app, upload_at_once(first, items[0]), upload_at_once(second, items[1]))
    assert sorted(results, key=str) == [(200, "epc_taken"), (200, None)]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EpcBinding)) == 1
    winner = items[0] if results[0][1] is None else items[1]
    assert bound_serial(epc(5)) == uf.serial(winner)
    # The loser's item was not commissioned: its record was refused whole.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Unit)) == 1


def test_a_unit_that_left_the_factory_is_not_tagged_late(client, auth):
    """A commission (or pack) record sent again with a tag binds it at the line only: goods already at a
    dealer are refused in_transit_or_shipped and no tag is bound (no re-tagging of goods in the market)."""
    brand = tagged_brand()
    case = cf.dealer_stock(brand, make_dealer().id, cases_=1, lot=brand.lot)[0]
    item = uf.contents(case)[0]
    headers, session_id = line_session(client, auth, brand)
    answer = upload(client, headers, session_id,
                    {"type": "commission", "record_id": "late-tag", "scanned_at": AT, "code": item, "epc": epc(99)},
                    {"type": "pack", "record_id": "late-case-tag", "scanned_at": AT, "code": item, "parent": case,
                     "parent_epc": epc(98)})
    assert [(r["status"], r["reason"]) for r in answer["results"]] == [
        ("rejected", "in_transit_or_shipped"), ("rejected", "in_transit_or_shipped")], answer
    assert bound_serial(epc(99)) is None and bound_serial(epc(98)) is None


def test_a_line_record_id_with_a_space_at_either_end_is_refused(client, auth):
    brand = tagged_brand()
    headers, session_id = line_session(client, auth, brand)
    item = uf.issue(1, product_id=brand.product.id)[0]
    response = client.post(f"{SESSIONS}/{session_id}/records", headers=headers, json={"records": [
        {"type": "commission", "record_id": "c1 ", "scanned_at": AT, "code": item}]})
    assert response.status_code in (400, 422), response.get_json()
