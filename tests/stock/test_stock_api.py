"""GET /api/admin/stock and /summary: items held by each warehouse, dealer and store, their age and days of stock."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.identity.models import Role
from app.units import stock_moves
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import DONGCHENG, make_dealer
from tests.warehouse_factories import make_world

TODAY = date(2026, 4, 11)


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


@pytest.fixture
def dated(monkeypatch):
    """Moves dated by a day of our choosing (then today)."""
    def set_day(day: date) -> None:
        monkeypatch.setattr(stock_moves, "today", lambda: day)
    return set_day


def test_stock_answers_for_dealers_and_stores_with_age_and_days_of_stock(client, auth, dated):
    brand = cf.make_brand()
    dealer = make_dealer(territory=[DONGCHENG])
    shop = cf.make_store_of(dealer.id)
    dated(TODAY - timedelta(days=45))
    cases = cf.dealer_stock(brand, dealer.id, cases_=2)  # 48 to the dealer, 45 days ago
    dated(TODAY - timedelta(days=10))
    cf.receive(cf.ship_to(cases[:1], shipper=("dealer", dealer.id), receiver=("store", shop.id)).id,
               receiver=("store", shop.id))  # 24 to the store, 10 days ago
    dated(TODAY)
    headers = auth.headers_for(Role.FINANCE)

    dealers = client.get(f"/api/admin/stock?holder_kind=dealer&holder_id={dealer.id}", headers=headers)
    assert dealers.status_code == 200, dealers.get_json()
    [row] = dealers.get_json()
    # 24 left, received 45 days ago; 24 shipped 10 days ago: 24 / (24 / 30) = 30 days
    assert {k: row[k] for k in ("holder_kind", "holder_id", "quantity", "oldest_received_on", "age_0_30",
                                "age_31_60", "outflow", "days_of_stock", "warehouse_id", "region_code")} == {
        "holder_kind": "dealer", "holder_id": dealer.id, "quantity": 24, "oldest_received_on": "2026-02-25",
        "age_0_30": 0, "age_31_60": 24, "outflow": 24, "days_of_stock": 30.0, "warehouse_id": None,
        "region_code": DONGCHENG}
    # Over 60 days the dealer's outflow is the same 24: 24 / (24 / 60) = 60 days
    assert client.get("/api/admin/stock?holder_kind=dealer&days=60", headers=headers).get_json()[0][
        "days_of_stock"] == 60.0
    [in_store] = client.get("/api/admin/stock?holder_kind=store&region_code=110101", headers=headers).get_json()
    assert (in_store["holder_id"], in_store["quantity"], in_store["age_0_30"], in_store["outflow"],
            in_store["days_of_stock"]) == (shop.id, 24, 24, 0, None)
    assert client.get("/api/admin/stock?region_code=330000", headers=headers).get_json() == []

    summary = client.get("/api/admin/stock/summary?group=holder_kind", headers=headers)
    assert summary.status_code == 200, summary.get_json()
    body = summary.get_json()
    assert (body["as_of"], body["days"]) == ("2026-04-11", 30)
    assert [(r["key"], r["holders"], r["quantity"], r["outflow"], r["days_of_stock"]) for r in body["rows"]] == [
        ("dealer", 1, 24, 24, 30.0), ("store", 1, 24, 0, None)]  # the warehouse shipped 45 days ago, holds none
    by_kind_90 = client.get("/api/admin/stock/summary?group=holder_kind&days=90", headers=headers).get_json()["rows"]
    assert (by_kind_90[-1]["key"], by_kind_90[-1]["holders"], by_kind_90[-1]["quantity"],
            by_kind_90[-1]["outflow"], by_kind_90[-1]["days_of_stock"]) == ("warehouse", 0, 0, 48, 0.0)


@pytest.mark.parametrize("path, name", [
    ("/api/admin/stock?days=0", "days"),
    ("/api/admin/stock?days=366", "days"),
    ("/api/admin/stock?holder_kind=consumer", "holder_kind"),
    ("/api/admin/stock?holder_id=1", "holder_id"),
    ("/api/admin/stock?region_code=999999", "region_code"),
    ("/api/admin/stock/summary?group=colour", "group"),
    ("/api/admin/stock/summary", "group"),
    ("/api/admin/stock/summary?group=region&region_level=street", "region_level"),
    ("/api/admin/stock/summary?group=product&days=400", "days"),
])
def test_bad_parameters_are_a_422_naming_the_parameter(client, auth, path, name):
    response = client.get(path, headers=auth.headers_for(Role.OPS))
    assert response.status_code == 422, response.get_json()
    assert name in str(response.get_json()["errors"])


@pytest.mark.parametrize("role, status", [(Role.ADMIN, 200), (Role.OPS, 200), (Role.FINANCE, 200),
                                          (Role.AUDITOR, 200), (Role.MARKETER, 403)])
def test_stock_is_read_by_admin_ops_finance_and_auditors(client, auth, role, status):
    headers = auth.headers_for(role)
    assert client.get("/api/admin/stock", headers=headers).status_code == status
    assert client.get("/api/admin/stock/summary?group=product", headers=headers).status_code == status
