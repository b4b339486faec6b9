"""Redis Cluster (docs/redis-cluster.md): every script's and transaction's keys share a hash slot, and where
one use case's keys belong to several owners the calls it is split into keep its invariants.

The key design is checked on any backend (slots are arithmetic). The rest needs a cluster: REDIS_CLUSTER_NODES
(`.ci/redis-cluster start`, then `make test-redis-cluster`); without one those tests are skipped.
"""
from __future__ import annotations

import os
import re
import threading
from datetime import timedelta

import pytest
import redis as redis_lib
import sqlalchemy as sa
from redis.cluster import RedisCluster, key_slot

from app.accounts import tokens
from app.accounts.errors import TokenInvalid
from app.accounts.models import AppUser
from app.campaigns import budget, claims
from app.campaigns.models import DrawOutcome, Prize
from app.consumers import scan_log, scan_worker
from app.consumers.models import Verdict
from app.db import retrying, transaction, utcnow
from app.extensions import db, is_cluster, redis
from app.platform import ratelimit
from app.units import scan_facts
from app.units.models import UnitScanStats
from app.wechat import tokens as wechat_tokens
from tests.campaign_factories import CASH, open_campaign
from tests.campaign_factories import NOW as CLAIM_NOW
from tests.consumer_factories import NOW, scan, short, written_scans
from tests.unit_factories import serial

on_cluster = pytest.mark.skipif(not os.environ.get("REDIS_CLUSTER_NODES", "").strip(),
                                reason="needs a Redis Cluster: set REDIS_CLUSTER_NODES (.ci/redis-cluster start; "
                                       "make test-redis-cluster)")


def slot(key: str) -> int:
    return key_slot(key.encode())


# --- the key design (any backend) ----------------------------------------------------------------

@pytest.mark.parametrize("unit", [0, 1, 63, 64, 65, 4_095, 123_456_789, 2**40 + 17])
def test_a_units_bucket_and_its_copy_windows_share_a_slot(unit):
    bucket = scan_facts.slot(unit)[0]
    assert "{" not in bucket  # it hashes whole, under the name it always had
    assert {slot(key) for key in scan_log.copy_keys(unit)} == {slot(bucket)}


def test_units_spread_over_the_slots():
    assert len({slot(scan_facts.slot(unit * scan_facts.BUCKET)[0]) for unit in range(1000)}) > 900


def test_the_scan_logs_sequence_stream_and_records_share_a_slot():
    keys = [scan_log.IDS, scan_log.STREAM, *(scan_log._record_key(scan_id) for scan_id in (1, 999, 10**12))]
    assert len({slot(key) for key in keys}) == 1


def test_a_campaigns_budget_keys_share_a_slot_and_campaigns_spread():
    def keys(campaign_id, prize_id, day):
        return budget.Request(campaign_id=campaign_id, prize_id=prize_id, day=day, amount_fen=1, total_budget_fen=1,
                              day_budget_fen=1, stock=1).keys

    today = NOW.date()
    for campaign_id in (1, 42, 10**9):
        found = {slot(key) for prize_id in (1, 7) for day in (today, today + timedelta(days=1))
                 for key in keys(campaign_id, prize_id, day)}
        assert len(found) == 1
    assert len({slot(keys(campaign_id, 1, today)[0]) for campaign_id in range(1, 200)}) > 150


# The scripts a cluster runs, each with the names its keys are bound to. (The single server's scan script,
# scan_log._LUA, builds its record's key from the id it hands out: there no slot applies.)
CLUSTER_SCRIPTS = {
    "scan_log unit": scan_log._UNIT_LUA, "scan_log next id": scan_log._NEXT_ID_LUA, "scan_log log": scan_log._LOG_LUA,
    "ratelimit check": ratelimit._CHECK_LUA, "budget take": budget._TAKE, "budget release": budget._RELEASE,
    "scan facts put": scan_facts._PUT_LUA, "worker ids": scan_worker._RAISE_IDS_LUA,
    "worker drop": scan_worker._DROP_IF_EMPTY_LUA, "wechat token": wechat_tokens._DELETE_IF_EQUAL,
}


def _key_names(script: str) -> set[str]:
    """The local names a script binds to KEYS[...] only (`local a, b = KEYS[1], KEYS[2]`; a name also bound
    to anything else is not one)."""
    keys, others = set(), set()
    for left, right in re.findall(r"local\s+([\w\s,]+?)\s*=\s*([^\n]+)", script):
        for name, value in zip((n.strip() for n in left.split(",")), _values(right)):
            (keys if value.startswith("KEYS[") else others).add(name)
    return keys - others


