"""GET /api/admin/stock: items per warehouse, product and lot, for every back-office role."""
from __future__ import annotations

from app.identity.models import Role
from tests import unit_factories as uf
from tests.unit.test_warehouse_scans import make_world


def test_stock_lists_each_warehouse_product_and_lot_with_names(client, auth):
    world = make_world()
    uf.commission(world.lot, 5, warehouse_id=world.a)
    uf.commission(world.other_lot, 2, warehouse_id=world.a)
    uf.commission(world.lot, 3, warehouse_id=world.b)
    uf.commission(world.lot, 4)  # still at the line: not stock
    headers = auth.headers_for(Role.AUDITOR)

    response = client.get("/api/admin/stock", headers=headers)

    assert response.status_code == 200, response.get_json()
    rows = response.get_json()
    assert [(r["warehouse_id"], r["lot_id"], r["quantity"]) for r in rows] == [
        (world.a, world.lot.id, 5), (world.a, world.other_lot.id, 2), (world.b, world.lot.id, 3)]
    assert rows[0]["warehouse_name"] == "A" and rows[0]["lot_no"] == world.lot.lot_no
    assert rows[0]["sku"].startswith("SKU-") and rows[0]["product_name"]
    assert '"total": 3' in response.headers["X-Pagination"]

    only_b = client.get(f"/api/admin/stock?warehouse_id={world.b}", headers=headers).get_json()
    assert [(r["warehouse_id"], r["quantity"]) for r in only_b] == [(world.b, 3)]
    one_lot = client.get(f"/api/admin/stock?lot_id={world.other_lot.id}&product_id={world.lot.product_id}",
                         headers=headers).get_json()
    assert [r["quantity"] for r in one_lot] == [2]
    paged = client.get("/api/admin/stock?page=2&page_size=2", headers=headers).get_json()
    assert [r["warehouse_id"] for r in paged] == [world.b]


def test_stock_needs_a_back_office_login(client):
    assert client.get("/api/admin/stock").status_code == 401
