"""The scan log under faults: Redis flushed mid-batch, a view run again, a record the database refuses."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.consumers import scan_worker, scan_writer
from app.consumers.models import ConsumerScan
from app.db import transaction
from app.extensions import db, redis
from tests.consumer_factories import NOW, scan, short


def test_after_a_flush_the_workers_end_of_batch_never_sets_the_id_sequence_below_the_database(
        app, goods, users, streamed, monkeypatch):  # noqa: F811
    """Redis is flushed while the worker writes a batch. At the batch's end the worker raises the id sequence to
    its batch's highest id: with the key gone that SETs it there, without the margin the scan's own seeding
    (the database's highest + ID_MARGIN) gives. A scan written meanwhile by a claim or a hidden-code step
    (persist_one) has a higher id: the next scan is handed that id, and is dead-lettered for good."""
    buyer, other = users(), users()
    scan(buyer, short(goods["items"][0]))
    later = scan(other, short(goods["items"][1]), now=NOW + timedelta(seconds=1))
    with transaction():  # the other consumer's claim (or hidden-code step) writes their scan itself
        assert scan_writer.persist_one(later.scan_id)
    original = scan_worker._commit

    def commit_then_flush(records):
        original(records)
        redis.flushdb()  # Redis restarts without persistence / is flushed while the batch is in flight
    monkeypatch.setattr(scan_worker, "_commit", commit_then_flush)
    assert scan_worker.persist(limit=1) == 1  # the batch of the first scan
    monkeypatch.setattr(scan_worker, "_commit", original)
    third = scan(buyer, short(goods["items"][2]), now=NOW + timedelta(seconds=2))
    in_db = db.session.get(ConsumerScan, third.scan_id)
    assert in_db is None, (f"scan {third.scan_id} was handed an id the database holds for user "
                           f"{in_db.app_user_id}'s scan of serial {in_db.serial}")


def test_a_scan_whose_database_read_is_retried_is_counted_once(app, client, mp, goods, monkeypatch, streamed):  # noqa: F811
    """Every write view is run again after a retryable database error (app.http.retry_writes). The scan's Redis
    script (count, id, record, stream) has already run when its database part (the campaigns' read, a hidden
    code's proof) meets a lost connection: the rerun counts the scan again, logs a second record, and the buyer's
    first scan is answered 'scanned before'."""
    import pymysql

    from app.campaigns import eligibility
    from tests.campaign_factories import open_campaign

    open_campaign()
    original, failed = eligibility.open_campaigns, []

    def lose_the_connection_once(**kwargs):
        if not failed:
            failed.append(True)
            raise sa.exc.OperationalError("SELECT ...", {}, pymysql.err.OperationalError(2013, "Lost connection"))
        return original(**kwargs)
    monkeypatch.setattr(eligibility, "open_campaigns", lose_the_connection_once)
    headers, _ = mp.sign_in("consumer")
    response = client.post("/api/consumer/scans", json={"code": goods["items"][0]}, headers=headers)
    assert failed and response.status_code == 201, response.json
    assert (response.json["verdict"], response.json["scans"]["count"]) == ("genuine", 1), response.json["scans"]
    assert scan_worker.pending() == 1, f"{scan_worker.pending()} records logged for one scan"


def test_a_record_the_database_refuses_is_dead_lettered_not_dropped_by_insert_ignore(
        app, goods, users, streamed, mariadb):  # noqa: F811
    """The writer's INSERT IGNORE turns a foreign-key failure (the consumer's row gone: a deleted account) into a
    warning: the row is not inserted, `inserted < len(fresh)` with nothing inserted reads as "a twin wrote them
    all", and the scan vanishes without a dead letter (REFUSED never sees an IntegrityError on MariaDB)."""
    from app.accounts.models import AccessToken, AppUser, RefreshToken

    gone, kept = users(), users()
    lost = scan(gone, short(goods["items"][0]))
    scan(kept, short(goods["items"][1]))
    for model in (AccessToken, RefreshToken):
        db.session.execute(sa.delete(model).where(model.app_user_id == gone.id))
    db.session.execute(sa.delete(AppUser).where(AppUser.id == gone.id))
    db.session.commit()
    assert scan_worker.persist(limit=1) == 1  # the deleted consumer's scan, alone in its batch
    assert scan_worker.persist(limit=10) == 1
    written = db.session.get(ConsumerScan, lost.scan_id) is not None
    dead = [int(d["id"]) for d in scan_worker.dead_letters()]
    assert written or lost.scan_id in dead, "the scan is neither written nor dead-lettered: lost silently"
