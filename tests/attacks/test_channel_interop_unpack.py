"""Attacked (issue 16): dealer and warehouse unpacking (stock, open shipments, other holders)."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.units.models import Event, EventKind
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.channel_factories import dealer_unpack
from tests.factories import ok


def _stock(client, headers):
    return sorted((r["lot_id"], r["quantity"]) for r in ok(client.get("/api/dealer/stock", headers=headers)))


def test_an_item_deep_in_a_pallet_scanned_into_an_open_shipment_stays_put(client, chain):
    pallet = cf.dealer_pallet(chain.brand, chain.t1.id, cases_=2, per_case=3)
    case = uf.contents(pallet)[0]
    item = uf.contents(case)[0]
    shipment = ok(client.post("/api/dealer/shipments", json={"receiver_kind": "dealer", "receiver_id": chain.t2.id},
                               headers=chain.h1), 201)
    assert ok(client.post(f"/api/dealer/shipments/{shipment['id']}/scans", json={"codes": [pallet]},
                           headers=chain.h1))["accepted"] == 1
    for mode, code in (("partial", item), ("partial", case), ("whole", case), ("whole", pallet)):
        answer = ok(dealer_unpack(client, chain.h1, mode, [code]))
        assert answer["results"][0]["reason"] == "in_open_shipment", (mode, answer)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.kind.in_([EventKind.UNPACK, EventKind.REMOVE]))) == 0


def test_goods_shipped_on_to_the_sub_dealer_and_in_transit_are_nobodys_to_unpack(client, chain):
    pallet = cf.dealer_pallet(chain.brand, chain.t1.id, cases_=2, per_case=3)
    shipment = ok(client.post("/api/dealer/shipments", json={"receiver_kind": "dealer", "receiver_id": chain.t2.id},
                               headers=chain.h1), 201)
    ok(client.post(f"/api/dealer/shipments/{shipment['id']}/scans", json={"codes": [pallet]}, headers=chain.h1))
    ok(client.post(f"/api/dealer/shipments/{shipment['id']}/ship", headers=chain.h1))
    for headers in (chain.h1, chain.h2):
        answer = ok(dealer_unpack(client, headers, "whole", [pallet]))
        assert answer["results"][0]["reason"] == "not_in_my_stock", answer


def test_repeated_and_mixed_codes_in_one_request_and_stock_unchanged(client, chain):
    pallet = cf.dealer_pallet(chain.brand, chain.t1.id, cases_=2, per_case=3)
    cases = uf.contents(pallet)
    before = _stock(client, chain.h1)
    answer = ok(dealer_unpack(client, chain.h1, "whole", [pallet, pallet, cases[0], cases[0], "x" * 64, " ", pallet.lower()]))
    statuses = [(r["status"], r["reason"], r.get("released")) for r in answer["results"]]
    assert statuses[0] == ("accepted", None, 2) and statuses[1][1] == "not_packed", statuses
    assert statuses[2] == ("accepted", None, 3) and statuses[3][1] == "not_packed", statuses
    assert statuses[6][1] == "not_packed", statuses
    assert _stock(client, chain.h1) == before
    trace = ok(client.get("/api/dealer/stock", headers=chain.h1))
    assert trace


def test_bad_unpack_bodies_are_422(client, chain):
    for body in ({"mode": "whole", "codes": ["A" * 201]}, {"mode": "whole", "codes": [None]},
                 {"mode": "whole", "codes": "ABC"}, {"mode": "partial", "codes": [1]},
                 {"mode": "whole", "codes": ["A"] * 100_001}, [], "x"):
        response = client.post("/api/dealer/unpacks", json=body, headers=chain.h1)
        assert 400 <= response.status_code < 500 and response.get_json()["code"], (str(body)[:50], response.status_code)


def test_a_partial_unpack_of_a_deep_item_racing_a_pallet_scan(app, mariadb, monkeypatch):
    from app.channel import shipments, unpacks
    from app.db import transaction
    from tests.masterdata_factories import make_dealer
    from tests.concurrency import race_reading_batches

    brand = cf.make_brand()
    dealer = make_dealer()
    sub = make_dealer(parent_id=dealer.id)
    pallet = cf.dealer_pallet(brand, dealer.id, cases_=2, per_case=3)
    item = uf.contents(uf.contents(pallet)[0])[0]
    with transaction():
        shipment = shipments.open_shipment(actor_label="a", shipper_kind="dealer", shipper_id=dealer.id,
                                           receiver_kind="dealer", receiver_id=sub.id)

    def unpack():
        return unpacks.unpack(actor_label="app_user:1", dealer_id=dealer.id, mode="partial", codes=[item])[0].reason

    def scan():
        return shipments.scan(actor_label="a", shipper_kind="dealer", shipper_id=dealer.id, shipment_id=shipment.id,
                              codes=[pallet]).results[0].reason

    results, errors = race_reading_batches(app, monkeypatch, [unpack, scan])
    assert errors == [None, None], errors
    # Either the item left first (the pallet ships 5) or the scan held it (the unpack refused).
    assert results in ([None, None], ["in_open_shipment", None]), results
    from app.channel.models import ShipmentUnit
    held = db.session.scalars(sa.select(ShipmentUnit.serial).where(ShipmentUnit.shipment_id == shipment.id)).all()
    if results[0] is None:
        assert uf.serial(item) not in held and len(held) == 5, held
    else:
        assert uf.serial(item) in held and len(held) == 6, held
