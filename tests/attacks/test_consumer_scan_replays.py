"""Replays of claims and scans, with and without an Idempotency-Key."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db, redis
from app.payouts.models import Payout, PayoutStatus

SCANS = "/api/consumer/scans"


def _forget_rate_windows():
    for key in redis.scan_iter(match="consumer:claims:*"):
        redis.delete(key)
    for key in redis.scan_iter(match="consumer:scans:user:*"):
        redis.delete(key)


def test_a_claim_replayed_with_and_without_a_key_draws_and_pays_once(client, mp, goods, campaign):  # noqa: F811
    headers, _ = mp.sign_in("consumer")
    scan_id = client.post(SCANS, json={"code": goods["items"][0]}, headers=headers).json["scan_id"]
    keyed = {**headers, "Idempotency-Key": "claim-key-0001"}
    first = client.post(f"{SCANS}/{scan_id}/claim", json={}, headers=keyed)
    assert first.status_code == 201
    replay = client.post(f"{SCANS}/{scan_id}/claim", json={}, headers=keyed)
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json == first.json
    plain = client.post(f"{SCANS}/{scan_id}/claim", json={}, headers=headers)
    assert plain.status_code == 200 and plain.json["draw_id"] == first.json["draw_id"]
    other_key = client.post(f"{SCANS}/{scan_id}/claim", json={}, headers={**headers, "Idempotency-Key": "claim-key-0002"})
    assert other_key.status_code == 200 and other_key.json["payout_id"] == first.json["payout_id"]
    reused = client.post(f"{SCANS}/{scan_id}/claim", json={"campaign_id": campaign.id}, headers=keyed)
    assert reused.status_code == 422 and reused.json["code"] == "idempotency_key_reused"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payout)) == 1
    # Paid, then claimed again: still the one payout.
    db.session.execute(sa.update(Payout).values(status=PayoutStatus.SUCCEEDED))
    db.session.commit()
    after = client.post(f"{SCANS}/{scan_id}/claim", json={}, headers=headers)
    assert after.status_code == 200 and after.json["payout_id"] == first.json["payout_id"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payout)) == 1


def test_a_rate_limited_claim_retried_with_its_key_runs_once_the_window_is_over(
        client, mp, goods, campaign, app, monkeypatch):  # noqa: F811
    """The Idempotency-Key contract: retry with the same key. A 429 is no result of the request (nothing ran),
    yet it is kept for a day under the key: the retry after Retry-After gets the 429 again, for 24 h, which is
    the claim window: the consumer's prize is never drawn."""
    monkeypatch.setitem(app.config, "CLAIMS_PER_MINUTE_USER", 1)
    headers, _ = mp.sign_in("consumer")
    scans = [client.post(SCANS, json={"code": code}, headers=headers).json["scan_id"] for code in goods["items"][:2]]
    assert client.post(f"{SCANS}/{scans[0]}/claim", json={}, headers=headers).status_code == 201
    keyed = {**headers, "Idempotency-Key": "claim-after-429"}
    limited = client.post(f"{SCANS}/{scans[1]}/claim", json={}, headers=keyed)
    assert limited.status_code == 429
    _forget_rate_windows()  # the minute has passed
    retried = client.post(f"{SCANS}/{scans[1]}/claim", json={}, headers=keyed)
    # It ran (not the 429 replayed): the campaign's own limit of one draw answers now.
    assert retried.headers.get("Idempotent-Replayed") is None, retried.json
    assert (retried.status_code, retried.json["code"]) == (409, "claim_limit_reached"), retried.json


def test_a_scan_refused_for_a_revoked_token_is_not_kept_under_its_key(client, mp, goods):  # noqa: F811
    """The scan checks revocation in its view (after the hook has claimed the key): its 401 is kept under the
    user's key, and the same user, signed in again, retrying the scan with that key is answered 401 for a day."""
    name = mp.new_name()
    headers, _ = mp.sign_in("consumer", name)
    client.post("/api/consumer/auth/logout", headers=headers)
    keyed = {**headers, "Idempotency-Key": "scan-key-000001"}
    assert client.post(SCANS, json={"code": goods["items"][0]}, headers=keyed).status_code == 401
    fresh, _ = mp.sign_in("consumer", name)
    retried = client.post(SCANS, json={"code": goods["items"][0]}, headers={**fresh, "Idempotency-Key": "scan-key-000001"})
    assert retried.status_code == 201, (retried.status_code, retried.json, retried.headers.get("Idempotent-Replayed"))
