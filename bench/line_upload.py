"""Benchmark: one line upload of 100,000 item→case pack records vs a bare insert of as many rows.

    DATABASE_URL="mysql+pymysql://matong:matong@127.0.0.1/matong_bench?charset=utf8mb4" \\
        .venv/bin/python bench/line_upload.py --runs 3

MariaDB/MySQL only (it refuses SQLite). The database is WIPED and migrated to head: give it a
database of its own (its name must contain "bench", or pass --wipe). Untimed set-up: a product
with cases of 24, a factory, a line, an open lot, an API key (scope production), a line session.
Per run (fresh codes each run, untimed): 100,000 item codes issued and commissioned straight
through the store, 4,167 case codes issued, the JSON body of 100,000 pack records (item i into case
i // 24) built. Then, alternating which goes first:

1. **upload** — ``POST /api/integration/line/sessions/<id>/records`` through the Flask test client
   (API-key check, msgspec decode, the engine, one transaction, the JSON answer);
2. **bare insert** — the same 100,000 records as rows (record_id, type, code, parent, scanned_at)
   into a bare table with SQLAlchemy Core ``executemany``, in one transaction.

It prints records/s, both medians, the ratio (median of each run's upload/insert ratio: runs are
paired, which a noisy shared machine needs; target <= 3) and the peak RSS (target < 500 MB).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    development_app,
    machine,
    may_wipe_bench_database,
    peak_rss_mb,
    product_line_lot,
    wipe_and_migrate,
)

TARGET_RATIO = 3.0
TARGET_RSS_MB = 500
PER_CASE = 24


def server_settings(engine) -> str:
    """The InnoDB settings the figures depend on, printed with them."""
    import sqlalchemy as sa

    names = ("innodb_buffer_pool_size", "innodb_log_file_size", "innodb_flush_log_at_trx_commit")
    with engine.connect() as conn:
        values = [conn.scalar(sa.text(f"SELECT @@GLOBAL.{name}")) for name in names]  # our own names only
    sizes = [f"{name}={int(value) // 2**20} MB" for name, value in zip(names[:2], values)]
    return ", ".join([*sizes, f"{names[2]}={values[2]}"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wipe", action="store_true", help="wipe a database whose name lacks 'bench'")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the last upload to FILE")
    args = parser.parse_args()

    if not may_wipe_bench_database(args.wipe):
        return 2

    app = development_app(CODE_BATCH_MAX=str(max(args.records, 1_000_000)))
    import sqlalchemy as sa

    from app.codes import service as codes
    from app.codes.models import Level
    from app.db import transaction, utcnow
    from app.extensions import db
    from app.identity import service as identity
    from app.identity.service import Actor
    from app.units import line_sessions, unit_rows
    from app.units.models import EventKind, LocationKind, UnitStatus

    actor = Actor.system("bench")
    metadata = sa.MetaData()
    raw = sa.Table("bench_raw_records", metadata,
                   sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
                   sa.Column("record_id", sa.String(64)), sa.Column("type", sa.String(16)),
                   sa.Column("code", sa.String(64)), sa.Column("parent", sa.String(64)),
                   sa.Column("scanned_at", sa.DateTime))

    with app.app_context():
        wipe_and_migrate(metadata)
        with transaction():
            product, _, line, lot = product_line_lot(actor, sku="BENCH-24", units_per_case=PER_CASE)
            key, _ = identity.create_api_key(actor=actor, name="bench-line", scopes=["production"])
            session = line_sessions.start_session(actor=actor, line_id=line.id, lot_id=lot.id)
        product_id, lot_id, line_id, session_id = product.id, lot.id, line.id, session.id
        client = app.test_client()
        headers = {"X-Api-Key": key}
        ring = codes.keyring()
        cases = -(-args.records // PER_CASE)
        at = datetime.now(timezone.utc) - timedelta(hours=1)

        def prepare(run: int):
            """Fresh commissioned items and case codes, and the upload body (untimed)."""
            with transaction():
                items, _ = codes.issue_batch(actor=actor, product_id=product_id, level="item", count=args.records)
                parents, _ = codes.issue_batch(actor=actor, product_id=product_id, level="case", count=cases)
            item_codes = [ring.encode(items.serial_start + i, items.key_version) for i in range(args.records)]
            case_codes = [ring.encode(parents.serial_start + i, parents.key_version) for i in range(cases)]
            now = utcnow()
            with transaction():
                unit_rows.insert_units(unit_rows.UnitState(
                    items.serial_start + i, items.key_version, items.id, Level.ITEM, product_id, lot_id,
                    UnitStatus.ACTIVE, None, 0, False, LocationKind.LINE, line_id, False, None, None, None, at)
                    for i in range(args.records))
                unit_rows.write_events([unit_rows.event_row(
                    kind=EventKind.COMMISSION, serial=items.serial_start + i, lot_id=lot_id, occurred_at=at,
                    recorded_at=now, location_kind=LocationKind.LINE, location_id=line_id, source="bench")
                    for i in range(args.records)])
            scanned = (at + timedelta(minutes=1)).isoformat()
            records = [{"type": "pack", "record_id": f"run{run}-{i}", "scanned_at": scanned, "code": code,
                        "parent": case_codes[i // PER_CASE]} for i, code in enumerate(item_codes)]
            body = json.dumps({"records": records}).encode()
            rows = [{"record_id": r["record_id"], "type": r["type"], "code": r["code"], "parent": r["parent"],
                     "scanned_at": at} for r in records]
            return body, rows

        def upload(body: bytes) -> float:
            started = time.perf_counter()
            response = client.post(f"/api/integration/line/sessions/{session_id}/records", data=body,
                                   headers=headers, content_type="application/json")
            elapsed = time.perf_counter() - started
            answer = json.loads(response.get_data())
            assert response.status_code == 200 and answer["accepted"] == args.records, (
                response.status_code, {k: v for k, v in answer.items() if k != "results"})
            return elapsed

        def bare_insert(rows: list[dict]) -> float:
            started = time.perf_counter()
            with db.engine.begin() as conn:
                conn.execute(raw.insert(), rows)
            return time.perf_counter() - started

        print(f"machine: {machine()}")
        print(f"database: {db.engine.dialect.name} {db.engine.dialect.server_version_info}, "
              f"{args.records:,} pack records (items into cases of {PER_CASE}) per upload")
        print(f"server settings: {server_settings(db.engine)}")
        figures = {"upload": [], "insert": [], "ratio": []}
        for run in range(args.runs):
            body, rows = prepare(run)
            with db.engine.begin() as conn:
                conn.execute(raw.delete())
            if run % 2 == 0:
                up = upload(body) if not (args.profile and run == args.runs - 1) else _profiled(upload, body, args.profile)
                ins = bare_insert(rows)
            else:
                ins = bare_insert(rows)
                up = upload(body) if not (args.profile and run == args.runs - 1) else _profiled(upload, body, args.profile)
            del body, rows
            for name, value in (("upload", up), ("insert", ins), ("ratio", up / ins)):
                figures[name].append(value)
            print(f"  run {run + 1}: upload {up:6.2f} s ({args.records / up:9,.0f} records/s)   "
                  f"bare insert {ins:6.2f} s ({args.records / ins:9,.0f} rows/s)   ratio {up / ins:4.2f}",
                  flush=True)

    up, ins, ratio = (statistics.median(figures[k]) for k in ("upload", "insert", "ratio"))
    rss = peak_rss_mb()
    print(f"\nmedian of {args.runs} runs: upload {up:.2f} s = {args.records / up:,.0f} records/s; "
          f"bare insert {ins:.2f} s = {args.records / ins:,.0f} rows/s")
    print(f"ratio upload / bare insert: {ratio:.2f} (target <= {TARGET_RATIO}); per run: "
          + ", ".join(f"{r:.2f}" for r in figures["ratio"]))
    print(f"peak RSS: {rss:.0f} MB (target < {TARGET_RSS_MB} MB)")
    return 0 if ratio <= TARGET_RATIO and rss < TARGET_RSS_MB else 1


def _profiled(fn, arg, path):
    import cProfile

    profile = cProfile.Profile()
    profile.enable()
    try:
        return fn(arg)
    finally:
        profile.disable()
        profile.dump_stats(path)


if __name__ == "__main__":
    sys.exit(main())
