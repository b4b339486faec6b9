"""Hostile inputs get a clear 4xx (or a per-record refusal in a batch), never a 500."""
from __future__ import annotations

import io
import json

import pytest

from app.codes.format import CODE_LENGTH
from tests import channel_factories as cf
from tests.masterdata_factories import make_dealer
from tests.mp_factories import make_invitation

# One character normalising to itself, and a code-length run of characters no code has.
NOT_CODES = ("!", "!" * CODE_LENGTH)


@pytest.mark.parametrize("text", NOT_CODES)
def test_a_text_that_is_no_code_is_refused_by_every_scan(client, mp, auth, text):
    dealer = make_dealer()
    store = cf.make_store_of(dealer.id)
    clerk = mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code)
    _, dealer_headers = cf.dealer_owner(mp, dealer)
    shipment = client.post("/api/dealer/shipments", json={"receiver_kind": "store", "receiver_id": store.id},
                           headers=dealer_headers).get_json()

    sale = client.post("/api/clerk/sales", json={"code": text}, headers=clerk)
    assert (sale.status_code, sale.get_json()["code"]) == (422, "forged")

    scan = client.post(f"/api/dealer/shipments/{shipment['id']}/scans", json={"codes": [text]},
                       headers=dealer_headers)
    assert scan.status_code == 200, scan.get_json()
    assert [(r["status"], r["reason"]) for r in scan.get_json()["results"]] == [("refused", "forged")]

    warehouse = client.post("/api/integration/warehouse/scans", headers=auth.key_headers("warehouse"), json={
        "records": [{"record_id": "a", "scanned_at": "2026-03-02T09:00:00Z", "action": "inbound", "code": text,
                     "warehouse_id": 1, "source": "line"}]})
    assert warehouse.status_code == 200, warehouse.get_json()
    assert [(r["status"], r["reason"]) for r in warehouse.get_json()["results"]] == [("rejected", "forged")]


JSON = {"Content-Type": "application/json"}
LONE_SURROGATE = '"\\ud800"'  # the JSON escape of half a UTF-16 pair: legal JSON, not text


def _refused(response, status, code):
    assert (response.status_code, response.get_json()["code"]) == (status, code), response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize("path, body", [
    ("/api/admin/auth/login", '{"username": %s, "password": "x"}' % LONE_SURROGATE),
    ("/api/admin/auth/login", '{"username": "a", "password": "a\\udc00b"}'),
    ("/api/admin/auth/login", '{%s: "a"}' % LONE_SURROGATE),
    ("/api/dealer/auth/login", '{"code": %s}' % LONE_SURROGATE),
    ("/api/clerk/auth/login", '{"code": %s}' % LONE_SURROGATE),
    ("/api/consumer/auth/login", '{"code": "sandbox:\\ud800:1"}'),
])
def test_a_lone_surrogate_is_invalid_text_before_anyone_is_known(client, path, body):
    _refused(client.post(path, data=body, headers=JSON), 400, "invalid_text")


@pytest.mark.parametrize("body", ['{"name": %s}' % LONE_SURROGATE,
                                  '{"name": "D", "contacts": [{"name": "c", "title": %s}]}' % LONE_SURROGATE])
def test_a_lone_surrogate_in_any_field_is_invalid_text_and_writes_nothing(client, auth, body):
    headers = {**JSON, **auth.as_admin()}
    _refused(client.post("/api/admin/dealers", data=body, headers=headers), 400, "invalid_text")
    assert client.get("/api/admin/dealers", headers=headers).get_json() == []


def test_a_surrogate_pair_is_text(client):
    """An escaped pair (what ensure_ascii encoders send for an emoji) is one character, and welcome."""
    response = client.post("/api/admin/auth/login", data='{"username": "\\ud83d\\ude00", "password": "x"}',
                           headers=JSON)
    assert (response.status_code, response.get_json()["code"]) == (401, "invalid_credentials")


def test_a_query_string_that_is_no_utf8_is_no_500(client, auth):
    response = client.get("/api/admin/products?q=%ED%A0%80", headers=auth.as_admin())
    assert response.status_code < 500


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000,
                                  '{"username": ' + "[" * 65 + "]" * 65 + ', "password": "x"}'])
def test_json_nested_too_deep_is_a_400(client, body):
    # Before anyone is known: an endpoint taking the general body size (a login takes 4 KiB at most)
    body = _refused(client.post("/api/admin/dealers", data=body, headers=JSON), 400, "json_too_deep")
    assert "64" in body["message"]


@pytest.mark.parametrize("path", ["/api/admin/dealers", "/api/integration/warehouse/scans"])
def test_a_number_python_cannot_read_is_a_400_not_a_500(client, path):
    # Past 4,300 digits Python's JSON parser raises a bare ValueError that no parser answers.
    body = _refused(client.post(path, data='{"code": ' + "7" * 5000 + "}", headers=JSON), 400, "json_number_too_long")
    assert "4,300" in body["message"]
    # The same digits inside a string are text, not a number.
    response = client.post(path, data=json.dumps({"code": "7" * 5000}), headers=JSON)
    assert response.status_code in (400, 401, 422, 429) and response.json["code"] != "json_number_too_long"


