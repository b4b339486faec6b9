"""Benchmark: a dealer scanning one pallet code (1,200 items) out against an order, vs bare SQL.

    DATABASE_URL="mysql+pymysql://matong:matong@127.0.0.1/matong_bench?charset=utf8mb4" \\
        .venv/bin/python bench/dealer_pallet_scan.py --runs 50

MariaDB/MySQL only (it refuses SQLite). The database is WIPED and migrated to head: give it a
database of its own (its name must contain "bench", or pass --wipe). Untimed set-up: a product
(24 per case, 50 cases per pallet), a lot, a dealer and its sub-dealer, an order from the dealer to
the sub-dealer with one line of 1,200 items, a signed-in user of the dealer mini-program bound to
the dealer (owner), the order's open shipment, and one pallet per run (plus a warm-up one) of 50
cases x 24 items in the dealer's stock, written straight through the store; a bare table with one
row per unit and an empty bare table shaped like shipment_units.

Each run then times, alternating which goes first:

1. **scan** — ``POST /api/dealer/shipments/{id}/scans`` with the run's own pallet code through the
   Flask test client: token check, dealer membership, schema, the service (lock the shipment, the
   pallet and its 1,250 units, check each item against stock, open shipments and the order line,
   write the scan and 1,200 shipment units), commit, the JSON answer with the line's progress.
   After it (untimed) the scan is undone, so the next pallet finds room on the line.
2. **bare** — in one transaction: ``SELECT`` the 1,251 unit rows of a pallet by key from the bare
   units table, then ``INSERT`` 1,200 rows into the bare shipment-units table (SQLAlchemy Core).

It prints median, p95 and max of each (target: scan p95 <= 150 ms) and the ratio of the medians.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--wipe", action="store_true", help="wipe a database whose name lacks 'bench'")
    parser.add_argument("--profile", metavar="FILE", help="also profile one more scan (cProfile) into FILE")
    args = parser.parse_args()
    if not may_wipe_bench_database(args.wipe):
        return 2

    app = development_app()
    import sqlalchemy as sa

    from app.accounts import service as accounts
    from app.accounts.models import (
        AppName,
        AppUser,
        DealerMembership,
        MemberRole,
        Person,
    )
    from app.channel import shipments
    from app.channel.models import OrderLine, PartyKind, SalesOrder
    from app.db import transaction
    from app.extensions import db
    from app.identity.service import Actor
    from app.masterdata import service as masterdata
    from app.units.models import LocationKind

    actor = Actor.system("bench")
    metadata = sa.MetaData()
    bare_units = sa.Table("bench_bare_units", metadata,
                          sa.Column("serial", sa.BigInteger, primary_key=True, autoincrement=False),
                          sa.Column("product_id", sa.BigInteger), sa.Column("lot_id", sa.BigInteger),
                          sa.Column("parent_serial", sa.BigInteger, index=True),
                          sa.Column("location_kind", sa.String(16)), sa.Column("location_id", sa.BigInteger),
                          sa.Column("in_transit", sa.Boolean))
    bare_held = sa.Table("bench_bare_shipment_units", metadata,
                         sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
                         sa.Column("shipment_id", sa.BigInteger), sa.Column("serial", sa.BigInteger),
                         sa.Column("product_id", sa.BigInteger), sa.Column("lot_id", sa.BigInteger),
                         sa.Column("open_serial", sa.BigInteger, unique=True))
    at = datetime.now(timezone.utc) - timedelta(hours=2)

    with app.app_context():
        wipe_and_migrate(metadata)
        with transaction():
            product, _, line, lot = product_line_lot(
                actor, sku="BENCH-1200", units_per_case=PER_CASE, cases_per_pallet=CASES)
            dealer = masterdata.create_dealer(actor=actor, data={"name": "Bench dealer"})
            sub = masterdata.create_dealer(actor=actor, data={"name": "Bench sub-dealer", "parent_id": dealer.id})
            order = SalesOrder(order_no="BENCH-SO-1", seller_kind=PartyKind.DEALER, seller_id=dealer.id,
                               buyer_kind=PartyKind.DEALER, buyer_id=sub.id)
            order.lines.append(OrderLine(line_no=1, product_id=product.id, quantity=ITEMS, shipped=0, received=0))
            db.session.add(order)
            user = AppUser(app=AppName.DEALER, openid="bench-dealer-owner", person=Person())
            db.session.add(user)
            db.session.flush()
            db.session.add(DealerMembership(dealer_id=dealer.id, app_user_id=user.id, role=MemberRole.OWNER))
            token = accounts._issue(user, family="bench").token
            shipment = shipments.open_shipment(actor_label=f"app_user:{user.id}", shipper_kind=PartyKind.DEALER,
                                               shipper_id=dealer.id, order_id=order.id)
        product_id, lot_id, line_id, dealer_id = product.id, lot.id, line.id, dealer.id
        shipment_id = shipment.id

        def stocked_pallet() -> tuple[str, list[int]]:
            """A pallet of 50 cases x 24 items in the dealer's stock (untimed); its code and serials."""
            code, units = pallet(actor, product_id=product_id, lot_id=lot_id, location_kind=LocationKind.DEALER,
                                 location_id=dealer_id, at=at, cases=CASES, per_case=PER_CASE)
            with transaction():
                write_commissioned(units, lot_id=lot_id, line_id=line_id, at=at)
                db.session.execute(bare_units.insert(), [
                    {"serial": u.serial, "product_id": product_id, "lot_id": lot_id, "parent_serial": u.parent_serial,
                     "location_kind": "dealer", "location_id": dealer_id, "in_transit": False} for u in units])
            return code, [u.serial for u in units]

        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}

        def scan(code: str) -> float:
            started = time.perf_counter()
            response = client.post(f"/api/dealer/shipments/{shipment_id}/scans", json={"codes": [code]},
                                   headers=headers)
            elapsed = time.perf_counter() - started
            answer = response.get_json()
            assert response.status_code == 200 and answer["results"][0]["items"] == ITEMS, answer
            undo = client.delete(f"/api/dealer/shipments/{shipment_id}/scans/{answer['results'][0]['scan_id']}",
                                 headers=headers)
            assert undo.status_code == 200 and undo.get_json()["items"] == 0, undo.get_json()
            return elapsed

        def bare(serials: list[int]) -> float:
            items = set(serials[1 + CASES:])
            started = time.perf_counter()
            with db.engine.begin() as conn:
                rows = conn.execute(sa.select(bare_units).where(bare_units.c.serial.in_(serials))).all()
                conn.execute(bare_held.insert(), [
                    {"shipment_id": shipment_id, "serial": r.serial, "product_id": r.product_id, "lot_id": r.lot_id,
                     "open_serial": r.serial} for r in rows if r.serial in items])
            elapsed = time.perf_counter() - started
            with db.engine.begin() as conn:
                conn.execute(bare_held.delete())
            return elapsed

        print(f"machine: {machine()}")
        print(f"database: {db.engine.dialect.name} {db.engine.dialect.server_version_info}; "
              f"setting up {args.runs + 1} pallets of {CASES} x {PER_CASE} items ...", flush=True)
        started = time.perf_counter()
        prepared = [stocked_pallet() for _ in range(args.runs + 1)]
        print(f"set-up (untimed) {time.perf_counter() - started:.1f} s", flush=True)

        warm_code, warm_serials = prepared.pop()
        scan(warm_code)
        bare(warm_serials)
        scans, bares = alternate(args.runs, lambda run: scan(prepared[run][0]), lambda run: bare(prepared[run][1]))
        if args.profile:
            import cProfile

            code, _ = stocked_pallet()
            cProfile.runctx("scan(code)", globals(), locals(), args.profile)

    s_med, s_p95 = statistics.median(scans) * MS, p95(scans) * MS
    b_med = statistics.median(bares) * MS
    print(f"\n{args.runs} runs, each a fresh pallet of {ITEMS:,} items ({1 + CASES + ITEMS:,} unit rows) "
          f"scanned out against an order line of {ITEMS:,}:")
    print(timing_line("pallet scan (HTTP)", scans, 24))
    print(timing_line("bare SELECT + INSERT", bares, 24))
    print(f"  ratio of medians (scan / bare): {s_med / b_med:.2f}")
    print(f"target: scan p95 <= {TARGET_P95_MS} ms: {'met' if s_p95 <= TARGET_P95_MS else 'NOT met'}")
    return 0 if s_p95 <= TARGET_P95_MS else 1

if __name__ == "__main__":
    sys.exit(main())
