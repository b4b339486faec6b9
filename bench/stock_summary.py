"""Channel stock reads on a few hundred thousand positions: the list's first page and each summary.

Generates, in bulk (not through the moves), 10 warehouses, 300 dealers, 2,000 stores, 20 products
of 5 lots, their stock positions (by day received) and a year of daily outflow, then times
``GET /api/admin/stock`` (page 1 of 50, with its count) and ``/summary`` by holder kind, product and
region, 30-day window, all regions. Prints median / p95 / max of each.

    DATABASE_URL=mysql+pymysql://.../matong_bench python bench/stock_summary.py [--runs 20] [--wipe]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import development_app, machine, may_wipe_bench_database, timing_line, wipe_and_migrate  # noqa: E402

WAREHOUSES, DEALERS, STORES, PRODUCTS, LOTS_EACH = 10, 300, 2_000, 20, 5
TODAY = date(2026, 6, 30)


def _rows_in_chunks(table, rows, size=10_000):
    from app.extensions import db

    for start in range(0, len(rows), size):
        db.session.execute(table.insert(), rows[start:start + size])


def seed(rng: random.Random) -> tuple[int, int]:
    """The world and its stock in bulk; (positions, outflow rows)."""
    import sqlalchemy as sa

    from app.db import transaction
    from app.extensions import db
    from app.identity.service import Actor
    from app.masterdata import places
    from app.masterdata import products as masterdata_products
    from app.masterdata.models import Dealer, Region, RegionLevel, Store, dealer_territories
    from app.production import service as production
    from app.stock.models import HolderKind, StockOutflow, StockPosition

    actor = Actor.system("bench")
    with transaction():
        factory = places.create_factory(actor=actor, data={"name": "Bench factory"})
        districts = db.session.scalars(sa.select(Region.code).where(Region.level == RegionLevel.DISTRICT)
                                       .order_by(Region.code)).all()
        warehouses = [places.create_warehouse(actor=actor, data={
            "name": f"W{i}", "factory_id": factory.id, "region_code": rng.choice(districts)}).id
            for i in range(WAREHOUSES)]
        lots = []
        for p in range(PRODUCTS):
            product = masterdata_products.create_product(actor=actor, data={"sku": f"B-{p}", "name": f"Bench {p}"})
            for n in range(LOTS_EACH):
                lot = production.create_production_lot(actor=actor, data={
                    "product_id": product.id, "factory_id": factory.id, "lot_no": f"B{p}-{n}",
                    "production_date": date(2026, 1, 1)})
                lots.append((product.id, lot.id))
        db.session.execute(sa.insert(Dealer), [{"name": f"D{i}", "tier": 1, "contacts": []} for i in range(DEALERS)])
        dealers = db.session.scalars(sa.select(Dealer.id).order_by(Dealer.id)).all()
        db.session.execute(dealer_territories.insert(), [
            {"dealer_id": d, "region_code": code}
            for d in dealers for code in rng.sample(districts, rng.choice((1, 1, 3)))])
        db.session.execute(sa.insert(Store), [{"name": f"S{i}", "region_code": rng.choice(districts)}
                                              for i in range(STORES)])
        stores = db.session.scalars(sa.select(Store.id).order_by(Store.id)).all()

    positions, outflow = {}, {}
    shapes = ((HolderKind.WAREHOUSE, warehouses, 100, 20), (HolderKind.DEALER, dealers, 40, 10),
              (HolderKind.STORE, stores, 15, 8))
    for kind, holders, keys, days in shapes:
        for holder in holders:
            for product_id, lot_id in rng.sample(lots, keys):
                for _ in range(days):
                    day = TODAY - timedelta(days=rng.randrange(365))
                    positions[(kind, holder, product_id, lot_id, day)] = rng.randrange(1, 200)
                    outflow[(kind, holder, product_id, lot_id, TODAY - timedelta(days=rng.randrange(365)))] = \
                        rng.randrange(1, 50)
    names = ("holder_kind", "holder_id", "product_id", "lot_id")
    with transaction():
        _rows_in_chunks(StockPosition.__table__, [
            {**dict(zip(names, key[:4])), "received_on": key[4], "quantity": q} for key, q in positions.items()])
        _rows_in_chunks(StockOutflow.__table__, [
            {**dict(zip(names, key[:4])), "day": key[4], "quantity": q} for key, q in outflow.items()])
    return len(positions), len(outflow)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--wipe", action="store_true", help="allow wiping a database not named *bench*")
    args = parser.parse_args()
    if not may_wipe_bench_database(args.wipe):
        return 2
    app = development_app()
    import sqlalchemy as sa

    from app.extensions import db
    from app.stock import service

    with app.app_context():
        wipe_and_migrate(sa.MetaData())
        started = time.perf_counter()
        held, left = seed(random.Random(13))
        print(f"# stock reads on {machine()}")
        print(f"seeded {held:,} positions and {left:,} outflow rows in {time.perf_counter() - started:.1f} s")
        wanted = service.filters()

        def first_page():
            listing = service.positions(wanted=wanted, days=30, today=TODAY)
            listing.finish(db.session.execute(listing.select.limit(50)).all())
            db.session.scalar(sa.select(sa.func.count()).select_from(listing.select.order_by(None).subquery()))

        reads = {"list page 1 (+count)": first_page}
        for group in service.GROUPS:
            reads[f"summary by {group}"] = (
                lambda group=group: service.summary(wanted=wanted, group=group, days=30, today=TODAY))
        for label, read in reads.items():
            read()  # warm
            seconds = []
            for _ in range(args.runs):
                begun = time.perf_counter()
                read()
                seconds.append(time.perf_counter() - begun)
                db.session.rollback()
            print(timing_line(label, seconds, 24))
    return 0


if __name__ == "__main__":
    sys.exit(main())
