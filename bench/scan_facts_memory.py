"""Redis memory of the units' scan facts (app.units.scan_facts) at full scale: 10 million units by default.

    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/scan_facts_memory.py --units 10000000

The Redis database is FLUSHED first (give it one of its own). Every unit gets its facts field as its
writers leave it (`scan_facts.encode` of an item in a store, shipped by a dealer, with realistic ids) and,
for --scanned of them (default 60 %), a counter as the scan script leaves it. Written in buckets through
pipelines, then Redis's own `used_memory` before and after is divided by the units. Printed: bytes per
unit, the total, and the buckets' encoding (listpack keeps them compact; a bucket past Redis's
hash-max-listpack-entries would turn into a hash table and take several times more).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000_000)
    parser.add_argument("--scanned", type=float, default=0.6, help="share of units with a consumer-scan counter")
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    if not url:
        print("REDIS_URL names the Redis database to fill (it is flushed).", file=sys.stderr)
        return 2
    import redis

    from app.codes.models import Level
    from app.units import scan_facts
    from app.units.models import LocationKind, UnitStatus

    client = redis.Redis.from_url(url)
    client.flushdb()
    before = client.info("memory")["used_memory"]
    rng = random.Random(15)
    first_serial = 1_000_000_000  # serials of a brand some years in
    started = time.monotonic()
    pipe = client.pipeline(transaction=False)
    for n in range(args.units):
        serial = first_serial + n
        unit = SimpleNamespace(level=Level.ITEM, status=UnitStatus.ACTIVE, recall_id=None,
                               product_id=rng.randint(1, 400), lot_id=rng.randint(1, 50_000),
                               last_dealer_id=rng.randint(1, 3_000), location_kind=LocationKind.STORE,
                               location_id=rng.randint(1, 200_000), in_transit=False)
        key, facts_field, counter_field = scan_facts.slot(serial)
        pipe.hset(key, facts_field, scan_facts.encode(unit))
        if rng.random() < args.scanned:
            pipe.hset(key, counter_field, scan_facts.counter(
                rng.randint(1, 5), 1_790_000_000_000_000 + rng.randint(0, 10 ** 13), rng.randint(1, 50_000_000),
                "330106000000"))
        if n % 20_000 == 19_999:
            pipe.execute()
    pipe.execute()
    filled = time.monotonic() - started
    after = client.info("memory")["used_memory"]
    sample_key = scan_facts.slot(first_serial + args.units // 2)[0]
    encoding = client.object("encoding", sample_key)
    per_unit = (after - before) / args.units
    print(f"{args.units:,} units ({args.scanned:.0%} with a counter) in {args.units // scan_facts.BUCKET + 1:,} "
          f"buckets of {scan_facts.BUCKET}, filled in {filled:.0f} s")
    print(f"Redis used_memory: {before / 2**20:,.1f} MiB before, {after / 2**20:,.1f} MiB after: "
          f"{per_unit:.1f} bytes per unit; at 10 million units {per_unit * 10_000_000 / 2**30:.2f} GiB")
    print(f"a bucket's encoding: {encoding.decode() if isinstance(encoding, bytes) else encoding}")
    client.flushdb()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
