"""A dependency down answers 503 `service_unavailable` with Retry-After, never 500 (issue 12 §2).

The database or Redis is taken away for real (the `outage` fixture): the drivers raise their own errors.
"""
from __future__ import annotations

import pytest

from tests import channel_factories as cf
from tests.factories import make_user
from tests.unit_factories import commission


def assert_unavailable(response):
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_a_dealer_shipment_scan_while_the_database_is_down(client, mp, outage):  # noqa: F811
    brand = cf.make_brand()
    dealer, headers = cf.dealer_owner(mp)
    codes = cf.dealer_stock(brand, dealer.id, cases_=2)
    store = cf.make_store_of(dealer.id)
    shipment = client.post("/api/dealer/shipments", json={"receiver_kind": "store", "receiver_id": store.id},
                           headers=headers).get_json()
    scans = f"/api/dealer/shipments/{shipment['id']}/scans"
    outage.redis()  # not needed by a shipment scan: it goes on
    assert client.post(scans, json={"codes": codes[:1]}, headers=headers).get_json()["accepted"] == 1
    outage.database()
    assert_unavailable(client.post(scans, json={"codes": codes[1:]}, headers=headers))
    outage.end()
    assert client.post(scans, json={"codes": codes[1:]}, headers=headers).get_json()["accepted"] == 1


def test_a_back_office_login_while_the_database_is_down(client, auth, outage):
    user = make_user()
    outage.database()
    assert_unavailable(auth.login(user.username))
    outage.end()
    assert auth.login(user.username).status_code == 200


@pytest.mark.parametrize("dependency", ["database", "redis"])
def test_a_consumer_scan_while_a_dependency_is_down(client, mp, outage, dependency):  # noqa: F811
    product_lot = cf.make_brand().lot
    code = commission(product_lot, 1)[0]
    headers, _ = mp.sign_in("consumer")
    getattr(outage, dependency)()
    assert_unavailable(client.post("/api/consumer/scans", json={"code": code}, headers=headers))
    outage.end()
    assert client.post("/api/consumer/scans", json={"code": code}, headers=headers).status_code == 201


@pytest.mark.parametrize("dependency", ["database", "redis"])
def test_a_mini_program_login_while_a_dependency_is_down(client, mp, outage, dependency):  # noqa: F811
    getattr(outage, dependency)()
    assert_unavailable(mp.login("dealer"))
