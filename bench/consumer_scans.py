"""Benchmark: consumer scans (POST /api/consumer/scans) under gunicorn vs bare Flask endpoints, closed then open loop.

    DATABASE_URL="mysql+pymysql://matong:matong@127.0.0.1/matong_bench6?charset=utf8mb4" \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/consumer_scans.py --seconds 20 --rounds 3

MariaDB/MySQL and a Redis server only. The database is WIPED and migrated to head (its name must
contain "bench", or pass --wipe) and the Redis database is flushed: give both to the benchmark.
Needs wrk (``apt-get install wrk``): a C load generator, so the clients are not the bottleneck
(64 connections on 2 threads; each request is pre-formatted in Lua, no per-response scripting).

Untimed set-up: a product with a GTIN, a factory in Hangzhou, a lot, a dealer whose territory is
Hangzhou, a store in Hangzhou; item codes issued and commissioned at the store (shipped there by the
dealer), enough for every round; then three servers are started: a standalone WeChat sandbox
(``flask wechat-sandbox run``), the app (``gunicorn -c config/gunicorn.py wsgi:app``) and the bare
app (``gunicorn -c bench/gunicorn_bare.py bench.bare_app:app``: config/gunicorn.py without its worker hook) with the same settings (WEB_CONCURRENCY
workers of GUNICORN_THREADS threads, gthread). Consumers sign in through the real login
(``POST /api/consumer/auth/login`` with a sandbox wx.login code), so their tokens are real, and a few
codes are scanned once so that repeats find them scanned.

The request mix (each request a different line of a file the Lua script cycles through): 90% first
scans of distinct genuine codes, 10% repeats of already-scanned codes (answering scanned-before or,
once three users scanned one, suspected copy); half of the scans carry a position (the region
lookup and the diversion check run); each request from the next of the signed-in consumers in turn.
The short printed URL is sent (``https://m.example.com/c/<code>``). The rate limit per IP is raised
through the environment (every client here is 127.0.0.1); the limits per user and per code keep
their defaults, and the mix stays under them (any 429 is printed).

Each round drives, for --seconds each and in alternating order, the bare endpoint (``POST /bare``:
JSON in, JSON out), the bare Redis endpoint (``POST /bare-redis``: the token looked up in Redis, the
record kept and streamed by one Lua script), the bare database endpoint (``POST /bare-db``: the
token looked up, one row inserted, commit; bench/bare_app.py) and the scans, with the scan-log
worker (``flask consumers persist-scans``) running beside them; after the scans the benchmark waits
until the worker has written every scan, and that wait counts against the scans' rate. Printed:
requests/s and p50/p95/p99 of each per round, the medians, and the median of the per-round ratios
of requests/s (issue 15's targets: scans >= 0.6 x bare-redis and >= 0.3 x bare).

Then the open loop (bench/open_loop.py; issue 15): a closed loop at saturation measures queueing, so
the scans are also sent at a fixed rate, --open-load (50 %) of the rounds' median scan rate, for
--open-seconds, whatever the answers: each request due at its time takes an idle keep-alive
connection or opens one, and its latency runs from when it was due to the last byte of its answer
(no coordinated omission). The requests are a fresh slice of the same mix (first scans stay first
scans), with the scan-log worker running and its backlog waited for; then bare-redis at the same
offered rate, for a floor. Printed: offered and achieved rates, p50/p90/p99/p99.9/max, statuses,
errors, how late the generator itself fired (a starved generator shows), and the targets (scans
p99 <= 50 ms, p99.9 <= 150 ms; an unanswered request misses them).

Last, the SQL statements and Redis round trips of one located first scan; the verdicts recorded.
--profile DIR adds a round under py-spy (pip install py-spy) and prints where the
workers' wall time goes by the innermost frame of our code.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import open_loop
from bench.bare_app import BARE_STREAM
from bench.common import ROOT, bench_redis_url, cpu_by_group, machine, may_wipe_bench_database, shipped_gunicorn

# Issue 15's restated targets under gunicorn's shipped settings (requests/s, medians of the per-round ratios).
TARGET_BARE_REDIS_RATIO = 0.6
TARGET_BARE_RATIO = 0.3
# Issue 15: the scans' latency when requests come at a fixed rate, half the rate the closed loop reached.
OPEN_LOAD = 0.5
TARGET_OPEN_P99_MS = 50
TARGET_OPEN_P999_MS = 150
HANGZHOU = "330100000000"
XIHU = "330106000000"
HANGZHOU_POS = (30.26, 120.13)
BIN = Path(sys.executable).parent
SIDES = ("bare", "bare-redis", "bare-db", "scans")
# Every client of the benchmark is 127.0.0.1: the per-IP limits would refuse them all.
RAISED_LIMITS = {"CONSUMER_SCANS_PER_MINUTE_IP": "100000000", "MP_LOGIN_LIMIT_PER_IP": "100000000",
                 "CLAIMS_PER_MINUTE_IP": "100000000"}

LUA = r"""
-- Each thread takes every n-th line of the file ("token<TAB>json body") and sends them in turn.
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  reqs = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then
      local tab = line:find("\t", 1, true)
      reqs[#reqs + 1] = wrk.format("POST", wrk.path, {
        ["Authorization"] = "Bearer " .. line:sub(1, tab - 1),
        ["Content-Type"] = "application/json"}, line:sub(tab + 1))
    end
    i = i + 1
  end
  pos = 0
  wrapped = 0