def _undeclared(script: str) -> list[tuple[str, str]]:
    """(command, key) of each redis.call whose key is not one of KEYS."""
    declared = _key_names(script)
    touched = re.findall(r"redis\.call\('(\w+)',\s*([^,)]+)", script, flags=re.IGNORECASE)
    assert touched
    return [(command, key) for command, key in touched if not (key.startswith("KEYS[") or key in declared)]


def _values(text: str) -> list[str]:
    """The comma-separated expressions of an assignment's right side (commas inside brackets kept)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()]


@pytest.mark.parametrize("name", sorted(CLUSTER_SCRIPTS))
def test_a_cluster_script_touches_only_keys_it_declares(name):
    assert _undeclared(CLUSTER_SCRIPTS[name]) == []


def test_the_single_servers_scan_script_is_the_one_that_builds_a_key():
    assert ("HSET", "key") in _undeclared(scan_log._LUA)  # its record, under the id it takes: the check sees it


# --- on a cluster --------------------------------------------------------------------------------

@on_cluster
def test_with_cluster_nodes_the_app_talks_to_the_cluster(app):
    client = redis._get_current_object()
    assert isinstance(client, RedisCluster) and is_cluster()
    assert len(client.get_primaries()) >= 2
    nodes = {f"{host}:{port}" for host, port in app.config["REDIS_CLUSTER_NODES"]}
    assert nodes == set(os.environ["REDIS_CLUSTER_NODES"].replace(" ", "").split(","))


@on_cluster
def test_keys_of_several_slots_in_one_script_are_refused_by_the_client(app):
    """What the design avoids: redis-py refuses a call whose declared keys span slots, before sending it."""
    assert slot("a") != slot("b")
    with pytest.raises(redis_lib.exceptions.RedisClusterException, match="same key slot"):
        redis.eval("return 1", 2, "a", "b")


def _threads(app, count: int, work) -> list:
    """Run work(i) in count threads at once, each in its own app context; what each returned or raised."""
    start, outcomes = threading.Barrier(count, timeout=10), [None] * count

    def run(i):
        with app.app_context():
            try:
                start.wait()
                outcomes[i] = work(i)
            except Exception as exc:  # noqa: BLE001 - the test looks at it
                outcomes[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@on_cluster
def test_twenty_takers_of_a_prize_stock_of_seven_get_exactly_seven(app):
    request = budget.Request(campaign_id=7, prize_id=3, day=NOW.date(), amount_fen=100, total_budget_fen=10_000,
                             day_budget_fen=5_000, stock=7)
    answers = _threads(app, 20, lambda i: budget.take(request, seed=lambda: (0, 0, 0)))
    assert answers.count(budget.Answer.TAKEN) == 7 and answers.count(budget.Answer.STOCK) == 13
    spent, day_spent, awarded = (int(redis.get(key)) for key in request.keys)
    assert (spent, day_spent, awarded) == (700, 700, 7)


@on_cluster
def test_twenty_consumers_claiming_seven_prizes_at_once_win_seven(app, mariadb, users):
    from tests.masterdata_factories import make_product
    from tests.production_factories import make_production_lot
    from tests.unit_factories import commission

    campaign = open_campaign(prizes=[{**CASH, "stock": 7}])
    items = commission(make_production_lot(product_id=make_product().id), 20)
    people = [users() for _ in range(20)]
    scans = [(person.id, scan(person, short(item), now=CLAIM_NOW).scan_id) for person, item in zip(people, items)]
    redis.flushdb()  # the mirror starts empty on every master: the first claims seed it at once

    def one(i):
        user_id, scan_id = scans[i]

        def run():
            with transaction():
                return claims.claim(user=db.session.get(AppUser, user_id), scan_id=scan_id,
                                    now=CLAIM_NOW).draw.outcome
        return retrying(run)

    outcomes = _threads(app, 20, one)
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert outcomes.count(DrawOutcome.WON) == 7 and outcomes.count(DrawOutcome.OUT_OF_STOCK) == 13
    prize_id = db.session.scalar(sa.select(Prize.id).where(Prize.campaign_id == campaign.id))
    awarded = budget.Request(campaign_id=campaign.id, prize_id=prize_id, day=claims.china_day(CLAIM_NOW),
                             amount_fen=0, total_budget_fen=0, day_budget_fen=None, stock=7).keys[2]
    assert int(redis.get(awarded)) == 7


@on_cluster
def test_a_rate_limit_lets_exactly_its_limit_through_under_threads(app):
    """Three users (4 a minute each) behind one address (9 a minute), on one code (100): 30 hits at once. Each
    key is counted by its own atomic call, in turn: 9 pass, no user more than 4, and the code counts only
    the 9 that reached it."""
    def hit(i):
        return ratelimit.check([(f"t:user:{i % 3}", 4), ("t:ip:10.0.0.1", 9), ("t:code:C1", 100)])

    answers = _threads(app, 30, hit)
    assert [a for a in answers if isinstance(a, Exception)] == []
    passed = [i for i, (index, _) in enumerate(answers) if index == 0]
    assert len(passed) == 9
    assert all(sum(1 for i in passed if i % 3 == user) <= 4 for user in range(3))
    assert sorted(index for index, _ in answers if index) == [1] * 18 + [2] * 3
    assert int(redis.get("t:code:C1")) == 9 and int(redis.get("t:ip:10.0.0.1")) == 12


@on_cluster
def test_concurrent_scans_by_many_users_count_once_each_and_call_the_copy(app, goods, users):
    people = [users() for _ in range(8)]
    item = goods["items"][0]
    results = _threads(app, 8, lambda i: scan(db.session.get(AppUser, people[i].id), short(item)))
    assert [r for r in results if isinstance(r, Exception)] == []
    by_count = sorted((r.scans["count"], r.verdict) for r in results)
    assert by_count == [(1, Verdict.GENUINE), (2, Verdict.SCANNED_BEFORE),
                        *((n, Verdict.SUSPECTED_COPY) for n in range(3, 9))]  # CONSUMER_COPY_USERS = 3
    assert len({r.scan_id for r in results}) == 8
    users_seen, _ = scan_log.copy_keys(serial(item))
    assert redis.zcard(users_seen) == 8


@on_cluster
def test_logged_scans_reach_the_database_through_the_worker(app, goods, users, streamed):
    people = [users() for _ in range(3)]
    done = [scan(person, short(item), now=NOW + timedelta(minutes=n))
            for n, (person, item) in enumerate(zip(people * 2, goods["items"]))]
    assert scan_worker.pending() == 6 and written_scans() == []
    assert scan_worker.persist(limit=500) == 6
    assert [s.id for s in written_scans()] == sorted(r.scan_id for r in done) and scan_worker.pending() == 0
    assert not any(redis.exists(scan_log._record_key(r.scan_id)) for r in done)


@on_cluster
def test_a_scan_whose_record_cannot_be_logged_is_written_by_its_request_and_counted_once(
        app, goods, users, streamed, monkeypatch):
    """The unit was counted in its own call; the record's call then fails: the request writes the record."""
    user, item = users(), goods["items"][0]
    real = scan_log._script

    def broken(name):
        if name != "log":
            return real(name)

        def fail(**_):
            raise redis_lib.exceptions.ConnectionError("the scan log's master is away")
        return fail

    monkeypatch.setattr(scan_log, "_script", broken)
    first = scan(user, short(item))
    monkeypatch.setattr(scan_log, "_script", real)
    assert first.scans["count"] == 1 and scan_worker.pending() == 0
    assert [(s.id, s.scan_number) for s in written_scans()] == [(first.scan_id, 1)]
    second = scan(user, short(item), now=NOW + timedelta(minutes=1))
    assert second.scans["count"] == 2 and scan_worker.persist(limit=500) == 1
    assert [s.scan_number for s in written_scans()] == [1, 2]
    db.session.expire_all()
    assert db.session.get(UnitScanStats, serial(item)).scans == 2


@on_cluster
def test_a_revoked_or_unknown_token_is_refused_before_anything_is_counted(app, goods, users):
    item = goods["items"][0]
    record = {name: None for name in scan_log._FIELDS}
    record.update(serial=serial(item), code=item, app_user_id=users().id, verdict=Verdict.GENUINE, scanned_at=utcnow())
    unit = scan_log.UnitSlot(serial(item))
    bucket, _, counter = scan_facts.slot(serial(item))
    before = redis.hget(bucket, counter)
    redis.set("auth:mp:revoked", tokens.REVOKED)
    with pytest.raises(TokenInvalid):
        scan_log.count_and_log(record, limits=[("t:limit", 5)], unit=unit, token_key="auth:mp:revoked")
    with pytest.raises(scan_log.TokenUnknown):
        scan_log.count_and_log(record, limits=[("t:limit", 5)], unit=unit, token_key="auth:mp:never-issued")
    assert redis.get("t:limit") is None and redis.hget(bucket, counter) == before
    assert redis.get(scan_log.IDS) is None  # not even an id was taken
