"""The scan log: scans counted in Redis, written to the database in batches by the worker.

As deployed (CONSUMER_SCAN_WRITER = "stream"): a scan is answered before it is in consumer_scans; the
worker writes it (idempotently, however often an entry is delivered); a claim writes its own scan;
a Redis that lost its data seeds the ids and counters from the database again.
"""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.campaigns import claims
from app.channel.models import DiversionAlert
from app.codes.models import BatchStatus, CodeBatch
from app.consumers import facts, legacy_keys, scan_log, scan_worker, scan_writer
from app.consumers.errors import ScanNotFound
from app.consumers.models import CodeLeakAlert, Verdict
from app.db import transaction
from app.errors import DomainError
from app.extensions import db, redis
from app.units.models import Unit, UnitScanStats
from tests.campaign_factories import NOW as CLAIM_NOW
from tests.campaign_factories import open_campaign
from tests.consumer_factories import BEIJING_POS, HANGZHOU_POS, NOW, scan, short, written_scans
from tests.masterdata_factories import HANGZHOU, make_dealer
from tests.unit_factories import issue, serial, set_units


def _stats(item: str) -> UnitScanStats | None:
    db.session.expire_all()
    return db.session.get(UnitScanStats, serial(item))


def _persist_all() -> int:
    return scan_worker.persist(limit=500)


def test_a_scan_is_answered_before_it_is_written_and_the_worker_writes_it(app, goods, users, streamed):
    first, second = users(), users()
    item = goods["items"][0]
    one = scan(first, short(item), latitude=HANGZHOU_POS[0], longitude=HANGZHOU_POS[1])
    two = scan(second, short(item), now=NOW + timedelta(minutes=5))
    assert (one.verdict, two.verdict) == (Verdict.GENUINE, Verdict.SCANNED_BEFORE)
    assert two.scans["count"] == 2 and two.scans["first_at"] == NOW and two.scans["first_city"] == "杭州市"
    assert written_scans() == [] and _stats(item) is None and scan_worker.pending() == 2

    assert _persist_all() == 2
    rows = written_scans()
    assert [(r.id, r.app_user_id, r.verdict, r.scan_number) for r in rows] == [
        (one.scan_id, first.id, Verdict.GENUINE, 1), (two.scan_id, second.id, Verdict.SCANNED_BEFORE, 2)]
    assert rows[0].scanned_at == NOW and rows[0].region_code is not None and rows[1].region_code is None
    assert rows[0].product_id == goods["product"].id and rows[0].lot_id == goods["lot"].id
    stats = _stats(item)
    assert (stats.scans, stats.first_scanned_at, stats.first_app_user_id, stats.last_scanned_at) == \
        (2, NOW, first.id, NOW + timedelta(minutes=5))
    # Written once: the stream and the records are gone, a second pass has nothing to do.
    assert scan_worker.pending() == 0 and not redis.exists(scan_log._record_key(one.scan_id))
    assert _persist_all() == 0


def test_an_entry_delivered_twice_is_written_once(app, goods, users, streamed, monkeypatch):
    user = users()
    item = goods["items"][1]
    for minutes in range(3):
        scan(user, short(item), now=NOW + timedelta(minutes=minutes))
    # A worker reads the batch, writes and commits it, and dies before acknowledging it.
    scan_worker._ensure_group()
    delivered = redis.xreadgroup(scan_log.GROUP, "dead-worker", {scan_log.STREAM: ">"}, count=10)[0][1]
    records = [{**scan_writer._decoded(redis.hgetall(scan_log._record_key(int(f[b'id'])))), "id": f[b"id"].decode()}
               for _, f in delivered]
    with transaction():
        scan_writer.write(records)
    assert len(written_scans()) == 3 and _stats(item).scans == 3
    # The next worker takes the entries over once they have been idle long enough, and writes nothing twice.
    monkeypatch.setattr(scan_worker, "CLAIM_IDLE_MS", 0)
    assert _persist_all() == 3
    assert [r.scan_number for r in written_scans()] == [1, 2, 3] and _stats(item).scans == 3
    assert scan_worker.pending() == 0


