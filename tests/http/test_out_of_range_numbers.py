"""Numbers too large for any column are refused cleanly (found by fuzzing the OpenAPI schema)."""
import pytest

HUGE = 10**25


@pytest.mark.parametrize("path", [
    f"/api/admin/users/{HUGE}",
    f"/api/admin/products/{HUGE}",
    f"/api/admin/code-batches/{HUGE}",
])
def test_an_id_beyond_64_bits_is_not_found(client, auth, path):
    assert client.get(path, headers=auth.as_admin()).status_code == 404


@pytest.mark.parametrize("query", [
    f"/api/admin/code-batches?product_id={HUGE}",
    f"/api/admin/stores?dealer_id={HUGE}",
    f"/api/admin/audit?actor_id={HUGE}",
])
def test_a_filter_beyond_64_bits_is_422(client, auth, query):
    response = client.get(query, headers=auth.as_admin())
    assert response.status_code == 422
    assert response.get_json()["code"] == "validation_failed"


def test_a_page_far_beyond_the_last_is_empty(client, auth):
    response = client.get(f"/api/admin/products?page={HUGE}", headers=auth.as_admin())
    assert response.status_code == 200 and response.get_json() == []


def test_packaging_counts_have_a_ceiling(client, auth):
    response = client.post("/api/admin/products", headers=auth.as_admin(),
                           json={"sku": "BIG-1", "name": "Big", "units_per_case": 2**40})
    assert response.status_code == 422
    assert response.get_json()["code"] == "packaging_invalid"


def test_an_erp_batch_with_a_huge_count_is_refused_not_crashed(client, auth):
    response = client.put("/api/integration/masterdata/products", headers=auth.key_headers("masterdata"),
                          json={"items": [{"external_id": "X1", "sku": "X1", "name": "x",
                                           "cases_per_pallet": 326355240985439126144822475227136}]})
    assert response.status_code == 422



@pytest.mark.parametrize("path, name", [("/api/admin/payouts", "from"), ("/api/admin/consumer-scans", "from"),
                                        ("/api/admin/audit", "since"), ("/api/admin/diversion-alerts", "seen_from")])
def test_times_utc_cannot_hold_are_a_422_not_a_500(client, auth, path, name):
    response = client.get(path, headers=auth.as_admin(), query_string={name: "0001-01-01T00:00:00+05:00"})
    assert response.status_code == 422, response.json