end

function request()
  pos = pos + 1
  if pos > #reqs then
    pos = 1
    wrapped = wrapped + 1
  end
  return reqs[pos]
end

function done(summary, latency, requests)
  local wraps = 0
  for _, thread in ipairs(threads) do
    wraps = wraps + thread:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    "WRK %d %d %d %d %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write, e.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, wraps, 0))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode} (log in the temp dir)")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not listen on {port} within {timeout} s")


def wrk(url: str, lines_file: Path, seconds: float, args, lua: Path) -> dict:
    """Drive url with --clients connections for seconds; the figures of wrk's done()."""
    threads = args.wrk_threads
    run = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{args.clients}", f"-d{int(seconds)}s", "--timeout", "10s", "-s", str(lua), url,
         "--", str(lines_file), str(threads)], capture_output=True, text=True)
    if run.returncode != 0:  # wrk says why on stderr (e.g. "unable to connect": the server is gone)
        raise SystemExit(f"wrk exited with {run.returncode} on {url}: {(run.stderr or run.stdout).strip()[-500:]}")
    out = run.stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    (n, duration_us, non2xx, socket_errors, timeouts, p50, p95, p99, top, mean, wraps, _) = (
        float(v) for v in line.split()[1:])
    return {"requests": int(n), "rps": n / (duration_us / 1e6), "non2xx": int(non2xx),
            "socket_errors": int(socket_errors), "timeouts": int(timeouts), "p50": p50 / 1000,
            "p95": p95 / 1000, "p99": p99 / 1000, "max": top / 1000, "mean": mean / 1000, "wraps": int(wraps)}