def test_brackets_inside_strings_are_not_nesting(client):
    body = json.dumps({"username": "[{" * 20 + '\\"' + "]" * 10, "password": "[" * 100})
    response = client.post("/api/admin/auth/login", data=body, headers=JSON)
    assert (response.status_code, response.get_json()["code"]) == (401, "invalid_credentials")


def test_a_body_over_the_limit_is_413_naming_the_limit(client, app, auth):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = '{"name": "%s"}' % ("a" * limit)
    refused = _refused(client.post("/api/admin/dealers", data=body, headers={**JSON, **auth.as_admin()}),
                       413, "payload_too_large")
    assert f"{limit:,}" in refused["message"] and refused["errors"] == {"max_bytes": limit}


@pytest.mark.parametrize("path", ["/api/admin/auth/login", "/api/consumer/auth/login", "/api/clerk/auth/refresh",
                                  "/api/consumer/scans", "/api/consumer/scans/1/hidden-code",
                                  "/api/consumer/scans/1/claim"])
def test_a_public_or_consumer_form_takes_a_small_body_and_refuses_more_before_reading_it(client, path):
    """A login, a scan, a claim take a few hundred bytes: 4 KiB at most, refused before any check reads
    the body or anyone is known (an anonymous megabyte of arrays would otherwise cost a second of CPU)."""
    from app.inputs import SMALL_BODY_BYTES

    body = '{"code": "x", "x": [%s1]}' % ("[1]," * (SMALL_BODY_BYTES // 4))
    refused = _refused(client.post(path, data=body, headers=JSON), 413, "payload_too_large")
    assert refused["errors"] == {"max_bytes": SMALL_BODY_BYTES}


def test_a_streamed_body_over_the_limit_is_413(client, app, monkeypatch):
    """No Content-Length (chunked): the body is cut off where it passes the limit."""
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
    body = io.BytesIO(b'{"username": "%s", "password": "x"}' % (b"a" * 2000))
    response = client.post("/api/admin/auth/login", input_stream=body, headers=JSON,
                           environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})
    _refused(response, 413, "payload_too_large")


CAMPAIGN = {"name": "Spring", "starts_at": "2026-03-01T00:00:00Z", "ends_at": "2099-06-01T00:00:00Z",
            "total_budget_fen": 100_000, "prizes": [{"kind": "cash", "name": "Red packet", "amount": 888,
                                                     "probability_ppm": 100_000, "stock": 300}]}


@pytest.mark.parametrize("change, field", [
    ({"total_budget_fen": 100_000.5}, "total_budget_fen"),
    ({"daily_budget_fen": 100.5}, "daily_budget_fen"),
    ({"total_budget_fen": 1e5}, "total_budget_fen"),
    ({"prizes": [{**CAMPAIGN["prizes"][0], "amount": 888.5}]}, "prizes"),
])
def test_fractional_fen_is_refused_not_rounded(client, auth, change, field):
    headers = auth.as_admin()
    response = client.post("/api/admin/campaigns", json={**CAMPAIGN, **change}, headers=headers)
    body = _refused(response, 422, "validation_failed")
    assert field in body["errors"]["json"]
    assert client.get("/api/admin/campaigns", headers=headers).get_json() == []


def test_a_fractional_withdrawal_is_refused(client, mp):
    store = cf.make_store_of(make_dealer().id)
    headers = mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code)
    response = client.post("/api/clerk/withdrawals", json={"amount": 100.5, "request_id": "r1"}, headers=headers)
    assert "amount" in _refused(response, 422, "validation_failed")["errors"]["json"]


def test_every_integer_field_of_every_schema_is_the_strict_one(app):
    """Money and counts alike: a schema that declares marshmallow's own Integer would round 100.5 down."""
    import marshmallow as ma

    from app.schemas import Int

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    loose = [f"{schema.__module__}.{schema.__name__}.{name}"
             for schema in subclasses(ma.Schema) if schema.__module__.startswith(("app.", "miniprogram_api"))
             for name, field in schema._declared_fields.items()
             if isinstance(field, ma.fields.Integer) and not isinstance(field, Int)
             and schema.__module__ != "app.errors"]
    assert loose == []


@pytest.mark.parametrize("body, status, code", [
    ('{"code": %s}' % LONE_SURROGATE, 400, "invalid_text"),
    ('{"code": "ABC", "hidden_code": %s}' % LONE_SURROGATE, 400, "invalid_text"),
    ('{"code": "ABC", "latitude": ' + "[" * 65 + "]" * 65 + "}", 400, "json_too_deep"),
])
def test_the_consumer_scan_decodes_its_own_body_with_the_same_checks(client, mp, body, status, code):
    """The scan's fast decoder (msgspec) hands what it refuses to the schema, after the checks every body has."""
    headers, _ = mp.sign_in("consumer")
    _refused(client.post("/api/consumer/scans", data=body, headers={**JSON, **headers}), status, code)


def test_the_consumer_scan_refuses_a_body_over_the_limit(client, mp):
    headers, _ = mp.sign_in("consumer")
    body = b'{"code": "%s"}' % (b"A" * 5000)  # 4 KiB at most (app.inputs.SMALL_BODY_BYTES)
    _refused(client.post("/api/consumer/scans", data=body, headers={**JSON, **headers}), 413, "payload_too_large")
    response = client.post("/api/consumer/scans", input_stream=io.BytesIO(body), headers={**JSON, **headers},
                           environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})
    assert response.status_code == 413, response.get_data(as_text=True)
