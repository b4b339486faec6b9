"""Attacked (issue 16): EPCIS capture and query (hostile documents, eventID reuse, page tokens)."""
from __future__ import annotations

import socket

import pytest

from tests.epcis_factories import CAPTURE, GTIN, QUERY, build_world
from tests.factories import make_api_key

BASE = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-03T00:00:00Z"}
LINE_URI = "https://m.example.com/epcis/loc/line/ext/LINE-1"


def commission(codes, event_id=None, **more):
    event = {"type": "ObjectEvent", "eventTime": "2026-03-02T08:00:00Z", "eventTimeZoneOffset": "+08:00",
             "epcList": [f"https://id.gs1.org/01/{GTIN}/21/{c}" for c in codes], "action": "ADD",
             "bizStep": "commissioning", "readPoint": {"id": LINE_URI}, "ilmd": {"cbvmda:lotNumber": "LOT-RT"}}
    if event_id:
        event["eventID"] = event_id
    event.update(more)
    return event


@pytest.mark.parametrize("token", ["\u00b2.abc", "1.\u00fc", "\u0661.abc", "1." + "\u00e9" * 30, "-1.x", ".", ""])
def test_a_tampered_page_token_is_a_4xx_never_a_500(app, client, token):
    headers = {"X-Api-Key": make_api_key("epcis")}
    response = client.get(QUERY, headers=headers, query_string={"perPage": 2, "nextPageToken": token})
    assert response.status_code < 500, (token, response.status_code, response.get_data(as_text=True)[:300])
    if token:
        assert response.status_code == 400 and response.get_json()["code"] == "epcis_page_token_invalid", token


def test_capture_never_opens_a_socket_for_any_context(app, client, monkeypatch):
    world = build_world(app)
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    opened = []

    def no_network(*args, **kwargs):
        opened.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", lambda self, *a: no_network(*a))
    hostile = [
        # an event-level remote context, no eventID (so the hash is computed)
        commission([world.items[0]], **{"@context": ["https://evil.example/ctx.jsonld"]}),
        # a scoped context nested in an inline context
        commission([world.items[1]], **{"@context": [{"x": {"@id": "https://e/x", "@context": "https://evil.example/2"}}]}),
        # @import in an inline context
        commission([world.items[2]], **{"@context": [{"@version": 1.1, "@import": "https://evil.example/3"}]}),
    ]
    for event in hostile:
        response = client.post(CAPTURE, headers=headers, json={**BASE, "epcisBody": {"eventList": [event]}})
        assert response.status_code < 500, response.get_data(as_text=True)[:400]
    top = client.post(CAPTURE, headers=headers, json={
        **BASE, "@context": [BASE["@context"][0], {"@import": "https://evil.example/4", "@version": 1.1}],
        "epcisBody": {"eventList": [commission([world.items[0]])]}})
    assert top.status_code < 500, top.get_data(as_text=True)[:400]
    assert opened == []