def line_of(token: str, body: dict) -> str:
    return token + "\t" + json.dumps(body, separators=(",", ":"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="seconds each side is driven per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--consumers", type=int, default=3000,
                        help="consumers signed in (enough that none passes the 30 scans a minute a user may make)")
    parser.add_argument("--codes-per-round", type=int, default=15000,
                        help="distinct fresh codes per round (a round that uses them all wraps: printed)")
    parser.add_argument("--repeat-share", type=float, default=0.10)
    parser.add_argument("--located-share", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=shipped_gunicorn()["workers"],
                        help="gunicorn workers (config/gunicorn.py: 2 x CPUs + 1)")
    parser.add_argument("--threads", type=int, default=shipped_gunicorn()["threads"],
                        help="threads per gunicorn worker (gthread)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent connections (wrk -c)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--open-seconds", type=float, default=20,
                        help="seconds of open-loop load after the rounds, for the scans, then bare-redis (0: none)")
    parser.add_argument("--open-load", type=float, default=OPEN_LOAD,
                        help="the open loop's rate as a share of the rounds' median scan rate")
    parser.add_argument("--profile", metavar="DIR",
                        help="after the rounds, one more scans round under py-spy (collapsed stacks into DIR)")
    parser.add_argument("--wipe", action="store_true", help="wipe a database whose name lacks 'bench'")
    args = parser.parse_args()
    if not may_wipe_bench_database(args.wipe):
        return 2
    redis_url = bench_redis_url()
    if redis_url is None:
        return 2
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk).", file=sys.stderr)
        return 2
    database_url = os.environ["DATABASE_URL"]
    work = Path(tempfile.mkdtemp(prefix="bench-consumer-"))
    lua = work / "scans.lua"
    lua.write_text(LUA)
    rng = random.Random(6)

    import redis as redis_client

    redis_client.Redis.from_url(redis_url).flushdb()
    fresh_total = args.codes_per_round * (args.rounds + 3)  # + warm-up, profile and open-loop rounds
    repeat_codes = 400
    codes_needed = fresh_total + repeat_codes
    print(f"machine: {machine()}")
    print(f"commit: {git_head()}")
    print(f"setting up: {codes_needed:,} commissioned item codes ...", flush=True)
    started = time.perf_counter()
    all_codes = set_up(codes_needed)
    print(f"set-up (untimed) {time.perf_counter() - started:.1f} s", flush=True)

    servers = []
    try:
        sandbox_port, app_port, bare_port = free_port(), free_port(), free_port()
        common_env = {
            **os.environ, "MATONG_ENV": "development", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "WECHAT_API_BASE": "sandbox", "WECHATPAY_API_BASE": "sandbox",
            "WECHAT_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}", "CODE_EXPORT_RUNNER": "worker",
            "WEB_CONCURRENCY": str(args.workers), "GUNICORN_THREADS": str(args.threads),
            **RAISED_LIMITS,
            "FLASK_APP": "wsgi", "PYTHONUNBUFFERED": "1"}
        common_env.pop("FLASK_DEBUG", None)

        def start(what: str, command: list[str], port: int) -> subprocess.Popen:
            log = open(work / f"{what}.log", "w")  # noqa: SIM115 - open while the server runs
            process = subprocess.Popen(command, cwd=ROOT, env={**common_env, "BIND": f"127.0.0.1:{port}"},
                                       stdout=log, stderr=subprocess.STDOUT)
            servers.append(process)
            wait_for(port, process, what)
            return process

        start("sandbox", [str(BIN / "flask"), "wechat-sandbox", "run", "--port", str(sandbox_port)], sandbox_port)
        gunicorn = [str(BIN / "gunicorn"), "-c", "config/gunicorn.py", "--access-logfile", "/dev/null"]
        app_server = start("app", [*gunicorn, "wsgi:app"], app_port)
        bare_server = start("bare", [*gunicorn[:2], "bench/gunicorn_bare.py", *gunicorn[3:], "bench.bare_app:app"],
                            bare_port)
        # The scan-log worker, as deployed (docker-compose.yml): it writes the scans to the database.
        log = open(work / "scan-log-worker.log", "w")  # noqa: SIM115 - open while the worker runs
        servers.append(subprocess.Popen([str(BIN / "flask"), "consumers", "persist-scans"], cwd=ROOT, env=common_env,
                                        stdout=log, stderr=subprocess.STDOUT))
        scan_log_worker = servers[-1]
        # Where each request's CPU goes, by process (Linux /proc): the web workers, the scan-log worker,
        # MariaDB, Redis and the load generator.
        cpu_groups = {"app": [app_server.pid], "bare app": [bare_server.pid], "scan-log worker": [scan_log_worker.pid],
                      "MariaDB": "mariadbd", "Redis": "redis-server"}
        print(f"gunicorn (both apps): {args.workers} workers x {args.threads} threads (gthread), "
              f"config/gunicorn.py, access log to /dev/null; one scan-log worker (flask consumers persist-scans); "
              f"wrk: {args.clients} connections on {args.wrk_threads} threads", flush=True)

        app_url = f"http://127.0.0.1:{app_port}"
        started = time.perf_counter()
        tokens = sign_in(app_url, args.consumers)
        print(f"{len(tokens):,} consumers signed in through the sandbox login in "
              f"{time.perf_counter() - started:.1f} s (untimed)", flush=True)

        # Repeats: codes scanned once now, by their own consumer (untimed).
        repeats = all_codes[:repeat_codes]
        pre = [line_of(tokens[i % len(tokens)], {"url": short(code)}) for i, code in enumerate(repeats)]
        post_lines(app_url, pre)
        drain(redis_url)
        fresh = all_codes[repeat_codes:]

        consumer_cursor = [0]

        def round_file(name: str, slice_no: int) -> Path:
            codes = fresh[slice_no * args.codes_per_round:(slice_no + 1) * args.codes_per_round]
            lines = []
            for code in codes:
                if rng.random() < args.repeat_share / (1 - args.repeat_share):
                    lines.append(make_line(rng.choice(repeats), tokens, consumer_cursor, rng, args.located_share))
                lines.append(make_line(code, tokens, consumer_cursor, rng, args.located_share))
            path = work / f"{name}.tsv"
            path.write_text("\n".join(lines) + "\n")
            return path

        scans_url = f"{app_url}/api/consumer/scans"
        urls = {"bare": f"http://127.0.0.1:{bare_port}/bare", "bare-redis": f"http://127.0.0.1:{bare_port}/bare-redis",
                "bare-db": f"http://127.0.0.1:{bare_port}/bare-db", "scans": scans_url}
        # The bare Redis endpoint's tokens: each consumer's token hash -> user id (untimed).
        with redis_client.Redis.from_url(redis_url) as client:
            client.mset({f"bench:token:{hashlib.sha256(t.encode()).hexdigest()}": i + 1 for i, t in enumerate(tokens)})
        warm = round_file("warm-up", args.rounds)
        for url in urls.values():
            wrk(url, warm, 3, args, lua)
        drain(redis_url)

        results = []
        for r in range(args.rounds):
            lines_file = round_file(f"round-{r}", r)
            before = scan_count()
            sides = {}
            for side in (SIDES if r % 2 == 0 else SIDES[::-1]):
                cpu_before = cpu_by_group(cpu_groups)
                sides[side] = wrk(urls[side], lines_file, args.seconds, args, lua)
                if side == "bare-redis":
                    redis_client.Redis.from_url(redis_url).delete(BARE_STREAM)  # nothing reads it
                if side == "scans":
                    # The worker's backlog is written before the next side runs: its time counts against
                    # the scans (answered per second, and written per second including the backlog).
                    lag = drain(redis_url)
                    sides[side].update(answered=sides[side]["rps"], backlog_s=lag,
                                       rps=sides[side]["requests"] / (args.seconds + lag))
                cpu_after = cpu_by_group(cpu_groups)
                sides[side]["cpu_us"] = {group: (cpu_after[group] - cpu_before[group]) / sides[side]["requests"] * 1e6
                                         for group in cpu_after}
            sides["recorded"] = scan_count() - before
            results.append(sides)
            print_round(r, sides, flush=True)

        print_summary(args, results)
        open_ok = True
        if args.open_seconds > 0:
            open_ok = open_load(args, results, urls, round_file("open-loop", args.rounds + 2), redis_url)
        round_trips(sign_in(app_url, 1)[0], fresh[-2], fresh[-1])  # a consumer whose rate limit is untouched
        if args.profile:
            profile(args, {"web workers": app_server.pid, "scan-log worker": scan_log_worker.pid}, scans_url,
                    round_file("profile", args.rounds + 1), lua, Path(args.profile))
        drain(redis_url)
        print("verdicts recorded (all rounds, with the warm-up and the pre-scans):")
        for verdict, count in verdicts():
            print(f"  {verdict:<16}{count:>8,}")
        ok = met(results) and open_ok
        return 0 if ok else 1
    finally:
        for process in reversed(servers):
            process.terminate()
        for process in servers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def git_head() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=False).stdout.strip()
        return head + (" (with uncommitted changes in the tree)" if dirty else "")
    except OSError:
        return "unknown"


