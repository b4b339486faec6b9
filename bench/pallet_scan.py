"""Benchmark: one scan that moves a pallet of 1,200 items, vs bare SQL on as many rows.

    DATABASE_URL="mysql+pymysql://matong:matong@127.0.0.1/matong_bench?charset=utf8mb4" \\
        .venv/bin/python bench/pallet_scan.py --by warehouse --runs 50
    DATABASE_URL=... .venv/bin/python bench/pallet_scan.py --by dealer --runs 50

MariaDB/MySQL only (it refuses SQLite). The database is WIPED and migrated to head: give it a
database of its own (its name must contain "bench", or pass --wipe). Untimed set-up, both ways: a
product (24 per case, 50 cases per pallet), a factory and line, a lot, a dealer, and one pallet per
run (plus a warm-up one) of 50 cases x 24 items, written straight through the store as
tests/unit_factories.py does (units packed, commission events) with a bare table of one row per unit.

``--by warehouse`` (the outbound scan): two warehouses and an API key (scope warehouse); the pallets
are received in warehouse A, their stock counted. Each run times, alternating which goes first:

1. **move** — ``POST /api/integration/warehouse/scans`` with one outbound record (the run's own
   pallet to the dealer) through the Flask test client: API-key check, schema, the service (lock the
   pallet and its 1,250 units, write their new location, one SHIP event, the stock change), commit,
   the JSON answer. Every call is a real 1,251-unit move of a pallet still in the warehouse.
2. **bare update** — ``UPDATE bare SET location_kind, location_id, in_transit WHERE serial IN
   (...)`` of the same number of rows (1,251: the pallet, its 50 cases, 1,200 items) in one
   transaction with SQLAlchemy Core.

``--by dealer`` (a dealer scanning against an order): a sub-dealer, an order from the dealer to it with
one line of 1,200 items, a signed-in user of the dealer mini-program bound to the dealer (owner), the
order's open shipment; the pallets are in the dealer's stock; an empty bare table shaped like
shipment_units. Each run times, alternating which goes first:

1. **scan** — ``POST /api/dealer/shipments/{id}/scans`` with the run's own pallet code through the
   Flask test client: token check, dealer membership, schema, the service (lock the shipment, the
   pallet and its 1,250 units, check each item against stock, open shipments and the order line,
   write the scan and 1,200 shipment units), commit, the JSON answer with the line's progress.
   After it (untimed) the scan is undone, so the next pallet finds room on the line.
2. **bare** — in one transaction: ``SELECT`` the 1,251 unit rows of a pallet by key from the bare
   units table, then ``INSERT`` 1,200 rows into the bare shipment-units table (SQLAlchemy Core).

It prints median, p95 and max of each (target: p95 of the scan through HTTP <= 150 ms) and the ratio
of the medians.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    MS,
    alternate,
    development_app,
    machine,
    may_wipe_bench_database,
    p95,
    pallet,
    product_line_lot,
    timing_line,
    wipe_and_migrate,
    write_commissioned,
)

TARGET_P95_MS = 150
CASES, PER_CASE = 50, 24
ITEMS = CASES * PER_CASE


class WarehouseMove:
    """The outbound scan of a pallet received in a warehouse, against a bare UPDATE."""

    verb, what, bare_label, bare_short, width = "move", "shipped to a dealer", "bare UPDATE", "bare update", 20
    location = "warehouse"

    def __init__(self, sa, metadata) -> None:
        self.sa = sa
        self.bare = sa.Table("bench_bare_units", metadata,
                             sa.Column("serial", sa.BigInteger, primary_key=True, autoincrement=False),
                             sa.Column("location_kind", sa.String(16)), sa.Column("location_id", sa.BigInteger),
                             sa.Column("in_transit", sa.Boolean))

    def set_up(self, actor, *, factory, dealer, **_) -> None:
        from app.identity import service as identity
        from app.masterdata import places

        warehouse = places.create_warehouse(actor=actor, data={"name": "Bench A", "factory_id": factory.id})
        places.create_warehouse(actor=actor, data={"name": "Bench B", "factory_id": factory.id})
        key, _ = identity.create_api_key(actor=actor, name="bench-pda", scopes=["warehouse"])
        self.place_id, self.dealer_id, self.headers = warehouse.id, dealer.id, {"X-Api-Key": key}

    def stock(self, units: list) -> None:
        """Count a new pallet in warehouse A's stock (dated today) and write its bare rows."""
        from app.extensions import db
        from app.units import stock_moves

        stock_moves.adjust_stock(stock_moves.stock_deltas({}, units))
        db.session.execute(self.bare.insert(), [
            {"serial": u.serial, "location_kind": "warehouse", "location_id": self.place_id, "in_transit": False}
            for u in units])

    def timed(self, client, code: str, run: int, at) -> float:
        body = {"records": [{"record_id": f"ship-{run}", "scanned_at": (at + timedelta(hours=1)).isoformat(),
                             "action": "outbound", "code": code, "warehouse_id": self.place_id,
                             "to_dealer_id": self.dealer_id, "order_no": f"SO-{run}"}]}
        started = time.perf_counter()
        response = client.post("/api/integration/warehouse/scans", json=body, headers=self.headers)
        elapsed = time.perf_counter() - started
        answer = response.get_json()
        assert response.status_code == 200 and answer["results"][0].get("units") == ITEMS, answer
        return elapsed

    def bare_run(self, serials: list[int]) -> float:
        from app.extensions import db

        started = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(self.bare.update().where(self.bare.c.serial.in_(serials))
                         .values(location_kind="dealer", location_id=self.dealer_id, in_transit=True))
        return time.perf_counter() - started

    def check(self) -> None:
        """Every pallet left the warehouse: its stock is back to zero."""
        from app.extensions import db
        from app.stock.models import HolderKind, StockPosition

        stock = db.session.scalar(self.sa.select(self.sa.func.coalesce(self.sa.func.sum(StockPosition.quantity), 0))
                                  .where(StockPosition.holder_kind == HolderKind.WAREHOUSE))
        assert stock == 0, stock


