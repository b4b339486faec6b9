"""HTTP as clients and caches read it: Allow on a 405, no stored credentials, no silently dropped query."""
from __future__ import annotations

import pytest

from tests import channel_factories as cf
from tests.masterdata_factories import make_dealer


def test_a_method_not_allowed_says_which_are(client):
    response = client.put("/api/admin/auth/login", json={})
    assert (response.status_code, response.get_json()["code"]) == (405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


def test_answers_carrying_credentials_are_never_stored(client, auth, mp):
    from tests.factories import make_user

    admin = auth.as_admin()
    answers = {
        "back-office login": auth.login(make_user().username),
        "mini-program login": mp.login("consumer"),
        "API key": client.post("/api/admin/api-keys", json={"name": "ERP", "scopes": ["masterdata"]}, headers=admin),
        "invitation": client.post("/api/admin/invitations", headers=admin, json={
            "kind": "dealer_member", "dealer_id": make_dealer().id, "role": "owner"}),
        "webhook secret": client.post("/api/admin/webhook-endpoints", headers=admin, json={
            "url": "https://erp.example.com/hooks", "event_types": ["receipt.confirmed"]}),
    }
    answers["token refresh"] = client.post("/api/consumer/auth/refresh", json={
        "refresh_token": answers["mini-program login"].get_json()["refresh_token"]})
    for what, response in answers.items():
        assert response.status_code in (200, 201), (what, response.get_json())
        assert response.headers.get("Cache-Control") == "no-store", what
    # Errors too: a refusal says nothing a cache should keep either.
    assert client.get("/api/admin/auth/me").headers["Cache-Control"] == "no-store"


@pytest.fixture
def dealer_headers(mp):
    return cf.dealer_owner(mp)[1]


@pytest.mark.parametrize("path, unknown", [
    ("/api/dealer/stock?dealer_id=1", ["dealer_id"]),
    ("/api/admin/retail/sale-scans?region_code=110000000000", ["region_code"]),
    ("/api/admin/consumer-scans?code=ABC&verdict=genuine&colour=red", ["code", "colour"]),
    ("/api/admin/auth/me?x=1", ["x"]),  # an operation without query parameters takes none
])
def test_an_unknown_query_parameter_is_422_naming_it(client, auth, dealer_headers, path, unknown):
    headers = dealer_headers if path.startswith("/api/dealer/") else auth.as_admin()
    response = client.get(path, headers=headers)
    assert (response.status_code, response.get_json()["code"]) == (422, "validation_failed"), response.get_json()
    body = response.get_json()
    assert sorted(body["errors"]["query"]) == unknown
    assert all(name in body["message"] for name in unknown)


def test_paging_and_documented_query_parameters_still_work(client, auth):
    headers = auth.as_admin()
    paged = client.get("/api/admin/consumer-scans?page=2&page_size=5&verdict=genuine", headers=headers)
    assert paged.status_code == 200
    assert client.get("/api/admin/dealers?q=a&tier=1&region_code=110000000000", headers=headers).status_code == 200


def test_a_printed_label_url_takes_whatever_query_is_appended(client):
    """WeChat appends ?from=singlemessage&isappinstalled=0 to a shared link; the page still opens."""
    assert client.get("/c/ABC?from=singlemessage&isappinstalled=0").status_code == 200