def short(code: str) -> str:
    return f"https://m.example.com/c/{code}"


def make_line(code: str, tokens: list[str], cursor: list[int], rng: random.Random, located: float) -> str:
    token = tokens[cursor[0] % len(tokens)]
    cursor[0] += 1
    body: dict = {"url": short(code)}
    if rng.random() < located:
        body["latitude"] = round(HANGZHOU_POS[0] + rng.uniform(-0.05, 0.05), 5)
        body["longitude"] = round(HANGZHOU_POS[1] + rng.uniform(-0.05, 0.05), 5)
    return line_of(token, body)


# --- set-up in this process ------------------------------------------------------------------------

_app = None


def bench_app():
    global _app
    if _app is None:
        import logging

        os.environ.update({"MATONG_ENV": "development", "CODE_EXPORT_RUNNER": "worker", **RAISED_LIMITS})
        from app import create_app

        logging.disable(logging.WARNING)
        _app = create_app("development")
    return _app


def set_up(count: int) -> list[str]:
    """Wipe and migrate; a product, lot, dealer and store; count item codes commissioned at the store."""
    import sqlalchemy as sa

    from app.codes import service as codes
    from app.codes.models import Level
    from app.db import transaction, utcnow
    from app.extensions import db
    from app.identity.service import Actor
    from app.masterdata import dealers, stores
    from app.units import unit_rows
    from app.units.models import EventKind, LocationKind, Unit, UnitStatus
    from bench.common import product_line_lot, wipe_and_migrate

    app = bench_app()
    actor = Actor.system("bench")
    at = datetime.now(UTC) - timedelta(days=3)
    with app.app_context():
        from bench.bare_app import metadata as bare_metadata

        wipe_and_migrate(bare_metadata)
        with transaction():
            product, factory, line, lot = product_line_lot(actor, sku="BENCH-SCAN", gtin="6901234567892",
                                                           specification="500 ml")
            factory.region_code = XIHU
            dealer = dealers.create_dealer(actor=actor, data={"name": "Bench dealer", "territory": [HANGZHOU]})
            shop = stores.create_store(actor=actor, data={"name": "Bench store", "region_code": XIHU})
        with transaction():
            batch, _ = codes.issue_batch(actor=actor, product_id=product.id, level="item", count=count)
        keyring = codes.keyring()
        now = utcnow()
        chunk = 20000
        for start in range(0, count, chunk):
            units = [unit_rows.UnitState(batch.serial_start + i, batch.key_version, batch.id, Level.ITEM, product.id,
                                     lot.id, UnitStatus.ACTIVE, None, 0, False, LocationKind.STORE, shop.id, False,
                                     None, None, None, at) for i in range(start, min(count, start + chunk))]
            with transaction():
                unit_rows.insert_units(units)
                unit_rows.write_events([unit_rows.event_row(
                    kind=EventKind.COMMISSION, serial=u.serial, lot_id=lot.id, occurred_at=at, recorded_at=now,
                    location_kind=LocationKind.LINE, location_id=line.id, source="bench") for u in units])
        with transaction():
            db.session.execute(sa.update(Unit).where(Unit.batch_id == batch.id).values(last_dealer_id=dealer.id))
        return [keyring.encode(batch.serial_start + i, batch.key_version) for i in range(count)]


