"""Benchmark: a claim storm — 2,000 consumers claim their scans' draws at once, for 300 cash prizes.

    DATABASE_URL="mysql+pymysql://matong:matong@127.0.0.1/matong_bench6?charset=utf8mb4" \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/claim_storm.py

MariaDB/MySQL and a Redis server only; the database is WIPED and migrated to head (its name must
contain "bench", or pass --wipe) and the Redis database is flushed.

Untimed set-up: 2,000 item codes commissioned at a store (as bench/consumer_scans.py does); an
active campaign whose only prize is cash, 100 fen with probability 1,000,000 ppm, total budget
30,000 fen (so exactly 300 prizes), one draw per user per day and in all; the WeChat sandbox in this
process (its state is read at the end) and the app under gunicorn (``config/gunicorn.py``, the same
settings as the consumer-scan benchmark); 2,000 consumers signed in through the sandbox login, each
scanning its own unit (``POST /api/consumer/scans``).

Timed: 2,000 connections are opened first, then every client sends
``POST /api/consumer/scans/<its scan>/claim {"campaign_id": ...}`` at once (one asyncio client, raw
HTTP/1.1). Printed: the wall time from the first request to the last answer, the claim latency
percentiles and the answers' statuses, and beside them the same number of requests at once to
bench/bare_app.py's ``/bare-db`` (the floor of a request that writes) under the same settings; meanwhile a thread reads the campaign's spent_fen every 20 ms
(the highest it saw must not pass the budget). Then checked and printed: exactly 300 won draws and 1,700
budget-exhausted ones, 300 payouts of 100 fen, the campaign's (and its day's) spent_fen == 30,000, no
duplicate out_bill_no; the payout worker (``app.payouts.worker.work_due``, as ``flask payouts work``
runs it) until nothing is due, timed; the sandbox holds exactly the 300 bills, one per payout, none
twice; a second pass of the worker creates none. The per-IP rate limits are raised through the
environment (every client is 127.0.0.1); the per-user ones keep their defaults.

Beyond one machine (issue 18): ``--nodes 2`` serves the app from two gunicorn instances (two "app nodes",
each with the same workers and threads) behind haproxy on loopback, which spreads the connections round
robin; ``--node-databases URL1,URL2`` points each node at its own database server, e.g. two nodes of the
Galera cluster of .ci/galera (the set-up, the watcher and the payout worker use DATABASE_URL). Then the
bare-db comparison is left out, and haproxy's own counts say how the storm was split (each node must
have taken at least a quarter). CI runs it that way on the Galera cluster:

    eval "$(bash .ci/galera env)"; REDIS_URL=redis://127.0.0.1:6379/2 .venv/bin/python bench/claim_storm.py \\
        --nodes 2 --node-databases "$NODE1,$NODE2" --clients 400 --prizes 100 --wipe

``--kill-workers N`` SIGKILLs N gunicorn workers during the storm: the client sends a claim whose answer
was lost again (a 502 from haproxy, a cut connection), as it does a 503. Every check still holds, except
that up to one prize per killed thread may go ungiven in the storm: a claim killed between taking from
Redis's mirror of the budget and its commit leaves the mirror over-counted until it expires (60 s,
app/campaigns/budget.py); never over the budget.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, bench_redis_url, machine, may_wipe_bench_database, shipped_gunicorn
from bench.consumer_scans import (
    BIN,
    RAISED_LIMITS,
    bench_app,
    free_port,
    git_head,
    post_lines,
    set_up,
    short,
    sign_in,
    wait_for,
)

PRIZE_FEN = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000, help="consumers claiming at once (one unit each)")
    parser.add_argument("--workers", type=int, default=shipped_gunicorn()["workers"])
    parser.add_argument("--threads", type=int, default=shipped_gunicorn()["threads"])
    parser.add_argument("--prizes", type=int, default=300, help=f"cash prizes of {PRIZE_FEN} fen in the budget")
    parser.add_argument("--nodes", type=int, default=1, help="app nodes (gunicorn instances) behind haproxy")
    parser.add_argument("--node-databases", default="",
                        help="comma-separated DATABASE_URLs, one per node (default: DATABASE_URL for all)")
    parser.add_argument("--kill-workers", type=int, default=0, metavar="N",
                        help="with --nodes: SIGKILL N gunicorn workers, one every 0.5 s, once the storm has begun")
    parser.add_argument("--wipe", action="store_true", help="wipe a database whose name lacks 'bench'")
    args = parser.parse_args()
    node_databases = [url for url in args.node_databases.split(",") if url] or [os.environ["DATABASE_URL"]] * args.nodes
    if len(node_databases) != args.nodes:
        print(f"--node-databases names {len(node_databases)} databases for {args.nodes} nodes", file=sys.stderr)
        return 2
    budget_fen = args.prizes * PRIZE_FEN
    if not may_wipe_bench_database(args.wipe):
        return 2
    redis_url = bench_redis_url()
    if redis_url is None:
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.clients + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.clients + 1000), hard))

    import redis as redis_client

    from app.wechat.sandbox import SandboxServer, create_sandbox_app

    redis_client.Redis.from_url(redis_url).flushdb()
    sandbox = SandboxServer(create_sandbox_app()).start()
    os.environ["WECHAT_SANDBOX_URL"] = sandbox.url  # the in-process app (set-up, payout worker) uses it too
    work = Path(tempfile.mkdtemp(prefix="bench-claims-"))
    print(f"machine: {machine()}")
    print(f"commit: {git_head()}")
    started = time.perf_counter()
    codes = set_up(args.clients)
    campaign_id = make_campaign(budget_fen)
    print(f"set-up: {args.clients:,} commissioned units, campaign {campaign_id} ({args.prizes} prizes of {PRIZE_FEN} "
          f"fen, budget {budget_fen:,} fen) in {time.perf_counter() - started:.1f} s (untimed)", flush=True)

    servers: list[subprocess.Popen] = []
    balancer = None
    split: list[tuple[str, int]] = []
    try:
        env = {**os.environ, **RAISED_LIMITS, "MATONG_ENV": "development", "REDIS_URL": redis_url,
               "WECHAT_API_BASE": "sandbox", "WECHATPAY_API_BASE": "sandbox", "WECHAT_SANDBOX_URL": sandbox.url,
               "CODE_EXPORT_RUNNER": "worker", "WEB_CONCURRENCY": str(args.workers),
               "GUNICORN_THREADS": str(args.threads), "PYTHONUNBUFFERED": "1"}
        env.pop("FLASK_DEBUG", None)
        log = open(work / "app.log", "w")  # noqa: SIM115 - open while the server runs
        node_ports = []
        for database_url in node_databases:
            node_ports.append(free_port())
            servers.append(subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "config/gunicorn.py", "--access-logfile", "/dev/null", "wsgi:app"],
                cwd=ROOT, env={**env, "DATABASE_URL": database_url, "BIND": f"127.0.0.1:{node_ports[-1]}"},
                stdout=log, stderr=subprocess.STDOUT))
        for node_port, server in zip(node_ports, servers, strict=True):
            wait_for(node_port, server, "gunicorn")
        port = node_ports[0]
        if args.nodes > 1:
            balancer = Balancer(node_ports, work)
            port = balancer.port
        app_url = f"http://127.0.0.1:{port}"
        print(f"gunicorn: {args.workers} workers x {args.threads} threads (gthread), config/gunicorn.py"
              + (f"; {args.nodes} nodes behind haproxy ({', '.join(short_url(u) for u in node_databases)})"
                 if balancer else ""), flush=True)

        started = time.perf_counter()
        tokens = sign_in(app_url, args.clients)
        scan_ids = post_lines(app_url, [f"{token}\t{json.dumps({'url': short(code)})}"
                                        for token, code in zip(tokens, codes, strict=True)])
        print(f"{len(tokens):,} consumers signed in and scanned their own unit in "
              f"{time.perf_counter() - started:.1f} s (untimed)", flush=True)

        body = json.dumps({"campaign_id": campaign_id})
        requests = [(f"/api/consumer/scans/{scan_id}/claim", token, body)
                    for scan_id, token in zip(scan_ids, tokens, strict=True)]
        watcher = SpentWatcher(campaign_id)
        before = balancer.sessions() if balancer else {}
        watcher.start()
        killer = WorkerKiller(servers, args.kill_workers) if balancer and args.kill_workers else None
        try:
            wall, answers, retried = asyncio.run(storm(port, requests, retry_busy=balancer is not None))
        finally:
            watcher.stop()
            if killer:
                killer.join()
                print(f"killed {len(killer.killed)} gunicorn workers during the storm (SIGKILL): {killer.killed}")
        if balancer:
            split = [(node, n - before.get(node, 0)) for node, n in balancer.sessions().items()]
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        servers.clear()
        bare_answers: list = []
        if balancer is None:
            # Beside it, in the same run: the floor of any request that writes (bench/bare_app.py's /bare-db: the
        # token looked up, one row inserted, a commit), the same number at once under the same settings.
            bare_port = free_port()
            servers.append(subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "bench/gunicorn_bare.py", "--access-logfile", "/dev/null",
                 "bench.bare_app:app"], cwd=ROOT, env={**env, "BIND": f"127.0.0.1:{bare_port}"},
                stdout=log, stderr=subprocess.STDOUT))
            wait_for(bare_port, servers[-1], "gunicorn (bare)")
            bare_wall, bare_answers, _ = asyncio.run(storm(bare_port, [("/bare-db", token, json.dumps({"url": "x"}))
                                                                    for token in tokens]))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        if balancer is not None:
            balancer.stop()

    latencies = sorted(a[1] for a in answers)
    statuses: dict[int, int] = {}
    for status, _, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    won_answers = sum(1 for status, _, text in answers if status == 201 and '"outcome":"won"' in text.replace(" ", ""))
    print(f"\nstorm: {len(requests):,} claims sent at once on {len(requests):,} connections: "
          f"wall {wall:.2f} s ({len(requests) / wall:.0f} claims/s)")
    print(f"  claim latency p50 {pct(latencies, 50):.0f} ms  p95 {pct(latencies, 95):.0f} ms  "
          f"p99 {pct(latencies, 99):.0f} ms  max {latencies[-1]:.0f} ms")
    print(f"  answers: {', '.join(f'{n:,} x {s}' for s, n in sorted(statuses.items()))}; {won_answers} said won"
          + (f"; {retried:,} answers were 503 or lost (502, 504, a cut connection) and the claim sent again"
             if balancer else ""))
    if bare_answers:
        bare_ok = sum(1 for status, _, _ in bare_answers if status == 201)
        print(f"beside it, bare-db (bench/bare_app.py): {len(bare_answers):,} at once: wall {bare_wall:.2f} s "
              f"({len(bare_answers) / bare_wall:.0f} requests/s; {bare_ok:,} x 201); claims / bare-db: "
              f"{(len(requests) / wall) / (len(bare_answers) / bare_wall):.2f}")
    problems = [text[:300] for status, _, text in answers if status != 201][:3]
    for text in problems:
        print(f"  e.g. {text}")

    expected = min(args.prizes, args.clients)  # fewer clients than prizes (a trial run): each wins
    watched = (f"campaign spent_fen read {watcher.reads:,} times during the storm: highest {watcher.highest:,} "
               f"(budget {budget_fen:,})")
    checks = [(watcher.highest <= budget_fen, watched)]
    if split:
        fair = len(requests) / len(split) / 2
        checks.append((all(n >= fair for _, n in split),
                       "haproxy split the storm: " + ", ".join(f"{node} {n:,}" for node, n in split)))
    # A worker killed mid-claim leaves its reservation in Redis's mirror of the budget until the mirror
    # expires (app.campaigns.budget): up to one prize per killed thread is not given during the storm.
    unawarded = args.kill_workers * args.threads
    money_checks, won = check_money(campaign_id, expected, args.clients, unawarded)
    checks += money_checks
    checks += run_worker(won)
    checks += check_sandbox(sandbox, won)
    print("\nchecks:")
    for ok, text in checks:
        print(f"  [{'ok' if ok else 'FAILED'}] {text}")
    sandbox.stop()
    return 0 if all(ok for ok, _ in checks) and statuses.get(201) == len(requests) else 1


def pct(values: list[float], p: float) -> float:
    """The nearest-rank percentile of sorted values."""
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


async def storm(port: int, requests: list[tuple[str, str, str]], *, retry_busy: bool = False
                ) -> tuple[float, list[tuple[int, float, str]], int]:
    """Open one connection per request, then send them all at once; (wall seconds, [(status, ms, body)], resends).

    With retry_busy, a 503 is sent again after its Retry-After (at most 2 s), on a new connection, as the
    mini-program does, and so is a request whose answer was lost (a 502 or 504 from haproxy, a connection
    cut: a worker killed under it): a claim is drawn once, whatever the retries. The latency is then until
    the last answer."""
    retried = 0
    semaphore = asyncio.Semaphore(200)  # connect in waves: a burst of 2,000 SYNs would overflow the backlog

    async def connect():
        async with semaphore:
            return await asyncio.open_connection("127.0.0.1", port)

    connections = await asyncio.gather(*(connect() for _ in requests))
    go = asyncio.Event()

    async def one(connection, request) -> tuple[int, float, str]:
        nonlocal retried
        path, token, body = request
        payload = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                   f"{body}").encode()
        await go.wait()
        started = time.perf_counter()
        while True:
            try:
                status, wait, text = await send(connection, payload)
            except (ConnectionError, asyncio.IncompleteReadError):
                if not retry_busy:
                    raise
                status, wait, text = 0, 0.2, "connection cut"
            if not (retry_busy and status in (0, 502, 503, 504)):
                return status, (time.perf_counter() - started) * 1000, text
            retried += 1
            await asyncio.sleep(min(wait, 2.0))
            connection = await asyncio.open_connection("127.0.0.1", port)

    async def send(connection, payload: bytes) -> tuple[int, float, str]:
        reader, writer = connection
        writer.write(payload)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")),
                      None)
        text = (await reader.readexactly(length) if length is not None else await reader.read()).decode()
        retry_after = next((float(line.split(":", 1)[1]) for line in lines if line.lower().startswith("retry-after:")),
                           1.0)
        writer.close()
        return status, retry_after, text

    tasks = [asyncio.create_task(one(c, r)) for c, r in zip(connections, requests, strict=True)]
    await asyncio.sleep(0.5)  # every task waits at the gate
    started = time.perf_counter()
    go.set()
    answers = await asyncio.gather(*tasks)
    return time.perf_counter() - started, answers, retried


class Balancer:
    """haproxy on loopback in front of the app nodes: round robin over new connections, its counts per node."""

    def __init__(self, node_ports: list[int], work: Path):
        self.port, self.stats_port = free_port(), free_port()
        servers = "\n".join(f"    server node{i} 127.0.0.1:{p} check inter 1s maxconn 256"
                            for i, p in enumerate(node_ports, 1))
        config = work / "haproxy.cfg"
        config.write_text(f"""global
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 180s
    timeout server 180s
    timeout queue 180s