def test_a_claim_writes_its_own_scan_when_the_worker_has_not(app, goods, users, streamed):
    campaign = open_campaign()
    user = users()
    result = scan(user, short(goods["items"][2]), now=CLAIM_NOW)
    assert [c["id"] for c in result.campaigns] == [campaign.id] and written_scans() == []
    with transaction():
        won = claims.claim(user=user, scan_id=result.scan_id, now=CLAIM_NOW + timedelta(minutes=1))
    assert won.draw.serial == serial(goods["items"][2]) and won.payout_id is not None
    assert [(r.id, r.app_user_id, r.scan_number) for r in written_scans()] == [(result.scan_id, user.id, 1)]
    assert _stats(goods["items"][2]).first_app_user_id == user.id
    assert _persist_all() == 1  # the worker's write of it changes nothing
    assert len(written_scans()) == 1 and _stats(goods["items"][2]).scans == 1


def test_a_claim_that_fails_leaves_its_scan_to_the_worker(app, goods, users, streamed):
    user = users()
    result = scan(user, short(goods["items"][3]), now=CLAIM_NOW)
    with pytest.raises(DomainError) as caught, transaction():
        claims.claim(user=user, scan_id=result.scan_id, now=CLAIM_NOW)  # no campaign is running
    assert caught.value.status == 409 or caught.value.status == 404
    db.session.remove()
    assert written_scans() == []  # rolled back with the claim
    assert _persist_all() == 1 and [r.id for r in written_scans()] == [result.scan_id]


def test_a_claim_of_someone_elses_unwritten_scan_is_not_found(app, goods, users, streamed):
    owner, other = users(), users()
    result = scan(owner, short(goods["items"][3]))
    with pytest.raises(ScanNotFound), transaction():
        claims.claim(user=other, scan_id=result.scan_id, now=NOW)


def test_a_flushed_redis_seeds_ids_and_counters_from_the_database(app, goods, users, streamed):
    first, second = users(), users()
    item = goods["items"][4]
    one = scan(first, short(item), latitude=BEIJING_POS[0], longitude=BEIJING_POS[1])
    _persist_all()
    redis.flushdb()
    two = scan(second, short(item), now=NOW + timedelta(hours=1))
    assert two.scan_id > one.scan_id
    assert two.verdict is Verdict.SCANNED_BEFORE
    assert two.scans == {"count": 2, "first_at": NOW, "first_city": "北京市"}
    _persist_all()
    stats = _stats(item)
    assert (stats.scans, stats.first_app_user_id) == (2, first.id)


def test_copies_are_counted_across_users_and_regions_in_redis(app, goods, users, streamed, monkeypatch):
    monkeypatch.setitem(app.config, "CONSUMER_COPY_USERS", 3)
    monkeypatch.setitem(app.config, "CONSUMER_COPY_REGIONS", 2)
    item, other = goods["items"][5], goods["items"][0]
    verdicts = [scan(users(), short(item), now=NOW + timedelta(minutes=i)).verdict for i in range(3)]
    assert verdicts == [Verdict.GENUINE, Verdict.SCANNED_BEFORE, Verdict.SUSPECTED_COPY]
    # Two regions are enough; a window that has passed forgets both.
    user = users()
    located = [scan(user, short(other), latitude=lat, longitude=lon, now=NOW + timedelta(minutes=i)).verdict
               for i, (lat, lon) in enumerate([BEIJING_POS, HANGZHOU_POS])]
    assert located == [Verdict.GENUINE, Verdict.SUSPECTED_COPY]
    later = scan(user, short(other), now=NOW + timedelta(hours=app.config["CONSUMER_COPY_WINDOW_HOURS"], minutes=5))
    assert later.verdict is Verdict.SCANNED_BEFORE and later.scans["count"] == 3
    _persist_all()
    assert [r.verdict for r in written_scans() if r.serial == serial(item)] == verdicts


def test_a_rate_limited_scan_counts_and_logs_nothing(app, goods, users, streamed, monkeypatch):
    monkeypatch.setitem(app.config, "CONSUMER_SCANS_PER_MINUTE_USER", 1)
    user = users()
    scan(user, short(goods["items"][0]))
    with pytest.raises(Exception) as caught:
        scan(user, short(goods["items"][1]))
    assert getattr(caught.value, "code", None) == "rate_limited"
    assert scan_worker.pending() == 1 and not redis.exists(*scan_log.copy_keys(serial(goods['items'][1])))


def test_concurrent_scans_of_one_unit_count_each_once(app, goods, users, streamed):
    people = [users() for _ in range(8)]
    item = goods["items"][0]
    results, errors = [], []
    barrier = threading.Barrier(len(people))

    def one(user_id):
        with app.app_context():
            try:
                user = db.session.get(type(people[0]), user_id)
                barrier.wait()
                results.append(scan(user, short(item)))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one, args=(p.id,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.scans["count"] for r in results) == list(range(1, 9))
    assert [r.verdict for r in results].count(Verdict.GENUINE) == 1
    assert len({r.scan_id for r in results}) == 8
    first = next(r for r in results if r.scans["count"] == 1)
    assert {r.scans["first_at"] for r in results} == {first.scan.scanned_at}
    _persist_all()
    assert _stats(item).scans == 8 and len(written_scans()) == 8