def round_trips(token: str, warm: str, code: str) -> None:
    """One located first scan in this process (test client, same database and Redis): its round trips."""
    import redis.connection
    import sqlalchemy as sa

    from app.extensions import db

    app = bench_app()
    statements, redis_calls = [], []
    send = redis.connection.Connection.send_packed_command

    def counting_send(self, command, check_health=True):
        packed = b"".join(command) if isinstance(command, list | tuple) else command
        parts = packed.split(b"\r\n")
        names = [parts[i + 2].decode() for i, part in enumerate(parts[:-2]) if part.startswith(b"*")]
        redis_calls.append("+".join(names) if len(names) < 4 else f"{names[0]}+... ({len(names)} commands)")
        return send(self, command, check_health)

    def on_statement(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split())[:100])

    with app.app_context():
        engine = db.engine
    client = app.test_client()
    body = {"latitude": HANGZHOU_POS[0], "longitude": HANGZHOU_POS[1]}
    # A first scan in this process loads its caches (the district centroids); the next one is counted.
    client.post("/api/consumer/scans", headers={"Authorization": f"Bearer {token}"}, json={"url": short(warm), **body})
    sa.event.listen(engine, "before_cursor_execute", on_statement)
    redis.connection.Connection.send_packed_command = counting_send
    try:
        response = client.post("/api/consumer/scans", headers={"Authorization": f"Bearer {token}"},
                               json={"url": short(code), **body})
    finally:
        redis.connection.Connection.send_packed_command = send
        sa.event.remove(engine, "before_cursor_execute", on_statement)
    assert response.status_code == 201, response.get_json()
    print(f"\none located first scan ({response.get_json()['verdict']}): {len(statements)} SQL statements "
          f"(and the pool's ping, the commit), {len(redis_calls)} Redis round trips:")
    for kind, n in Counter(statements).most_common():
        print(f"  {n:3d} x {kind}")
    for kind, n in Counter(redis_calls).most_common():
        print(f"  {n:3d} x Redis {kind}")


