"""Attacked (issue 16): clerks' points to cash, then withdrawals (money)."""
from __future__ import annotations

import sqlalchemy as sa

from app.db import transaction
from app.extensions import db
from app.identity.models import Role
from app.retail import ledger
from app.retail.models import LedgerEntry, PointsConversion, RewardKind, Withdrawal
from tests.retail_factories import CONVERT, clerk_with_points, set_rate
from tests.concurrency import at_once
from tests.money_invariants import ledger_violations

WITHDRAW = "/api/clerk/withdrawals"


def test_a_rate_past_the_largest_conversion_is_refused_and_balances_cannot_overflow(client, auth, mp):
    """A (mistyped) huge rate would take a balance past BIGINT on its second conversion (a 500): a rate's
    fen, and so one conversion, is at most conversions.MAX_FEN."""
    from app.retail.conversions import MAX_FEN
    from tests.retail_factories import RATE

    headers, me = clerk_with_points(client, mp, 10)
    refused = client.put(RATE, json={"points": 1, "cash_fen": 2**62}, headers=auth.headers_for(Role.FINANCE))
    assert (refused.status_code, refused.get_json()["code"]) == (422, "points_cash_rate_invalid"), refused.get_json()
    set_rate(client, auth, points=1, cash_fen=MAX_FEN)
    for request_id in "abc":
        answer = client.post(CONVERT, json={"points": 1, "request_id": request_id}, headers=headers)
        assert answer.status_code == 201, answer.get_json()
    assert ledger.balances(app_user_id=me) == {"points": 7, "cash": 3 * MAX_FEN}


def test_bad_amounts_are_422(client, auth, mp):
    headers, me = clerk_with_points(client, mp, 1000)
    set_rate(client, auth)
    for bad in (-100, 0, 100.0, 1e2, "1e2", True, 2**63, -2**63 - 1, None, [], {}):
        response = client.post(CONVERT, json={"points": bad, "request_id": f"x{bad!r}"[:60]}, headers=headers)
        assert response.status_code == 422, (bad, response.status_code, response.get_json())
    for rid in ("", "x" * 65, None, 5):
        response = client.post(CONVERT, json={"points": 100, "request_id": rid}, headers=headers)
        assert response.status_code == 422, (rid, response.get_json())
    assert ledger.balances(app_user_id=me) == {"points": 1000, "cash": 0}


def test_money_as_text_with_spaces_or_non_ascii_digits_is_refused(client, auth, mp):
    """app.schemas.Int keeps digit strings valid (query strings); in a JSON body, "１００" or " 100" is money too."""
    headers, me = clerk_with_points(client, mp, 1000)
    set_rate(client, auth)
    accepted = []
    for text in ("100 ", " 100", "\u0661\u0660\u0660", "\uff11\uff10\uff10", "1_00"):
        response = client.post(CONVERT, json={"points": text, "request_id": f"t{len(accepted)}{text.strip()}"[:60]},
                               headers=headers)
        if response.status_code == 201:
            accepted.append(text)
    assert accepted == [], accepted


def test_conversions_withdrawals_and_cancels_racing_one_balance(app, client, auth, mp, mariadb):
    headers, me = clerk_with_points(client, mp, 10_000)
    set_rate(client, auth, points=100, cash_fen=100)  # 1 point = 1 fen
    with transaction():
        ledger.credit(app_user_id=me, kind="cash", amount=500, source=f"seed:{me}")
    first = client.post(WITHDRAW, json={"amount": 100, "request_id": "w-pre"}, headers=headers).get_json()
    db.session.remove()

    def post(url, body):
        return lambda: app.test_client().post(url, json=body, headers=headers).status_code

    calls = [post(CONVERT, {"points": 1000, "request_id": f"c{n}"}) for n in range(8)]
    calls += [post(WITHDRAW, {"amount": 1500, "request_id": f"w{n}"}) for n in range(6)]
    calls += [post(f"{WITHDRAW}/{first['id']}/cancel", {}) for _ in range(2)]
    calls += [post(CONVERT, {"points": 1000, "request_id": "twin"}) for _ in range(2)]
    statuses = at_once(app, *calls)
    assert all(isinstance(s, int) and s < 500 for s in statuses), statuses
    balances = ledger.balances(app_user_id=me)
    assert balances["points"] >= 0 and balances["cash"] >= 0, balances
    for kind in RewardKind:
        total = db.session.scalar(sa.select(sa.func.sum(LedgerEntry.amount)).where(
            LedgerEntry.app_user_id == me, LedgerEntry.kind == kind))
        assert total == balances[kind.value], (kind, total, balances)
    assert ledger_violations() == []


