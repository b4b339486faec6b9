"""Where a consumer scan's CPU goes: one process, the test client, MariaDB + Redis (the benchmark's own).

    DATABASE_URL="mysql+pymysql://matong:matong@127.0.0.1/matong_bench6?charset=utf8mb4" \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/consumer_scan_parts.py --scans 1000

Run it after ``bench/consumer_scans.py`` on the same database: it scans that benchmark's commissioned
units that no consumer has scanned yet (first scans with a position, as the benchmark's mix). The
Redis database is FLUSHED first. Printed, in CPU µs per request (``time.process_time`` around each
part; parts nest inside "the whole request"): the token's signature (and the database's check, which
only a token Redis does not know needs), the unit's look-up, the script, the campaigns, the commit;
then, for scale, the same view with the service replaced by a stub (a canned answer): the app's own
plumbing for the view; and the bare and bare-redis endpoints of bench/bare_app.py the same way. The
units' scan facts are put in Redis first (untimed), as their writers keep them.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import bench_redis_url  # noqa: E402

POSITION = {"latitude": 30.26, "longitude": 120.13}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=1000, help="scans timed per measurement")
    args = parser.parse_args()
    if bench_redis_url() is None:
        return 2
    os.environ.update({"MATONG_ENV": "development", "CONSUMER_SCANS_PER_MINUTE_IP": "100000000",
                       "CONSUMER_SCANS_PER_MINUTE_USER": "100000000"})
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    import app.accounts.service as accounts
    import app.consumers.service as service
    from app import create_app
    from app.consumers import scan_log
    from app.consumers.models import UnitScanStats
    from app.extensions import db, redis
    from app.units import scan_facts
    from app.units.models import Unit

    app = create_app("development")
    with app.app_context():
        redis.flushdb()
        started = time.monotonic()
        warmed = scan_facts.warm()
        print(f"units' scan facts put in Redis (untimed): {warmed:,} in {time.monotonic() - started:.1f} s")
        rows = db.session.execute(sa.select(Unit.serial, Unit.key_version)
                                  .where(Unit.serial.not_in(sa.select(UnitScanStats.serial)))
                                  .order_by(Unit.serial.desc()).limit(2 * args.scans + 200)).all()
        ring = service.codes.keyring()
        codes = [ring.encode(serial, version) for serial, version in rows]
    if len(codes) < 2 * args.scans + 200:
        print("Not enough unscanned units: run bench/consumer_scans.py on this database first.", file=sys.stderr)
        return 2
    client = app.test_client()
    login = client.post("/api/consumer/auth/login", json={"code": f"sandbox:bench-parts:{time.time_ns()}"})
    assert login.status_code == 200, login.get_json()
    headers = {"Authorization": f"Bearer {login.get_json()['token']}"}

    def scan_all(batch: list[str]) -> float:
        started = time.process_time()
        for code in batch:
            response = client.post("/api/consumer/scans", headers=headers,
                                   json={"url": f"https://m.example.com/c/{code}", **POSITION})
            assert response.status_code == 201, response.get_json()
        return (time.process_time() - started) / len(batch) * 1e6

    spent: collections.Counter = collections.Counter()

    def timed(owner, name: str, label: str):
        original = getattr(owner, name)

        def wrapper(*a, **kw):
            started = time.process_time()
            try:
                return original(*a, **kw)
            finally:
                spent[label] += time.process_time() - started
        setattr(owner, name, wrapper)
        return original

    scan_all(codes[:200])  # warm: the caches, the pool, the Lua script
    originals = {"scan": timed(service, "scan", "the service (service.scan)")}
    timed(accounts, "check_claims", "the token's expiry and audience")
    timed(accounts, "authenticate", "the token from the database")
    timed(service, "_unit_for_scan", "  the unit's look-up (in the service)")
    timed(scan_log, "count_and_log", "  the script (in the service)")
    timed(service.claims, "open_campaigns", "  the campaigns (in the service)")
    timed(Session, "commit", "the commit")
    whole = scan_all(codes[200:200 + args.scans])
    print(f"one process, {args.scans} first scans with a position; CPU µs per request:")
    print(f"  {'the whole request':<36}{whole:8.0f}")
    for label, seconds in spent.most_common():
        print(f"  {label:<36}{seconds / args.scans * 1e6:8.0f}")

    canned = []

    def canned_scan(**kw):  # the real service once, then its answer again
        if not canned:
            canned.append(originals["scan"](**kw))
        return canned[0]

    with app.app_context():
        user = accounts.authenticate(token=headers["Authorization"].removeprefix("Bearer "), app="consumer")
        db.session.expunge(user)
    service.scan = canned_scan
    stubbed = scan_all(codes[200 + args.scans:200 + 2 * args.scans])
    print(f"  {'the view with both stubbed':<36}{stubbed:8.0f}  (the app's plumbing for the view)")

    # For scale, in this process too: bench/bare_app.py's endpoints through their own test client.
    from bench import bare_app

    token = headers["Authorization"].removeprefix("Bearer ")
    with app.app_context():
        redis.set("bench:token:" + hashlib.sha256(token.encode()).hexdigest(), user.id)
    bare = bare_app.app.test_client()
    for path in ("/bare", "/bare-redis"):
        for _ in range(200):
            bare.post(path, headers=headers, json={"url": "x"})
        started = time.process_time()
        for _ in range(args.scans):
            bare.post(path, headers=headers, json={"url": "x"})
        print(f"  {path + ' (bench/bare_app.py)':<36}{(time.process_time() - started) / args.scans * 1e6:8.0f}")
    bare_app.redis_client().delete(bare_app.BARE_STREAM)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
