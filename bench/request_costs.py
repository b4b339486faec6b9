"""Benchmark: what one request costs each tier — app CPU, Redis CPU, MariaDB CPU, SQL statements, Redis calls.

    DATABASE_URL="mysql+pymysql://matong:matong@127.0.0.1/matong_bench_costs?charset=utf8mb4" \\
        .venv/bin/python bench/request_costs.py --count 400 --rounds 3

The figures docs/scaling.md sizes the tiers with. MariaDB/MySQL only; the database is WIPED and migrated
to head (its name must contain "bench", or pass --wipe). Redis is a private redis-server this benchmark
starts on a free loopback port (so its CPU is ours alone), or, with REDIS_CLUSTER_NODES set, that Redis
Cluster (it is FLUSHED; its masters' CPU is added up); the WeChat sandbox runs in this process.

Untimed set-up: ``count`` commissioned item codes at a store and ``count`` consumers signed in (as
bench/consumer_scans.py sets them up), a campaign with a cash prize for every claim, a line session with
an API key (scope production), a dealer's order and open shipment with pallets of cases in its stock.

Measured per operation, each through the Flask test client in this process (as a gunicorn worker runs
it, without the HTTP parsing), ``count`` times per round, ``rounds`` rounds, medians:

- **consumer scan**: ``POST /api/consumer/scans``, a located first scan of the consumer's own unit;
- **scan written**: the scan-log worker writing those scans to MariaDB (``scan_worker.persist``, 500
  a batch), per scan;
- **claim**: ``POST /api/consumer/scans/<id>/claim``, a won draw of a cash prize and its queued payout;
- **line record**: ``POST /api/integration/line/sessions/<id>/records``, uploads of 500 pack records
  (item into case), per record;
- **dealer scan**: ``POST /api/dealer/shipments/<id>/scans`` of one case code (24 items) against an
  order line, 200 cases a shipment;
- baseline: ``GET /healthz``, the floor of a request through Flask and the test client.

For each: this process's CPU (``time.process_time``), the Redis server's CPU (``INFO cpu``), the MariaDB
server's CPU (its /proc stat, when it runs on this machine; the server is shared with anything else
using it, so run it on a quiet server), SQL statements (SQLAlchemy's cursor events), and Redis round
trips and commands (redis-py's sends). Then what one core of each tier holds of each operation.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

import msgspec
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, may_wipe_bench_database

LINE_UPLOAD = 500  # pack records per upload
CASES, PER_CASE = 50, 24  # a dealer's pallet
SHIPMENT_CASES = 200  # a dealer's shipment: a truck's worth


@dataclass
class Cost:
    """One operation's costs over a round: totals, divided per unit of work by ``per``."""
    app_cpu: float = 0.0
    redis_cpu: float = 0.0
    db_cpu: float | None = 0.0
    statements: int = 0
    round_trips: int = 0
    commands: int = 0
    units: int = 0
    seen: Counter = field(default_factory=Counter)  # the statements and Redis commands, by kind


@dataclass
class Figures:
    name: str
    unit: str
    rounds: list[Cost] = field(default_factory=list)

    def median(self, attribute: str) -> float | None:
        values = [getattr(r, attribute) for r in self.rounds]
        if any(v is None for v in values):
            return None
        return statistics.median(v / r.units for v, r in zip(values, self.rounds, strict=True))


