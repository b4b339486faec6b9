"""A recall's world for tests: one production lot's items spread along the chain, and what a recall should find.

The world (one production lot of 10 items; the numbers the tests expect are counted here):
- items 0-3 shipped by the brand warehouse to dealer A and received; A shipped 0-1 on to store S, which
  received them and sold item 0; consumers scanned items 0 and 1;
- item 4 shipped to dealer B, not yet received (in transit);
- items 5-7 in the warehouse; items 8-9 still on the line.
So: line 2, warehouse 3, dealer 2 (A: 4 - 2), store 1 (S: 2 - 1), in transit 1, sold 1; scanned 2.
A passed 4 (holds 2), B passed 1 (1 on its way), S passed 2 (holds 1, sold 1). Dealer C and store T
(also A's) handled none of it.
"""
from __future__ import annotations

import pytest

from app.db import transaction
from app.production import service as production
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, make_dealer
from tests.mp_factories import make_invitation
from tests.production_factories import make_raw_lot

TRACE = "/api/admin/trace"
DONGCHENG, BEIJING = "110101000000", "110000000000"


@pytest.fixture
def recall_world(client, mp):
    """The world above, made through the services and the mini-programs' HTTP API."""
    brand = cf.make_brand()
    a, b, c = (make_dealer(name=f"Dealer {x}", external_id=f"ERP-D{x}", territory=[BEIJING]) for x in "ABC")
    s, t = cf.make_store_of(a.id, name="Store S"), cf.make_store_of(a.id, name="Store T")
    raw, unused = make_raw_lot(), make_raw_lot()
    with transaction():
        production.add_consumption(actor=ACTOR, lot_id=brand.lot.id, raw_lot_id=raw.id, quantity="5")
        production.add_consumption(actor=ACTOR, lot_id=brand.other_lot.id, raw_lot_id=raw.id, quantity="2")
    items = uf.commission(brand.lot, 10)
    uf.receive(items[:8], warehouse_id=brand.warehouse_id)
    to_a = cf.ship_to(items[:4], shipper=("warehouse", brand.warehouse_id), receiver=("dealer", a.id))
    cf.receive(to_a.id, receiver=("dealer", a.id))
    to_s = cf.ship_to(items[:2], shipper=("dealer", a.id), receiver=("store", s.id))
    cf.receive(to_s.id, receiver=("store", s.id))
    cf.ship_to(items[4:5], shipper=("warehouse", brand.warehouse_id), receiver=("dealer", b.id))
    clerk_s = mp.bound("clerk", make_invitation(kind="store_owner", store_id=s.id).code)
    sold = client.post("/api/clerk/sales", json={"code": items[0]}, headers=clerk_s)
    assert sold.status_code == 201, sold.get_json()
    consumer, _ = mp.sign_in("consumer")
    for code in items[:2]:
        assert client.post("/api/consumer/scans", json={"code": code}, headers=consumer).status_code == 201
    return dict(brand=brand, a=a, b=b, c=c, s=s, t=t, raw=raw, unused=unused, items=items, clerk_s=clerk_s,
                dealer_a=cf.dealer_owner(mp, a)[1], dealer_c=cf.dealer_owner(mp, c)[1],
                clerk_t=mp.bound("clerk", make_invitation(kind="store_owner", store_id=t.id).code))


# Where the world's items are (see above).
EXPECTED_PLACES = {"line": 2, "warehouse": 3, "dealer": 2, "store": 1, "in_transit": 1, "sold": 1,
                   "scrapped": 0, "voided": 0}


def parties_of(body) -> list[tuple]:
    """The recall answer's parties as (kind, name, passed through, held now, in transit to, sold)."""
    return [(p["kind"], p["name"], p["passed_through"], p["held_now"], p["in_transit_to"], p["sold"])
            for p in body["parties"]]
