"""Consumer scans over HTTP: POST a scanned URL or code, the answer's shape, my scans only, errors."""
from __future__ import annotations

from tests.campaign_factories import open_campaign
from tests.consumer_factories import short

SCANS = "/api/consumer/scans"


def test_a_consumer_scans_a_url_and_gets_verdict_product_lot_story(client, mp, goods):  # noqa: F811
    headers, _ = mp.sign_in("consumer")
    response = client.post(SCANS, json={"url": short(goods["items"][0]), "latitude": 30.26, "longitude": 120.13},
                           headers=headers)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["verdict"] == "genuine" and body["scan_id"] > 0 and "Genuine" in body["message"]
    assert body["product"]["name"] == "Jasmine Tea"
    assert body["lot"] == {"lot_no": "L2026-03", "production_date": "2026-03-02", "expiry_date": "2027-03-02"}
    assert body["story"]["made"]["city"] == "杭州市" and body["story"]["store"] is None
    assert body["scans"]["count"] == 1 and body["scans"]["first_city"] == "杭州市"
    assert body["hidden_code"] == {"required": False, "ok": None, "locked": False}
    assert body["campaigns"] == []

    again = client.post(SCANS, json={"code": goods["items"][0]}, headers=headers).json
    assert again["verdict"] == "scanned_before" and again["scans"]["count"] == 2


def test_bad_bodies_and_garbage_text(client, mp):  # noqa: F811
    headers, _ = mp.sign_in("consumer")
    for body in ({}, {"url": "https://m.example.com/c/X", "code": "X"}, {"code": "X", "latitude": 91},
                 {"code": "x" * 65}):
        assert client.post(SCANS, json=body, headers=headers).status_code == 422, body
    response = client.post(SCANS, json={"url": "https://elsewhere.example/c/0123456789ABCDEFGH"}, headers=headers)
    assert response.status_code == 422 and response.json["code"] == "scan_text_invalid"


def test_rate_limited_answers_429_with_retry_after(client, mp, goods, app, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "CONSUMER_SCANS_PER_MINUTE_USER", 1)
    headers, _ = mp.sign_in("consumer")
    assert client.post(SCANS, json={"code": goods["items"][0]}, headers=headers).status_code == 201
    response = client.post(SCANS, json={"code": goods["items"][1]}, headers=headers)
    assert response.status_code == 429 and response.json["code"] == "rate_limited"
    assert 0 < int(response.headers["Retry-After"]) <= 60


def test_a_consumer_sees_only_their_own_scans(client, mp, goods):  # noqa: F811
    mine, _ = mp.sign_in("consumer")
    theirs, _ = mp.sign_in("consumer")
    client.post(SCANS, json={"code": goods["items"][0]}, headers=mine)
    client.post(SCANS, json={"code": goods["items"][1]}, headers=mine)
    client.post(SCANS, json={"code": goods["items"][2]}, headers=theirs)
    listed = client.get(SCANS, headers=mine, query_string={"page_size": 1})
    assert listed.status_code == 200 and len(listed.json) == 1 and listed.json[0]["code"] == goods["items"][1]
    assert [s["code"] for s in client.get(SCANS, headers=mine).json] == [goods["items"][1], goods["items"][0]]
    assert [s["code"] for s in client.get(SCANS, headers=theirs).json] == [goods["items"][2]]
    product = goods["product"]  # each scan names its product (issue 16 §1)
    assert {(s["product_id"], s["sku"], s["product_name"]) for s in client.get(SCANS, headers=mine).json} == {
        (product.id, product.sku, "Jasmine Tea")}


def test_other_mini_programs_and_strangers_are_refused(client, mp, goods):  # noqa: F811
    assert client.post(SCANS, json={"code": goods["items"][0]}).status_code == 401
    clerk, _ = mp.sign_in("clerk")
    assert client.post(SCANS, json={"code": goods["items"][0]}, headers=clerk).status_code in (401, 403)



def test_the_client_address_comes_from_trusted_proxies_only(app, client, mp, goods, monkeypatch):  # noqa: F811
    from app import trust_proxies
    from app.consumers.models import ConsumerScan
    from app.extensions import db

    headers, _ = mp.sign_in("consumer")
    forwarded = {**headers, "X-Forwarded-For": "203.0.113.9"}
    direct = client.post(SCANS, json={"code": goods["items"][0]}, headers=forwarded).json["scan_id"]
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", 1)
    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)  # put back after the test
    trust_proxies(app)
    proxied = client.post(SCANS, json={"code": goods["items"][1]}, headers=forwarded).json["scan_id"]
    assert [db.session.get(ConsumerScan, i).ip for i in (direct, proxied)] == ["127.0.0.1", "203.0.113.9"]