frontend storm
    bind 127.0.0.1:{self.port}
    maxconn 8000
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
{servers}
listen stats
    bind 127.0.0.1:{self.stats_port}
    stats enable
    stats uri /stats
""")
        self.process = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=open(work / "haproxy.log", "w"),
                                        stderr=subprocess.STDOUT)
        wait_for(self.port, self.process, "haproxy")
        deadline = time.monotonic() + 30
        while len([n for n, up in self._rows(status=True).items() if up]) < len(node_ports):
            if time.monotonic() > deadline:
                raise RuntimeError(f"haproxy does not see every node up: {self._rows(status=True)}")
            time.sleep(0.5)

    def _rows(self, status: bool = False) -> dict:
        import csv
        import io
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5) as answer:
            rows = csv.DictReader(io.StringIO(answer.read().decode().lstrip("# ")))
            return {row["svname"]: (row["status"] == "UP" if status else int(row["stot"] or 0))
                    for row in rows if row["pxname"] == "nodes" and row["svname"] not in ("FRONTEND", "BACKEND")}

    def sessions(self) -> dict[str, int]:
        """Connections each node has taken so far."""
        return self._rows()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def short_url(url: str) -> str:
    """host:port/database of a database URL, without its credentials."""
    return url.split("@", 1)[-1].split("?", 1)[0]


class WorkerKiller(threading.Thread):
    """SIGKILLs gunicorn workers of the app nodes (their masters start new ones), one every 0.5 s."""

    def __init__(self, masters: list[subprocess.Popen], count: int):
        super().__init__(daemon=True)
        self.masters, self.count, self.killed = masters, count, []
        self.start()

    def run(self) -> None:
        import random
        import signal

        time.sleep(1.0)  # the gate opens 0.5 s after the storm's tasks are made
        while len(self.killed) < self.count:
            master = random.choice(self.masters)
            children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
            if children:
                victim = int(random.choice(children))
                os.kill(victim, signal.SIGKILL)
                self.killed.append(victim)
            time.sleep(0.5)


class SpentWatcher(threading.Thread):
    """Reads the campaign's spent_fen over and over (a fresh snapshot each time) while the storm runs."""

    def __init__(self, campaign_id: int):
        super().__init__(daemon=True)
        self.campaign_id, self.highest, self.reads = campaign_id, 0, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        import sqlalchemy as sa

        from app.campaigns.models import Campaign
        from app.extensions import db

        with bench_app().app_context():
            while not self._stop_event.is_set():
                spent = db.session.scalar(sa.select(Campaign.spent_fen).where(Campaign.id == self.campaign_id))
                db.session.rollback()
                self.highest, self.reads = max(self.highest, spent), self.reads + 1
                time.sleep(0.02)
            db.session.remove()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def make_campaign(budget_fen: int) -> int:
    """An active campaign: one cash prize of PRIZE_FEN at 1,000,000 ppm, budget_fen in all."""
    from app.campaigns import service as campaigns
    from app.db import transaction
    from app.identity.service import Actor

    actor = Actor.system("bench")
    now = datetime.now(UTC)
    with bench_app().app_context():
        with transaction():
            created = campaigns.create_campaign(actor=actor, data={
                "name": "Bench storm", "starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(days=1),
                "total_budget_fen": budget_fen, "per_user_daily_limit": 1, "per_user_total_limit": 1,
                "first_scan_only": True,
                "prizes": [{"kind": "cash", "name": "Red packet", "amount": PRIZE_FEN, "probability_ppm": 1_000_000}]})
        with transaction():
            campaigns.change_status(actor=actor, campaign_id=created.id, action="activate")
        return created.id


