"""The hidden-code step and the first prover's draw, attacked: steps at once, a campaign beside it."""
from __future__ import annotations

import collections

import pytest

from app.consumers.models import HiddenCodeProof
from app.extensions import db
from tests.concurrency import at_once
from tests.consumer_factories import short

SCANS = "/api/consumer/scans"


def test_concurrent_hidden_code_steps_on_a_scan_not_yet_written_never_answer_500(app, mp, hidden, monkeypatch,
                                                                                 mariadb):  # noqa: F811
    """The scan-log worker has not written the scan yet (stream writer): each step writes it from the log
    (persist_one) at once; they deadlock, are run again, and the retry's refresh of the scan fails."""
    monkeypatch.setitem(app.config, "CONSUMER_SCAN_WRITER", "stream")
    monkeypatch.setitem(app.config, "HIDDEN_CODE_MAX_FAILURES_PER_USER", 1000)
    monkeypatch.setitem(app.config, "HIDDEN_CODE_MAX_FAILURES_PER_IP", 1000)
    client = app.test_client()
    headers, _ = mp.sign_in("consumer")
    statuses = collections.Counter()
    for round_ in range(6):
        made = client.post(SCANS, json={"url": short(hidden["code"])}, headers=headers).json
        step = f"{SCANS}/{made['scan_id']}/hidden-code"
        guesses = [f"{i:06d}" for i in range(round_ * 8, round_ * 8 + 8)]
        outcomes = at_once(app, *(lambda g=g: app.test_client().post(step, json={"hidden_code": g}, headers=headers)
                                  for g in guesses))
        statuses.update(o.status_code if hasattr(o, "status_code") else repr(o) for o in outcomes)
    assert 500 not in statuses, statuses


def test_the_buyer_double_tapping_the_right_hidden_code_gets_no_500(app, mp, hidden, monkeypatch, mariadb):  # noqa: F811
    """Two steps with the right code at once on a scan the worker has not written yet: the second's UPDATE
    matches nothing (already proved), and its refresh of the scan is a snapshot read from before the row
    existed."""
    monkeypatch.setitem(app.config, "CONSUMER_SCAN_WRITER", "stream")
    client = app.test_client()
    statuses = collections.Counter()
    for _ in range(5):
        headers, _ = mp.sign_in("consumer")
        made = client.post(SCANS, json={"url": short(hidden["code"])}, headers=headers).json
        step = f"{SCANS}/{made['scan_id']}/hidden-code"
        outcomes = at_once(app, *(lambda: app.test_client().post(step, json={"hidden_code": hidden["right"]},
                                                                  headers=headers) for _ in range(3)))
        statuses.update(o.status_code if hasattr(o, "status_code") else repr(o) for o in outcomes)
    assert set(statuses) == {200}, statuses


def test_a_scan_without_the_hidden_code_uses_up_no_draw_through_another_campaign(app, hidden, users):  # noqa: F811
    """Issue 15: 'a scan without [the hidden code] can't use up anything'. A unit draws once, ever, across
    campaigns: a stranger who scans the visible QR first enters a campaign that needs no hidden code (a points
    campaign on the same product, running alongside), and the buyer, who proves the code first, is refused
    the hidden-code campaign's draw."""
    from app.campaigns import claims
    from app.campaigns.errors import NoCampaign, ScanNotEligible
    from app.db import transaction
    from tests.consumer_factories import NOW, hidden_code_campaign, prove, scan

    scratch = hidden_code_campaign(first_scan_only=True)
    points = hidden_code_campaign(name="Everyday points", hidden_code_required=False,
                          prizes=[{"kind": "points", "name": "10 points", "amount": 10, "probability_ppm": 1_000_000}])
    stranger, buyer = users(), users()
    peek = scan(stranger, short(hidden["code"]))  # the shelf's bottle, no digits
    with pytest.raises(NoCampaign), transaction():  # the unit's draw waits for whoever proves the code
        claims.claim(user=stranger, scan_id=peek.scan_id, now=NOW)
    with pytest.raises(ScanNotEligible) as refused, transaction():
        claims.claim(user=stranger, scan_id=peek.scan_id, campaign_id=points.id, now=NOW)
    assert refused.value.errors["reason"] == "hidden_code_needed"
    bought = scan(buyer, short(hidden["code"]))
    proved = prove(buyer, bought.scan_id, hidden["right"])
    assert db.session.get(HiddenCodeProof, proved.scan.serial).app_user_id == buyer.id  # the first prover
    with transaction():
        result = claims.claim(user=buyer, scan_id=bought.scan_id, campaign_id=scratch.id, now=NOW)
    assert result.draw.app_user_id == buyer.id