class Meter:
    """Counts SQL statements and Redis sends, and reads the three tiers' CPU, around a block of work."""

    def __init__(self, engine, redis_client, mariadb_pid: int | None):
        import redis.connection
        import sqlalchemy as sa

        self.engine, self.redis, self.mariadb_pid = engine, redis_client, mariadb_pid
        self.statements = self.round_trips = self.commands = 0
        self.seen: Counter = Counter()
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        send = redis.connection.Connection.send_packed_command
        meter = self

        def counting_send(connection, command, check_health=True):
            packed = b"".join(command) if isinstance(command, list | tuple) else command
            lines = packed.split(b"\r\n")
            names = [lines[i + 2].decode().upper() for i, line in enumerate(lines[:-2]) if line.startswith(b"*")]
            meter.round_trips += 1
            meter.commands += len(names)
            meter.seen.update(f"Redis {name}" for name in names)
            return send(connection, command, check_health)

        redis.connection.Connection.send_packed_command = counting_send

    def _statement(self, _conn, _cursor, statement, *_args) -> None:
        self.statements += 1
        self.seen[" ".join(statement.split())[:90]] += 1

    def _redis_cpu(self) -> float:
        """The Redis server's CPU seconds so far (a cluster's: its masters' added up)."""
        from app.extensions import is_cluster

        if is_cluster(self.redis):
            answers = self.redis.info("cpu", target_nodes=self.redis.PRIMARIES).values()
        else:
            answers = [self.redis.info("cpu")]
        return sum(float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]) for cpu in answers)

    def _db_cpu(self) -> float | None:
        if self.mariadb_pid is None:
            return None
        fields = Path(f"/proc/{self.mariadb_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def measure(self, work: Callable[[], int]) -> Cost:
        """Run work (it returns how many units of work it did) and what it cost."""
        redis_before, db_before = self._redis_cpu(), self._db_cpu()
        counts = (self.statements, self.round_trips, self.commands)  # after the meter's own INFO
        self.seen.clear()
        app_before = time.process_time()
        units = work()
        app_cpu = time.process_time() - app_before
        statements, round_trips, commands = (self.statements - counts[0], self.round_trips - counts[1],
                                             self.commands - counts[2])
        seen = Counter(self.seen)
        db_after, redis_after = self._db_cpu(), self._redis_cpu()
        return Cost(app_cpu=app_cpu, redis_cpu=redis_after - redis_before,
                    db_cpu=None if db_before is None else db_after - db_before, statements=statements,
                    round_trips=round_trips, commands=commands, units=units, seen=seen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="operations of each kind per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wipe", action="store_true", help="wipe a database whose name lacks 'bench'")
    parser.add_argument("--show", action="store_true", help="also list each operation's statements and commands")
    parser.add_argument("--profile", metavar="FILE", help="profile the claims of the last round (cProfile) into FILE")
    args = parser.parse_args()
    if not may_wipe_bench_database(args.wipe):
        return 2
    if os.environ.get("REDIS_CLUSTER_NODES"):
        # A Redis Cluster of the benchmark's own (.ci/redis-cluster): flushed, its masters' CPU added up.
        os.environ.pop("REDIS_URL", None)
        return run(args)
    redis_server, redis_url = private_redis()
    os.environ["REDIS_URL"] = redis_url
    try:
        return run(args)
    finally:
        redis_server.terminate()
        redis_server.wait(timeout=10)


def private_redis() -> tuple[subprocess.Popen, str]:
    from bench.consumer_scans import free_port, wait_for

    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_for(port, server, "redis-server")
    return server, f"redis://127.0.0.1:{port}/0"


def run(args) -> int:
    from app.wechat.sandbox import SandboxServer, create_sandbox_app

    sandbox = SandboxServer(create_sandbox_app()).start()
    os.environ["WECHAT_SANDBOX_URL"] = sandbox.url
    from bench.claim_storm import make_campaign
    from bench.consumer_scans import bench_app, set_up

    total = args.count * (args.rounds + 1)  # a warm-up round first
    if os.environ.get("REDIS_CLUSTER_NODES"):
        from app.extensions import redis

        with bench_app().app_context():
            redis.flushall(target_nodes=redis.PRIMARIES)
    print(f"machine: {machine()}")
    started = time.perf_counter()
    codes = set_up(total)
    campaign_id = make_campaign(total * 100)
    app = bench_app()
    from app.extensions import db, redis

    client = app.test_client()
    with app.app_context():
        engine, redis_client = db.engine, redis._get_current_object()
        mariadb_pid = local_mariadb_pid()
        line = LineUploads(client, (total // 10 or 1) * LINE_UPLOAD)
        dealer = DealerCases(client, total)
        # The writers keep the units' scan facts in Redis; these were written straight to the tables.
        from app.units import scan_facts

        scan_facts.warm()
        db.session.remove()
    tokens = [sign_in(client, i) for i in range(total)]
    print(f"set-up: {total:,} units, consumers, a campaign, a line session, {len(dealer.cases):,} cases at a dealer "
          f"in {time.perf_counter() - started:.1f} s (untimed); MariaDB pid "
          f"{mariadb_pid or 'not on this machine: its CPU is not measured'}", flush=True)

    meter = Meter(engine, redis_client, mariadb_pid)
    figures = {name: Figures(name, unit) for name, unit in (
        ("baseline: GET /healthz", "request"), ("consumer scan", "scan"), ("scan written by the worker", "scan"),
        ("claim (won, payout queued)", "claim"), ("line record (uploads of 500)", "record"),
        ("dealer scan (a case of 24)", "scan"))}
    scan_ids: list[int] = []
    for round_no in range(args.rounds + 1):
        part = slice(round_no * args.count, (round_no + 1) * args.count)
        mine = list(zip(tokens[part], codes[part], strict=True))

        def healthz() -> int:
            for _ in range(args.count):
                assert client.get("/healthz").status_code == 200
            return args.count

        def scans() -> int:
            scan_ids[:] = [scan(client, token, code) for token, code in mine]
            return len(mine)

        def written() -> int:
            return persist_all(app)

        def claims() -> int:
            for (token, _), scan_id in zip(mine, scan_ids, strict=True):
                claim(client, token, scan_id, campaign_id)
            return len(mine)

        if args.profile and round_no == args.rounds:
            claims = profiled(claims, args.profile)
        costs = [meter.measure(work) for work in (healthz, scans, written, claims,
                                                  lambda: line.upload(args.count // 10 or 1),
                                                  lambda: dealer.scan(args.count))]
        if round_no == 0:
            continue  # warm-up: caches, prepared statements, the pool
        for figure, cost in zip(figures.values(), costs, strict=True):
            figure.rounds.append(cost)
        print(f"  round {round_no}: " + ", ".join(f"{f.name.split(' (')[0]} {c.app_cpu / c.units * 1e6:,.0f} µs"
                                                  for f, c in zip(figures.values(), costs, strict=True)), flush=True)
    sandbox.stop()
    report(list(figures.values()), args)
    return 0


def profiled(work: Callable[[], int], path: str) -> Callable[[], int]:
    """work under cProfile, written to path (its time in the figures is the profiler's too)."""
    def run() -> int:
        import cProfile

        profile = cProfile.Profile()
        done = profile.runcall(work)
        profile.dump_stats(path)
        return done
    return run


def local_mariadb_pid() -> int | None:
    """The MariaDB server's process id when it runs here (its pid file readable), else None."""
    import sqlalchemy as sa

    from app.extensions import db

    pid_file = db.session.scalar(sa.text("SELECT @@pid_file"))
    try:
        pid = int(Path(pid_file).read_text().split()[0])
        Path(f"/proc/{pid}/stat").read_text()
        return pid
    except (OSError, ValueError, IndexError):
        return None


def sign_in(client, i: int) -> str:
    response = client.post("/api/consumer/auth/login",
                           json={"code": f"sandbox:costs-consumer-{i}:{uuid.uuid4().hex[:8]}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def scan(client, token: str, code: str) -> int:
    from bench.consumer_scans import HANGZHOU_POS, short

    response = client.post("/api/consumer/scans", headers={"Authorization": f"Bearer {token}"},
                           json={"url": short(code), "latitude": HANGZHOU_POS[0], "longitude": HANGZHOU_POS[1]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["scan_id"]


def claim(client, token: str, scan_id: int, campaign_id: int) -> None:
    response = client.post(f"/api/consumer/scans/{scan_id}/claim", headers={"Authorization": f"Bearer {token}"},
                           json={"campaign_id": campaign_id})
    answer = response.get_json()
    assert response.status_code == 201 and answer["outcome"] == "won", answer


def persist_all(app) -> int:
    """The scan-log worker's batches until nothing is logged: how many scans it wrote."""
    from app.consumers import scan_worker

    written = 0
    with app.app_context():
        while True:
            batch = scan_worker.persist(limit=500)
            written += batch
            if batch == 0:
                return written


class LineUploads:
    """A line session fed uploads of LINE_UPLOAD pack records (commissioned items into fresh cases)."""

    def __init__(self, client, count: int):
        from app.codes import service as codes
        from app.db import transaction
        from app.identity import service as identity
        from app.identity.service import Actor
        from app.units import line_sessions
        from app.units.models import LocationKind
        from bench.common import product_line_lot, write_commissioned

        actor = Actor.system("bench")
        at = datetime.now(UTC) - timedelta(hours=1)
        with transaction():
            product, _, line, lot = product_line_lot(actor, sku="COSTS-LINE", units_per_case=PER_CASE)
            key, _ = identity.create_api_key(actor=actor, name="costs-line", scopes=["production"])
            session = line_sessions.start_session(actor=actor, line_id=line.id, lot_id=lot.id)
        with transaction():
            items, _ = codes.issue_batch(actor=actor, product_id=product.id, level="item", count=count)
            cases, _ = codes.issue_batch(actor=actor, product_id=product.id, level="case",
                                         count=-(-items.count // PER_CASE))
        ring = codes.keyring()
        units = [_unit(items.serial_start + i, items, product.id, lot.id, LocationKind.LINE, line.id, at)
                 for i in range(items.count)]
        with transaction():
            write_commissioned(units, lot_id=lot.id, line_id=line.id, at=at)
        self.client, self.session_id, self.headers = client, session.id, {"X-Api-Key": key}
        self.items = [ring.encode(u.serial, u.key_version) for u in units]
        self.cases = [ring.encode(cases.serial_start + c, cases.key_version) for c in range(cases.count)]
        self.scanned = (at + timedelta(minutes=1)).isoformat()
        self.next = 0

    def upload(self, uploads: int) -> int:
        """uploads uploads of LINE_UPLOAD records each: the records accepted."""
        for _ in range(uploads):
            first = self.next
            records = [{"type": "pack", "record_id": f"r{i}", "scanned_at": self.scanned, "code": self.items[i],
                        "parent": self.cases[i // PER_CASE]} for i in range(first, first + LINE_UPLOAD)]
            self.next += LINE_UPLOAD
            response = self.client.post(f"/api/integration/line/sessions/{self.session_id}/records",
                                        data=json.dumps({"records": records}), headers=self.headers,
                                        content_type="application/json")
            answer = response.get_json()
            assert response.status_code == 200 and answer["accepted"] == LINE_UPLOAD, answer.get("message", answer)
        return uploads * LINE_UPLOAD


class DealerCases:
    """A dealer's order of many cases and its open shipment; pallets of cases in the dealer's stock."""

    def __init__(self, client, cases: int):
        from app.accounts import logins
        from app.accounts.models import AppName, AppUser, DealerMembership, MemberRole, Person
        from app.channel import shipments
        from app.channel.models import OrderLine, PartyKind, SalesOrder
        from app.codes import service as codes
        from app.db import transaction
        from app.extensions import db
        from app.identity.service import Actor
        from app.masterdata import dealers
        from app.units.models import LocationKind
        from bench.common import pallet, product_line_lot, write_commissioned

        actor = Actor.system("bench")
        at = datetime.now(UTC) - timedelta(hours=2)
        with transaction():
            product, _, line, lot = product_line_lot(actor, sku="COSTS-DEALER", units_per_case=PER_CASE,
                                                     cases_per_pallet=CASES)
            dealer = dealers.create_dealer(actor=actor, data={"name": "Costs dealer"})
            sub = dealers.create_dealer(actor=actor, data={"name": "Costs sub-dealer", "parent_id": dealer.id})
            user = AppUser(app=AppName.DEALER, openid="costs-dealer-owner", person=Person())
            db.session.add(user)
            db.session.flush()
            db.session.add(DealerMembership(dealer_id=dealer.id, app_user_id=user.id, role=MemberRole.OWNER))
            token = logins._issue(user, family="costs").token
            # A truck's worth a shipment: an order of SHIPMENT_CASES cases each, its shipment open.
            self.shipments = []
            for n in range(-(-cases // SHIPMENT_CASES)):
                order = SalesOrder(order_no=f"COSTS-SO-{n}", seller_kind=PartyKind.DEALER, seller_id=dealer.id,
                                   buyer_kind=PartyKind.DEALER, buyer_id=sub.id)
                order.lines.append(OrderLine(line_no=1, product_id=product.id, quantity=SHIPMENT_CASES * PER_CASE,
                                             shipped=0, received=0))
                db.session.add(order)
                db.session.flush()
                self.shipments.append(shipments.open_shipment(
                    actor_label=f"app_user:{user.id}", shipper_kind=PartyKind.DEALER, shipper_id=dealer.id,
                    order_id=order.id).id)
        ring = codes.keyring()
        self.cases: list[str] = []
        for _ in range(-(-cases // CASES)):
            _, units = pallet(actor, product_id=product.id, lot_id=lot.id, location_kind=LocationKind.DEALER,
                              location_id=dealer.id, at=at, cases=CASES, per_case=PER_CASE)
            units = [msgspec.structs.replace(u, parent_serial=None) if u.level.value == "case" else u
                     for u in units[1:]]  # loose cases: the pallet was broken up at the dealer's
            with transaction():
                write_commissioned(units, lot_id=lot.id, line_id=line.id, at=at)
            self.cases += [ring.encode(u.serial, u.key_version) for u in units if u.level.value == "case"]
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.next = 0

    def scan(self, count: int) -> int:
        """count case scans, each against its order's shipment: the scans made."""
        for n in range(self.next, self.next + count):
            url = f"/api/dealer/shipments/{self.shipments[n // SHIPMENT_CASES]}/scans"
            response = self.client.post(url, json={"codes": [self.cases[n]]}, headers=self.headers)
            answer = response.get_json()
            assert response.status_code == 200 and answer["results"][0]["items"] == PER_CASE, answer
        self.next += count
        return count


def _unit(serial, batch, product_id, lot_id, location_kind, location_id, at):
    from app.codes.models import Level
    from app.units import unit_rows
    from app.units.models import UnitStatus

    return unit_rows.UnitState(serial, batch.key_version, batch.id, Level.ITEM, product_id, lot_id, UnitStatus.ACTIVE,
                               None, 0, False, location_kind, location_id, False, None, None, None, at)


def report(figures: list[Figures], args) -> None:
    print(f"\nmedians of {args.rounds} rounds of {args.count:,} (line records: {args.count // 10 or 1} uploads of "
          f"{LINE_UPLOAD}); CPU in µs per unit of work")
    print(f"{'operation':32} {'app CPU':>9} {'Redis CPU':>10} {'MariaDB CPU':>12} {'SQL':>6} {'Redis trips':>12} "
          f"{'Redis cmds':>11}")
    for f in figures:
        db_cpu = f.median("db_cpu")
        print(f"{f.name:32} {f.median('app_cpu') * 1e6:9,.0f} {f.median('redis_cpu') * 1e6:10,.0f} "
              f"{'n/a' if db_cpu is None else f'{db_cpu * 1e6:,.0f}':>12} {f.median('statements'):6.1f} "
              f"{f.median('round_trips'):12.1f} {f.median('commands'):11.1f}   per {f.unit}")
    floor = figures[0].median("app_cpu")
    print("\nwhat one core of each tier holds, per second (1 / CPU per unit; the app's including the baseline "
          f"floor of {floor * 1e6:,.0f} µs a request):")
    for f in figures[1:]:
        parts = []
        for label, attribute in (("app", "app_cpu"), ("Redis", "redis_cpu"), ("MariaDB", "db_cpu")):
            value = f.median(attribute)
            parts.append(f"{label} {1 / value:,.0f}" if value else f"{label} n/a")
        print(f"  {f.name:32} " + ", ".join(parts) + f" {f.unit}s/s")
    if args.show:
        for f in figures[1:]:
            last = f.rounds[-1]
            print(f"\n{f.name}, per {f.unit} (last round):")
            for kind, n in last.seen.most_common():
                print(f"  {n / last.units:7.2f} x {kind}")


if __name__ == "__main__":
    sys.exit(main())
