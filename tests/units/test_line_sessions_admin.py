"""Line sessions in the back office: list with filters, open one (totals, pass rate, reasons), its rejected records.

Session 1 (line 1, lot 1) takes 10 records: 6 items commissioned, one of them commissioned again under a
new record id (a duplicate read), 2 malformed codes (forged) and a pack of a code never commissioned
(not_commissioned). So total 10, accepted 6, duplicate 1, rejected 3, and the pass rate is
6 / (10 - 1) = 0.6667 (the duplicate is no failure; 6 / 10 would call it one).
Session 2 (line 2, lot 2 of another product) started a day later, is stopped and took nothing.
"""
from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from app.db import transaction
from app.extensions import db
from app.units.models import LineSession
from tests import unit_factories as uf
from tests.masterdata_factories import make_factory, make_product
from tests.production_factories import make_line, make_production_lot

URL = "/api/admin/line-sessions"
LINE_URL = "/api/integration/line/sessions"
T0 = uf.SCANNED


def _at(seconds=0) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def world(client, auth):
    factory = make_factory()
    product, other = make_product(units_per_case=2), make_product()
    line1, line2 = make_line(factory.id), make_line(factory.id)
    lot1 = make_production_lot(product_id=product.id, factory_id=factory.id, line_id=line1.id)
    lot2 = make_production_lot(product_id=other.id, factory_id=factory.id, line_id=line2.id)
    key = auth.key_headers("production")
    s1 = client.post(LINE_URL, headers=key, json={"line_id": line1.id, "lot_id": lot1.id}).get_json()["id"]
    s2 = client.post(LINE_URL, headers=key, json={"line_id": line2.id, "lot_id": lot2.id}).get_json()["id"]
    items = uf.issue(7, product_id=product.id)
    case = uf.issue(1, level="case", product_id=product.id)[0]
    records = [{"type": "commission", "record_id": f"c{i}", "scanned_at": _at(i), "code": items[i]} for i in range(6)]
    records += [{"type": "commission", "record_id": "again", "scanned_at": _at(7), "code": items[0]},
                {"type": "commission", "record_id": "bad1", "scanned_at": _at(8), "code": "BAD-1"},
                {"type": "commission", "record_id": "bad2", "scanned_at": _at(9), "code": "BAD-2"},
                {"type": "pack", "record_id": "p1", "scanned_at": _at(10), "code": items[6], "parent": case}]
    uploaded = client.post(f"{LINE_URL}/{s1}/records", headers=key, json={"records": records})
    assert uploaded.status_code == 200, uploaded.get_json()
    assert client.post(f"{LINE_URL}/{s2}/stop", headers=key).status_code == 200
    with transaction():
        started = db.session.get(LineSession, s1).started_at
        db.session.execute(sa.update(LineSession).where(LineSession.id == s2)
                           .values(started_at=started + timedelta(days=1)))
    return dict(s1=s1, s2=s2, line1=line1, line2=line2, lot1=lot1, lot2=lot2, product=product, other=other,
                started=started)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [s["id"] for s in response.get_json()]


def test_the_back_office_opens_a_session_with_totals_pass_rate_and_reasons(client, auth):
    w = world(client, auth)
    response = client.get(f"{URL}/{w['s1']}", headers=auth.headers_for("auditor"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["total"], body["accepted"], body["duplicate"], body["rejected"]) == (10, 6, 1, 3)
    assert body["pass_rate"] == 0.6667
    assert body["rejected_by_reason"] == {"forged": 2, "not_commissioned": 1}
    assert (body["line_id"], body["lot_id"], body["status"]) == (w["line1"].id, w["lot1"].id, "open")
    stopped = client.get(f"{URL}/{w['s2']}", headers=auth.headers_for("ops")).get_json()
    assert (stopped["status"], stopped["total"], stopped["pass_rate"]) == ("stopped", 0, None)


def test_the_rejected_records_page_and_the_duplicates_apart(client, auth):
    w = world(client, auth)
    headers = auth.headers_for("ops")
    page = client.get(f"{URL}/{w['s1']}/rejected-records?page_size=2", headers=headers)
    assert page.status_code == 200 and json.loads(page.headers["X-Pagination"])["total"] == 3
    every = client.get(f"{URL}/{w['s1']}/rejected-records", headers=headers).get_json()
    assert [(r["record_id"], r["reason"], r["kind"]) for r in every] == \
        [("p1", "not_commissioned", "pack"), ("bad2", "forged", "commission"), ("bad1", "forged", "commission")]
    duplicates = client.get(f"{URL}/{w['s1']}/rejected-records?reason=duplicate", headers=headers).get_json()
    assert [r["record_id"] for r in duplicates] == ["again"]
    forged = client.get(f"{URL}/{w['s1']}/rejected-records?reason=forged", headers=headers).get_json()
    assert [r["code"] for r in forged] == ["BAD-2", "BAD-1"]


def test_sessions_list_by_line_lot_product_status_and_period(client, auth):
    w = world(client, auth)
    headers = auth.as_admin()
    assert ids(client.get(URL, headers=headers)) == [w["s2"], w["s1"]]
    listed = client.get(URL, headers=headers).get_json()
    assert [s["pass_rate"] for s in listed] == [None, 0.6667]
    assert ids(client.get(f"{URL}?line_id={w['line1'].id}", headers=headers)) == [w["s1"]]
    assert ids(client.get(f"{URL}?lot_id={w['lot2'].id}", headers=headers)) == [w["s2"]]
    assert ids(client.get(f"{URL}?product_id={w['other'].id}", headers=headers)) == [w["s2"]]
    assert ids(client.get(f"{URL}?status=open", headers=headers)) == [w["s1"]]
    half_day = (w["started"] + timedelta(hours=12)).isoformat()
    assert ids(client.get(URL, query_string={"from": half_day}, headers=headers)) == [w["s2"]]
    assert ids(client.get(URL, query_string={"to": half_day}, headers=headers)) == [w["s1"]]


def test_bad_parameters_unknown_sessions_and_other_roles_are_refused(client, auth):
    w = world(client, auth)
    headers = auth.headers_for("auditor")
    start = w["started"].isoformat()
    for query, field in (({"from": start, "to": start}, "to"), ({"status": "paused"}, "status"),
                         ({"line_id": "x"}, "line_id"), ({"colour": "red"}, "colour")):
        response = client.get(URL, query_string=query, headers=headers)
        assert response.status_code == 422, (query, response.get_json())
        assert field in json.dumps(response.get_json()["errors"]), (query, response.get_json())
    bad_reason = client.get(f"{URL}/{w['s1']}/rejected-records?reason=bogus", headers=headers)
    assert bad_reason.status_code == 422
    for url in (f"{URL}/987654", f"{URL}/987654/rejected-records"):
        missing = client.get(url, headers=headers)
        assert (missing.status_code, missing.get_json()["code"]) == (404, "line_session_not_found")
    for role in ("marketer", "finance"):
        assert client.get(URL, headers=auth.headers_for(role)).status_code == 403
        assert client.get(f"{URL}/{w['s1']}", headers=auth.headers_for(role)).status_code == 403
