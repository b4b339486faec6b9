import sqlalchemy as sa

from app.extensions import db
from app.identity.models import AuditRecord
from app.production.models import LotConsumption, ProductionLot
from tests.masterdata_factories import make_factory, make_product
from tests.production_factories import make_line, make_material, make_supplier

URL = "/api/integration/production"


def _audit_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord))


def _masterdata():
    product = make_product(external_id="ERP-P1", shelf_life_days=10)
    factory = make_factory(external_id="ERP-F1")
    line = make_line(factory.id, external_id="ERP-L1")
    return product, factory, line


def _lots():
    return {"items": [
        {"external_id": "PL-1", "product_external_id": "ERP-P1", "factory_external_id": "ERP-F1",
         "line_external_id": "ERP-L1", "lot_no": "20260302A", "production_date": "2026-03-02", "shift": "A"},
        {"external_id": "PL-2", "product_external_id": "ERP-P1", "factory_external_id": "ERP-F1",
         "lot_no": "20260302B", "production_date": "2026-03-02", "shift": "B"},
    ]}


def test_lots_are_upserted_and_a_repeat_changes_nothing(client, auth):
    product, _, line = _masterdata()
    headers = auth.key_headers("production")
    first = client.put(f"{URL}/lots", headers=headers, json=_lots())
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["created"] == 2
    lot = db.session.get(ProductionLot, first.get_json()["items"][0]["id"])
    assert (lot.product_id, lot.line_id, str(lot.expiry_date)) == (product.id, line.id, "2026-03-12")
    audits = _audit_count()
    second = client.put(f"{URL}/lots", headers=headers, json=_lots()).get_json()
    assert [i["result"] for i in second["items"]] == ["unchanged", "unchanged"]
    assert _audit_count() == audits
    items = _lots()["items"]
    items[1]["shift"] = "night"
    third = client.put(f"{URL}/lots", headers=headers, json={"items": items}).get_json()
    assert (third["updated"], third["unchanged"]) == (1, 1)


def test_a_bad_lot_rejects_the_whole_batch(client, auth):
    _, _, line = _masterdata()
    make_line(make_factory(external_id="ERP-F2").id, external_id="ERP-L2")
    items = _lots()["items"]
    items[1]["line_external_id"] = "ERP-L2"
    response = client.put(f"{URL}/lots", headers=auth.key_headers("production"), json={"items": items})
    assert (response.status_code, response.get_json()["code"]) == (422, "batch_rejected")
    assert [(i["index"], i["code"]) for i in response.get_json()["errors"]["items"]] == [(1, "line_not_in_factory")]
    assert db.session.scalar(sa.select(ProductionLot)) is None


def test_a_masterdata_key_is_refused_on_production_endpoints(client, auth):
    _masterdata()
    headers = auth.key_headers("masterdata")
    for method, url in (("put", f"{URL}/lots"), ("put", f"{URL}/raw-material-lots"),
                        ("post", f"{URL}/lots/PL-1/consumptions")):
        response = getattr(client, method)(url, headers=headers, json={"items": []})
        assert (response.status_code, response.get_json()["code"]) == (403, "scope_forbidden")


def test_raw_lots_and_consumptions_sync_idempotently_and_refuse_failed_lots(client, auth):
    _masterdata()
    make_material(code="SORGHUM")
    make_supplier(external_id="SUP-1")
    headers = auth.key_headers("production")
    client.put(f"{URL}/lots", headers=headers, json=_lots())
    raw_lots = {"items": [
        {"external_id": "RM-1", "material_code": "SORGHUM", "supplier_external_id": "SUP-1", "lot_no": "G1",
         "received_at": "2026-03-01T08:00:00Z", "quantity": 5000, "inspection_result": "passed"},
        {"external_id": "RM-2", "material_code": "SORGHUM", "supplier_external_id": "SUP-1", "lot_no": "G2",
         "received_at": "2026-03-01T08:00:00Z", "inspection_result": "failed"},
    ]}
    first = client.put(f"{URL}/raw-material-lots", headers=headers, json=raw_lots)
    assert first.get_json()["created"] == 2, first.get_json()
    assert client.put(f"{URL}/raw-material-lots", headers=headers, json=raw_lots).get_json()["unchanged"] == 2

    used = {"items": [{"external_id": "RM-1", "quantity": "120.5"}]}
    response = client.post(f"{URL}/lots/PL-1/consumptions", headers=headers, json=used)
    assert response.get_json()["created"] == 1, response.get_json()
    audits = _audit_count()
    assert client.post(f"{URL}/lots/PL-1/consumptions", headers=headers, json=used).get_json()["unchanged"] == 1
    assert _audit_count() == audits

    refused = client.post(f"{URL}/lots/PL-2/consumptions", headers=headers,
                          json={"items": [{"external_id": "RM-1"}, {"external_id": "RM-2"}]})
    assert refused.status_code == 422
    assert [(i["external_id"], i["code"]) for i in refused.get_json()["errors"]["items"]] == \
        [("RM-2", "raw_material_lot_failed_inspection")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LotConsumption)) == 1
    unknown = client.post(f"{URL}/lots/NOPE/consumptions", headers=headers, json=used)
    assert (unknown.status_code, unknown.get_json()["code"]) == (404, "production_lot_not_found")