def test_cached_batches_show_a_void_within_the_cache_time(app, goods, users, monkeypatch):
    monkeypatch.setitem(app.config, "SCAN_CACHE_SECONDS", 60)
    with app.test_request_context():
        facts.forget()
    user = users()
    assert scan(user, short(goods["items"][0])).verdict is Verdict.GENUINE
    batch_id = db.session.scalar(sa.select(Unit.batch_id).where(Unit.serial == serial(goods["items"][0])))
    with transaction():
        db.session.execute(sa.update(CodeBatch).where(CodeBatch.id == batch_id).values(status=BatchStatus.VOIDED))
    assert scan(user, short(goods["items"][1])).verdict is Verdict.GENUINE  # this process's copy is fresh
    with app.test_request_context():
        facts.forget()  # as when SCAN_CACHE_SECONDS have passed
    assert scan(user, short(goods["items"][2])).verdict is Verdict.VOIDED


# --- the writer's alerts, its failures, and the claim's view of a scan written meanwhile -------------

def test_the_writer_raises_the_leak_and_diversion_alerts_once(app, goods, users, streamed):
    leaked = issue(1).codes[0]
    dealer = make_dealer(territory=[HANGZHOU])
    item = goods["items"][1]
    with transaction():
        set_units(Unit.serial == serial(item), last_dealer_id=dealer.id)
    user = users()
    results = [scan(user, short(leaked)), scan(user, short(leaked), now=NOW + timedelta(minutes=1)),
               scan(user, short(item), latitude=BEIJING_POS[0], longitude=BEIJING_POS[1])]
    assert results[0].verdict is Verdict.NOT_COMMISSIONED
    assert db.session.scalar(sa.select(CodeLeakAlert)) is None and db.session.scalar(sa.select(DiversionAlert)) is None
    records = [{**scan_writer._decoded(redis.hgetall(scan_log._record_key(r.scan_id))), "id": str(r.scan_id)}
               for r in results]
    assert _persist_all() == 3
    alert = db.session.scalar(sa.select(CodeLeakAlert))
    assert (alert.serial, alert.scans, alert.first_seen_at, alert.last_seen_at) == (
        serial(leaked), 2, NOW, NOW + timedelta(minutes=1))
    diverted = db.session.scalar(sa.select(DiversionAlert))
    assert diverted.serial == serial(item) and diverted.dealer_id == dealer.id
    # Written again (a redelivered batch): nothing counts twice.
    with transaction():
        scan_writer.write(records)
    db.session.expire_all()
    assert db.session.scalar(sa.select(CodeLeakAlert.scans)) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DiversionAlert)) == 1


def test_a_record_no_write_takes_goes_to_the_dead_letters_and_the_rest_are_written(
        app, goods, users, streamed, monkeypatch):
    user = users()
    scans = [scan(user, short(goods["items"][i]), now=NOW + timedelta(minutes=i)) for i in range(3)]
    poisoned = scans[1].scan_id
    real_write = scan_writer.write

    def write(records):
        if any(int(fields["id"]) == poisoned for fields in records):
            raise ValueError("bad record")
        real_write(records)
    monkeypatch.setattr(scan_writer, "write", write)
    assert _persist_all() == 3
    assert [r.id for r in written_scans()] == [scans[0].scan_id, scans[2].scan_id]
    dead = [json.loads(entry) for entry in redis.lrange(scan_worker.DEAD, 0, -1)]
    assert [(int(d["id"]), d["error"]) for d in dead] == [(poisoned, "bad record")]
    assert scan_worker.pending() == 0


def test_a_batch_the_database_refuses_whole_stays_in_the_log(app, goods, users, streamed, monkeypatch):
    user = users()
    scan(user, short(goods["items"][0]))
    monkeypatch.setattr(scan_writer, "write", lambda records: (_ for _ in ()).throw(ConnectionError("database down")))
    with pytest.raises(ConnectionError):
        scan_worker.persist(consumer="w1")
    monkeypatch.undo()
    # The same worker reads its own unacknowledged entry again at once (no idle time to wait out).
    assert scan_worker.persist(consumer="w1") == 1 and len(written_scans()) == 1 and redis.llen(scan_worker.DEAD) == 0


