"""The reach a recall would have, read before it is made (the console's confirmation step): the same counts the
recall then answers, with nothing marked, no notice posted and no event emitted. Same world as the reach tests.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.notices.models import Notice
from app.units.models import Recall, Unit
from app.webhooks.models import OutboundEvent
from tests import unit_factories as uf
from tests.recall_factories import EXPECTED_PLACES, TRACE, parties_of

SAME = ("units", "lots", "items", "by_place", "scanned_by_consumers", "dealers", "stores", "parties")


def nothing_written():
    return [db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in (Recall, Notice)] + [
        db.session.scalar(sa.select(sa.func.count()).select_from(OutboundEvent)
                          .where(OutboundEvent.type == "recall.created")),
        db.session.scalar(sa.select(sa.func.count()).select_from(Unit).where(Unit.recall_id.is_not(None)))]


def test_a_raw_material_recall_preview_shows_the_reach_the_recall_then_has_and_writes_nothing(client, auth, recall_world):
    brand = recall_world["brand"]
    uf.commission(brand.other_lot, 3)
    url = f"{TRACE}/raw-material-lots/{recall_world['raw'].id}"
    preview = client.get(f"{url}/recall-preview", headers=auth.headers_for("auditor"))
    assert preview.status_code == 200, preview.get_json()
    body = preview.get_json()
    assert (body["lot_id"], body["raw_material_lot_id"], body["units"], body["items"]) == (None, recall_world["raw"].id, 13, 13)
    assert body["by_place"] == {**EXPECTED_PLACES, "line": 5}
    assert parties_of(body) == [("dealer", "Dealer A", 4, 2, 0, 0), ("dealer", "Dealer B", 1, 0, 1, 0),
                                ("store", "Store S", 2, 1, 0, 1)]
    assert nothing_written() == [0, 0, 0, 0]

    recall = client.post(f"{url}/recall", json={"reason": "aflatoxin"}, headers=auth.headers_for("ops")).get_json()
    assert {key: recall[key] for key in SAME} == {key: body[key] for key in SAME}
    # Once recalled, nothing is left to reach.
    after = client.get(f"{url}/recall-preview", headers=auth.headers_for("ops")).get_json()
    assert (after["units"], after["items"], after["parties"], after["dealers"]) == (0, 0, [], 0)


def test_a_lot_recall_preview_matches_the_lot_recall(client, auth, recall_world):
    lot = recall_world["brand"].lot
    body = client.get(f"{TRACE}/lots/{lot.id}/recall-preview", headers=auth.headers_for("ops")).get_json()
    assert (body["lot_id"], body["units"], body["by_place"], body["scanned_by_consumers"]) == \
        (lot.id, 10, EXPECTED_PLACES, 2)
    assert nothing_written() == [0, 0, 0, 0]
    recall = client.post(f"{TRACE}/lots/{lot.id}/recall", json={"reason": "seal"}, headers=auth.as_admin()).get_json()
    assert {key: recall[key] for key in SAME} == {key: body[key] for key in SAME}


def test_previews_of_unknown_or_unused_lots_are_refused(client, auth, recall_world):
    headers = auth.as_admin()
    cases = ((f"{TRACE}/raw-material-lots/987654/recall-preview", 404, "raw_material_lot_not_found"),
             (f"{TRACE}/raw-material-lots/{recall_world['unused'].id}/recall-preview", 409, "raw_material_lot_not_consumed"),
             (f"{TRACE}/lots/987654/recall-preview", 404, "production_lot_not_found"))
    for url, status, code in cases:
        response = client.get(url, headers=headers)
        assert (response.status_code, response.get_json()["code"]) == (status, code), url