class DealerScan:
    """A dealer scanning a pallet in its stock out against an order line, against a bare SELECT + INSERT."""

    verb, what, width = "scan", f"scanned out against an order line of {ITEMS:,}", 24
    bare_label, bare_short = "bare SELECT + INSERT", "bare"
    location = "dealer"

    def __init__(self, sa, metadata) -> None:
        self.sa = sa
        self.bare = sa.Table("bench_bare_units", metadata,
                             sa.Column("serial", sa.BigInteger, primary_key=True, autoincrement=False),
                             sa.Column("product_id", sa.BigInteger), sa.Column("lot_id", sa.BigInteger),
                             sa.Column("parent_serial", sa.BigInteger, index=True),
                             sa.Column("location_kind", sa.String(16)), sa.Column("location_id", sa.BigInteger),
                             sa.Column("in_transit", sa.Boolean))
        self.held = sa.Table("bench_bare_shipment_units", metadata,
                             sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
                             sa.Column("shipment_id", sa.BigInteger), sa.Column("serial", sa.BigInteger),
                             sa.Column("product_id", sa.BigInteger), sa.Column("lot_id", sa.BigInteger),
                             sa.Column("open_serial", sa.BigInteger, unique=True))

    def set_up(self, actor, *, product, dealer, **_) -> None:
        from app.accounts import logins
        from app.accounts.models import AppName, AppUser, DealerMembership, MemberRole, Person
        from app.channel import shipments
        from app.channel.models import OrderLine, PartyKind, SalesOrder
        from app.extensions import db
        from app.masterdata import dealers

        sub = dealers.create_dealer(actor=actor, data={"name": "Bench sub-dealer", "parent_id": dealer.id})
        order = SalesOrder(order_no="BENCH-SO-1", seller_kind=PartyKind.DEALER, seller_id=dealer.id,
                           buyer_kind=PartyKind.DEALER, buyer_id=sub.id)
        order.lines.append(OrderLine(line_no=1, product_id=product.id, quantity=ITEMS, shipped=0, received=0))
        db.session.add(order)
        user = AppUser(app=AppName.DEALER, openid="bench-dealer-owner", person=Person())
        db.session.add(user)
        db.session.flush()
        db.session.add(DealerMembership(dealer_id=dealer.id, app_user_id=user.id, role=MemberRole.OWNER))
        token = logins._issue(user, family="bench").token
        shipment = shipments.open_shipment(actor_label=f"app_user:{user.id}", shipper_kind=PartyKind.DEALER,
                                           shipper_id=dealer.id, order_id=order.id)
        self.place_id, self.shipment_id = dealer.id, shipment.id
        self.headers = {"Authorization": f"Bearer {token}"}

    def stock(self, units: list) -> None:
        """Write a new pallet's bare rows (it is in the dealer's stock already)."""
        from app.extensions import db

        db.session.execute(self.bare.insert(), [
            {"serial": u.serial, "product_id": u.product_id, "lot_id": u.lot_id, "parent_serial": u.parent_serial,
             "location_kind": "dealer", "location_id": self.place_id, "in_transit": False} for u in units])

    def timed(self, client, code: str, run: int, at) -> float:
        url = f"/api/dealer/shipments/{self.shipment_id}/scans"
        started = time.perf_counter()
        response = client.post(url, json={"codes": [code]}, headers=self.headers)
        elapsed = time.perf_counter() - started
        answer = response.get_json()
        assert response.status_code == 200 and answer["results"][0]["items"] == ITEMS, answer
        undo = client.delete(f"{url}/{answer['results'][0]['scan_id']}", headers=self.headers)
        assert undo.status_code == 200 and undo.get_json()["items"] == 0, undo.get_json()
        return elapsed

    def bare_run(self, serials: list[int]) -> float:
        from app.extensions import db

        items = set(serials[1 + CASES:])
        started = time.perf_counter()
        with db.engine.begin() as conn:
            rows = conn.execute(self.sa.select(self.bare).where(self.bare.c.serial.in_(serials))).all()
            conn.execute(self.held.insert(), [
                {"shipment_id": self.shipment_id, "serial": r.serial, "product_id": r.product_id,
                 "lot_id": r.lot_id, "open_serial": r.serial} for r in rows if r.serial in items])
        elapsed = time.perf_counter() - started
        with db.engine.begin() as conn:
            conn.execute(self.held.delete())
        return elapsed

    def check(self) -> None:
        """Nothing to check: every scan was undone as it was timed."""


