import sqlalchemy as sa

from app.db import transaction
from app.extensions import db
from app.identity import service as identity
from app.identity.models import ApiKey, AuditRecord
from app.masterdata.models import Dealer, Product, Store
from tests.masterdata_factories import DONGCHENG, HANGZHOU, XIHU, ZHEJIANG, gtin13

URL = "/api/integration/masterdata"

PRODUCTS = {"items": [
    {"external_id": "ERP-P1", "sku": "MT-500", "name": "茅台 500ml", "gtin": gtin13(1),
     "units_per_case": 6, "cases_per_pallet": 80, "shelf_life_days": 3650},
    {"external_id": "ERP-P2", "sku": "MT-250", "name": "茅台 250ml", "gtin": gtin13(2),
     "image_url": "https://cdn.example.com/mt250.png"},
]}


def _audit_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditRecord))


def test_the_erp_pushes_products_and_a_repeat_changes_nothing(client, auth):
    headers = auth.key_headers("masterdata")
    first = client.put(f"{URL}/products", headers=headers, json=PRODUCTS)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["created"] == 2
    assert [i["result"] for i in first.get_json()["items"]] == ["created", "created"]
    audits = _audit_count()
    second = client.put(f"{URL}/products", headers=headers, json=PRODUCTS).get_json()
    assert [i["result"] for i in second["items"]] == ["unchanged", "unchanged"]
    assert [i["id"] for i in second["items"]] == [i["id"] for i in first.get_json()["items"]]
    assert _audit_count() == audits
    record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "product.create")).first()
    assert record.actor_type == "api_key"


def test_a_changed_field_updates_only_that_product(client, auth):
    headers = auth.key_headers("masterdata")
    client.put(f"{URL}/products", headers=headers, json=PRODUCTS)
    items = [{**PRODUCTS["items"][0], "name": "茅台 500ml 新装"}, PRODUCTS["items"][1]]
    body = client.put(f"{URL}/products", headers=headers, json={"items": items}).get_json()
    assert (body["updated"], body["unchanged"]) == (1, 1)
    record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "product.update")).one()
    assert record.changes == {"name": ["茅台 500ml", "茅台 500ml 新装"]}


def test_a_batch_with_a_bad_item_is_rejected_whole(client, auth):
    items = [PRODUCTS["items"][0], {**PRODUCTS["items"][1], "gtin": "6900000000001"}]
    response = client.put(f"{URL}/products", headers=auth.key_headers("masterdata"), json={"items": items})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "batch_rejected"
    assert [(i["index"], i["external_id"], i["code"]) for i in body["errors"]["items"]] == [(1, "ERP-P2", "gtin_invalid")]
    assert db.session.scalar(sa.select(Product)) is None


def test_duplicate_external_ids_in_a_batch_get_422(client, auth):
    items = [PRODUCTS["items"][0], {**PRODUCTS["items"][1], "external_id": "ERP-P1"}]
    response = client.put(f"{URL}/products", headers=auth.key_headers("masterdata"), json={"items": items})
    assert (response.status_code, response.get_json()["code"]) == (422, "external_id_duplicate")


def test_a_malformed_item_gets_field_errors(client, auth):
    response = client.put(f"{URL}/products", headers=auth.key_headers("masterdata"),
                          json={"items": [{"external_id": "X", "name": "no sku"}]})
    assert response.status_code == 422
    assert response.get_json()["code"] == "validation_failed"