def test_a_rate_change_racing_conversions_uses_one_rate_each(app, client, auth, mp, mariadb):
    headers, me = clerk_with_points(client, mp, 10_000)
    set_rate(client, auth, points=100, cash_fen=50)
    db.session.remove()
    admin = auth.headers_for(Role.FINANCE)

    def convert(n):
        return lambda: app.test_client().post(CONVERT, json={"points": 100, "request_id": f"k{n}"},
                                              headers=headers).status_code

    def change():
        return app.test_client().put("/api/admin/retail/points-cash-rate", json={"points": 100, "cash_fen": 80},
                                     headers=admin).status_code

    statuses = at_once(app, *(convert(n) for n in range(6)), change)
    assert all(isinstance(s, int) and s < 500 for s in statuses), statuses
    made = db.session.scalars(sa.select(PointsConversion).where(PointsConversion.app_user_id == me)).all()
    from app.retail.models import PointsCashRate
    for c in made:
        rate = db.session.get(PointsCashRate, c.rate_id)
        assert c.amount_fen == c.points // rate.points * rate.fen
    assert ledger_violations() == []


def test_another_clerks_withdrawal_and_payout_are_404(client, auth, mp):
    headers, me = clerk_with_points(client, mp, 1000)
    set_rate(client, auth, points=1, cash_fen=1)
    assert client.post(CONVERT, json={"points": 500, "request_id": "a"}, headers=headers).status_code == 201
    w = client.post(WITHDRAW, json={"amount": 500, "request_id": "w"}, headers=headers).get_json()
    other, _ = clerk_with_points(client, mp, 0)
    assert client.post(f"{WITHDRAW}/{w['id']}/cancel", headers=other).status_code == 404
    assert client.get(f"/api/clerk/payouts/{w['payout_id']}", headers=other).status_code == 404
    assert client.get("/api/clerk/payouts", headers=other).get_json() == []
    assert db.session.get(Withdrawal, w["id"]).status.value == "requested"


def test_converted_cash_withdrawn_comes_back_only_on_a_definitive_answer(client, auth, mp, sandbox, monkeypatch):
    from app.payouts import worker
    from app.wechat import pay
    from tests.payout_factories import cash, fresh, user_acts

    headers, me = clerk_with_points(client, mp, 1_000)
    set_rate(client, auth, points=1, cash_fen=1)
    assert client.post(CONVERT, json={"points": 1_000, "request_id": "all"}, headers=headers).status_code == 201
    w = client.post(WITHDRAW, json={"amount": 1_000, "request_id": "w"}, headers=headers).get_json()
    assert cash(me) == 0

    def no_answer(**kwargs):
        raise pay.WeChatPayUnavailable("timeout")

    monkeypatch.setattr(pay, "create_transfer", no_answer)
    worker.work_due()
    monkeypatch.undo()
    assert cash(me) == 0 and fresh(w["payout_id"]).status.value not in ("failed", "cancelled")  # no answer: nothing back
    # a retried cancel while a bill may exist is refused, nothing returned
    worker.work_due(now=__import__("tests.payout_factories", fromlist=["later"]).later(hours=1))
    payout = fresh(w["payout_id"])
    if payout.status.value == "waiting":
        assert client.post(f"{WITHDRAW}/{w['id']}/cancel", headers=headers).status_code == 409
        user_acts(sandbox, payout.out_bill_no, "decline")
        worker.work_due(now=__import__("tests.payout_factories", fromlist=["later"]).later(hours=2))
    assert fresh(w["payout_id"]).status.value in ("failed", "cancelled", "waiting", "creating", "processing")
    final = fresh(w["payout_id"]).status.value
    assert cash(me) == (1_000 if final in ("failed", "cancelled") else 0), final
    assert ledger.balances(app_user_id=me)["points"] == 0  # points spent stay spent; the cash came back
    assert ledger_violations() == []


def test_an_id_with_a_space_at_either_end_is_refused(client, auth, mp):
    """The database compares ids padding spaces ("r1 " = "r1"): such an id would get another request's answer."""
    headers, me = clerk_with_points(client, mp, 1000)
    set_rate(client, auth)
    assert client.post(CONVERT, json={"points": 100, "request_id": "r1"}, headers=headers).status_code == 201
    for padded in ("r1 ", " r1", " "):
        refused = client.post(CONVERT, json={"points": 200, "request_id": padded}, headers=headers)
        assert (refused.status_code, refused.get_json()["code"]) == (422, "validation_failed"), refused.get_json()
    assert client.post(CONVERT, json={"points": 100, "request_id": "R1"}, headers=headers).status_code == 201
