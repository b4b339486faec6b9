"""Property: whatever the writers do, in whatever order and however often retried, the rollups they keep
equal a rebuild from the source rows (``rollup_differences() == {}``).

A seeded random workload of a few hundred steps drives the real services over a small world (a brand
warehouse, a dealer whose territory is Beijing, a store of it with a clerk, a running campaign, a few
consumers): line uploads (some sent again with the same record ids), unpacks, removals and scraps,
warehouse inbound and outbound scans, shipments and receipts with missing items, sale scans, consumer
scans written inline or through the scan log (a batch delivered twice among them, some far from the
dealer's territory: diversion alerts, closed later), claims made at once from threads on MariaDB,
payouts that succeed, fail, are cancelled or succeed late after we failed them, points earned and
spent, and a lot recalled. Each seed is one run; the rollups are compared at the end of each.
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AppName, AppUser
from app.campaigns import claims
from app.channel import diversion
from app.channel.models import AlertStatus, DiversionAlert
from app.consumers import scan_log, scan_worker, scan_writer
from app.consumers import service as consumers
from app.db import transaction, utcnow
from app.errors import DomainError
from app.extensions import db, redis
from app.payouts import reconciliation, service as payouts, transitions, worker
from app.payouts.models import Payout, PayoutStatus
from app.points import ledger
from app.retail import sales
from app.reports import rebuild
from app.trace import recalls
from app.units import line_engine, line_sessions
from app.warehouse import service as warehouse
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.campaign_factories import open_campaign
from tests.concurrency import at_once
from tests.masterdata_factories import ACTOR, BEIJING, DONGCHENG, make_dealer
from tests.payout_factories import user_acts
from tests.report_checks import rollup_differences
from tests.retail_factories import make_clerk

HANGZHOU_POS = (30.26, 120.13)  # outside the dealer's territory (Beijing)
BEIJING_POS = (39.93, 116.42)
PER_CASE = 3
_ids = itertools.count(1)


@dataclass
class World:
    """The places and people; the pools say where each code is now (as the workload moved it)."""

    brand: cf.Brand
    dealer_id: int
    store_id: int
    clerk: object
    sessions: dict  # lot id -> line session id
    campaign_id: int
    consumers: list
    line_items: list = field(default_factory=list)  # loose items on the line
    line_cases: dict = field(default_factory=dict)  # case -> its items, on the line
    warehouse_cases: dict = field(default_factory=dict)
    dealer_cases: dict = field(default_factory=dict)
    store_items: list = field(default_factory=list)
    items: list = field(default_factory=list)  # every item ever commissioned (consumers scan them anywhere)
    scans: list = field(default_factory=list)  # (user, scan id) not yet claimed
    streamed: int = 0  # scans in the log not yet written
    recalled: set = field(default_factory=set)  # codes of the recalled lot (they move no more)


class Workload:
    def __init__(self, app, world: World, rng: random.Random, *, concurrent: bool):
        self.app, self.w, self.rng, self.concurrent = app, world, rng, concurrent
        self.clock = utcnow() - timedelta(days=2)  # facts spread over three China days

    def tick(self) -> datetime:
        self.clock = min(self.clock + timedelta(minutes=self.rng.randint(1, 25)), utcnow() - timedelta(seconds=5))
        return self.clock

    def pick(self, pool: list):
        return pool.pop(self.rng.randrange(len(pool)))

    def pick_key(self, pool: dict):
        key = self.rng.choice(sorted(pool))
        return key, pool.pop(key)

    # --- the line -------------------------------------------------------------------------------

    def upload(self, records: list[dict], lot=None) -> list:
        lot = lot or self.w.brand.lot
        with transaction():
            return line_engine.apply_records(actor=ACTOR, session_id=self.w.sessions[lot.id], records=records)

    def record(self, type_: str, **fields) -> dict:
        return {"type": type_, "record_id": f"p{next(_ids)}", "scanned_at": self.tick(), **fields}

    def make_cases(self):
        """Commission items and pack them into a case in one upload; sometimes the upload is sent again."""
        lot = self.rng.choice([self.w.brand.lot] if self.w.recalled else [self.w.brand.lot, self.w.brand.other_lot])
        items = uf.issue(PER_CASE, product_id=lot.product_id).codes
        case = uf.issue(1, level="case", product_id=lot.product_id)[0]
        records = [self.record("commission", code=item) for item in items]
        records += [self.record("pack", code=item, parent=case) for item in items]
        assert {r.status for r in self.upload(records, lot)} == {"accepted"}
        if self.rng.random() < 0.3:  # the line's client retries: every record a duplicate, nothing counted twice
            assert {r.status for r in self.upload(records, lot)} == {"duplicate"}
        self.w.line_cases[case] = items
        self.w.items += items
        if lot is self.w.brand.other_lot:
            self.w.recalled.update([case, *items])

    def make_loose(self):
        items = uf.issue(2, product_id=self.w.brand.product.id).codes
        self.upload([self.record("commission", codes=items)])
        self.w.line_items += items
        self.w.items += items

    def unpack_or_remove(self):
        if not self.w.line_cases:
            return
        case, items = self.pick_key(self.w.line_cases)
        lot = self.lot_of(case)
        if self.rng.random() < 0.5:
            assert self.upload([self.record("unpack", code=case)], lot)[0].status == "accepted"
            self.w.line_items += items
        else:
            item = items.pop(self.rng.randrange(len(items)))
            assert self.upload([self.record("remove", code=item, parent=case)], lot)[0].status == "accepted"
            self.w.line_items.append(item)
            if items:
                self.w.line_cases[case] = items

    def scrap(self):
        if self.w.line_items and self.rng.random() < 0.6:
            code = self.pick(self.w.line_items)
        elif self.w.line_cases:
            code, _ = self.pick_key(self.w.line_cases)
        else:
            return
        assert self.upload([self.record("scrap", code=code)], self.lot_of(code))[0].status == "accepted"

    def lot_of(self, code: str):
        from app.units.models import Unit

        lot_id = db.session.scalar(sa.select(Unit.lot_id).where(Unit.serial == uf.serial(code)))
        db.session.rollback()
        return self.w.brand.other_lot if lot_id == self.w.brand.other_lot.id else self.w.brand.lot

    # --- warehouse and channel ------------------------------------------------------------------

    def inbound(self):
        if not self.w.line_cases:
            return
        case, items = self.pick_key(self.w.line_cases)
        record = {"record_id": f"w{next(_ids)}", "scanned_at": self.tick(), "action": "inbound", "code": case,
                  "warehouse_id": self.w.brand.warehouse_id, "source": "line"}
        with transaction():
            assert warehouse.apply_scans(actor=ACTOR, records=[record])[0].status == "accepted"
        if self.rng.random() < 0.3:
            with transaction():
                assert warehouse.apply_scans(actor=ACTOR, records=[record])[0].status == "duplicate"
        self.w.warehouse_cases[case] = items

    def outbound_scan(self):
        """A warehouse outbound scan to the dealer (the PDA's way, no order: the goods leave our view)."""
        if not self.w.warehouse_cases:
            return
        case, _ = self.pick_key(self.w.warehouse_cases)
        [result] = cf.warehouse_outbound([case], warehouse_id=self.w.brand.warehouse_id, dealer_id=self.w.dealer_id)
        assert result.status == "accepted", result

    def ship_to_dealer(self):
        if not self.w.warehouse_cases:
            return
        chosen = dict(self.pick_key(self.w.warehouse_cases) for _ in range(min(3, len(self.w.warehouse_cases))))
        shipment = cf.ship_to(sorted(chosen), shipper=("warehouse", self.w.brand.warehouse_id),
                              receiver=("dealer", self.w.dealer_id))
        received = self.receive(shipment.id, ("dealer", self.w.dealer_id), sorted(chosen))
        self.w.dealer_cases.update({case: chosen[case] for case in received})

    def ship_to_store(self):
        if not self.w.dealer_cases:
            return
        case, items = self.pick_key(self.w.dealer_cases)
        shipment = cf.ship_to([case], shipper=("dealer", self.w.dealer_id), receiver=("store", self.w.store_id))
        if self.receive(shipment.id, ("store", self.w.store_id), [case]):
            self.w.store_items += items

    def receive(self, shipment_id: int, receiver: tuple, codes: list[str]) -> list[str]:
        """Confirm a receipt: all of it, or (a discrepancy) all but one code scanned (it is missing)."""
        if len(codes) < 2 or self.rng.random() < 0.6:
            cf.receive(shipment_id, receiver=receiver)
            return codes
        cf.receive(shipment_id, receiver=receiver, codes=codes[:-1])
        return codes[:-1]

    def sell(self):
        if not self.w.store_items:
            return
        code = self.pick(self.w.store_items)
        with transaction():
            sales.sale_scan(user=self.w.clerk, store_id=self.w.store_id, code=code, scanned_at=self.tick())

    # --- consumers ------------------------------------------------------------------------------

    def consumer_scan(self):
        roll = self.rng.random()
        if roll < 0.08:
            text = f"https://m.example.com/c/{uf.issue(1, product_id=self.w.brand.product.id)[0]}"  # a leak
        elif roll < 0.12 or not self.w.items:
            text = "https://m.example.com/c/AAAAAAAAAAAAAAAAAA"  # forged
        else:
            text = f"https://m.example.com/c/{self.rng.choice(self.w.items)}"
        streamed = self.rng.random() < 0.5
        self.app.config["CONSUMER_SCAN_WRITER"] = "stream" if streamed else "inline"
        user = self.rng.choice(self.w.consumers)
        position = self.rng.choice([None, HANGZHOU_POS, BEIJING_POS])
        where = dict(latitude=position[0], longitude=position[1]) if position else {}
        try:
            with transaction():
                result = consumers.scan(user=user, text=text, now=self.tick(), **where)
        except DomainError:
            db.session.rollback()
            return  # forged codes and limits answer errors; nothing is counted
        finally:
            self.app.config["CONSUMER_SCAN_WRITER"] = "inline"
        self.w.streamed += streamed
        if result.campaigns:
            self.w.scans.append((user, result.scan_id, self.clock))

    def persist(self):
        scan_worker.persist(limit=self.rng.randint(1, 20))

    def persist_delivered_twice(self, monkeypatch):
        """A worker writes a batch and dies before acknowledging it; the next one takes it over."""
        scan_worker._ensure_group()
        delivered = redis.xreadgroup(scan_log.GROUP, "dead-worker", {scan_log.STREAM: ">"}, count=5)
        if not delivered:
            return
        records = [{**scan_writer._decoded(redis.hgetall(scan_log._record_key(int(f[b'id'])))), "id": f[b"id"].decode()}
                   for _, f in delivered[0][1]]
        with transaction():
            scan_writer.write([r for r in records if "code" in r])
        with monkeypatch.context() as patch:
            patch.setattr(scan_worker, "CLAIM_IDLE_MS", 0)
            scan_worker.persist(limit=500)

    def claim(self):
        """Claims of scans not yet claimed, all at once from threads (MariaDB), else one after another."""
        if not self.w.scans:
            return
        chosen = [self.pick(self.w.scans) for _ in range(min(self.rng.randint(1, 4), len(self.w.scans)))]
        def call(user, scan_id, at):
            user_id = user.id  # each thread loads the user in its own session (an object is one session's)
            return lambda: claims.claim(user=db.session.get(AppUser, user_id), scan_id=scan_id,
                                        now=at + timedelta(minutes=1))
        calls = [call(*c) for c in chosen]
        db.session.rollback()
        if self.concurrent and len(calls) > 1:
            at_once(self.app, *calls, each_in_transaction=True)
        else:
            for one in calls:
                try:
                    with transaction():
                        one()
                except DomainError:
                    db.session.rollback()

    def pay(self, sandbox):
        """The payout worker runs; each bill waiting for its user then ends one way or another."""
        worker.work_due()
        waiting = db.session.scalars(sa.select(Payout).where(Payout.status == PayoutStatus.WAITING)).all()
        db.session.rollback()
        for payout in waiting:
            roll = self.rng.random()
            if roll < 0.4:
                user_acts(sandbox, payout.out_bill_no, "confirm")
            elif roll < 0.6:
                user_acts(sandbox, payout.out_bill_no, "decline")
            elif roll < 0.75:
                with transaction():  # we failed it (a person, an earlier bug); the user confirms late
                    locked = payouts.get_payout(payout.id, lock=True)
                    transitions._apply(locked, PayoutStatus.FAILED, state="FAIL", fail_reason="thought so")
                user_acts(sandbox, payout.out_bill_no, "confirm")
                reconciliation.reconcile(utcnow())
        worker.work_due(utcnow() + timedelta(seconds=worker.QUERY_WAITING_SECONDS + 1))
        if self.rng.random() < 0.3:  # the rest expire unconfirmed and are cancelled
            worker.work_due(utcnow() + timedelta(hours=24, seconds=1))

    def points(self):
        user = self.rng.choice(self.w.consumers)
        try:
            with transaction():
                if self.rng.random() < 0.6:
                    ledger.earn(app_user_id=user.id, points=self.rng.randint(1, 50), source=f"test:{next(_ids)}")
                else:
                    ledger.spend(app_user_id=user.id, points=self.rng.randint(1, 30), source=f"test:{next(_ids)}")
        except DomainError:
            db.session.rollback()  # not enough points

    def close_alert(self):
        open_ = db.session.scalars(sa.select(DiversionAlert.id).where(DiversionAlert.status == AlertStatus.OPEN)).all()
        db.session.rollback()
        if open_:
            with transaction():
                diversion.resolve_alert(actor=ACTOR, alert_id=self.rng.choice(open_), status="dismissed",
                                        resolution="a tourist")

    def recall(self):
        with transaction():
            recalls.recall_lot(actor=ACTOR, lot_id=self.w.brand.other_lot.id, reason="a bad seal")
        self.w.recalled.add("recalled")
        for pool in (self.w.line_cases, self.w.warehouse_cases, self.w.dealer_cases):
            for code in [c for c in pool if c in self.w.recalled]:
                del pool[code]
        for pool in (self.w.line_items, self.w.store_items):
            pool[:] = [c for c in pool if c not in self.w.recalled]


STEPS_PER_RUN = 200
STEPS = {  # step: weight
    "make_cases": 14, "make_loose": 4, "unpack_or_remove": 4, "scrap": 3, "inbound": 10, "outbound_scan": 3,
    "ship_to_dealer": 5, "ship_to_store": 6, "sell": 6, "consumer_scan": 30, "persist": 4,
    "persist_delivered_twice": 2, "claim": 8, "pay": 4, "points": 4, "close_alert": 2, "recall": 1,
}


def make_world(users) -> World:
    brand = cf.make_brand()
    dealer = make_dealer(territory=[BEIJING])
    store = cf.make_store_of(dealer.id, region_code=DONGCHENG)
    sessions = {}
    for lot in (brand.lot, brand.other_lot):
        with transaction():
            sessions[lot.id] = line_sessions.start_session(actor=ACTOR, line_id=brand.line_id, lot_id=lot.id).id
    now = datetime.now(UTC)
    campaign = open_campaign(starts_at=now - timedelta(days=5), per_user_daily_limit=1000,
                             per_user_total_limit=1000, total_budget_fen=10_000_000, prizes=[
                                 {"kind": "cash", "name": "Red packet", "amount": 100, "probability_ppm": 400_000},
                                 {"kind": "points", "name": "Points", "amount": 20, "probability_ppm": 300_000}])
    return World(brand, dealer.id, store.id, make_clerk(store.id), sessions, campaign.id,
                 [users() for _ in range(6)])


@pytest.fixture
def consumer_users(mp):  # noqa: F811
    def make():
        name = mp.new_name()
        mp.sign_in("consumer", name)
        return db.session.scalar(sa.select(AppUser).where(AppUser.app == AppName.CONSUMER,
                                                          AppUser.openid == mp.openid("consumer", name)))
    return make


@pytest.mark.parametrize("seed", [13, 2026])
def test_random_workloads_keep_the_rollups_equal_to_a_rebuild(app, sandbox, consumer_users, monkeypatch,
                                                               seed):
    rng = random.Random(seed)
    world = make_world(consumer_users)
    workload = Workload(app, world, rng, concurrent=db.engine.dialect.name != "sqlite")
    names, weights = zip(*STEPS.items())
    recalled = False
    done = []
    for _ in range(STEPS_PER_RUN):
        name = rng.choices(names, weights)[0]
        if name == "recall":
            if recalled:
                continue
            recalled = True
        step = getattr(workload, name)
        if name == "pay":
            step(sandbox)
        elif name == "persist_delivered_twice":
            step(monkeypatch)
        else:
            step()
        done.append(name)
    scan_worker.persist(limit=10_000)
    monkeypatch.setattr(rebuild, "CHUNK", 7)  # the rebuild reads in many pages, as it does a year of scans
    # The workload did what it is meant to (else the property proves little).
    assert {"make_cases", "consumer_scan", "claim", "pay", "sell", "ship_to_store"} <= set(done)
    assert rollup_differences() == {}


def test_a_consumer_s_day_takes_the_region_of_its_first_scan_whichever_is_written_first(app):
    """A claim writes its scan before the log's earlier ones: the day's region is still the first scan's."""
    from app.reports import rollups
    from app.reports.models import ConsumerDay

    at = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
    first = {"id": 10, "app_user_id": 7, "scanned_at": at, "region_code": DONGCHENG}
    later = {"id": 11, "app_user_id": 7, "scanned_at": at + timedelta(minutes=5), "region_code": "330106000000"}
    for batch in ([later], [first], [later]):
        with transaction():
            rollups.note_consumer_days(batch)
    [day] = db.session.scalars(sa.select(ConsumerDay)).all()
    assert (day.region_code, day.first_scan_id) == (DONGCHENG, 10)
