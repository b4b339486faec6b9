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
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import bench_redis_url  # noqa: E402

POSITION = {"latitude": 30.26, "longitude": 120.13}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=1000, help="scans timed per measurement")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of (scans, /bare, /bare-redis) side by side for the medians")
    args = parser.parse_args()
    if bench_redis_url() is None:
        return 2
    os.environ.update({"MATONG_ENV": "development", "CONSUMER_SCANS_PER_MINUTE_IP": "100000000",
                       "CONSUMER_SCANS_PER_MINUTE_USER": "100000000"})
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from app.accounts import logins
    import app.consumers.service as service
    from app import create_app
    from app.consumers import scan_log
    from app.units.models import UnitScanStats
    from app.extensions import db, redis
    from app.flows import consumer_scans as flow
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
                                  .order_by(Unit.serial.desc()).limit(needed := (2 + args.rounds) * args.scans + 200)).all()
        ring = service.codes.keyring()
        codes = [ring.encode(serial, version) for serial, version in rows]
    if len(codes) < needed:
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

    scan_all(codes[:200])  # warm: the caches, the pool, the script
    token = headers["Authorization"].removeprefix("Bearer ")
    from bench import bare_app

    with app.app_context():
        user = logins.authenticate(token=token, app="consumer")
        redis.set("bench:token:" + hashlib.sha256(token.encode()).hexdigest(), user.id)
        db.session.expunge(user)
    bare = bare_app.app.test_client()

    def bare_all(path: str, count: int) -> float:
        started = time.process_time()
        for _ in range(count):
            bare.post(path, headers=headers, json={"url": "x"})
        return (time.process_time() - started) / count * 1e6

    bare_all("/bare", 200), bare_all("/bare-redis", 200)
    # The whole request beside the bare endpoints, round after round (this machine is shared: medians).
    fresh = iter(range(200, len(codes), args.scans))
    whole, bare_cpu, bare_redis_cpu = [], [], []
    for _ in range(args.rounds):
        start = next(fresh)
        whole.append(scan_all(codes[start:start + args.scans]))
        bare_cpu.append(bare_all("/bare", args.scans))
        bare_redis_cpu.append(bare_all("/bare-redis", args.scans))
    ratios = [w / b for w, b in zip(whole, bare_redis_cpu)]
    print(f"one process, {args.rounds} rounds of {args.scans} first scans with a position beside /bare and "
          f"/bare-redis (bench/bare_app.py); CPU µs per request, medians (per round):")
    for label, values in (("the whole scan", whole), ("/bare", bare_cpu), ("/bare-redis", bare_redis_cpu)):
        print(f"  {label:<36}{statistics.median(values):8.0f}  ({', '.join(f'{v:.0f}' for v in values)})")
    ratio = statistics.median(ratios)
    print(f"  scan / bare-redis: median {ratio:.2f} (per round: {', '.join(f'{r:.2f}' for r in ratios)}); "
          f"target <= 2: {'met' if ratio <= 2 else 'NOT met'}")

    originals = {"scan": timed(flow, "scan", "the use case (flows.consumer_scans.scan)")}
    timed(logins, "check_claims", "the token's expiry and audience")
    timed(logins, "authenticate", "the token from the database")
    timed(service, "_unit_from_database", "  the unit from the database (in the service)")
    timed(scan_log, "count_and_log", "  the script (in the service)")
    timed(flow.eligibility, "open_campaigns", "  the campaigns (in the use case)")
    timed(Session, "commit", "the commit")
    start = next(fresh)
    parted = scan_all(codes[start:start + args.scans])
    print(f"where it goes ({args.scans} more scans, each part timed; parts nest inside the whole):")
    print(f"  {'the whole scan (with the timers)':<36}{parted:8.0f}")
    for label, seconds in spent.most_common():
        print(f"  {label:<36}{seconds / args.scans * 1e6:8.0f}")

    canned = []

    def canned_scan(**kw):  # the real use case once, then its answer again
        if not canned:
            canned.append(originals["scan"](**kw))
        return canned[0]

    flow.scan = canned_scan
    start = next(fresh)
    stubbed = scan_all(codes[start:start + args.scans])
    print(f"  {'the view with the use case stubbed':<36}{stubbed:8.0f}  (the app's plumbing for the view)")
    bare_app.redis_client().delete(bare_app.BARE_STREAM)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
