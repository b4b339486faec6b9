from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.identity.models import AuditRecord
from tests.masterdata_factories import make_factory, make_product
from tests.production_factories import make_line, make_material, make_production_lot, make_raw_lot, make_supplier

LOTS = "/api/admin/production-lots"
RAW = "/api/admin/raw-material-lots"


def test_ops_creates_a_lot_whose_expiry_follows_the_shelf_life(client, auth):
    product, factory = make_product(shelf_life_days=30), make_factory()
    line = make_line(factory.id)
    response = client.post(LOTS, headers=auth.headers_for("ops"), json={
        "product_id": product.id, "factory_id": factory.id, "line_id": line.id, "lot_no": "20260302A",
        "production_date": "2026-03-02", "shift": "night"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["expiry_date"], body["status"], body["shift"]) == ("2026-04-01", "open", "night")
    record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "production_lot.create")).one()
    assert record.actor_type == "user" and record.changes["lot_no"] == [None, "20260302A"]


def test_validation_codes_come_back_as_422(client, auth):
    factory, other = make_factory(), make_factory()
    base = {"product_id": make_product().id, "factory_id": factory.id, "lot_no": "X",
            "production_date": "2026-03-02"}
    cases = [({"line_id": make_line(other.id).id}, "line_not_in_factory"),
             ({"expiry_date": "2026-03-01"}, "expiry_before_production"),
             ({"product_id": 987654}, "product_unknown"),
             ({"production_date": "1900-01-01"}, "date_out_of_range")]
    headers = auth.as_admin()
    for change, code in cases:
        response = client.post(LOTS, headers=headers, json={**base, **change})
        assert (response.status_code, response.get_json()["code"]) == (422, code)


def test_marketers_and_auditors_read_but_cannot_write(client, auth):
    lot = make_production_lot()
    for role in ("marketer", "auditor"):
        headers = auth.headers_for(role)
        assert client.get(f"{LOTS}/{lot.id}", headers=headers).status_code == 200
        assert client.get(RAW, headers=headers).status_code == 200
        for method, url, body in (("post", f"{LOTS}/{lot.id}/close", None), ("patch", f"{LOTS}/{lot.id}", {}),
                                  ("post", "/api/admin/materials", {"code": "M", "name": "M"}),
                                  ("post", "/api/admin/suppliers", {"name": "S"})):
            response = getattr(client, method)(url, headers=headers, json=body)
            assert (response.status_code, response.get_json()["code"]) == (403, "role_forbidden")


def test_a_failed_inspection_blocks_consumption_over_http(client, auth):
    headers = auth.as_admin()
    material = client.post("/api/admin/materials", headers=headers,
                           json={"code": "SORGHUM", "name": "高粱", "unit": "kg"}).get_json()
    supplier = client.post("/api/admin/suppliers", headers=headers, json={"name": "贵州高粱合作社"}).get_json()
    raw = client.post(RAW, headers=headers, json={
        "material_id": material["id"], "supplier_id": supplier["id"], "lot_no": "GL-01",
        "received_at": "2026-03-01T08:00:00+08:00", "quantity": "5000.5"}).get_json()
    assert (raw["inspection_result"], raw["quantity"], raw["received_at"][:19]) == \
        ("pending", "5000.500", "2026-03-01T00:00:00")
    inspected = client.post(f"{RAW}/{raw['id']}/inspection", headers=headers,
                            json={"result": "failed", "note": "moisture 18%"}).get_json()
    assert (inspected["inspection_result"], inspected["inspection_note"]) == ("failed", "moisture 18%")
    lot = make_production_lot()
    response = client.post(f"{LOTS}/{lot.id}/consumptions", headers=headers, json={"raw_material_lot_id": raw["id"]})
    assert (response.status_code, response.get_json()["code"]) == (422, "raw_material_lot_failed_inspection")


def test_consumptions_trace_back_from_the_lot_and_forward_from_the_raw_lot(client, auth):
    headers = auth.as_admin()
    raw, lot, other = make_raw_lot(), make_production_lot(), make_production_lot()
    for production_lot, quantity in ((lot, "12.5"), (other, None)):
        response = client.post(f"{LOTS}/{production_lot.id}/consumptions", headers=headers,
                                json={"raw_material_lot_id": raw.id, "quantity": quantity})
        assert response.status_code == 200, response.get_json()
    back = client.get(f"{LOTS}/{lot.id}", headers=headers).get_json()
    assert [(c["raw_material_lot"]["id"], c["material"]["code"], c["supplier"]["id"], c["quantity"])
            for c in back["consumed"]] == [(raw.id, raw.material.code, raw.supplier_id, "12.500")]
    forward = client.get(f"{RAW}/{raw.id}", headers=headers).get_json()
    assert [c["production_lot"]["id"] for c in forward["consumed_by"]] == [lot.id, other.id]
    assert client.delete(f"{LOTS}/{other.id}/consumptions/{raw.id}", headers=headers).status_code == 204
    forward = client.get(f"{RAW}/{raw.id}", headers=headers).get_json()
    assert [c["production_lot"]["id"] for c in forward["consumed_by"]] == [lot.id]


def test_close_and_reopen(client, auth):
    headers, lot, raw = auth.as_admin(), make_production_lot(), make_raw_lot()
    assert client.post(f"{LOTS}/{lot.id}/close", headers=headers).get_json()["status"] == "closed"
    response = client.post(f"{LOTS}/{lot.id}/consumptions", headers=headers, json={"raw_material_lot_id": raw.id})
    assert (response.status_code, response.get_json()["code"]) == (409, "production_lot_closed")
    assert client.post(f"{LOTS}/{lot.id}/reopen", headers=headers).get_json()["status"] == "open"


def test_lists_filter_lots_and_raw_lots(client, auth):
    headers = auth.as_admin()
    product, factory = make_product(), make_factory()
    march = make_production_lot(product_id=product.id, factory_id=factory.id, production_date=date(2026, 3, 2))
    make_production_lot(product_id=product.id, production_date=date(2026, 4, 2))
    make_production_lot()
    found = client.get(LOTS, headers=headers, query_string={
        "product_id": product.id, "produced_from": "2026-03-01", "produced_to": "2026-03-31"}).get_json()
    assert [lot["id"] for lot in found] == [march.id]
    assert [lot["id"] for lot in client.get(LOTS, headers=headers,
                                            query_string={"factory_id": factory.id}).get_json()] == [march.id]
    material = make_material()
    failed = make_raw_lot("failed", material_id=material.id, supplier_id=make_supplier().id)
    make_raw_lot(material_id=material.id)
    found = client.get(RAW, headers=headers, query_string={"material_id": material.id,
                                                           "inspection_result": "failed"}).get_json()
    assert [raw["id"] for raw in found] == [failed.id]
