"""Hostile inputs get a clear 4xx (or a per-record refusal in a batch), never a 500."""
from __future__ import annotations

import pytest

from app.codes.format import CODE_LENGTH
from tests import channel_factories as cf
from tests.masterdata_factories import make_dealer
from tests.mp_factories import make_invitation, mp  # noqa: F401

# One character normalising to itself, and a code-length run of characters no code has.
NOT_CODES = ("!", "!" * CODE_LENGTH)


@pytest.mark.parametrize("text", NOT_CODES)
def test_a_text_that_is_no_code_is_refused_by_every_scan(client, mp, auth, text):
    dealer = make_dealer()
    store = cf.make_store_of(dealer.id)
    clerk = mp.bound("clerk", make_invitation(kind="store_owner", store_id=store.id).code)
    _, dealer_headers = cf.dealer_owner(mp, dealer)
    shipment = client.post("/api/dealer/shipments", json={"receiver_kind": "store", "receiver_id": store.id},
                           headers=dealer_headers).get_json()

    sale = client.post("/api/clerk/sales", json={"code": text}, headers=clerk)
    assert (sale.status_code, sale.get_json()["code"]) == (422, "forged")

    scan = client.post(f"/api/dealer/shipments/{shipment['id']}/scans", json={"codes": [text]},
                       headers=dealer_headers)
    assert scan.status_code == 200, scan.get_json()
    assert [(r["status"], r["reason"]) for r in scan.get_json()["results"]] == [("refused", "forged")]

    warehouse = client.post("/api/integration/warehouse/scans", headers=auth.key_headers("warehouse"), json={
        "records": [{"record_id": "a", "scanned_at": "2026-03-02T09:00:00Z", "action": "inbound", "code": text,
                     "warehouse_id": 1, "source": "line"}]})
    assert warehouse.status_code == 200, warehouse.get_json()
    assert [(r["status"], r["reason"]) for r in warehouse.get_json()["results"]] == [("rejected", "forged")]
