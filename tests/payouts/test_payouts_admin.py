"""The payout queue in the back office: lists, release, cancel, reconciliations; roles."""
from __future__ import annotations

from app.identity.models import Role
from app.payouts.models import PayoutStatus
from tests.payout_factories import make_user, prize, withdrawal


def test_finance_lists_releases_and_cancels_payouts(client, auth, sandbox):
    finance, auditor = auth.headers_for(Role.FINANCE), auth.headers_for(Role.AUDITOR)
    held = prize(make_user(), hold_reason="velocity: many cities")
    requested = withdrawal()
    listed = client.get("/api/admin/payouts?status=held", headers=auditor)
    assert listed.status_code == 200 and [p["id"] for p in listed.get_json()] == [held.id]
    assert listed.get_json()[0]["hold_reason"] == "velocity: many cities"
    assert client.get("/api/admin/payouts?purpose=withdrawal", headers=auditor).get_json()[0]["id"] == (
        requested.payout_id)
    assert client.get(f"/api/admin/payouts/{held.id}", headers=auditor).get_json()["out_bill_no"] == held.out_bill_no
    assert client.post(f"/api/admin/payouts/{held.id}/release", headers=auditor).status_code == 403
    released = client.post(f"/api/admin/payouts/{held.id}/release", headers=finance)
    assert released.status_code == 200 and released.get_json()["status"] == PayoutStatus.PENDING.value
    again = client.post(f"/api/admin/payouts/{held.id}/release", headers=finance)
    assert again.status_code == 409 and again.get_json()["code"] == "payout_not_held"
    cancelled = client.post(f"/api/admin/payouts/{requested.payout_id}/cancel", json={"reason": "duplicate"},
                            headers=auth.as_admin())
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert client.get("/api/admin/payouts/999999", headers=auditor).status_code == 404


def test_a_payout_with_a_bill_cannot_be_cancelled_and_reconciliations_are_listed(client, auth, sandbox):
    from app.db import utcnow
    from app.payouts import reconciliation, worker

    finance = auth.headers_for(Role.FINANCE)
    requested = withdrawal()
    worker.work_due()
    refused = client.post(f"/api/admin/payouts/{requested.payout_id}/cancel", json={}, headers=finance)
    assert refused.status_code == 409 and refused.get_json()["code"] == "payout_not_cancellable"
    reconciliation.reconcile(utcnow())
    listed = client.get("/api/admin/payouts/reconciliations", headers=finance)
    assert listed.status_code == 200 and listed.get_json()[0]["checked"] == 1
    assert listed.get_json()[0]["mismatches"] == []