@pytest.mark.parametrize("body", [
    {**BASE, "epcisBody": {"eventList": [{"type": "ObjectEvent", "eventTime": "2026-03-02T08:00:00Z",
                                          "eventTimeZoneOffset": "+08:00", "action": "ADD",
                                          "bizStep": "commissioning", "epcList": ["x"] , "readPoint": "notanobject"}]}},
    {**BASE, "epcisBody": {"eventList": [{"type": "ObjectEvent", "eventTime": "9999-12-31T23:59:59-23:59",
                                          "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",
                                          "bizStep": "shipping", "epcList": ["urn:epc:id:sgtin:6901234.056789.1"]}]}},
    {**BASE, "epcisBody": {"eventList": [{"type": "ObjectEvent", "eventTime": "0001-01-01T00:00:00+14:00",
                                          "eventTimeZoneOffset": "+08:00", "action": "ADD",
                                          "bizStep": "commissioning", "epcList": ["urn:epc:id:sgtin:6901234.056789.1"]}]}},
    {**BASE, "epcisBody": {"eventList": [{"type": "AggregationEvent", "eventTime": "2026-03-02T08:00:00Z",
                                          "eventTimeZoneOffset": "+08:00", "action": "DELETE",
                                          "parentID": "urn:epc:id:sscc:6901234.0000000001"}]}},
    {**BASE, "epcisBody": {"eventList": [{"type": "ObjectEvent", "eventTime": "2026-03-02T08:00:00Z",
                                          "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",
                                          "bizStep": "shipping", "eventID": "x" * 600,
                                          "epcList": ["urn:epc:id:sgtin:6901234.056789.1"]}]}},
    {**BASE, "epcisBody": {"eventList": [{"type": "ObjectEvent", "eventTime": "2026-03-02T08:00:00Z",
                                          "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",
                                          "bizStep": "receiving", "eventID": "ni:///sha-256;\u00e9?ver=CBV2.0",
                                          "bizLocation": {"id": "https://m.example.com/epcis/loc/warehouse/ext/" + "\u00e9" * 300},
                                          "epcList": ["https://id.gs1.org/01/06901234567892/21/" + "\u00e9" * 100]}]}},
])
def test_hostile_events_get_an_answer_not_a_500(app, client, body):
    build_world(app)
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    response = client.post(CAPTURE, headers=headers, json=body)
    assert response.status_code < 500, response.get_data(as_text=True)[:400]


def test_a_deeply_nested_document_is_refused_cleanly(app, client):
    import json
    headers = {"X-Api-Key": make_api_key("epcis_capture"), "Content-Type": "application/json"}
    head = json.dumps({**BASE, "epcisBody": {"eventList": []}})[:-2]
    data = head + ', "x": ' + '{"a": ' * 5000 + "{}" + "}" * 5000 + "}}"
    response = client.post(CAPTURE, headers=headers, data=data)
    assert 400 <= response.status_code < 500, response.status_code


SUPERSCRIPTS = "\u00b2" * 18  # str.isdigit() is True, int() refuses


@pytest.mark.parametrize("epc", [
    f"https://id.gs1.org/00/{SUPERSCRIPTS}",
    f"https://id.gs1.org/01/{SUPERSCRIPTS[:14]}/21/ABC",
    "urn:epc:id:sgtin:\u00b2\u00b2\u00b2\u00b2\u00b2\u00b2\u00b2.\u00b2\u00b2\u00b2\u00b2\u00b2\u00b2.1",
    "urn:epc:tag:sgtin-96:\u00b2.6901234.056789.1",
    "urn:epc:id:sgtin:6901234.056789." + "9" * 400,
    "https://[::1/01/06901234567892/21/X",
])
def test_query_by_a_hostile_epc_is_not_a_500(app, client, epc):
    headers = {"X-Api-Key": make_api_key("epcis")}
    for name in ("MATCH_epc", "MATCH_anyEPC", "MATCH_parentID"):
        response = client.get(QUERY, headers=headers, query_string={name: epc})
        assert response.status_code < 500, (name, epc, response.get_data(as_text=True)[:300])


@pytest.mark.parametrize("place", [
    "https://m.example.com/epcis/loc/warehouse/\u00b2",
    "https://m.example.com/epcis/loc/warehouse/ext/" + "x" * 5000,
])
def test_capture_with_a_hostile_place_is_not_a_500(app, client, place):
    world = build_world(app)
    from flask import current_app
    domain = current_app.config["LABEL_DOMAIN"]
    place = place.replace("m.example.com", domain)
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    event = {"type": "ObjectEvent", "eventTime": "2026-03-02T09:00:00Z", "eventTimeZoneOffset": "+08:00",
             "action": "OBSERVE", "bizStep": "receiving", "bizLocation": {"id": place},
             "epcList": [f"https://id.gs1.org/01/{GTIN}/21/{world.items[0]}"]}
    response = client.post(CAPTURE, headers=headers, json={**BASE, "epcisBody": {"eventList": [event]}})
    assert response.status_code < 500, response.get_data(as_text=True)[:400]


