"""What a consumer scan costs: SQL statements and Redis round trips (behaviours that could regress).

The story and the diversion check reuse what the scan already read; regions come from the process's
region table (app.masterdata.region_cache), batches, products and territories from the scan's
per-process caches (app.consumers.facts); the counters, the copy check and the record are one Redis
round trip (app.consumers.scan_log).
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.campaigns import eligibility
from app.channel.models import DiversionAlert
from app.consumers import counters, facts, story
from app.units.models import UnitScanStats
from app.db import transaction
from app.errors import DomainError
from app.extensions import db, is_cluster
from app.extensions import redis as app_redis
from app.identity.service import Actor
from app.masterdata import region_cache
from app.masterdata.models import Region
from app.masterdata.regions import load_regions
from app.units.models import LocationKind, Unit
from tests.campaign_factories import open_campaign
from tests.consumer_factories import BEIJING_POS, HANGZHOU_POS, NOW, scan, short
from tests.masterdata_factories import HANGZHOU, XIHU, make_dealer, make_store
from tests.round_trips import counting
from tests.unit_factories import serial, set_units

SCANS = "/api/consumer/scans"


@pytest.fixture
def shelved(goods):
    """Goods sold at a store in Hangzhou by a dealer whose territory is Hangzhou."""
    dealer = make_dealer(territory=[HANGZHOU])
    shop = make_store(name="West Lake Mart", region_code=XIHU)
    with transaction():
        set_units(Unit.serial.in_([serial(i) for i in goods["items"]]), last_dealer_id=dealer.id, location_kind=LocationKind.STORE, location_id=shop.id)
    return {**goods, "dealer": dealer, "shop": shop}


@pytest.fixture(autouse=True)
def no_listed_campaigns(app):
    """Campaigns an earlier test listed in this process are not this test's (the listing is cached), nor
    are the batches, products and territories an earlier test's scans cached."""
    with app.test_request_context():
        eligibility.forget_listed_campaigns()
        facts.forget()


def _mysql() -> bool:
    return db.engine.dialect.name in ("mysql", "mariadb")


def test_a_located_first_scan_over_http_reads_no_database_and_makes_one_redis_round_trip(
        app, client, mp, shelved, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "CONSUMER_SCAN_WRITER", "stream")  # as deployed: the worker writes
    monkeypatch.setitem(app.config, "SCAN_CACHE_SECONDS", 60)
    headers, _ = mp.sign_in("consumer")
    body = {"latitude": HANGZHOU_POS[0], "longitude": HANGZHOU_POS[1]}
    warm = client.post(SCANS, json={"url": short(shelved["items"][0]), **body}, headers=headers)
    assert warm.status_code == 201, warm.json
    with counting() as (statements, commands):
        response = client.post(SCANS, json={"url": short(shelved["items"][1]), **body}, headers=headers)
    assert response.status_code == 201, response.json
    answer = response.json
    assert answer["verdict"] == "genuine" and answer["story"]["store"]["name"] == "West Lake Mart"
    assert answer["story"]["dealer_regions"] == ["杭州市"] and answer["scans"]["first_city"] == "杭州市"
    # The signed token needs no read; the unit and its counter are in Redis (its writers put them there);
    # the batch, product, lot, store and territory come from the process's caches (the first scan read
    # them); nothing is written, so no commit: the database is not touched at all.
    assert statements == [], "\n".join(statements)
    if commands and not is_cluster():  # a real Redis server: the token's revocation, the unit's facts and
        # counter, the rate limits, the copy check and the record in one script
        assert len(commands) == 1 and b"EVALSHA" in commands[0][0], commands
    elif commands:  # a Redis Cluster (docs/redis-cluster.md): the token, each of the 3 rate limits (openid,
        # address, code), the id, the unit, the record: one call each, each atomic
        assert [c[0].split(b"\r\n")[2] for c in commands] == [b"GET", *[b"EVALSHA"] * 6], commands


def test_with_a_campaign_open_to_it_a_scan_makes_one_statement(app, client, mp, shelved, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "SCAN_CACHE_SECONDS", 60)
    monkeypatch.setitem(app.config, "CAMPAIGN_CACHE_SECONDS", 60)
    monkeypatch.setitem(app.config, "CONSUMER_SCAN_WRITER", "stream")  # as deployed: the worker writes
    campaign = open_campaign(product_ids=[shelved["product"].id])
    headers, _ = mp.sign_in("consumer")
    assert client.post(SCANS, json={"url": short(shelved["items"][0])}, headers=headers).status_code == 201
    with counting() as (statements, _):
        answer = client.post(SCANS, json={"url": short(shelved["items"][1])}, headers=headers).json
    assert [c["id"] for c in answer["campaigns"]] == [campaign.id]
    # The consumer's draws, the unit's draw and the blacklist: one read (the campaign list is cached).
    assert len(statements) == 1 and "campaign_draws" in statements[0] and "campaign_entries" in statements[0], \
        statements


def test_a_unit_redis_has_not_got_is_read_from_the_database_once_and_put_back(
        app, client, mp, shelved, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "SCAN_CACHE_SECONDS", 60)
    headers, _ = mp.sign_in("consumer")
    assert client.post(SCANS, json={"url": short(shelved["items"][0])}, headers=headers).status_code == 201
    app_redis.delete(*(key for key in app_redis.scan_iter("unit:scan:*")))
    with counting() as (statements, _):
        first = client.post(SCANS, json={"url": short(shelved["items"][1])}, headers=headers).json
    assert first["verdict"] == "genuine" and first["story"]["store"]["name"] == "West Lake Mart"
    unit_reads = [s for s in statements if " FROM units " in s]
    assert len(unit_reads) == 1 and "unit_scan_stats" in unit_reads[0], statements
    with counting() as (statements, _):
        again = client.post(SCANS, json={"url": short(shelved["items"][1])}, headers=headers).json
    assert again["verdict"] == "scanned_before" and again["scans"]["count"] == 2
    assert not [s for s in statements if " FROM units " in s], statements


