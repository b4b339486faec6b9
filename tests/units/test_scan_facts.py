"""The units' scan facts in Redis (app.units.scan_facts): every writer's change is what the next scan sees,
a scan never puts back facts older than a committed change, and a Redis that lost them still answers right."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from app.accounts import tokens
from app.consumers import scan_log
from app.consumers.models import Verdict
from app.db import transaction, utcnow
from app.errors import DomainError
from app.extensions import db, redis
from app.trace import recalls
from app.units import scan_facts
from app.units.models import Unit, UnitStatus
from tests.consumer_factories import scan, short
from tests.line_factories import Line, outcome, record
from tests.masterdata_factories import ACTOR
from tests.retail_factories import make_shop, rule, sell, store_items
from tests.round_trips import counting
from tests.unit_factories import serial

SCANS = "/api/consumer/scans"


def facts_field(code: str) -> str | None:
    key, field, _ = scan_facts.slot(serial(code))
    value = redis.hget(key, field)
    return value.decode() if value is not None else None


def scanned_without_reading_units(user, code, **kw):
    """A scan, and that it read no unit from the database (Redis had what its writers put there)."""
    with counting() as (statements, _):
        result = scan(user, short(code), **kw)
    assert not [s for s in statements if " FROM units " in s], statements
    return result


def test_every_writer_puts_its_change_where_the_next_scan_reads_it(app, users):
    shop = make_shop()
    code = store_items(shop, 1)[0]  # commissioned, packed, shipped to the dealer, then to the store
    consumer = users()
    on_shelf = scanned_without_reading_units(consumer, code)
    assert on_shelf.verdict is Verdict.GENUINE and on_shelf.story["store"]["sold"] is False
    assert facts_field(code).split("|")[6] == str(shop.dealer_id)  # the dealer it was shipped to
    sell(shop.clerk, shop.store_id, code)
    assert scanned_without_reading_units(consumer, code).story["store"]["sold"] is True
    with transaction():
        recalls.recall_lot(actor=ACTOR, lot_id=shop.brand.lot.id, reason="contamination")
    assert scanned_without_reading_units(consumer, code).verdict is Verdict.RECALLED


def test_a_unit_scrapped_on_the_line_is_scrapped_at_its_next_scan(app, mp, users):  # noqa: F811
    line = Line()
    item = line.commissioned(1)[0]
    consumer = users()
    assert scanned_without_reading_units(consumer, item).verdict is Verdict.GENUINE
    assert outcome(line.one(record("scrap", code=item))) == ("accepted", None)
    assert scanned_without_reading_units(consumer, item).verdict is Verdict.SCRAPPED


def test_a_writer_cannot_commit_while_redis_is_away(app, goods, outage):
    code = goods["items"][0]
    outage.redis()
    with pytest.raises(Exception), transaction():
        db.session.get(Unit, serial(code)).status = UnitStatus.SCRAPPED
    outage.end()
    assert db.session.get(Unit, serial(code), populate_existing=True).status is UnitStatus.ACTIVE


def test_redis_that_lost_everything_still_answers_right_and_is_filled_again(app, goods, users):
    user = users()
    items = goods["items"]
    assert scan(user, short(items[0])).verdict is Verdict.GENUINE
    with transaction():
        db.session.get(Unit, serial(items[1])).status = UnitStatus.SCRAPPED
    redis.flushdb()
    again = scan(user, short(items[0]))  # the counter came back from the database (the inline writer wrote it)
    assert (again.verdict, again.scans["count"]) == (Verdict.SCANNED_BEFORE, 2)
    assert scan(user, short(items[1])).verdict is Verdict.SCRAPPED
    assert facts_field(items[1]).startswith("F|") and facts_field(items[1]).split("|")[2] == "s"
    redis.flushdb()
    assert scan_facts.warm() == len(items)
    assert all(facts_field(code).startswith("F|") for code in items)
    assert scanned_without_reading_units(user, items[2]).verdict is Verdict.GENUINE


def test_a_scan_puts_back_what_it_read_only_over_what_it_saw_and_never_over_a_young_mark(app, goods):
    unit = db.session.get(Unit, serial(goods["items"][0]))
    key, field, _ = scan_facts.slot(unit.serial)
    stale = scan_facts.encode(unit)
    young = f"D|{int(time.time() * 1000)}|writer"
    old = f"D|{int((time.time() - scan_facts.DIRTY_SECONDS - 1) * 1000)}|writer"
    assert scan_facts.seedable(None) and scan_facts.seedable(old) and not scan_facts.seedable(young)
    assert not scan_facts.seedable(stale)  # facts are there: nothing to put back
    # A writer marked the unit after the scan looked (the scan saw nothing): the scan's put is refused.
    redis.hset(key, field, young)
    assert scan_facts.put([unit.serial], {unit.serial: _row(unit)}, expect="") == 0
    assert facts_field(goods["items"][0]) == young
    # The writer's refresh puts its facts over its own mark only, never over a later writer's.
    assert scan_facts.put([unit.serial], {unit.serial: _row(unit)}, expect="D|1|another writer") == 0
    assert scan_facts.put([unit.serial], {unit.serial: _row(unit)}, expect=young) == 1
    assert facts_field(goods["items"][0]) == stale


def _row(unit: Unit):
    row = db.session.execute(scan_facts.read_statement().where(Unit.serial == unit.serial)).one()
    db.session.rollback()
    return row


def test_a_transaction_names_the_units_it_changes_and_marks_them_before_it_commits(app, goods):
    code = goods["items"][0]
    seen = []
    real = scan_facts.refresh
    try:
        scan_facts.refresh = lambda serials, mark: seen.append((serials, mark, facts_field(code)))
        with transaction():
            db.session.get(Unit, serial(code)).status = UnitStatus.SCRAPPED
    finally:
        scan_facts.refresh = real
    [(serials, mark, there)] = seen
    assert serials == [serial(code)] and mark.startswith("D|") and there == mark  # marked, then committed
    with transaction():  # a change of a column scans don't read names nothing
        db.session.get(Unit, serial(code)).received_on = None
        db.session.flush()
        assert not db.session.info.get(scan_facts.CHANGED)


# --- the signed token ----------------------------------------------------------------------------

def test_a_signed_token_is_checked_without_the_database_and_its_revocation_in_the_scans_redis_call(
        app, client, mp, goods):  # noqa: F811
    headers, login = mp.sign_in("consumer")
    token = headers["Authorization"].split()[1]
    assert token.startswith("m2.") and tokens.verify(token) is not None
    body = {"url": short(goods["items"][0])}
    assert client.post(SCANS, json=body, headers=headers).status_code == 201
    key = tokens.key_of(tokens.token_hash(token))
    redis.delete(key)  # Redis lost the token's key: the database says it is good, and Redis is told again
    assert client.post(SCANS, json=body, headers=headers).status_code == 201
    assert redis.get(key) == b"ok"
    logout = client.post("/api/consumer/auth/logout", headers=headers)
    assert logout.status_code in (200, 204), logout.json
    assert redis.get(key) == b"revoked"
    refused = client.post(SCANS, json=body, headers=headers)
    assert (refused.status_code, refused.json["code"]) == (401, "token_invalid")
    redis.delete(key)  # revoked and then lost by Redis: the database still refuses it
    refused = client.post(SCANS, json=body, headers=headers)
    assert (refused.status_code, refused.json["code"]) == (401, "token_invalid")


def test_a_token_whose_mac_is_wrong_is_refused(app, client, mp, goods):  # noqa: F811
    headers, _ = mp.sign_in("consumer")
    token = headers["Authorization"].split()[1]
    forged = token.rsplit(".", 1)[0] + "." + "A" * 32
    for bad in (forged, token.replace("m2.", "m2.9", 1), "m2.1.consumer.x.1.n.m"):
        refused = client.post(SCANS, json={"url": short(goods["items"][0])}, headers={"Authorization": f"Bearer {bad}"})
        assert (refused.status_code, refused.json["code"]) == (401, "token_invalid"), bad
    clerk_headers, _ = mp.sign_in("clerk")
    other = client.post(SCANS, json={"url": short(goods["items"][0])}, headers=clerk_headers)
    assert other.status_code == 403


def test_the_scan_script_refuses_before_counting_anything(app, goods):
    record = {name: None for name in scan_log._FIELDS}
    record.update(serial=serial(goods["items"][0]), code=goods["items"][0], app_user_id=1, verdict=Verdict.GENUINE,
                  scanned_at=utcnow())
    slot = scan_log.UnitSlot(serial(goods["items"][0]))
    redis.hdel(scan_facts.slot(slot.serial)[0], scan_facts.slot(slot.serial)[2])
    with pytest.raises(scan_log.UnitUnknown) as unknown:
        scan_log.count_and_log(record, limits=[("t:limit", 5)], unit=slot)
    # On a cluster the limits are counted (in calls of their own) before the unit is read; the retry skips them.
    counted_before = 1 if unknown.value.limits_counted else 0
    with pytest.raises(scan_log.TokenUnknown):
        scan_log.count_and_log(record, limits=[("t:limit", 5)], unit=slot, token_key="auth:mp:none")
    redis.set("auth:mp:gone", tokens.REVOKED)
    with pytest.raises(DomainError) as caught:
        scan_log.count_and_log(record, limits=[("t:limit", 5)], unit=slot, token_key="auth:mp:gone")
    assert caught.value.code == "token_invalid"
    assert int(redis.get("t:limit") or 0) == counted_before  # no rate limit counted by a refused scan
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Unit)) == len(goods["items"])


def test_a_token_of_the_older_opaque_form_is_still_checked_in_the_database(app, client, mp, goods):  # noqa: F811
    import secrets
    from datetime import timedelta

    from app.accounts.models import AccessToken, AppUser

    _, login = mp.sign_in("consumer")
    opaque = secrets.token_urlsafe(32)
    with transaction():
        user = db.session.get(AppUser, login["user"]["id"])
        db.session.add(AccessToken(token_hash=tokens.token_hash(opaque), app_user=user, audience=user.app,
                                   family="opaque", expires_at=utcnow() + timedelta(hours=1)))
    answer = client.post(SCANS, json={"url": short(goods["items"][0])}, headers={"Authorization": f"Bearer {opaque}"})
    assert answer.status_code == 201, answer.json


# --- savepoints ------------------------------------------------------------------------------------

def test_a_sale_that_credits_the_clerk_in_a_savepoint_is_sold_at_the_next_scan(app, users):
    """A savepoint released inside the sale's transaction (the reward's insert_once on MariaDB) is not its
    commit: the units the sale changed before it are still marked at the real commit, and refreshed after."""
    shop = make_shop()
    code = store_items(shop, 1)[0]
    rule(product_id=shop.brand.product.id, amount=25)
    consumer = users()
    assert scanned_without_reading_units(consumer, code).story["store"]["sold"] is False
    assert sell(shop.clerk, shop.store_id, code).credited.amount == 25
    assert scan(consumer, short(code)).story["store"]["sold"] is True


def test_a_savepoint_rolled_back_keeps_the_units_changed_before_it_named(app, goods, users):
    code = goods["items"][0]
    consumer = users()
    assert scan(consumer, short(code)).verdict is Verdict.GENUINE
    with transaction():
        db.session.get(Unit, serial(code)).status = UnitStatus.SCRAPPED
        db.session.flush()
        with pytest.raises(RuntimeError), db.session.begin_nested():
            raise RuntimeError("a twin's row refused it")
    assert scan(consumer, short(code)).verdict is Verdict.SCRAPPED


# --- races ---------------------------------------------------------------------------------------

def test_a_writer_whose_change_is_flushed_at_its_commit_marks_after_it_holds_the_unit(app, mariadb, goods, users):
    """Two writers of one unit: the first holds its row lock; the second's ORM change is flushed only by its
    commit. Were the second to mark before its flush waits for the lock, the first would commit, find its
    own mark over the second's and refresh the unit with its facts; the second's refresh would then find
    the first's facts, not its mark, and leave them: Redis scrapped, the database voided."""
    import threading

    code = goods["items"][0]
    key, field, _ = scan_facts.slot(serial(code))
    consumer = users()
    assert scan(consumer, short(code)).verdict is Verdict.GENUINE
    holding, go_on, errors = threading.Event(), threading.Event(), []

    def first():
        with app.app_context():
            try:
                with transaction():
                    scan_facts.changed([serial(code)])
                    db.session.execute(sa.update(Unit).where(Unit.serial == serial(code))
                                       .values(status=UnitStatus.SCRAPPED))
                    holding.set()
                    go_on.wait(10)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    def second():
        with app.app_context():
            try:
                # Its flush waits for the first writer; then it is slow to commit (the first one refreshes meanwhile).
                sa.event.listen(db.session(), "after_flush", lambda *_: time.sleep(0.5))
                with transaction():
                    db.session.get(Unit, serial(code)).status = UnitStatus.VOIDED  # flushed by the commit
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    deadline = time.time() + 2  # the second writer reaches its commit (and, were it to mark first, marks)
    while time.time() < deadline and not (redis.hget(key, field) or b"").startswith(b"D|"):
        time.sleep(0.01)
    time.sleep(0.2)
    go_on.set()
    for thread in threads:
        thread.join(15)
    assert errors == []
    assert db.session.get(Unit, serial(code), populate_existing=True).status is UnitStatus.VOIDED
    db.session.rollback()
    assert scan(consumer, short(code)).verdict is Verdict.VOIDED