@pytest.mark.parametrize("epc", [f"https://id.gs1.org/00/{SUPERSCRIPTS}"])
def test_capture_with_a_hostile_epc_is_not_a_500(app, client, epc):
    build_world(app)
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    event = {"type": "ObjectEvent", "eventTime": "2026-03-02T09:00:00Z", "eventTimeZoneOffset": "+08:00",
             "action": "OBSERVE", "bizStep": "receiving", "epcList": [epc]}
    response = client.post(CAPTURE, headers=headers, json={**BASE, "epcisBody": {"eventList": [event]}})
    assert response.status_code < 500, response.get_data(as_text=True)[:400]


def test_a_long_context_list_does_not_pin_a_worker(app, client):
    """@context is an array with uniqueItems: objects can't be sorted, so jsonschema compares every pair
    (quadratic). 3,000 tiny objects (~70 KB) take seconds; a 16 MiB body takes days of CPU."""
    import time
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    context = BASE["@context"] + [{f"k{i}": "https://x/"} for i in range(3000)]
    started = time.monotonic()
    response = client.post(CAPTURE, headers=headers, json={**BASE, "@context": context,
                                                           "epcisBody": {"eventList": []}})
    took = time.monotonic() - started
    assert response.status_code < 500
    assert took < 1.0, f"{took:.1f} s for a {len(str(context)) // 1024} KB @context"


def post_escaped(client, headers, document):
    """POST a document as ASCII JSON: a lone surrogate travels as its escape, as a hostile client sends it."""
    import json

    return client.post(CAPTURE, headers=headers, data=json.dumps(document), content_type="application/json")


@pytest.mark.parametrize("tags", [
    {}, "E2801160600002084B8C7A1F", [1, 2], [["E2801160600002084B8C7A1F"]], [None], [],
    ["E2" * 500], ["\u0661" * 24], ["30" + "F" * 22], ["E2801160600002084B8C7A1F"] * 9,
    ["\ud800E2801160600002084B8C7A1F"],
])
def test_hostile_rfid_tags_refuse_the_event_alone(app, client, tags):
    world = build_world(app)
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    events = [commission([world.items[0]], **{"mt:rfidTags": tags}), commission([world.items[1]])]
    response = post_escaped(client, headers, {**BASE, "epcisBody": {"eventList": events}})
    assert response.status_code < 500, response.get_data(as_text=True)[:400]
    if response.status_code == 200:
        first, second = response.get_json()["results"]
        assert (first["status"], first["reason"], first["applied"]) == ("rejected", "rfid_tags_invalid", 0), first
        assert second["status"] == "accepted"


@pytest.mark.parametrize("event_id", ["\ud800", "\u00e9" * 512, "x" * 513, "urn:uuid:" + "\x00" * 10])
def test_a_hostile_event_id_is_answered_and_kept_once(app, client, event_id):
    world = build_world(app)
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    for _ in range(2):
        response = post_escaped(client, headers, {**BASE, "epcisBody": {"eventList": [
            commission([world.items[0]], event_id)]}})
        assert response.status_code < 500, response.get_data(as_text=True)[:400]


def test_tags_on_an_encoding_event_of_two_epcs_refuse_it(app, client):
    world = build_world(app)
    headers = {"X-Api-Key": make_api_key("epcis_capture")}
    encoding = {**commission(world.items[:2]), "action": "OBSERVE", "bizStep": "encoding",
                "mt:rfidTags": ["E2801160600002084B8C7A1F"]}
    encoding.pop("ilmd")
    response = client.post(CAPTURE, headers=headers, json={**BASE, "epcisBody": {"eventList": [encoding]}})
    assert response.get_json()["results"][0]["reason"] == "rfid_tags_invalid"