def test_a_repeat_scan_answers_where_first_without_reading_the_database_counter(app, shelved, users):
    user = users()
    item = shelved["items"][2]
    scan(user, short(item), latitude=BEIJING_POS[0], longitude=BEIJING_POS[1])
    with counting() as (statements, _):
        result = scan(user, short(item), now=NOW + timedelta(hours=1))
    assert result.scans == {"count": 2, "first_at": NOW, "first_city": "北京市"}
    assert not [s for s in statements if s.startswith("SELECT unit_scan_stats")], statements


def test_the_first_scan_answers_what_the_counter_holds(app, shelved, users):
    user = users()
    result = scan(user, short(shelved["items"][3]), latitude=HANGZHOU_POS[0], longitude=HANGZHOU_POS[1])
    stats = db.session.scalar(sa.select(UnitScanStats).execution_options(populate_existing=True))
    assert (stats.scans, stats.first_scanned_at, stats.first_app_user_id, stats.first_region_code) == \
        (1, NOW, user.id, XIHU)
    assert result.scans == {"count": 1, "first_at": NOW, "first_city": "杭州市"}
    assert result.scans["first_at"].utcoffset() == timedelta(0)


def test_a_scan_outside_the_territory_still_raises_a_diversion_alert(app, shelved, users):
    scan(users(), short(shelved["items"][4]), latitude=BEIJING_POS[0], longitude=BEIJING_POS[1])
    alert = db.session.scalar(sa.select(DiversionAlert))
    assert alert is not None and alert.serial == serial(shelved["items"][4])
    assert alert.dealer_id == shelved["dealer"].id and alert.evidence["dealer"]["territory"] == [
        {"code": HANGZHOU, "name": "浙江省杭州市"}]


def test_the_rate_limit_windows_stop_at_the_first_one_past_its_limit(app):
    with pytest.raises(DomainError) as caught:
        counters.rate_limits([("t:a", 5), ("t:b", 0), ("t:c", 5)])
    assert caught.value.status == 429 and caught.value.code == "rate_limited"
    assert 1 <= int(caught.value.headers["Retry-After"]) <= 60
    assert (app_redis.get("t:a"), app_redis.get("t:b"), app_redis.get("t:c")) == (b"1", b"1", None)
    assert 0 < app_redis.ttl("t:a") <= 60
    counters.rate_limits([("t:a", 5)])
    assert app_redis.get("t:a") == b"2"


# --- the region table ---------------------------------------------------------------------------

def test_the_region_table_is_read_once_and_renewed_when_the_regions_change(app, shelved, users):
    region_cache.forget()
    first = region_cache.table()
    assert region_cache.table() is first and first.rows[XIHU].name == "西湖区"
    with counting() as (statements, _):
        assert story.city_of(XIHU) == "杭州市"
    assert statements == []
    try:
        with transaction():
            db.session.get(Region, HANGZHOU).name = "杭州"
            load_regions(actor=Actor.system("tests"))  # repairs the drift: the cache is dropped after the commit
        assert region_cache.table() is not first and story.city_of(XIHU) == "杭州市"
        before = app_redis.get(region_cache.VERSION_KEY)
        with transaction():
            db.session.get(Region, HANGZHOU).name = "杭州"
        # Another process changed the regions: this one notices within CHECK_SECONDS.
        app_redis.set(region_cache.VERSION_KEY, "another process's version")
        assert app_redis.get(region_cache.VERSION_KEY) != before
        region_cache._holder().checked_at -= region_cache.CHECK_SECONDS
        assert story.city_of(XIHU) == "杭州"
        app_redis.flushdb()  # Redis lost its data: the next change still makes a version never seen before
        region_cache.changed()
        assert app_redis.get(region_cache.VERSION_KEY) not in (None, before, b"1")
    finally:
        with transaction():
            load_regions(actor=Actor.system("tests"))
    assert story.city_of(XIHU) == "杭州市"


def test_loading_unchanged_regions_keeps_the_table(app):
    table = region_cache.table()
    with transaction():
        load_regions(actor=Actor.system("tests"))
    assert region_cache.table() is table


def test_region_of_answers_the_nearest_centroid_of_all(app):
    """The latitude band region_of searches never changes its answer (a brute force over every centroid)."""
    import math
    import random

    from app.channel import geolocation

    _, centroids = geolocation._district_centroids()
    in_table_order = sorted(centroids, key=lambda c: c[1])

    def brute(latitude, longitude):
        lat, lon = math.radians(latitude), math.radians(longitude)
        best, code = math.inf, None
        for d_lat, _, d_lon, cos_lat, c in in_table_order:
            x = (lon - d_lon) * (cos_lat + math.cos(lat)) / 2
            distance = x * x + (lat - d_lat) ** 2
            if distance < best:
                best, code = distance, c
        return None if code is None or math.sqrt(best) * 6371.0 > geolocation.MAX_DISTANCE_KM else code

    rng = random.Random(6)
    points = [(rng.uniform(10, 60), rng.uniform(65, 145)) for _ in range(300)] + [
        (30.26, 120.13), (39.93, 116.42), (0.0, 0.0), (53.5, 123.3), (18.2, 109.5), (-89.9, 179.9)]
    assert [geolocation.region_of(*p) for p in points] == [brute(*p) for p in points]
    assert geolocation.region_of(30.26, 120.13) == XIHU
