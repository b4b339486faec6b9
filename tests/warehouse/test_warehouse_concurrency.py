"""Two PDAs scanning the same pallet at the same moment: the row locks let one move win."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.units import unit_rows
from app.units.models import Event, EventKind, LocationKind, Unit
from app.stock import service as stock
from app.warehouse import service
from tests import unit_factories as uf
from tests.concurrency import at_once, meeting_in, results_and_errors
from tests.masterdata_factories import ACTOR, make_dealer
from tests.warehouse_factories import make_world, outbound, stock_of


def _race(app, records: list[dict]) -> list:
    """Apply each record in its own thread and transaction; both reach the units' locks together."""
    def apply(record):
        return lambda: service.apply_scans(actor=ACTOR, records=[record])[0]

    with meeting_in(unit_rows, "load_units", len(records)):
        results, errors = results_and_errors(at_once(app, *map(apply, records), each_in_transaction=True))
    assert errors == [None] * len(records), errors
    return results


def test_one_pallet_shipped_to_two_dealers_at_once_goes_to_one(app, mariadb):
    world = make_world()
    cases = [uf.pack(uf.commission(world.lot, 3)) for _ in range(2)]
    pallet = uf.pack(cases, level="pallet")
    uf.receive([pallet], warehouse_id=world.a)
    other_dealer = make_dealer().id

    results = _race(app, [outbound(pallet, world.a, to_dealer_id=world.dealer),
                          outbound(pallet, world.a, to_dealer_id=other_dealer)])

    assert sorted(r.reason or r.status for r in results) == ["accepted", "wrong_location"]
    winner = world.dealer if results[0].status == "accepted" else other_dealer
    db.session.expire_all()
    places = db.session.execute(sa.select(Unit.location_kind, Unit.location_id).distinct()).all()
    assert places == [(LocationKind.DEALER, winner)]
    assert stock_of(world.a, world.lot) == 0
    assert stock.check() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(Event.kind == EventKind.SHIP)) == 1


def test_the_same_record_sent_twice_at_once_applies_once(app, mariadb):
    world = make_world()
    case = uf.pack(uf.commission(world.lot, 4))
    uf.receive([case], warehouse_id=world.a)
    rec = outbound(case, world.a, to_warehouse_id=world.b)

    results = _race(app, [rec, dict(rec)])

    assert sorted(r.status for r in results) == ["accepted", "duplicate"]
    assert stock_of(world.a, world.lot) == 0
    assert stock.check() == []