def test_an_id_the_database_already_holds_for_another_scan_is_not_lost_silently(
        app, goods, users, streamed):
    user = users()
    first = scan(user, short(goods["items"][0]))
    _persist_all()
    redis.set(scan_log.IDS, first.scan_id - 1)  # Redis came back from an older snapshot
    clash = scan(user, short(goods["items"][1]), now=NOW + timedelta(minutes=1))
    assert clash.scan_id == first.scan_id
    assert _persist_all() == 1
    assert [r.serial for r in written_scans()] == [serial(goods["items"][0])]
    dead = [json.loads(entry) for entry in redis.lrange(scan_worker.DEAD, 0, -1)]
    assert [int(d["serial"]) for d in dead] == [serial(goods["items"][1])] and "another scan" in dead[0]["error"]
    after = scan(user, short(goods["items"][2]), now=NOW + timedelta(minutes=2))
    assert after.scan_id > first.scan_id  # the sequence was put back above the database


@pytest.mark.usefixtures("mariadb")
def test_a_claim_finds_a_scan_the_worker_wrote_after_the_claim_began(app, goods, users, streamed):
    campaign = open_campaign()
    user = users()
    result = scan(user, short(goods["items"][4]), now=CLAIM_NOW)
    user_id = user.id

    def worker():
        with app.app_context():
            assert scan_worker.persist(consumer="worker") == 1
            db.session.remove()

    with transaction():
        claimant = db.session.get(type(user), user_id)  # the claim's transaction has its snapshot now
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert not redis.exists(scan_log._record_key(result.scan_id))  # written and dropped from the log
        won = claims.claim(user=claimant, scan_id=result.scan_id, campaign_id=campaign.id,
                           now=CLAIM_NOW + timedelta(minutes=1))
    assert won.draw.serial == serial(goods["items"][4])


