"""Clerks spend their points by turning them into cash at the brand's rate, then withdraw it (issue 16 §1)."""
from __future__ import annotations

import io

import openpyxl
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.identity.models import AuditRecord, Role
from app.payouts import service as payouts
from app.retail import ledger as ledger_service
from app.retail.models import LedgerEntry, PointsConversion, RewardKind
from tests.concurrency import at_once
from tests.money_invariants import ledger_violations
from tests.retail_factories import CONVERT, RATE, clerk_with_points, set_rate



def test_a_clerk_turns_points_into_cash_at_the_rate_and_withdraws_it(client, auth, mp):
    headers, me = clerk_with_points(client, mp, 1_000)
    closed = client.post(CONVERT, json={"points": 200, "request_id": "c-0"}, headers=headers)
    assert closed.status_code == 409 and closed.get_json()["code"] == "points_conversion_closed"
    assert client.get("/api/clerk/rewards/balance", headers=headers).get_json()["points_to_cash"] is None

    set_rate(client, auth, min_points=200)
    balance = client.get("/api/clerk/rewards/balance", headers=headers).get_json()
    assert balance["points_to_cash"] == {"points": 100, "cash_fen": 50, "min_points": 200}

    converted = client.post(CONVERT, json={"points": 600, "request_id": "c-1"}, headers=headers)
    assert converted.status_code == 201, converted.get_json()
    body = converted.get_json()
    assert (body["points"], body["amount_fen"], body["request_id"]) == (600, 300, "c-1")
    retried = client.post(CONVERT, json={"points": 600, "request_id": "c-1"}, headers=headers)
    assert retried.status_code == 201 and retried.get_json()["id"] == body["id"]
    reused = client.post(CONVERT, json={"points": 300, "request_id": "c-1"}, headers=headers)
    assert reused.status_code == 409 and reused.get_json()["code"] == "points_conversion_request_reused"
    balance = client.get("/api/clerk/rewards/balance", headers=headers).get_json()
    assert (balance["points"], balance["cash"]) == (400, 300)
    ledger = client.get("/api/clerk/rewards/ledger", headers=headers).get_json()
    assert [(e["kind"], e["amount"], e["source"]) for e in ledger[:2]] == [
        ("cash", 300, f"points-cash:{body['id']}"), ("points", -600, f"points-cash:{body['id']}")]

    for points, why in ((100, "below the minimum"), (250, "not whole steps")):
        refused = client.post(CONVERT, json={"points": points, "request_id": f"bad-{points}"}, headers=headers)
        assert refused.status_code == 422 and refused.get_json()["code"] == "points_conversion_invalid", why
        assert refused.get_json()["errors"]["points"]
    too_many = client.post(CONVERT, json={"points": 500, "request_id": "c-2"}, headers=headers)
    assert too_many.status_code == 409 and too_many.get_json()["code"] == "insufficient_balance"
    for bad in ({"points": 0, "request_id": "z"}, {"points": 200}, {"points": "200.5", "request_id": "z"}):
        assert client.post(CONVERT, json=bad, headers=headers).status_code == 422, bad
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PointsConversion)) == 1  # nothing half-written

    # The cash leaves as any other: a withdrawal through the payout queue.
    withdrawn = client.post("/api/clerk/withdrawals", json={"amount": 300, "request_id": "w-1"}, headers=headers)
    assert withdrawn.status_code == 201 and withdrawn.get_json()["payout_id"]
    assert payouts.get_payout(withdrawn.get_json()["payout_id"]).amount_fen == 300
    assert client.get("/api/clerk/rewards/balance", headers=headers).get_json()["cash"] == 0
    assert ledger_violations() == []

    mine = client.get("/api/clerk/rewards/conversions", headers=headers).get_json()
    assert [c["id"] for c in mine] == [body["id"]]
    stranger, _ = clerk_with_points(client, mp, 0)
    assert client.get("/api/clerk/rewards/conversions", headers=stranger).get_json() == []
    assert client.post(CONVERT, json={"points": 200, "request_id": "c-1"}, headers=stranger).get_json()["code"] \
        == "insufficient_balance"  # the same request id is another clerk's own: nothing of the first is answered
    assert client.get("/api/clerk/rewards/conversions").status_code == 401
    consumer_headers, _ = mp.sign_in("consumer")
    assert client.post(CONVERT, json={"points": 200, "request_id": "x"}, headers=consumer_headers).status_code in (401, 403)