def drain(redis_url: str, timeout: float = 300) -> float:
    """Wait until the scan-log worker has written every logged scan: the seconds it took."""
    import redis as redis_client

    from app.consumers import scan_log

    client = redis_client.Redis.from_url(redis_url)
    started = time.perf_counter()
    while client.exists(scan_log.STREAM) and client.xlen(scan_log.STREAM):
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"the scan-log worker has not written the scans in {timeout:.0f} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def scan_count() -> int:
    import sqlalchemy as sa

    from app.consumers.models import ConsumerScan
    from app.extensions import db

    with bench_app().app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(ConsumerScan))
        db.session.remove()
        return count


def verdicts() -> list[tuple[str, int]]:
    import sqlalchemy as sa

    from app.consumers.models import ConsumerScan
    from app.extensions import db

    with bench_app().app_context():
        rows = db.session.execute(sa.select(ConsumerScan.verdict, sa.func.count()).group_by(ConsumerScan.verdict)
                                  .order_by(sa.func.count().desc())).all()
        db.session.remove()
        return [(v.value, n) for v, n in rows]


# --- over HTTP ---------------------------------------------------------------------------------------

def sign_in(app_url: str, count: int) -> list[str]:
    """count consumers signed in through POST /api/consumer/auth/login with sandbox codes: their tokens."""
    import requests

    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=16))

    def one(i: int) -> str:
        code = f"sandbox:bench-consumer-{i}:{uuid.uuid4().hex[:8]}"
        response = session.post(f"{app_url}/api/consumer/auth/login", json={"code": code}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["token"]

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(count)))


def post_lines(app_url: str, lines: list[str]) -> list[int]:
    """POST each line's body to /api/consumer/scans with its token (16 at a time): the scan ids."""
    import requests

    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=16))

    def one(line: str) -> int:
        token, body = line.split("\t", 1)
        response = session.post(f"{app_url}/api/consumer/scans", data=body, timeout=30, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert response.status_code == 201, response.text
        return response.json()["scan_id"]

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, lines))


# --- figures ---------------------------------------------------------------------------------------

def describe(name: str, r: dict) -> str:
    text = (f"  {name:<8}{r['rps']:8.0f} req/s  p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  "
            f"p99 {r['p99']:6.1f} ms  max {r['max']:7.1f} ms  ({r['requests']:,} requests")
    if "backlog_s" in r:
        text += f"; answered {r['answered']:.0f}/s, written {r['backlog_s']:.1f} s after the last answer"
    keys = ("non2xx", "socket_errors", "timeouts") + (("wraps",) if name == "scans" else ())
    problems = [f"{r[k]:,} {k}" for k in keys if r[k]]
    return text + (", " + ", ".join(problems) if problems else "") + ")"


