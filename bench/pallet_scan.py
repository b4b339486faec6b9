"""Benchmark: the outbound scan of a pallet of 1,200 items vs a bare UPDATE of as many rows.

    DATABASE_URL="mysql+pymysql://matong:matong@127.0.0.1/matong_bench?charset=utf8mb4" \\
        .venv/bin/python bench/pallet_move.py --runs 50

MariaDB/MySQL only (it refuses SQLite). The database is WIPED and migrated to head: give it a
database of its own (its name must contain "bench", or pass --wipe). Untimed set-up: a product
(24 per case, 50 cases per pallet), a factory and line, a lot, two warehouses, a dealer, an API key
(scope warehouse), and one pallet per run (plus a warm-up one) of 50 cases x 24 items, written
straight through the store as tests/unit_factories.py does — units packed and received in
warehouse A, commission events, stock counted — and a bare table with one row per unit
(serial primary key, location kind, location id, in transit).

Each run then times, alternating which goes first:

1. **move** — ``POST /api/integration/warehouse/scans`` with one outbound record (the run's own
   pallet to the dealer) through the Flask test client: API-key check, schema, the service (lock the
   pallet and its 1,250 units, write their new location, one SHIP event, the stock change), commit,
   the JSON answer. Every call is a real 1,251-unit move of a pallet still in the warehouse.
2. **bare update** — ``UPDATE bare SET location_kind, location_id, in_transit WHERE serial IN
   (...)`` of the same number of rows (1,251: the pallet, its 50 cases, 1,200 items) in one
   transaction with SQLAlchemy Core.

It prints median, p95 and max of each (target: move p95 <= 150 ms) and the ratio of the medians.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--wipe", action="store_true", help="wipe a database whose name lacks 'bench'")
    parser.add_argument("--profile", metavar="FILE", help="also profile one more move (cProfile) into FILE")
    args = parser.parse_args()
    if not may_wipe_bench_database(args.wipe):
        return 2

    app = development_app()
    import sqlalchemy as sa

    from app.db import transaction
    from app.extensions import db
    from app.identity import service as identity
    from app.identity.service import Actor
    from app.masterdata import service as masterdata
    from app.units import store
    from app.units.models import LocationKind

    actor = Actor.system("bench")
    metadata = sa.MetaData()
    bare = sa.Table("bench_bare_units", metadata,
                    sa.Column("serial", sa.BigInteger, primary_key=True, autoincrement=False),
                    sa.Column("location_kind", sa.String(16)), sa.Column("location_id", sa.BigInteger),
                    sa.Column("in_transit", sa.Boolean))
    at = datetime.now(timezone.utc) - timedelta(hours=2)

    with app.app_context():
        wipe_and_migrate(metadata)
        with transaction():
            product, factory, line, lot = product_line_lot(
                actor, sku="BENCH-1200", units_per_case=PER_CASE, cases_per_pallet=CASES)
            warehouse = masterdata.create_warehouse(actor=actor, data={"name": "Bench A", "factory_id": factory.id})
            masterdata.create_warehouse(actor=actor, data={"name": "Bench B", "factory_id": factory.id})
            dealer = masterdata.create_dealer(actor=actor, data={"name": "Bench dealer"})
            key, _ = identity.create_api_key(actor=actor, name="bench-pda", scopes=["warehouse"])
        product_id, lot_id, line_id = product.id, lot.id, line.id
        warehouse_id, dealer_id = warehouse.id, dealer.id

        def received_pallet() -> tuple[str, list[int]]:
            """A pallet of 50 cases x 24 items received in warehouse A (untimed); its code and serials."""
            code, units = pallet(actor, product_id=product_id, lot_id=lot_id, location_kind=LocationKind.WAREHOUSE,
                                 location_id=warehouse_id, at=at, cases=CASES, per_case=PER_CASE)
            with transaction():
                write_commissioned(units, lot_id=lot_id, line_id=line_id, at=at)
                store.adjust_stock(store.stock_deltas({}, units))  # dated today, counted in A's stock
                db.session.execute(bare.insert(), [
                    {"serial": u.serial, "location_kind": "warehouse", "location_id": warehouse_id,
                     "in_transit": False} for u in units])
            return code, [u.serial for u in units]

        client = app.test_client()
        headers = {"X-Api-Key": key}

        def move(code: str, run: int) -> float:
            body = {"records": [{"record_id": f"ship-{run}", "scanned_at": (at + timedelta(hours=1)).isoformat(),
                                 "action": "outbound", "code": code, "warehouse_id": warehouse_id,
                                 "to_dealer_id": dealer_id, "order_no": f"SO-{run}"}]}
            started = time.perf_counter()
            response = client.post("/api/integration/warehouse/scans", json=body, headers=headers)
            elapsed = time.perf_counter() - started
            answer = response.get_json()
            assert response.status_code == 200 and answer["results"][0].get("units") == CASES * PER_CASE, answer
            return elapsed

        def bare_update(serials: list[int]) -> float:
            started = time.perf_counter()
            with db.engine.begin() as conn:
                conn.execute(bare.update().where(bare.c.serial.in_(serials))
                             .values(location_kind="dealer", location_id=dealer_id, in_transit=True))
            return time.perf_counter() - started

        print(f"machine: {machine()}")
        print(f"database: {db.engine.dialect.name} {db.engine.dialect.server_version_info}; "
              f"setting up {args.runs + 1} pallets of {CASES} x {PER_CASE} items ...", flush=True)
        started = time.perf_counter()
        prepared = [received_pallet() for _ in range(args.runs + 1)]
        print(f"set-up (untimed) {time.perf_counter() - started:.1f} s", flush=True)

        warm_code, warm_serials = prepared.pop()
        move(warm_code, -1)
        bare_update(warm_serials)
        moves, updates = alternate(args.runs, lambda run: move(prepared[run][0], run),
                                   lambda run: bare_update(prepared[run][1]))
        if args.profile:
            import cProfile

            code, _ = received_pallet()
            cProfile.runctx("move(code, args.runs)", globals(), locals(), args.profile)
        stock = db.session.scalar(sa.text("SELECT quantity FROM stock"))
        assert stock == 0, stock

    m_med, m_p95 = statistics.median(moves) * MS, p95(moves) * MS
    u_med = statistics.median(updates) * MS
    print(f"\n{args.runs} runs, each a fresh pallet of {CASES * PER_CASE:,} items "
          f"({1 + CASES + CASES * PER_CASE:,} unit rows) shipped to a dealer:")
    print(timing_line("pallet move (HTTP)", moves, 20))
    print(timing_line("bare UPDATE", updates, 20))
    print(f"  ratio of medians (move / bare update): {m_med / u_med:.2f}")
    print(f"target: move p95 <= {TARGET_P95_MS} ms: {'met' if m_p95 <= TARGET_P95_MS else 'NOT met'}")
    return 0 if m_p95 <= TARGET_P95_MS else 1

if __name__ == "__main__":
    sys.exit(main())