def _deadlock() -> sa.exc.OperationalError:
    import pymysql

    return sa.exc.OperationalError("INSERT IGNORE INTO consumer_scans ...", {},
                                   pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"))


def test_a_connection_lost_in_the_one_by_one_fallback_dead_letters_nothing(
        app, goods, users, streamed, monkeypatch, outage):
    user = users()
    scans = [scan(user, short(goods["items"][i]), now=NOW + timedelta(minutes=i)) for i in range(3)]
    real_write, calls = scan_writer.write, []

    def write(records):
        calls.append(len(records))
        if len(calls) == 1:
            raise _deadlock()  # the batch fails: written one by one
        if len(calls) == 3:
            outage.database()  # the database goes away after the first record
        real_write(records)
    monkeypatch.setattr(scan_writer, "write", write)

    with pytest.raises(sa.exc.DBAPIError):
        _persist_all()

    assert redis.llen(scan_worker.DEAD) == 0 and scan_worker.pending() == 3
    outage.end()
    monkeypatch.setattr(scan_writer, "write", real_write)
    assert scan_worker.persist(limit=500, consumer=scan_worker.consumer_name()) == 3
    assert [r.id for r in written_scans()] == [s.scan_id for s in scans] and redis.llen(scan_worker.DEAD) == 0


def _dead_letter_one(user, goods, monkeypatch, *, when_written: bool = False):
    """A scan refused by the database once (dead-lettered), then the refusal fixed."""
    record = scan(user, short(goods["items"][0]))
    real_write = scan_writer.write

    def refuse(records):
        raise sa.exc.IntegrityError("INSERT", {}, Exception("CHECK constraint failed"))
    monkeypatch.setattr(scan_writer, "write", refuse)
    _persist_all()
    monkeypatch.setattr(scan_writer, "write", real_write)
    assert redis.llen(scan_worker.DEAD) == 1 and written_scans() == []
    return record


def test_dead_scans_list_shows_each_record_and_why(app, goods, users, streamed, monkeypatch):
    record = _dead_letter_one(users(), goods, monkeypatch)
    result = app.test_cli_runner().invoke(args=["consumers", "dead-scans", "list"])
    assert result.exit_code == 0, result.output
    assert f"scan {record.scan_id} code {goods['items'][0]}" in result.output and "CHECK constraint" in result.output
    assert "1 dead-lettered scan(s)" in result.output


def test_dead_scans_replay_writes_a_record_once_even_run_twice(app, goods, users, streamed, monkeypatch):
    record = _dead_letter_one(users(), goods, monkeypatch)
    redis.rpush(scan_worker.DEAD, redis.lindex(scan_worker.DEAD, 0))  # listed twice (a replay cut short)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["consumers", "dead-scans", "replay"])
    second = runner.invoke(args=["consumers", "dead-scans", "replay"])

    assert first.exit_code == 0 and second.exit_code == 0, (first.output, second.output)
    assert f"scan {record.scan_id}: written" in first.output and "already written 1" in first.output
    assert "replayed 0" in second.output
    assert [r.id for r in written_scans()] == [record.scan_id] and _stats(goods["items"][0]).scans == 1
    assert redis.llen(scan_worker.DEAD) == 0


def test_a_record_refused_again_stays_in_the_dead_letters(app, goods, users, streamed, monkeypatch):
    _dead_letter_one(users(), goods, monkeypatch)
    monkeypatch.setattr(scan_writer, "write", lambda records: (_ for _ in ()).throw(ValueError("still bad")))
    result = app.test_cli_runner().invoke(args=["consumers", "dead-scans", "replay"])
    assert "refused again 1" in result.output and "still bad" in result.output
    assert redis.llen(scan_worker.DEAD) == 1


# --- the deploy that gave the scan log's keys their hash tags (app.consumers.legacy_keys) -------------------

def _as_logged_by_the_release_before(result) -> None:
    """Move a logged scan to the stream and record key the release before the hash tags wrote."""
    fields = scan_writer._decoded(redis.hgetall(scan_log._record_key(result.scan_id)))
    redis.hset(legacy_keys.record_key(result.scan_id), mapping=fields)
    redis.xadd(legacy_keys.STREAM, {"id": result.scan_id})
    redis.delete(scan_log._record_key(result.scan_id), scan_log.STREAM)


def test_scans_logged_under_the_old_names_are_written_and_the_old_stream_goes(app, goods, users, streamed):
    user = users()
    old = scan(user, short(goods["items"][0]))
    _as_logged_by_the_release_before(old)
    new = scan(user, short(goods["items"][1]), now=NOW + timedelta(minutes=1))
    assert scan_worker.pending() == 2

    assert _persist_all() == 2
    assert [(r.id, r.serial) for r in written_scans()] == [(old.scan_id, serial(goods["items"][0])),
                                                   (new.scan_id, serial(goods["items"][1]))]
    assert _persist_all() == 0  # drained: the old stream is deleted
    assert not redis.exists(legacy_keys.STREAM) and not redis.exists(legacy_keys.record_key(old.scan_id))
    assert scan_worker.pending() == 0


def test_a_claim_finds_its_scan_logged_under_the_old_names(app, goods, users, streamed):
    open_campaign()
    user = users()
    result = scan(user, short(goods["items"][2]), now=CLAIM_NOW)
    _as_logged_by_the_release_before(result)
    with transaction():
        claims.claim(user=user, scan_id=result.scan_id, now=CLAIM_NOW)
    assert [r.id for r in written_scans()] == [result.scan_id]


def test_the_new_id_sequence_starts_far_above_the_old_one(app, goods, users, streamed):
    redis.set(legacy_keys.IDS, 5000)  # old processes may go on taking ids from it for a while
    assert scan(users(), short(goods["items"][0])).scan_id == 5000 + legacy_keys.ID_GAP + 1


def test_copy_windows_under_the_old_names_move_to_the_new_keys(app, goods, users, streamed):
    item = goods["items"][3]
    early, late, third = users(), users(), users()
    since = scan_log._micros(NOW)
    redis.zadd(f"consumer:unit:{serial(item)}:users", {str(early.id): since, str(late.id): since})
    redis.expire(f"consumer:unit:{serial(item)}:users", 3600)
    redis.zadd(f"consumer:unit:{serial(item)}:regions", {"330106000000": since})
    redis.expire(f"consumer:unit:{serial(item)}:regions", 3600)
    scan(late, short(item), now=NOW + timedelta(minutes=5))  # after the deploy: into the new key only

    result = app.test_cli_runner().invoke(args=["consumers", "move-copy-windows"])

    assert result.exit_code == 0 and "moved 2 copy windows" in result.output, result.output
    users_seen, regions_seen = scan_log.copy_keys(serial(item))
    assert redis.zscore(users_seen, str(early.id)) == since
    assert redis.zscore(users_seen, str(late.id)) == scan_log._micros(NOW + timedelta(minutes=5))  # the later stays
    assert redis.zcard(regions_seen) == 1 and 3000 < redis.ttl(regions_seen) <= 3600
    assert not redis.exists(f"consumer:unit:{serial(item)}:users", f"consumer:unit:{serial(item)}:regions")
    assert scan(third, short(item), now=NOW + timedelta(minutes=6)).verdict is Verdict.SUSPECTED_COPY