def check_money(campaign_id: int, expected: int, clients: int, unawarded: int = 0
                ) -> tuple[list[tuple[bool, str]], int]:
    """The draws, payouts and the campaign's spent money; and how many won (expected, unless workers were
    killed: then up to ``unawarded`` fewer)."""
    import sqlalchemy as sa

    from app.campaigns.models import Campaign, CampaignDay, Draw
    from app.extensions import db
    from app.payouts.models import Payout

    with bench_app().app_context():
        outcomes = dict(db.session.execute(sa.select(Draw.outcome, sa.func.count()).group_by(Draw.outcome)).all())
        won = sum(n for o, n in outcomes.items() if o.value == "won")
        draws = sum(outcomes.values())
        payouts = db.session.execute(sa.select(Payout.source, Payout.out_bill_no, Payout.amount_fen)).all()
        spent = db.session.scalar(sa.select(Campaign.spent_fen).where(Campaign.id == campaign_id))
        days = db.session.execute(sa.select(CampaignDay.day, CampaignDay.spent_fen)
                                  .where(CampaignDay.campaign_id == campaign_id)).all()
        db.session.remove()
    bills = [p.out_bill_no for p in payouts]
    print("\ndraws by outcome: " + ", ".join(f"{o.value} {n:,}" for o, n in outcomes.items()))
    money = won * PRIZE_FEN
    return [
        (draws == clients, f"draws: {draws:,} (one per claim)"),
        (expected - unawarded <= won <= expected,
         f"won draws: {won} (expected {expected}" + (f", at least {expected - unawarded} with workers killed)"
                                                     if unawarded else ")")),
        (len(payouts) == won and all(p.amount_fen == PRIZE_FEN for p in payouts),
         f"payouts: {len(payouts)} of {sorted({p.amount_fen for p in payouts})} fen (one of {PRIZE_FEN} a won draw)"),
        (len({p.source for p in payouts}) == len(payouts), "one payout per draw (sources distinct)"),
        (spent == money, f"campaign spent_fen: {spent:,} (the won draws' {money:,}, never above the budget)"),
        (sum(s for _, s in days) == money, f"campaign days' spent_fen: {[(str(d), s) for d, s in days]}"),
        (len(set(bills)) == len(bills) and None not in bills, f"out_bill_no: {len(set(bills))} distinct of {len(bills)}"),
    ], won


