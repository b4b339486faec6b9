"""Line integration over HTTP: sessions, JSON uploads, NDJSON streaming, refusals of whole requests."""
from __future__ import annotations

import io
import json
from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.units import line_records
from app.units.models import Event, Unit
from tests import unit_factories as uf
from tests.masterdata_factories import make_factory, make_product
from tests.production_factories import make_line, make_production_lot

URL = "/api/integration/line/sessions"
T0 = uf.SCANNED


def _at(seconds=0) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def _setup(client, auth):
    product = make_product(units_per_case=2)
    factory = make_factory()
    line = make_line(factory.id)
    lot = make_production_lot(product_id=product.id, factory_id=factory.id, line_id=line.id)
    headers = auth.key_headers("production")
    response = client.post(URL, headers=headers, json={"line_id": line.id, "lot_id": lot.id, "operator": "Li"})
    assert response.status_code == 201, response.get_json()
    return product, line, lot, headers, response.get_json()["id"]


def test_a_session_is_started_uploaded_to_reported_and_stopped(client, auth):
    product, line, lot, headers, session_id = _setup(client, auth)
    items = uf.issue(2, product_id=product.id)
    case = uf.issue(1, level="case", product_id=product.id)[0]
    body = {"records": [
        {"type": "pack", "record_id": "p1", "scanned_at": _at(2), "code": items[0], "parent": case},
        {"type": "commission", "record_id": "c1", "scanned_at": _at(1), "codes": items.codes},
        {"type": "pack", "record_id": "p2", "scanned_at": _at(2), "code": "BAD", "parent": case},
    ]}
    response = client.post(f"{URL}/{session_id}/records", headers=headers, json=body)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert (answer["accepted"], answer["duplicate"], answer["rejected"]) == (2, 0, 1)
    assert answer["results"][0] == {"index": 0, "record_id": "p1", "status": "accepted"}
    assert answer["results"][2]["reason"] == "forged" and answer["results"][2]["message"]

    report = client.get(f"{URL}/{session_id}", headers=headers).get_json()
    assert (report["total"], report["accepted"], report["rejected"], report["pass_rate"]) == (3, 2, 1, 0.6667)
    assert report["rejected_by_reason"] == {"forged": 1}
    listed = client.get(URL, headers=headers, query_string={"line_id": line.id, "status": "open"})
    assert [s["id"] for s in listed.get_json()] == [session_id]
    assert "X-Pagination" in listed.headers

    stopped = client.post(f"{URL}/{session_id}/stop", headers=headers)
    assert stopped.get_json()["status"] == "stopped"
    again = client.post(f"{URL}/{session_id}/records", headers=headers, json=body)
    assert (again.status_code, again.get_json()["code"]) == (409, "line_session_stopped")


