import json

from app.identity.models import Role
from tests.masterdata_factories import gtin13, make_product


def test_an_ops_user_creates_a_product_with_its_packaging(client, auth):
    response = client.post("/api/admin/products", headers=auth.headers_for(Role.OPS), json={
        "sku": "MT-500", "name": "茅台 500ml", "gtin": "6901234567892", "specification": "500ml 53%vol",
        "units_per_case": 6, "cases_per_pallet": 80, "shelf_life_days": 3650,
        "description": "Sauce-aroma baijiu", "image_url": "https://cdn.example.com/mt500.png"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["gtin"] == "06901234567892" and body["status"] == "active"
    assert (body["units_per_case"], body["cases_per_pallet"]) == (6, 80)


def test_a_bad_gtin_gets_422_gtin_invalid(client, auth):
    response = client.post("/api/admin/products", headers=auth.as_admin(),
                           json={"sku": "X", "name": "X", "gtin": "6901234567891"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "gtin_invalid" and "gtin" in body["errors"]


def test_a_taken_external_id_gets_422(client, auth):
    make_product(external_id="ERP-9")
    response = client.post("/api/admin/products", headers=auth.as_admin(),
                           json={"sku": "Y", "name": "Y", "external_id": "ERP-9"})
    assert (response.status_code, response.get_json()["code"]) == (422, "external_id_taken")


def test_products_are_paginated_and_filtered(client, auth):
    for n in range(1, 6):
        make_product(name=f"Baijiu {n}", gtin=gtin13(n))
    make_product(name="Water")
    headers = auth.headers_for(Role.AUDITOR)
    page = client.get("/api/admin/products?q=baijiu&page=2&page_size=2", headers=headers)
    assert page.status_code == 200
    assert [p["name"] for p in page.get_json()] == ["Baijiu 3", "Baijiu 4"]
    assert json.loads(page.headers["X-Pagination"])["total"] == 5
    by_gtin = client.get(f"/api/admin/products?gtin={gtin13(2)}", headers=headers).get_json()
    assert [p["name"] for p in by_gtin] == ["Baijiu 2"]


def test_deactivating_a_product_is_audited_with_the_changed_field(client, auth):
    admin = auth.as_admin()
    product = make_product()
    response = client.post(f"/api/admin/products/{product.id}/deactivate", headers=admin)
    assert response.status_code == 200 and response.get_json()["status"] == "inactive"
    assert [p["id"] for p in client.get("/api/admin/products?status=inactive", headers=admin).get_json()] \
        == [product.id]
    trail = client.get(f"/api/admin/audit?entity_type=products&entity_id={product.id}", headers=admin).get_json()
    assert trail[0]["action"] == "product.deactivate"
    assert trail[0]["changes"] == {"status": ["active", "inactive"]}


def test_a_patch_changes_only_what_it_names_and_is_audited(client, auth):
    product = make_product(specification="500ml")
    headers = auth.headers_for(Role.OPS)
    response = client.patch(f"/api/admin/products/{product.id}", headers=headers, json={"units_per_case": 12})
    assert response.status_code == 200
    assert (response.get_json()["units_per_case"], response.get_json()["specification"]) == (12, "500ml")
    trail = client.get("/api/admin/audit?action=product.update", headers=auth.as_admin()).get_json()
    assert trail[0]["changes"] == {"units_per_case": [1, 12]} and trail[0]["actor_type"] == "user"


def test_marketers_and_auditors_read_but_do_not_write(client, auth):
    product = make_product()
    for role in (Role.MARKETER, Role.AUDITOR, Role.FINANCE):
        headers = auth.headers_for(role)
        assert client.get(f"/api/admin/products/{product.id}", headers=headers).status_code == 200
        for method, url, body in (("post", "/api/admin/products", {"sku": "Z", "name": "Z"}),
                                  ("patch", f"/api/admin/products/{product.id}", {"name": "Z"}),
                                  ("post", f"/api/admin/products/{product.id}/deactivate", None)):
            response = getattr(client, method)(url, headers=headers, json=body)
            assert (response.status_code, response.get_json()["code"]) == (403, "role_forbidden")


def test_an_unknown_product_is_404(client, auth):
    response = client.get("/api/admin/products/9999", headers=auth.as_admin())
    assert (response.status_code, response.get_json()["code"]) == (404, "product_not_found")


def test_no_token_no_master_data(client):
    assert client.get("/api/admin/products").status_code == 401