def test_dealers_and_stores_reference_each_other_by_external_id(client, auth):
    headers = auth.key_headers("masterdata")
    dealers = client.put(f"{URL}/dealers", headers=headers, json={"items": [
        {"external_id": "D-HZ", "name": "杭州经销商", "parent_external_id": "D-ZJ", "territory": [HANGZHOU]},
        {"external_id": "D-ZJ", "name": "浙江总代", "territory": [ZHEJIANG],
         "contacts": [{"name": "王伟", "phone": "13800000000", "title": "总经理"}]},
    ]})
    assert dealers.status_code == 200, dealers.get_json()
    tiers = dict(db.session.execute(sa.select(Dealer.external_id, Dealer.tier)).all())
    assert tiers == {"D-ZJ": 1, "D-HZ": 2}
    stores = client.put(f"{URL}/stores", headers=headers, json={"items": [
        {"external_id": "S-1", "name": "西湖店", "region_code": XIHU, "dealer_external_ids": ["D-HZ"],
         "longitude": 120.13, "latitude": 30.27},
    ]})
    assert stores.status_code == 200, stores.get_json()
    store = db.session.scalar(sa.select(Store))
    assert [d.external_id for d in store.dealers] == ["D-HZ"]
    again = client.put(f"{URL}/stores", headers=headers, json={"items": [
        {"external_id": "S-1", "name": "西湖店", "region_code": XIHU, "dealer_external_ids": ["D-HZ"],
         "longitude": 120.13, "latitude": 30.27}]}).get_json()
    assert again["unchanged"] == 1


def test_dealer_errors_come_back_per_item(client, auth):
    headers = auth.key_headers("masterdata")
    response = client.put(f"{URL}/dealers", headers=headers, json={"items": [
        {"external_id": "A", "name": "A", "parent_external_id": "B"},
        {"external_id": "B", "name": "B", "parent_external_id": "A"},
        {"external_id": "C", "name": "C", "territory": ["999900000000"]},
        {"external_id": "D", "name": "D", "parent_external_id": "NOBODY"},
    ]})
    assert response.status_code == 422
    codes = {i["external_id"]: i["code"] for i in response.get_json()["errors"]["items"]}
    assert codes == {"A": "dealer_parent_cycle", "B": "dealer_parent_cycle", "C": "region_unknown",
                     "D": "dealer_parent_unknown"}
    assert db.session.scalar(sa.select(Dealer)) is None


def test_factories_and_their_warehouses(client, auth):
    headers = auth.key_headers("masterdata")
    assert client.put(f"{URL}/factories", headers=headers, json={"items": [
        {"external_id": "F1", "name": "杭州工厂", "region_code": HANGZHOU}]}).status_code == 200
    response = client.put(f"{URL}/warehouses", headers=headers, json={"items": [
        {"external_id": "W1", "name": "成品库", "factory_external_id": "F1", "region_code": DONGCHENG},
        {"external_id": "W2", "name": "外库", "factory_external_id": "F9"}]})
    assert response.status_code == 422
    assert response.get_json()["errors"]["items"][0]["code"] == "factory_unknown"


def test_a_key_without_the_masterdata_scope_gets_403(client, auth):
    headers = auth.key_headers("production")
    for path in ("products", "factories", "warehouses", "dealers", "stores"):
        response = client.put(f"{URL}/{path}", headers=headers, json=PRODUCTS)
        assert (response.status_code, response.get_json()["code"]) == (403, "scope_forbidden")


def test_a_revoked_or_missing_key_gets_401(client, auth):
    headers = auth.key_headers("masterdata")
    key = db.session.scalar(sa.select(ApiKey))
    with transaction():
        identity.revoke_api_key(actor=identity.Actor.system("tests"), key_id=key.id)
    for used in (headers, {}):
        response = client.put(f"{URL}/products", headers=used, json=PRODUCTS)
        assert (response.status_code, response.get_json()["code"]) == (401, "api_key_invalid")


def test_a_back_office_token_cannot_call_the_machine_api(client, auth):
    response = client.put(f"{URL}/products", headers=auth.as_admin(), json=PRODUCTS)
    assert response.status_code == 401


def test_a_batch_holds_at_most_1000_items(client, auth):
    items = [{"external_id": f"E{n}", "sku": f"S{n}", "name": "x"} for n in range(1001)]
    response = client.put(f"{URL}/products", headers=auth.key_headers("masterdata"), json={"items": items})
    assert response.status_code == 422
