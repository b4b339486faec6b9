from app.identity.models import Role
from tests.masterdata_factories import HANGZHOU, make_factory


def test_a_factory_its_lines_and_its_warehouse(client, auth):
    headers = auth.headers_for(Role.OPS)
    factory = client.post("/api/admin/factories", headers=headers,
                          json={"name": "杭州工厂", "region_code": HANGZHOU}).get_json()
    line = client.post("/api/admin/production-lines", headers=headers,
                       json={"factory_id": factory["id"], "code": "L1", "name": "灌装线1", "mode": "auto"})
    assert line.status_code == 201 and line.get_json()["mode"] == "auto"
    again = client.post("/api/admin/production-lines", headers=headers,
                        json={"factory_id": factory["id"], "code": "L1", "name": "dup"})
    assert (again.status_code, again.get_json()["code"]) == (422, "line_code_taken")
    warehouse = client.post("/api/admin/warehouses", headers=headers,
                            json={"name": "成品库", "factory_id": factory["id"], "region_code": HANGZHOU})
    assert warehouse.status_code == 201 and warehouse.get_json()["factory_id"] == factory["id"]
    lines = client.get(f"/api/admin/production-lines?factory_id={factory['id']}", headers=headers).get_json()
    assert [l["code"] for l in lines] == ["L1"]
    listed = client.get(f"/api/admin/warehouses?factory_id={factory['id']}", headers=headers).get_json()
    assert [w["name"] for w in listed] == ["成品库"]


def test_a_factory_is_renamed_deactivated_and_audited(client, auth):
    factory = make_factory(name="Old name")
    headers = auth.as_admin()
    renamed = client.patch(f"/api/admin/factories/{factory.id}", headers=headers, json={"name": "New name"})
    assert renamed.get_json()["name"] == "New name"
    assert client.post(f"/api/admin/factories/{factory.id}/deactivate", headers=headers).get_json()["status"] \
        == "inactive"
    trail = client.get(f"/api/admin/audit?entity_type=factories&entity_id={factory.id}", headers=headers).get_json()
    assert [(r["action"], r["changes"]) for r in trail[:2]] == [
        ("factory.deactivate", {"status": ["active", "inactive"]}),
        ("factory.update", {"name": ["Old name", "New name"]}),
    ]


def test_unknown_factory_references_get_422_and_unknown_ids_404(client, auth):
    headers = auth.as_admin()
    response = client.post("/api/admin/production-lines", headers=headers,
                           json={"factory_id": 404, "code": "L9", "name": "x"})
    assert (response.status_code, response.get_json()["code"]) == (422, "factory_unknown")
    assert client.get("/api/admin/warehouses/404", headers=headers).get_json()["code"] == "warehouse_not_found"
    assert client.get("/api/admin/production-lines/404", headers=headers).status_code == 404


def test_a_marketer_cannot_create_factories(client, auth):
    response = client.post("/api/admin/factories", headers=auth.headers_for(Role.MARKETER), json={"name": "x"})
    assert response.status_code == 403
