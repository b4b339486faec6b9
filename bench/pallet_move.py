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
import os
import platform
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 150
CASES, PER_CASE = 50, 24


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU(s), {model}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--wipe", action="store_true", help="wipe a database whose name lacks 'bench'")
    parser.add_argument("--profile", metavar="FILE", help="also profile one more move (cProfile) into FILE")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("mysql", "mariadb")):
        print("DATABASE_URL must point at MariaDB/MySQL (mysql+pymysql://...); SQLite is not measured.",
              file=sys.stderr)
        return 2
    database = url.rsplit("/", 1)[-1].split("?", 1)[0]
    if "bench" not in database and not args.wipe:
        print(f"The database {database!r} is wiped by this benchmark: use one named *bench*, or pass --wipe.",
              file=sys.stderr)
        return 2

    os.environ.update({"MATONG_ENV": "development", "CODE_EXPORT_RUNNER": "worker"})
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import logging

    import sqlalchemy as sa
    from flask_migrate import downgrade, upgrade

    from app import create_app
    from app.codes import service as codes
    from app.codes.models import Level
    from app.db import transaction, utcnow
    from app.extensions import db
    from app.identity import service as identity
    from app.identity.service import Actor
    from app.masterdata import service as masterdata
    from app.production import service as production
    from app.units import store
    from app.units.models import EventKind, LocationKind, UnitStatus

    logging.disable(logging.WARNING)
    app = create_app("development")
    actor = Actor.system("bench")
    bare = sa.Table("bench_bare_units", sa.MetaData(),
                    sa.Column("serial", sa.BigInteger, primary_key=True, autoincrement=False),
                    sa.Column("location_kind", sa.String(16)), sa.Column("location_id", sa.BigInteger),
                    sa.Column("in_transit", sa.Boolean))
    at = datetime.now(timezone.utc) - timedelta(hours=2)

    with app.app_context():
        downgrade(directory=str(ROOT / "migrations"), revision="base")
        upgrade(directory=str(ROOT / "migrations"))
        bare.drop(db.engine, checkfirst=True)
        bare.create(db.engine)
        with transaction():
            product = masterdata.create_product(actor=actor, data={
                "sku": "BENCH-1200", "name": "Bench product", "units_per_case": PER_CASE,
                "cases_per_pallet": CASES})
            factory = masterdata.create_factory(actor=actor, data={"name": "Bench factory"})
            line = masterdata.create_production_line(actor=actor, data={
                "factory_id": factory.id, "code": "B1", "name": "Bench line"})
            lot = production.create_production_lot(actor=actor, data={
                "product_id": product.id, "factory_id": factory.id, "line_id": line.id, "lot_no": "BENCH",
                "production_date": date(2026, 3, 2)})
            warehouse = masterdata.create_warehouse(actor=actor, data={"name": "Bench A", "factory_id": factory.id})
            masterdata.create_warehouse(actor=actor, data={"name": "Bench B", "factory_id": factory.id})
            dealer = masterdata.create_dealer(actor=actor, data={"name": "Bench dealer"})
            key, _ = identity.create_api_key(actor=actor, name="bench-pda", scopes=["warehouse"])
        product_id, lot_id, line_id = product.id, lot.id, line.id
        warehouse_id, dealer_id = warehouse.id, dealer.id
        ring = codes.keyring()

        def pallet() -> tuple[str, list[int]]:
            """A pallet of 50 cases x 24 items received in warehouse A (untimed); its code and serials."""
            with transaction():
                items, _ = codes.issue_batch(actor=actor, product_id=product_id, level="item", count=CASES * PER_CASE)
                cases, _ = codes.issue_batch(actor=actor, product_id=product_id, level="case", count=CASES)
                pallets, _ = codes.issue_batch(actor=actor, product_id=product_id, level="pallet", count=1)

            def unit(batch, i, level, parent, children):
                return store.UnitState(
                    batch.serial_start + i, batch.key_version, batch.id, level, product_id, lot_id,
                    UnitStatus.ACTIVE, parent, children, False, LocationKind.WAREHOUSE, warehouse_id, False,
                    None, None, None, at)

            top = pallets.serial_start
            units = [unit(pallets, 0, Level.PALLET, None, CASES)]
            units += [unit(cases, c, Level.CASE, top, PER_CASE) for c in range(CASES)]
            units += [unit(items, i, Level.ITEM, cases.serial_start + i // PER_CASE, 0)
                      for i in range(CASES * PER_CASE)]
            now = utcnow()
            with transaction():
                store.insert_units(units)
                store.write_events([store.event_row(
                    kind=EventKind.COMMISSION, serial=u.serial, lot_id=lot_id, occurred_at=at, recorded_at=now,
                    location_kind=LocationKind.LINE, location_id=line_id, source="bench")
                    for u in units if u.level is Level.ITEM])
                store.adjust_stock({(warehouse_id, product_id, lot_id): CASES * PER_CASE})
                db.session.execute(bare.insert(), [
                    {"serial": u.serial, "location_kind": "warehouse", "location_id": warehouse_id,
                     "in_transit": False} for u in units])
            return ring.encode(top, pallets.key_version), [u.serial for u in units]

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
        prepared = [pallet() for _ in range(args.runs + 1)]
        print(f"set-up (untimed) {time.perf_counter() - started:.1f} s", flush=True)

        warm_code, warm_serials = prepared.pop()
        move(warm_code, -1)
        bare_update(warm_serials)
        moves, updates = [], []
        for run, (code, serials) in enumerate(prepared):
            if run % 2 == 0:
                moves.append(move(code, run))
                updates.append(bare_update(serials))
            else:
                updates.append(bare_update(serials))
                moves.append(move(code, run))
        if args.profile:
            import cProfile

            code, _ = pallet()
            cProfile.runctx("move(code, args.runs)", globals(), locals(), args.profile)
        stock = db.session.scalar(sa.text("SELECT quantity FROM stock"))
        assert stock == 0, stock

    ms = 1000
    m_med, m_p95, m_max = statistics.median(moves) * ms, p95(moves) * ms, max(moves) * ms
    u_med, u_p95, u_max = statistics.median(updates) * ms, p95(updates) * ms, max(updates) * ms
    print(f"\n{args.runs} runs, each a fresh pallet of {CASES * PER_CASE:,} items "
          f"({1 + CASES + CASES * PER_CASE:,} unit rows) shipped to a dealer:")
    print(f"  pallet move (HTTP)  median {m_med:6.1f} ms   p95 {m_p95:6.1f} ms   max {m_max:6.1f} ms")
    print(f"  bare UPDATE         median {u_med:6.1f} ms   p95 {u_p95:6.1f} ms   max {u_max:6.1f} ms")
    print(f"  ratio of medians (move / bare update): {m_med / u_med:.2f}")
    print(f"target: move p95 <= {TARGET_P95_MS} ms: {'met' if m_p95 <= TARGET_P95_MS else 'NOT met'}")
    return 0 if m_p95 <= TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