SCENARIOS = {"warehouse": WarehouseMove, "dealer": DealerScan}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--by", choices=sorted(SCENARIOS), default="warehouse",
                        help="warehouse: the outbound scan of a PDA; dealer: a dealer's scan against an order")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--wipe", action="store_true", help="wipe a database whose name lacks 'bench'")
    parser.add_argument("--profile", metavar="FILE", help="also profile one more scan (cProfile) into FILE")
    args = parser.parse_args()
    if not may_wipe_bench_database(args.wipe):
        return 2

    app = development_app()
    import sqlalchemy as sa

    from app.db import transaction
    from app.identity.service import Actor
    from app.masterdata import dealers
    from app.units.models import LocationKind

    actor = Actor.system("bench")
    metadata = sa.MetaData()
    scenario = SCENARIOS[args.by](sa, metadata)
    at = datetime.now(timezone.utc) - timedelta(hours=2)

    with app.app_context():
        from app.extensions import db

        wipe_and_migrate(metadata)
        with transaction():
            product, factory, line, lot = product_line_lot(
                actor, sku="BENCH-1200", units_per_case=PER_CASE, cases_per_pallet=CASES)
            dealer = dealers.create_dealer(actor=actor, data={"name": "Bench dealer"})
            scenario.set_up(actor, product=product, factory=factory, dealer=dealer)
        lot_id, line_id, product_id = lot.id, line.id, product.id

        def stocked_pallet() -> tuple[str, list[int]]:
            """A pallet of 50 cases x 24 items where the scan starts (untimed); its code and serials."""
            code, units = pallet(actor, product_id=product_id, lot_id=lot_id,
                                 location_kind=LocationKind(scenario.location), location_id=scenario.place_id,
                                 at=at, cases=CASES, per_case=PER_CASE)
            with transaction():
                write_commissioned(units, lot_id=lot_id, line_id=line_id, at=at)
                scenario.stock(units)
            return code, [u.serial for u in units]

        client = app.test_client()
        print(f"machine: {machine()}")
        print(f"database: {db.engine.dialect.name} {db.engine.dialect.server_version_info}; "
              f"setting up {args.runs + 1} pallets of {CASES} x {PER_CASE} items ...", flush=True)
        started = time.perf_counter()
        prepared = [stocked_pallet() for _ in range(args.runs + 1)]
        print(f"set-up (untimed) {time.perf_counter() - started:.1f} s", flush=True)

        warm_code, warm_serials = prepared.pop()
        scenario.timed(client, warm_code, -1, at)
        scenario.bare_run(warm_serials)
        scans, bares = alternate(args.runs, lambda run: scenario.timed(client, prepared[run][0], run, at),
                                 lambda run: scenario.bare_run(prepared[run][1]))
        if args.profile:
            import cProfile

            code, _ = stocked_pallet()
            cProfile.runctx("scenario.timed(client, code, args.runs, at)", globals(), locals(), args.profile)
        scenario.check()

    return _report(scenario, scans, bares, runs=args.runs)


def _report(scenario, scans: list[float], bares: list[float], *, runs: int) -> int:
    """Print the figures; exit status 0 when the target is met."""
    s_med, s_p95 = statistics.median(scans) * MS, p95(scans) * MS
    b_med = statistics.median(bares) * MS
    verb = scenario.verb
    print(f"\n{runs} runs, each a fresh pallet of {ITEMS:,} items ({1 + CASES + ITEMS:,} unit rows) {scenario.what}:")
    print(timing_line(f"pallet {verb} (HTTP)", scans, scenario.width))
    print(timing_line(scenario.bare_label, bares, scenario.width))
    print(f"  ratio of medians ({verb} / {scenario.bare_short}): {s_med / b_med:.2f}")
    print(f"target: {verb} p95 <= {TARGET_P95_MS} ms: {'met' if s_p95 <= TARGET_P95_MS else 'NOT met'}")
    return 0 if s_p95 <= TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