def print_round(r: int, sides: dict, flush: bool = False) -> None:
    print(f"round {r + 1}: scans / bare {sides['scans']['rps'] / sides['bare']['rps']:.2f}, "
          f"bare-redis / bare {sides['bare-redis']['rps'] / sides['bare']['rps']:.2f}, "
          f"scans / bare-db {sides['scans']['rps'] / sides['bare-db']['rps']:.2f} "
          f"({sides['recorded']:,} scans recorded)", flush=flush)
    for side in SIDES:
        print(describe(side, sides[side]), flush=flush)


def print_summary(args, results: list[dict]) -> None:
    def med(side: str, key: str) -> float:
        return statistics.median(r[side][key] for r in results)

    ratios = [r["scans"]["rps"] / r["bare"]["rps"] for r in results]
    redis_ratios = [r["scans"]["rps"] / r["bare-redis"]["rps"] for r in results]
    db_ratios = [r["scans"]["rps"] / r["bare-db"]["rps"] for r in results]
    print(f"\nmedians of {len(results)} rounds of {args.seconds:g} s per side, {args.clients} clients:")
    for side in SIDES:
        print(f"  {side:<8}{med(side, 'rps'):8.0f} req/s  p50 {med(side, 'p50'):6.1f} ms  "
              f"p95 {med(side, 'p95'):6.1f} ms  p99 {med(side, 'p99'):6.1f} ms")
    for label, values in (("bare", ratios), ("bare-redis", redis_ratios), ("bare-db", db_ratios)):
        print(f"  ratio scans / {label} requests/s: median {statistics.median(values):.2f} "
              f"(per round: {', '.join(f'{x:.2f}' for x in values)})")
    floor = [r["bare-redis"]["rps"] / r["bare"]["rps"] for r in results]
    print(f"  ratio bare-redis / bare requests/s (the floor of a scan kept in Redis): median "
          f"{statistics.median(floor):.2f} (per round: {', '.join(f'{x:.2f}' for x in floor)})")
    print("CPU per request by process, µs (medians; the load generator is wrk):")
    for side in SIDES:
        groups = results[0][side]["cpu_us"]
        figures = ", ".join(f"{'wrk' if group == 'children' else group} "
                            f"{statistics.median(r[side]['cpu_us'][group] for r in results):.0f}"
                            for group in groups if statistics.median(r[side]["cpu_us"][group] for r in results) >= 5)
        total = statistics.median(sum(r[side]["cpu_us"].values()) for r in results)
        print(f"  {side:<11}{total:6.0f} in all: {figures}")
    print(f"targets: scans >= {TARGET_BARE_REDIS_RATIO} x bare-redis: "
          f"{'met' if statistics.median(redis_ratios) >= TARGET_BARE_REDIS_RATIO else 'NOT met'}; "
          f"scans >= {TARGET_BARE_RATIO} x bare: "
          f"{'met' if statistics.median(ratios) >= TARGET_BARE_RATIO else 'NOT met'}")


def met(results: list[dict]) -> bool:
    return (statistics.median(r["scans"]["rps"] / r["bare-redis"]["rps"] for r in results) >= TARGET_BARE_REDIS_RATIO
            and statistics.median(r["scans"]["rps"] / r["bare"]["rps"] for r in results) >= TARGET_BARE_RATIO)