def test_the_hidden_code_step_over_http(client, mp, hidden):  # noqa: F811
    headers, _ = mp.sign_in("consumer")
    made = client.post(SCANS, json={"url": short(hidden["code"])}, headers=headers).json
    assert made["hidden_code"] == {"required": True, "ok": None, "locked": False}
    step = f"{SCANS}/{made['scan_id']}/hidden-code"
    for body in ({}, {"hidden_code": ""}, {"hidden_code": "1" * 17}):
        response = client.post(step, json=body, headers=headers)
        assert response.status_code == 422 and response.json["code"] == "validation_failed", body
    answer = client.post(step, json={"hidden_code": hidden["right"]}, headers=headers)
    assert answer.status_code == 200, answer.json
    assert answer.json["scan_id"] == made["scan_id"] and answer.json["verdict"] == "genuine"
    assert answer.json["hidden_code"] == {"required": True, "ok": True, "locked": False}
    assert answer.json["campaigns"] == [] and answer.json["closed_campaigns"] == []
    other_headers, _ = mp.sign_in("consumer", mp.new_name())
    assert client.post(step, json={"hidden_code": hidden["right"]}, headers=other_headers).status_code == 404
    assert client.post(step, json={"hidden_code": hidden["right"]}).status_code == 401


def test_the_scans_fast_encoder_answers_what_its_schema_documents(app, users, goods, hidden):
    """The scan's answer is encoded by msgspec for speed; it must be what the OpenAPI schema's dump is."""
    import json
    from datetime import timedelta

    from flask import json as flask_json

    from app.db import transaction, utcnow
    from app.flows import consumer_scans as service
    from miniprogram_api.consumer_scans import ConsumerScanResultSchema, _encode, scan_answer

    open_campaign(ends_at=utcnow() + timedelta(days=3))
    open_campaign(name="Zhejiang", region_codes=["330000000000"])
    user = users()
    results = []
    for text, kw in ((short(goods["items"][0]), {"latitude": 30.26, "longitude": 120.13}),
                     (short(goods["items"][0]), {}), ("https://m.example.com/c/" + "A" * 18, {}),
                     (short(hidden["code"]), {"hidden_code": hidden["right"]})):
        with transaction():
            results.append(service.scan(user=user, text=text, **kw))
    assert results[0].campaigns and results[1].scans["first_at"] is not None
    for result in results:
        documented = json.loads(flask_json.dumps(ConsumerScanResultSchema().dump(result)))
        assert json.loads(_encode(scan_answer(result))) == documented


def _through_the_schema(monkeypatch):
    from miniprogram_api import consumer_scans

    def refuse(_body):
        raise consumer_scans.msgspec.ValidationError("the fast decoder stands aside")
    monkeypatch.setattr(consumer_scans, "_decode_scan_body", refuse)


def test_the_fast_decoder_accepts_and_refuses_exactly_what_the_schema_does(client, mp, goods, monkeypatch):  # noqa: F811
    """A body msgspec decodes must be one the schema takes, and whatever it can't decode gets the schema's
    answer (never a 500): a body that is not JSON, not UTF-8, or holds a number past Python's digit limit."""
    headers, _ = mp.sign_in("consumer")
    url = short(goods["items"][0]).encode()
    cases = [(b'{"url": "%s"}' % url, "text/plain"), (b'{"url": "%s"}' % url, None),
             (b'{"url": "\xff\xfe"}', "application/json"), (b'{"url": "x\xc3"}', "application/json"),
             (b'{"url": "%s", "latitude": 1%s}' % (url, b"0" * 5000), "application/json"),
             (b'{"url": "%s", "latitude": NaN}' % url, "application/json"), (b"", "application/json"),
             (b'[{"url": "%s"}]' % url, "application/json"), (b'{"url": "%s", "x": 1}' % url, "application/json")]

    def answers():
        found = []
        for data, content_type in cases:
            response = client.post(SCANS, data=data, headers=headers, content_type=content_type)
            found.append((response.status_code, response.json))
        return found
    fast = answers()
    assert all(400 <= status < 500 for status, _ in fast), fast
    _through_the_schema(monkeypatch)
    assert answers() == fast
