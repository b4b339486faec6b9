"""POST /api/integration/warehouse/scans: warehouse PDAs send inbound and outbound scans (scope warehouse)."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.units.models import Event, RejectedRecord
from tests import unit_factories as uf
from tests.warehouse_factories import make_world, stock_of

URL = "/api/integration/warehouse/scans"
AT = "2026-03-02T09:00:00Z"


def scans(client, headers, *records):
    return client.post(URL, json={"records": list(records)}, headers=headers)


def test_a_pallet_scanned_in_then_out_answers_per_record(client, auth):
    world = make_world()
    cases = [uf.pack(uf.commission(world.lot, 6)) for _ in range(2)]
    pallet = uf.pack(cases, level="pallet")
    headers = auth.key_headers("warehouse")

    response = scans(client, headers,
                     {"record_id": "in-1", "scanned_at": AT, "action": "inbound", "code": pallet,
                      "warehouse_id": world.a, "source": "line"},
                     {"record_id": "in-2", "scanned_at": AT, "action": "inbound", "code": cases[0],
                      "warehouse_id": world.a, "source": "line"},
                     {"record_id": "out-1", "scanned_at": "2026-03-02T10:00:00+08:00", "action": "outbound",
                      "code": pallet.lower(), "warehouse_id": world.a, "to_dealer_id": world.dealer,
                      "order_no": "SO-9"})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 0, 2)
    # 10:00+08:00 is before 09:00Z: the outbound scan came first, when the pallet was still at the line.
    assert body["results"] == [
        {"index": 0, "record_id": "in-1", "status": "accepted", "units": 12},
        {"index": 1, "record_id": "in-2", "status": "rejected", "reason": "packed_elsewhere",
         "message": body["results"][1]["message"]},
        {"index": 2, "record_id": "out-1", "status": "rejected", "reason": "wrong_location",
         "message": body["results"][2]["message"]},
    ]
    assert stock_of(world.a, world.lot) == 12


def test_a_retried_upload_answers_duplicate_and_moves_nothing(client, auth):
    world = make_world()
    case = uf.pack(uf.commission(world.lot, 3))
    headers = auth.key_headers("warehouse")
    records = [{"record_id": "in-1", "scanned_at": AT, "action": "inbound", "code": case,
                "warehouse_id": world.a, "source": "line"},
               {"record_id": "out-1", "scanned_at": "2026-03-02T09:30:00Z", "action": "outbound", "code": case,
                "warehouse_id": world.a, "to_warehouse_id": world.b}]
    first = scans(client, headers, *records).get_json()
    again = scans(client, headers, *records).get_json()
    assert (first["accepted"], again["duplicate"]) == (2, 2)
    assert [r.get("previously_applied") for r in again["results"]] == [True, True]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(Event.record_id.is_not(None))) == 2


def test_a_key_without_the_warehouse_scope_is_refused(client, auth):
    response = scans(client, auth.key_headers("production"),
                     {"record_id": "x", "scanned_at": AT, "action": "inbound", "code": "X",
                      "warehouse_id": 1, "source": "line"})
    assert response.status_code == 403
    assert response.get_json()["code"] == "scope_forbidden"
    assert client.post(URL, json={"records": []}).status_code == 401


def test_malformed_records_are_a_422_that_writes_nothing(client, auth):
    headers = auth.key_headers("warehouse")
    good = {"record_id": "a", "scanned_at": AT, "action": "inbound", "code": "X", "warehouse_id": 1,
            "source": "line"}
    for bad in ({**good, "source": None}, {**good, "action": "sideways"}, {**good, "scanned_at": "yesterday"},
                {**good, "scanned_at": "9999-12-31T23:59:59-23:59"}, {**good, "scanned_at": "0001-01-01T00:00:00+01:00"},
                {**good, "to_dealer_id": 3},
                {**good, "action": "outbound", "source": None},
                {"record_id": "a", "scanned_at": AT, "action": "outbound", "code": "X", "warehouse_id": 1},
                {"record_id": "a", "scanned_at": AT, "action": "outbound", "code": "X", "warehouse_id": 1,
                 "to_dealer_id": 1, "to_warehouse_id": 2},
                {**good, "warehouse_id": 2**64}, {**good, "record_id": ""}, {**good, "code": "X" * 65}):
        bad = {k: v for k, v in bad.items() if v is not None}
        response = scans(client, headers, bad)
        assert response.status_code == 422, (bad, response.get_json())
    assert client.post(URL, json={"records": []}, headers=headers).status_code == 422
    too_many = [{**good, "record_id": str(i)} for i in range(10_001)]
    assert client.post(URL, json={"records": too_many}, headers=headers).status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


UNPACKS = "/api/integration/warehouse/unpacks"


def unpacks(client, headers, *records):
    return client.post(UNPACKS, json={"records": list(records)}, headers=headers)


def test_a_warehouse_breaks_a_pallet_and_ships_one_case_of_it(client, auth):
    world = make_world()
    cases = [uf.pack(uf.commission(world.lot, 3)) for _ in range(2)]
    pallet = uf.pack(cases, level="pallet")
    headers = auth.key_headers("warehouse")
    assert scans(client, headers, {"record_id": "in-1", "scanned_at": AT, "action": "inbound", "code": pallet,
                                   "warehouse_id": world.a, "source": "line"}).get_json()["accepted"] == 1
    records = [{"record_id": "u-1", "scanned_at": "2026-03-02T09:10:00Z", "warehouse_id": world.a,
                "mode": "whole", "code": pallet},
               {"record_id": "u-2", "scanned_at": "2026-03-02T09:05:00Z", "warehouse_id": world.b,
                "mode": "whole", "code": pallet}]
    body = unpacks(client, headers, *records).get_json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 0, 1), body
    assert body["results"][0] == {"index": 0, "record_id": "u-1", "status": "accepted", "released": 2}
    assert (body["results"][1]["reason"], body["results"][1]["message"]) == (
        "wrong_location", "The unit is not in this warehouse (elsewhere, or in transit: scan it in first).")
    again = unpacks(client, headers, *records).get_json()
    assert [r["status"] for r in again["results"]] == ["duplicate", "rejected"]
    assert again["results"][0]["previously_applied"] is True
    events = db.session.scalars(sa.select(Event).where(Event.kind == "unpack").order_by(Event.serial)).all()
    assert [(e.serial, e.parent_serial, e.location_kind.value, e.location_id) for e in events] == \
        [(uf.serial(c), uf.serial(pallet), "warehouse", world.a) for c in sorted(cases, key=uf.serial)]
    assert db.session.scalar(sa.select(RejectedRecord.kind).where(RejectedRecord.record_id == "u-2")) == "unpack"

    out = scans(client, headers, {"record_id": "out-1", "scanned_at": "2026-03-02T09:20:00Z", "action": "outbound",
                                  "code": cases[0], "warehouse_id": world.a, "to_dealer_id": world.dealer})
    assert out.get_json()["results"][0] == {"index": 0, "record_id": "out-1", "status": "accepted", "units": 3}
    assert stock_of(world.a, world.lot) == 3


def test_a_warehouse_takes_one_item_out_of_its_case_checking_the_parent(client, auth):
    world = make_world()
    items = uf.commission(world.lot, 3)
    case, other = uf.pack(items), uf.pack(uf.commission(world.lot, 1))
    at_line = uf.pack(uf.commission(world.lot, 1))
    uf.receive([case, other], warehouse_id=world.a)
    headers = auth.key_headers("warehouse")
    record = {"record_id": "p-1", "scanned_at": AT, "warehouse_id": world.a, "mode": "partial", "code": items[0]}
    body = unpacks(client, headers, {**record, "parent": other},
                   {**record, "record_id": "p-2", "code": at_line, "mode": "whole"},
                   {**record, "record_id": "p-3", "code": items[1], "warehouse_id": 10**9},
                   {**record, "record_id": "p-4", "parent": case}).get_json()
    assert [(r["status"], r.get("reason")) for r in body["results"]] == [
        ("rejected", "not_packed"), ("rejected", "wrong_location"), ("rejected", "warehouse_unknown"),
        ("accepted", None)]
    assert body["results"][3]["released"] == 1
    out = scans(client, headers, {"record_id": "out-1", "scanned_at": "2026-03-02T09:20:00Z", "action": "outbound",
                                  "code": case, "warehouse_id": world.a, "to_warehouse_id": world.b}).get_json()
    assert out["results"][0]["units"] == 2
    assert stock_of(world.a, world.lot) == 2  # the item taken out and the other case stay


def test_malformed_unpacks_are_a_422_and_other_scopes_are_refused(client, auth):
    headers = auth.key_headers("warehouse")
    good = {"record_id": "a", "scanned_at": AT, "warehouse_id": 1, "mode": "partial", "code": "X"}
    for bad in ({**good, "mode": "all"}, {**good, "mode": "whole", "parent": "Y"}, {**good, "scanned_at": "soon"},
                {k: v for k, v in good.items() if k != "record_id"}):
        response = unpacks(client, headers, bad)
        assert response.status_code == 422 and response.get_json()["code"], bad
    assert unpacks(client, auth.key_headers("production"), good).status_code == 403
    assert client.post(UNPACKS, json={"records": [good]}).status_code == 401