def open_load(args, results: list[dict], urls: dict, lines_file: Path, redis_url: str) -> bool:
    """The scans, then bare-redis, at --open-load x the rounds' median scan rate in an open loop; targets met?"""
    import redis as redis_client

    rate = args.open_load * statistics.median(r["scans"]["rps"] for r in results)
    lines = lines_file.read_text().splitlines()
    due = int(rate * args.open_seconds)
    print(f"\nopen loop: {args.open_load:.0%} of the rounds' median scan rate = {rate:.1f} req/s for "
          f"{args.open_seconds:g} s each, requests due at fixed intervals whatever the answers (bench/open_loop.py; "
          f"{args.clients} keep-alive connections opened first, more as needed up to 512); latency from each "
          f"request's due time to the last byte of its answer:", flush=True)
    if due > len(lines):
        print(f"  ({due:,} requests due, {len(lines):,} prepared: the last {due - len(lines):,} repeat earlier "
              f"codes; raise --codes-per-round)")
    scans = drive_open(urls["scans"], lines, rate, args)
    lag = drain(redis_url)
    print(scans.describe("scans") + f"\n  {'':<11}written {lag:.1f} s after the last answer", flush=True)
    floor = drive_open(urls["bare-redis"], lines, rate, args)
    with redis_client.Redis.from_url(redis_url) as client:
        client.delete(BARE_STREAM)  # nothing reads it
    print(floor.describe("bare-redis"), flush=True)
    p99, p999 = scans.ms(99), scans.ms(99.9)
    unanswered = scans.scheduled - scans.completed
    verdict = {True: "met", False: "NOT met"}
    print(f"target (open loop, scans at {args.open_load:.0%}): p99 <= {TARGET_OPEN_P99_MS} ms: "
          f"{verdict[p99 <= TARGET_OPEN_P99_MS]} ({p99:.1f} ms); p99.9 <= {TARGET_OPEN_P999_MS} ms: "
          f"{verdict[p999 <= TARGET_OPEN_P999_MS]} ({p999:.1f} ms)"
          + (f"; {unanswered:,} requests unanswered (so NOT met)" if unanswered else "")
          + (f"; {scans.non2xx:,} non-2xx answers" if scans.non2xx else ""))
    return p99 <= TARGET_OPEN_P99_MS and p999 <= TARGET_OPEN_P999_MS and not unanswered


def drive_open(url: str, lines: list[str], rate: float, args) -> open_loop.Result:
    """The lines ("token<TAB>json body", as wrk sends them) POSTed to url at rate for --open-seconds."""
    requests = []
    for line in lines:
        token, body = line.split("\t", 1)
        requests.append(open_loop.format_post(url, body, {
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"}))
    return asyncio.run(open_loop.run(url, requests, rate=rate, seconds=args.open_seconds, preopen=args.clients))


def profile(args, processes: dict[str, int], scans_url: str, lines_file: Path, lua: Path, out: Path) -> None:
    """One more scans round with py-spy sampling each process (the threads holding the GIL: CPU, not waits);
    the top frames of our code by their samples, per process."""
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        print("py-spy is not installed: no profile", file=sys.stderr)
        return
    out.mkdir(parents=True, exist_ok=True)
    raws, spies = {}, []
    for name, pid in processes.items():
        raws[name] = out / f"{name.replace(' ', '-')}.collapsed"
        spies.append(subprocess.Popen([py_spy, "record", "--pid", str(pid), "--subprocesses", "--format", "raw",
                                       "--rate", "200", "--duration", str(int(args.seconds) + 2), "--output",
                                       str(raws[name]), "--nonblocking", "--gil"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1)
    result = wrk(scans_url, lines_file, args.seconds, args, lua)
    for spy in spies:
        spy.wait()
    print("\nprofiled round (py-spy sampling, so slower):")
    print(describe("scans", result))
    for name, raw in raws.items():
        if not raw.exists():
            print(f"{name}: no samples", file=sys.stderr)
            continue
        print(f"{name}: collapsed stacks in {raw}; samples holding the GIL by the innermost frame of our code:")
        for share, frame in summarise_profile(raw):
            print(f"  {share:5.1f}%  {frame}")


def summarise_profile(raw: Path, top: int = 20) -> list[tuple[float, str]]:
    samples, total = Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue  # a sample of a process's own frames only (py-spy writes no count for some)
        frames = stack.split(";")
        ours = [f for f in frames if "(app/" in f or "(miniprogram_api/" in f]
        samples[ours[-1] if ours else "(outside our code) " + frames[-1]] += int(count)
        total += int(count)
    return [(n * 100 / total, frame) for frame, n in samples.most_common(top)]


if __name__ == "__main__":
    sys.exit(main())