def test_a_closed_rate_stops_conversion_and_a_new_rate_applies_to_new_ones_only(client, auth, mp):
    headers, _ = clerk_with_points(client, mp, 1_000)
    first = set_rate(client, auth)
    rate = client.get("/api/clerk/rewards/balance", headers=headers).get_json()["points_to_cash"]
    assert rate == {"points": 100, "cash_fen": 50, "min_points": 100}  # no minimum set: one step
    assert client.post(CONVERT, json={"points": 200, "request_id": "a"}, headers=headers).get_json()["amount_fen"] == 100
    closed = set_rate(client, auth, enabled=False)
    refused = client.post(CONVERT, json={"points": 200, "request_id": "b"}, headers=headers)
    assert refused.status_code == 409 and refused.get_json()["code"] == "points_conversion_closed"
    set_rate(client, auth, cash_fen=80)
    assert client.post(CONVERT, json={"points": 200, "request_id": "b"}, headers=headers).get_json()["amount_fen"] == 160
    # The earlier conversion keeps its rate; a retry of it answers it unchanged.
    assert client.post(CONVERT, json={"points": 200, "request_id": "a"}, headers=headers).get_json()["amount_fen"] == 100
    rates = client.get("/api/admin/retail/points-cash-rates", headers=auth.headers_for(Role.AUDITOR)).get_json()
    assert [r["id"] for r in rates][1:] == [closed["id"], first["id"]] and rates[0]["cash_fen"] == 80
    conversions = client.get("/api/admin/retail/points-conversions", headers=auth.headers_for(Role.AUDITOR)).get_json()
    assert [(c["points"], c["amount_fen"], c["rate_id"]) for c in conversions] == [
        (200, 160, rates[0]["id"]), (200, 100, first["id"])]


def test_the_rate_is_set_by_finance_or_admin_validated_audited_and_exported(client, auth):
    assert client.get(RATE, headers=auth.headers_for(Role.AUDITOR)).get_json()["code"] == "points_cash_rate_not_set"
    for role in (Role.MARKETER, Role.OPS, Role.AUDITOR):
        response = client.put(RATE, json={"points": 100, "cash_fen": 50}, headers=auth.headers_for(role))
        assert response.status_code == 403, role
    for bad in ({"points": 0, "cash_fen": 50}, {"points": 100}, {"points": 100, "cash_fen": -1},
                {"points": 100, "cash_fen": 5, "min_points": -1}, {"points": 1.5, "cash_fen": 5}):
        response = client.put(RATE, json=bad, headers=auth.as_admin())
        assert response.status_code == 422 and response.get_json()["code"], bad
    rate = set_rate(client, auth, min_points=300)
    assert set_rate(client, auth, min_points=300)["id"] == rate["id"]  # the same rate again: a retry, no new row
    assert client.get(RATE, headers=auth.headers_for(Role.AUDITOR)).get_json() == rate
    assert (rate["points"], rate["cash_fen"], rate["min_points"], rate["enabled"]) == (100, 50, 300, True)
    audited = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "points_cash_rate.set")).all()
    assert len(audited) == 1 and audited[0].changes["fen"] == [None, 50]

    sheet = client.get("/api/admin/retail/points-cash-rates?format=xlsx", headers=auth.headers_for(Role.FINANCE))
    assert sheet.status_code == 200, sheet.get_data(as_text=True)[:300]
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.data)).active.values)
    assert {"每档积分 points", "每档金额(元) cash_fen"} <= set(rows[0]) and len(rows) == 2
    assert rows[1][rows[0].index("每档金额(元) cash_fen")] == 0.5  # fen shown as yuan
    conversions = client.get("/api/admin/retail/points-conversions?format=xlsx", headers=auth.as_admin())
    assert conversions.status_code == 200 and conversions.mimetype.endswith("sheet")


def test_clerks_converting_one_balance_at_once_never_spend_more_than_it_holds(app, client, auth, mp, mariadb):
    headers, me = clerk_with_points(client, mp, 1_000)
    set_rate(client, auth)
    db.session.remove()

    def convert(request_id):
        return lambda: app.test_client().post(CONVERT, json={"points": 300, "request_id": request_id},
                                              headers=headers).status_code

    # Ten different conversions of 300 points race for 1,000, and two copies of one request race each other.
    statuses = at_once(app, *(convert(f"r{n}") for n in range(10)), convert("twin"), convert("twin"))

    made = db.session.scalars(sa.select(PointsConversion).where(PointsConversion.app_user_id == me)).all()
    assert len(made) == 3 and sum(c.points for c in made) == 900
    twin_made = any(c.request_id == "twin" for c in made)
    assert statuses[10] == statuses[11] == (201 if twin_made else 409), statuses  # the twins are one request
    assert statuses.count(201) == 3 + twin_made and statuses.count(409) == 12 - 3 - twin_made, statuses
    assert ledger_service.balances(app_user_id=me) == {"points": 100, "cash": 3 * 150}
    for kind in RewardKind:
        total = db.session.scalar(sa.select(sa.func.sum(LedgerEntry.amount)).where(
            LedgerEntry.app_user_id == me, LedgerEntry.kind == kind))
        assert total == ledger_service.balances(app_user_id=me)[kind.value]
    assert ledger_violations() == []


@pytest.mark.parametrize("points", [2**62, 2**63 - 100])
def test_a_conversion_too_large_for_the_ledger_is_refused_not_a_500(client, auth, mp, points):
    headers, _ = clerk_with_points(client, mp, 10)
    set_rate(client, auth, points=1, cash_fen=4)
    response = client.post(CONVERT, json={"points": points, "request_id": "huge"}, headers=headers)
    assert response.status_code == 422 and response.get_json()["code"] == "points_conversion_invalid"