def run_worker(expected: int) -> list[tuple[bool, str]]:
    """The payout worker's steps (flask payouts work) until nothing is due; then one more pass."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.payouts import worker
    from app.payouts.models import Payout

    with bench_app().app_context():
        started, passes, claimed, changed = time.perf_counter(), 0, 0, {}
        while True:
            report = worker.work_due(limit=100)
            passes += 1
            claimed += report.claimed
            for status, n in report.changed.items():
                changed[status] = changed.get(status, 0) + n
            if report.claimed == 0:
                break
        elapsed = time.perf_counter() - started
        again = worker.work_due(limit=100)
        statuses = dict(db.session.execute(sa.select(Payout.status, sa.func.count()).group_by(Payout.status)).all())
        db.session.remove()
    print(f"payout worker: {passes} passes, {claimed} payouts stepped in {elapsed:.1f} s; changed to {changed}; "
          f"payouts now {', '.join(f'{s.value} {n}' for s, n in statuses.items())}")
    waiting = sum(n for s, n in statuses.items() if s.value == "waiting")
    return [(waiting == expected, f"payouts waiting for the user's confirmation (a bill each): {waiting}"),
            (again.claimed == 0, f"a second worker pass finds nothing due ({again.claimed} stepped)")]


def check_sandbox(sandbox, expected: int) -> list[tuple[bool, str]]:
    import sqlalchemy as sa

    from app.extensions import db
    from app.payouts.models import Payout
    from app.wechat.sandbox.pay import pay_state

    state = sandbox.state
    with state.lock:
        bills = dict(pay_state(state).bills)
    with bench_app().app_context():
        payouts = db.session.execute(sa.select(Payout.out_bill_no, Payout.transfer_bill_no, Payout.openid)).all()
        db.session.remove()
    ours = {p.out_bill_no: p for p in payouts}
    matching = sum(1 for no, bill in bills.items() if no in ours and ours[no].transfer_bill_no == bill.transfer_bill_no
                   and bill.params["openid"] == ours[no].openid and bill.params["transfer_amount"] == PRIZE_FEN)
    transfer_numbers = [b.transfer_bill_no for b in bills.values()]
    openids = [b.params["openid"] for b in bills.values()]
    return [
        (len(bills) == expected, f"sandbox transfer bills: {len(bills)} (expected {expected})"),
        (matching == len(bills) == len(ours), f"each bill is one payout's (number, openid, {PRIZE_FEN} fen): {matching}"),
        (len(set(transfer_numbers)) == len(transfer_numbers) and len(set(openids)) == len(openids),
         f"no bill twice: {len(set(transfer_numbers))} distinct bills, {len(set(openids))} distinct winners"),
    ]


if __name__ == "__main__":
    sys.exit(main())
