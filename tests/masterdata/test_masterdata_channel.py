import json

from app.identity.models import Role
from tests.masterdata_factories import BEIJING, DONGCHENG, HANGZHOU, XIHU, ZHEJIANG, make_dealer, make_store


def test_regions_are_listed_by_level_parent_and_name(client, auth):
    headers = auth.headers_for(Role.MARKETER)
    provinces = client.get("/api/admin/regions?level=province&page_size=100", headers=headers)
    assert json.loads(provinces.headers["X-Pagination"])["total"] == 34
    assert {"code": BEIJING, "name": "北京市"}.items() <= provinces.get_json()[0].items()
    children = client.get(f"/api/admin/regions?parent_code={HANGZHOU}&page_size=100", headers=headers).get_json()
    assert XIHU in [r["code"] for r in children] and {r["level"] for r in children} == {"district"}
    named = client.get("/api/admin/regions?q=西湖", headers=headers).get_json()
    assert XIHU in [r["code"] for r in named]
    one = client.get(f"/api/admin/regions/{XIHU}", headers=headers).get_json()
    assert (one["name"], one["parent_code"]) == ("西湖区", HANGZHOU)
    assert client.get("/api/admin/regions/123", headers=headers).get_json()["code"] == "region_not_found"


def test_regions_are_read_only(client, auth):
    assert client.post("/api/admin/regions", headers=auth.as_admin(), json={}).status_code == 405


def test_a_dealer_with_a_parent_and_territory(client, auth):
    headers = auth.headers_for(Role.OPS)
    parent = client.post("/api/admin/dealers", headers=headers,
                         json={"name": "浙江总代", "territory": [ZHEJIANG]}).get_json()
    response = client.post("/api/admin/dealers", headers=headers, json={
        "name": "杭州经销商", "parent_id": parent["id"], "territory": [HANGZHOU],
        "contacts": [{"name": "李娜", "phone": "13900000000"}]})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["tier"], body["parent_id"], body["territory"]) == (2, parent["id"], [HANGZHOU])
    assert body["contacts"] == [{"name": "李娜", "phone": "13900000000", "title": ""}]
    by_tier = client.get("/api/admin/dealers?tier=2", headers=headers).get_json()
    assert [d["id"] for d in by_tier] == [body["id"]]
    covering = client.get(f"/api/admin/dealers?region_code={XIHU}", headers=headers).get_json()
    assert [d["id"] for d in covering] == [parent["id"], body["id"]]


def test_a_parent_cycle_gets_422_dealer_parent_cycle(client, auth):
    top = make_dealer()
    below = make_dealer(parent_id=top.id)
    response = client.patch(f"/api/admin/dealers/{top.id}", headers=auth.as_admin(), json={"parent_id": below.id})
    assert response.status_code == 422
    assert response.get_json()["code"] == "dealer_parent_cycle"


def test_an_unknown_region_gets_422_region_unknown(client, auth):
    headers = auth.as_admin()
    dealer = client.post("/api/admin/dealers", headers=headers, json={"name": "d", "territory": ["990000000000"]})
    store = client.post("/api/admin/stores", headers=headers, json={"name": "s", "region_code": "990100000000"})
    for response in (dealer, store):
        assert (response.status_code, response.get_json()["code"]) == (422, "region_unknown")


def test_a_store_with_coordinates_and_dealers(client, auth):
    dealer = make_dealer()
    headers = auth.headers_for(Role.OPS)
    response = client.post("/api/admin/stores", headers=headers, json={
        "name": "西湖店", "address": "杭州市西湖区文三路1号", "region_code": XIHU,
        "longitude": 120.13, "latitude": 30.27, "dealer_ids": [dealer.id]})
    assert response.status_code == 201, response.get_json()
    store = response.get_json()
    assert (store["dealer_ids"], store["region_code"], store["latitude"]) == ([dealer.id], XIHU, 30.27)
    in_province = client.get(f"/api/admin/stores?region_code={ZHEJIANG}", headers=headers).get_json()
    assert [s["id"] for s in in_province] == [store["id"]]
    assert client.get(f"/api/admin/stores?dealer_id={dealer.id + 1}", headers=headers).get_json() == []
    province = client.patch(f"/api/admin/stores/{store['id']}", headers=headers, json={"region_code": BEIJING})
    assert (province.status_code, province.get_json()["code"]) == (422, "region_level_invalid")


def test_deactivated_stores_and_dealers_drop_out_of_the_active_list(client, auth):
    headers = auth.as_admin()
    store, kept = make_store(region_code=DONGCHENG), make_store()
    dealer = make_dealer()
    assert client.post(f"/api/admin/stores/{store.id}/deactivate", headers=headers).status_code == 200
    assert client.post(f"/api/admin/dealers/{dealer.id}/deactivate", headers=headers).status_code == 200
    assert [s["id"] for s in client.get("/api/admin/stores?status=active", headers=headers).get_json()] == [kept.id]
    assert client.get("/api/admin/dealers?status=active", headers=headers).get_json() == []
    back = client.post(f"/api/admin/dealers/{dealer.id}/reactivate", headers=headers).get_json()
    assert back["status"] == "active"


def test_an_auditor_cannot_change_dealers_or_stores(client, auth):
    headers = auth.headers_for(Role.AUDITOR)
    dealer = make_dealer()
    assert client.post("/api/admin/dealers", headers=headers, json={"name": "x"}).status_code == 403
    assert client.patch(f"/api/admin/dealers/{dealer.id}", headers=headers, json={"name": "x"}).status_code == 403
    assert client.post("/api/admin/stores", headers=headers,
                       json={"name": "x", "region_code": XIHU}).status_code == 403
    assert client.get("/api/admin/dealers", headers=headers).status_code == 200