def test_a_retried_upload_answers_duplicate_and_changes_nothing(client, auth):
    product, _, _, headers, session_id = _setup(client, auth)
    items = uf.issue(3, product_id=product.id)
    body = {"records": [{"type": "commission", "record_id": f"c{i}", "scanned_at": _at(), "code": c}
                        for i, c in enumerate(items.codes)]}
    first = client.post(f"{URL}/{session_id}/records", headers=headers, json=body).get_json()
    events = db.session.scalar(sa.select(sa.func.count()).select_from(Event))
    second = client.post(f"{URL}/{session_id}/records", headers=headers, json=body).get_json()
    assert (first["accepted"], second["duplicate"]) == (3, 3)
    assert all(r["previously_applied"] for r in second["results"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == events
    assert client.get(f"{URL}/{session_id}", headers=headers).get_json()["total"] == 3


def test_a_malformed_record_refuses_the_upload_naming_where(client, auth):
    _, _, _, headers, session_id = _setup(client, auth)
    body = {"records": [
        {"type": "commission", "record_id": "c1", "scanned_at": _at(), "code": "X"},
        {"type": "pack", "record_id": "p1", "scanned_at": "2026-03-02T08:00:00", "code": "X", "parent": "Y"},
    ]}
    response = client.post(f"{URL}/{session_id}/records", headers=headers, json=body)
    assert (response.status_code, response.get_json()["code"]) == (422, "invalid_records")
    assert "$.records[1].scanned_at" in response.get_json()["message"]
    for bad in ({"records": []}, {"records": [{"type": "melt", "record_id": "a", "scanned_at": _at()}]},
                {"records": [{"type": "pack", "record_id": "a", "scanned_at": _at(), "code": "X"}]},
                {"records": [{"type": "commission", "record_id": "", "scanned_at": _at(), "code": "X"}]}):
        response = client.post(f"{URL}/{session_id}/records", headers=headers, json=bad)
        assert (response.status_code, response.get_json()["code"]) == (422, "invalid_records"), bad
    response = client.post(f"{URL}/{session_id}/records", headers=headers, data="{", content_type="application/json")
    assert response.status_code == 422


def test_more_than_100000_records_are_refused(client, auth):
    _, _, _, headers, session_id = _setup(client, auth)
    record = {"type": "commission", "record_id": "c", "scanned_at": _at(), "code": "X"}
    body = json.dumps({"records": [record] * (line_records.MAX_RECORDS + 1)})
    response = client.post(f"{URL}/{session_id}/records", headers=headers, data=body,
                           content_type="application/json")
    assert (response.status_code, response.get_json()["code"]) == (422, "too_many_records")


def test_an_unknown_session_is_404_and_a_bad_media_type_415(client, auth):
    _, _, _, headers, session_id = _setup(client, auth)
    response = client.post(f"{URL}/999999/records", headers=headers, json={"records": [
        {"type": "scrap", "record_id": "s", "scanned_at": _at(), "code": "X"}]})
    assert (response.status_code, response.get_json()["code"]) == (404, "line_session_not_found")
    response = client.post(f"{URL}/{session_id}/records", headers=headers, data="x", content_type="text/plain")
    assert response.status_code == 415


def test_uploads_need_the_production_scope(client, auth):
    _, _, _, _, session_id = _setup(client, auth)
    response = client.post(f"{URL}/{session_id}/records", headers=auth.key_headers("warehouse"),
                           json={"records": []})
    assert response.status_code == 403


def test_a_session_refuses_a_closed_or_unknown_lot(client, auth):
    _, line, _, headers, _ = _setup(client, auth)
    response = client.post(URL, headers=headers, json={"line_id": line.id, "lot_id": 10**9})
    assert (response.status_code, response.get_json()["code"]) == (422, "production_lot_unknown")


def test_ndjson_streams_one_result_per_record_and_a_summary(client, auth, monkeypatch):
    from app.units import line_uploads

    monkeypatch.setattr(line_uploads, "STREAM_CHUNK", 2)
    product, _, _, headers, session_id = _setup(client, auth)
    items = uf.issue(3, product_id=product.id)
    records = [{"type": "commission", "record_id": f"c{i}", "scanned_at": _at(), "code": c}
               for i, c in enumerate(items.codes)]
    body = "\n".join(json.dumps(r) for r in records[:2]) + "\nnot json\n\n" + json.dumps(records[2]) + "\n"
    response = client.post(f"{URL}/{session_id}/records", headers=headers, data=body,
                           content_type="application/x-ndjson")
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    answer = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [(a["index"], a["status"]) for a in answer[:-1]] == [
        (0, "accepted"), (1, "accepted"), (2, "rejected"), (3, "accepted")]
    assert answer[2]["reason"] == "invalid_record"
    assert answer[-1] == {"summary": {"records": 4, "accepted": 3, "duplicate": 0, "rejected": 1, "invalid": 1,
                                      "chunks_committed": 2}}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Unit)) == 3


def test_an_upload_of_100000_records_fits_the_line_limit_not_the_general_one(client, auth, app):
    """100,000 pack records with realistic ids are 17.5 MB: above MAX_CONTENT_LENGTH, within the line's limit."""
    _, _, _, headers, session_id = _setup(client, auth)
    record = {"type": "pack", "record_id": "line-07-2026-03-02-000000001", "scanned_at": _at(),
              "code": "ABCDEFGHJKMNPQRSTV", "parent": "ABCDEFGHJKMNPQRSTV"}
    body = json.dumps({"records": [record] * (line_records.MAX_RECORDS - 1) + [{**record, "type": "sideways"}]})
    assert app.config["MAX_CONTENT_LENGTH"] < len(body) < app.config["LINE_UPLOAD_MAX_BYTES"]
    response = client.post(f"{URL}/{session_id}/records", headers=headers, data=body,
                           content_type="application/json")
    assert (response.status_code, response.get_json()["code"]) == (422, "invalid_records")


def test_an_upload_over_the_line_limit_is_413(client, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "LINE_UPLOAD_MAX_BYTES", 1000)
    _, _, _, headers, session_id = _setup(client, auth)
    records = [{"type": "scrap", "record_id": f"s{i}", "scanned_at": _at(), "code": "X"} for i in range(30)]
    response = client.post(f"{URL}/{session_id}/records", headers=headers, json={"records": records})
    assert (response.status_code, response.get_json()["code"]) == (413, "payload_too_large")
    assert response.get_json()["errors"] == {"max_bytes": 1000}

    streamed = client.post(f"{URL}/{session_id}/records", headers=headers, content_type="application/x-ndjson",
                           input_stream=io.BytesIO("\n".join(json.dumps(r) for r in records).encode()),
                           environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})
    answer = [json.loads(line) for line in streamed.get_data(as_text=True).splitlines()]
    assert answer[-2]["error"]["code"] == "payload_too_large"
    assert answer[-1]["summary"]["records"] < 30
