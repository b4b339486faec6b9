"""The operations reports (production, channel flows, sell-through, rankings, diversion) on a small world
played through the real writers, with every expected figure worked out by hand below."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AppName, AppUser, MemberRole, MembershipStatus, Person, StoreMembership
from app.channel import diversion
from app.channel.models import AlertStatus, DiversionAlert
from app.db import transaction, utcnow
from app.extensions import db
from app.identity.models import Role
from app.masterdata import places
from app.platform.clock import china_day, day_start
from app.reports import channel as channel_reports
from app.reports.service import Period
from app.retail import sales
from app.retail.models import SaleScan
from app.trace import recalls
from app.units import line_engine, line_sessions
from app.warehouse import service as warehouse
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import (ACTOR, BEIJING, DONGCHENG, HANGZHOU, XIHU, make_dealer, make_factory,
                                        make_product, make_store)
from tests.production_factories import make_line, make_production_lot
from tests.report_checks import rollup_differences

_ids = itertools.count(1)
ZHEJIANG_PREFIX, BEIJING_PREFIX = "33", "11"


def _record(type_, at, **fields) -> dict:
    return {"type": type_, "record_id": f"ops-{next(_ids)}", "scanned_at": at, **fields}


def _upload(line_id: int, lot_id: int, records: list[dict]) -> None:
    with transaction():
        session_id = line_sessions.start_session(actor=ACTOR, line_id=line_id, lot_id=lot_id).id
    with transaction():
        results = line_engine.apply_records(actor=ACTOR, session_id=session_id, records=records)
    assert all(r.status == "accepted" for r in results), [(r.status, r.reason) for r in results]


def _clerk(store_id: int) -> AppUser:
    with transaction():
        person = Person()
        db.session.add(person)
        db.session.flush()
        user = AppUser(app=AppName.CLERK, openid=f"ops-clerk-{person.id}", person_id=person.id,
                       nickname=f"Clerk {person.id}")
        db.session.add(user)
        db.session.flush()
        db.session.add(StoreMembership(store_id=store_id, app_user_id=user.id, role=MemberRole.CLERK,
                                       status=MembershipStatus.APPROVED, approved_at=utcnow()))
    return user


@dataclass
class World:
    today: date
    day1: date
    day2: date
    product: object
    factory_zj: object
    factory_bj: object
    line_zj: object
    line_bj: object
    lot_a: object
    lot_b: object
    warehouse_id: int
    dealer1: object
    dealer2: object
    store_bj: object
    store_zj: object
    store_idle: object
    clerk_bj: AppUser
    clerk_zj: AppUser


def play() -> World:
    """The world, every step through the service that writes it:

    - Day 1, lot A (Zhejiang factory, line ZJ): 10 items commissioned, packed two a case into c1..c5
      (10 items packed), c4 and c5 put on pallet p1 (2 cases packed), p1 scrapped (4 items scrapped).
    - Day 2, lot B (Beijing factory, line BJ): 3 items commissioned. Today lot B is recalled (3 items).
    - Codes issued today (all of the product): 10 + 3 items, 5 cases, 1 pallet = 19.
    - Today: the Hangzhou warehouse takes in c1, c2, c3 (6 items) and ships them to dealer 1 (tier 1),
      who receives them whole; dealer 1 ships c1, c2 to dealer 2 (tier 2; territory Hangzhou), received
      whole, and c3 to the Hangzhou store, received whole. Dealer 2 ships c1, c2 to the Beijing store,
      which scans in c1 only: 2 received, 2 missing; c1's 2 items are outside dealer 2's territory:
      2 diversion alerts (Dongcheng), one of them then resolved.
    - Today: the Beijing clerk sells both items of c1 (2 sold, 2 taken out of their case); the Hangzhou
      clerk sells one item of c3 (1 sold, 1 taken out). A second Beijing store (dealer 2's) sells nothing.
    """
    today = china_day(utcnow())
    day1, day2 = today - timedelta(days=2), today - timedelta(days=1)
    at1, at2 = day_start(day1) + timedelta(hours=4), day_start(day2) + timedelta(hours=4)
    product = make_product(units_per_case=2, cases_per_pallet=2)
    factory_zj, factory_bj = make_factory(region_code=XIHU), make_factory(region_code=DONGCHENG)
    line_zj, line_bj = make_line(factory_zj.id, name="Line ZJ"), make_line(factory_bj.id, name="Line BJ")
    lot_a = make_production_lot(product_id=product.id, factory_id=factory_zj.id, line_id=line_zj.id)
    lot_b = make_production_lot(product_id=product.id, factory_id=factory_bj.id, line_id=line_bj.id)

    items = uf.issue(10, product_id=product.id).codes
    cases = uf.issue(5, level="case", product_id=product.id).codes
    pallet = uf.issue(1, level="pallet", product_id=product.id).codes[0]
    _upload(line_zj.id, lot_a.id, [
        *(_record("commission", at1, code=code) for code in items),
        *(_record("pack", at1, code=code, parent=cases[i // 2]) for i, code in enumerate(items)),
        _record("pack", at1, code=cases[3], parent=pallet), _record("pack", at1, code=cases[4], parent=pallet),
        _record("scrap", at1, code=pallet)])
    _upload(line_bj.id, lot_b.id, [_record("commission", at2, code=code)
                                   for code in uf.issue(3, product_id=product.id).codes])
    with transaction():
        recalls.recall_lot(actor=ACTOR, lot_id=lot_b.id, reason="tests")

    with transaction():
        warehouse_id = places.create_warehouse(actor=ACTOR, data={
            "name": "Hangzhou DC", "factory_id": factory_zj.id, "region_code": XIHU}).id
    with transaction():
        results = warehouse.apply_scans(actor=ACTOR, records=[
            {"record_id": f"in-{next(_ids)}", "scanned_at": utcnow() - timedelta(minutes=1), "action": "inbound",
             "source": "line", "code": code, "warehouse_id": warehouse_id} for code in cases[:3]])
    assert all(r.status == "accepted" for r in results), results
    dealer1 = make_dealer()
    dealer2 = make_dealer(tier=2, parent_id=dealer1.id, territory=[HANGZHOU])
    store_bj = make_store(region_code=DONGCHENG, dealer_ids=[dealer2.id])
    store_idle = make_store(region_code=DONGCHENG, dealer_ids=[dealer2.id])
    store_zj = make_store(region_code=XIHU, dealer_ids=[dealer1.id])

    def move(codes, shipper, receiver, scanned=None):
        shipment = cf.ship_to(codes, shipper=shipper, receiver=receiver)
        cf.receive(shipment.id, receiver=receiver, codes=scanned)
    move(cases[:3], ("warehouse", warehouse_id), ("dealer", dealer1.id))
    move(cases[:2], ("dealer", dealer1.id), ("dealer", dealer2.id))
    move(cases[2:3], ("dealer", dealer1.id), ("store", store_zj.id))
    move(cases[:2], ("dealer", dealer2.id), ("store", store_bj.id), scanned=cases[:1])
    alerts = db.session.scalars(sa.select(DiversionAlert).order_by(DiversionAlert.id)).all()
    assert len(alerts) == 2
    with transaction():
        diversion.resolve_alert(actor=ACTOR, alert_id=alerts[0].id, status="resolved", resolution="Moved back")

    clerk_bj, clerk_zj = _clerk(store_bj.id), _clerk(store_zj.id)
    for clerk, store_id, code in ((clerk_bj, store_bj.id, items[0]), (clerk_bj, store_bj.id, items[1]),
                                  (clerk_zj, store_zj.id, items[4])):
        with transaction():
            sales.sale_scan(user=clerk, store_id=store_id, code=code)
    return World(today, day1, day2, product, factory_zj, factory_bj, line_zj, line_bj, lot_a, lot_b, warehouse_id,
                 dealer1, dealer2, store_bj, store_zj, store_idle, clerk_bj, clerk_zj)


@pytest.fixture
def world(app) -> World:
    return play()


@pytest.fixture
def regions(monkeypatch):
    """Make the caller a regional user of the given adcode prefixes."""
    def scope(*prefixes):
        monkeypatch.setattr("app.admin_api.reports.operations.caller_regions", lambda: list(prefixes))
    return scope


def report(client, auth, path, role=Role.OPS, **query):
    answer = client.get(f"/api/admin/reports/{path}", query_string=query, headers=auth.headers_for(role))
    assert answer.status_code == 200, answer.json
    return answer.json


FIGURES = ("codes_issued", "items_commissioned", "items_packed", "cases_packed", "items_scrapped", "items_recalled")


def figures(row, names=FIGURES) -> tuple:
    return tuple(row[name] for name in names)


# --- production ---------------------------------------------------------------------------------

def test_production_by_day_counts_each_day_s_output(world, client, auth):
    rows = report(client, auth, "production", by="day")["rows"]
    assert {row["day"]: figures(row) for row in rows} == {
        world.day1.isoformat(): (0, 10, 10, 2, 4, 0),
        world.day2.isoformat(): (0, 3, 0, 0, 0, 0),
        world.today.isoformat(): (19, 0, 0, 0, 0, 3),
    }
    assert rollup_differences() == {}


def test_production_by_line_and_factory_takes_them_from_the_lot_and_names_them(world, client, auth):
    rows = report(client, auth, "production", by="factory,line")["rows"]
    assert [(r["factory_name"], r["line_name"], figures(r)) for r in rows] == [
        (world.factory_zj.name, "Line ZJ", (None, 10, 10, 2, 4, 0)),
        (world.factory_bj.name, "Line BJ", (None, 3, 0, 0, 0, 3)),
    ]
    [lot_a, lot_b] = report(client, auth, "production", by="lot")["rows"]
    assert (lot_a["lot_no"], lot_a["sku"], lot_a["line_name"], lot_a["factory_id"]) == (
        world.lot_a.lot_no, world.product.sku, "Line ZJ", world.factory_zj.id)
    assert figures(lot_b) == (None, 3, 0, 0, 0, 3)
    [by_product] = report(client, auth, "production", by="product")["rows"]
    assert (by_product["product_name"], figures(by_product)) == (world.product.name, (19, 13, 10, 2, 4, 3))
    assert rollup_differences() == {}


def test_a_regional_user_sees_the_output_of_the_factories_in_their_regions(world, client, auth, regions):
    regions(ZHEJIANG_PREFIX)
    rows = report(client, auth, "production", by="day")["rows"]
    assert {row["day"]: figures(row) for row in rows} == {world.day1.isoformat(): (0, 10, 10, 2, 4, 0)}
    regions(BEIJING_PREFIX)
    rows = report(client, auth, "production", by="line")["rows"]
    assert [(r["line_name"], figures(r)) for r in rows] == [("Line BJ", (None, 3, 0, 0, 0, 3))]


# --- channel flows ------------------------------------------------------------------------------

FLOWS = ("warehouse_in_items", "shipped_by_brand_items", "dealer_in_items", "shipped_by_dealers_items",
         "received_by_stores_items", "receipts", "receipt_items", "missing_items", "extra_items", "damaged_items")


def test_channel_flows_by_day_follow_the_goods_from_the_warehouse_to_the_stores(world, client, auth):
    [row] = report(client, auth, "channel/flows", by="day", role=Role.FINANCE)["rows"]
    # Receipts: dealer 1 (6 items), dealer 2 (4), the Hangzhou store (2), the Beijing store (2 of 4: 2 missing).
    assert (row["day"], *figures(row, FLOWS)) == (world.today.isoformat(), 6, 6, 10, 10, 4, 4, 14, 2, 0, 0)
    assert rollup_differences() == {}


def test_channel_flows_by_tier_count_what_each_tier_of_dealers_took_in_and_shipped(world, client, auth):
    rows = report(client, auth, "channel/flows", by="tier")["rows"]
    # Places other than dealers have no tier: their figures are null.
    assert [(r["tier"], *figures(r, FLOWS)) for r in rows] == [
        (1, None, None, 6, 6, None, 1, 6, 0, 0, 0),
        (2, None, None, 4, 4, None, 1, 4, 0, 0, 0),
    ]
    rows = report(client, auth, "channel/flows", by="dealer")["rows"]
    assert [(r["dealer_name"], r["tier"], r["shipped_by_dealers_items"]) for r in rows] == [
        (world.dealer1.name, 1, 6), (world.dealer2.name, 2, 4)]


def test_channel_flows_by_province_and_store_show_the_places_with_a_region(world, client, auth):
    rows = report(client, auth, "channel/flows", by="province")["rows"]
    assert [(r["region_code"], r["region_name"], *figures(r, FLOWS)) for r in rows] == [
        (BEIJING, "北京市", 0, 0, None, None, 2, 1, 2, 2, 0, 0),
        ("330000000000", "浙江省", 6, 6, None, None, 2, 1, 2, 0, 0, 0),
    ]
    assert rows[0]["longitude"] is not None
    rows = report(client, auth, "channel/flows", by="store,product")["rows"]
    # A receipt has no product: null beside a product.
    assert [(r["store_name"], r["sku"], r["received_by_stores_items"], r["receipts"]) for r in rows] == [
        (world.store_bj.name, world.product.sku, 2, None), (world.store_zj.name, world.product.sku, 2, None)]


def test_a_regional_user_sees_no_dealer_s_flows_and_only_their_stores(world, client, auth, regions):
    regions(ZHEJIANG_PREFIX)
    [row] = report(client, auth, "channel/flows", by="day")["rows"]
    assert figures(row, FLOWS) == (6, 6, 0, 0, 2, 1, 2, 0, 0, 0)
    regions(BEIJING_PREFIX)
    [row] = report(client, auth, "channel/flows", by="day")["rows"]
    assert figures(row, FLOWS) == (0, 0, 0, 0, 2, 1, 2, 2, 0, 0)


# --- sell-through and case opening --------------------------------------------------------------

SELL = ("items_sold", "items_unpacked", "stores_with_sales", "active_stores", "sell_through_rate")


def test_sell_through_by_province_counts_items_sold_cases_opened_and_selling_stores(world, client, auth):
    rows = report(client, auth, "sell-through", by="province")["rows"]
    assert [(r["region_name"], *figures(r, SELL)) for r in rows] == [
        ("北京市", 2, 2, 1, 2, 0.5), ("浙江省", 1, 1, 1, 1, 1.0)]
    rows = report(client, auth, "sell-through", by="store")["rows"]
    assert [(r["store_name"], *figures(r, SELL)) for r in rows] == [
        (world.store_bj.name, 2, 2, 1, 1, 1.0), (world.store_zj.name, 1, 1, 1, 1, 1.0)]
    assert rollup_differences() == {}


def test_sell_through_by_dealer_counts_the_stores_each_dealer_supplies(world, client, auth):
    rows = report(client, auth, "sell-through", by="dealer")["rows"]
    # Dealer 1 supplies the Hangzhou store; dealer 2 both Beijing stores (one sold nothing).
    assert [(r["dealer_name"], *figures(r, SELL)) for r in rows] == [
        (world.dealer1.name, 1, 1, 1, 1, 1.0), (world.dealer2.name, 2, 2, 1, 2, 0.5)]
    [row] = report(client, auth, "sell-through", by="product,day")["rows"]
    assert (row["sku"], row["day"], *figures(row, SELL)) == (
        world.product.sku, world.today.isoformat(), 3, 3, 2, 3, round(2 / 3, 4))


def test_a_regional_user_sees_the_sell_through_of_their_stores_only(world, client, auth, regions):
    regions(ZHEJIANG_PREFIX)
    rows = report(client, auth, "sell-through", by="store")["rows"]
    assert [(r["store_id"], r["items_sold"]) for r in rows] == [(world.store_zj.id, 1)]
    [row] = report(client, auth, "sell-through", by="product")["rows"]
    assert figures(row, SELL) == (1, 1, 1, 1, 1.0)


# --- rankings -----------------------------------------------------------------------------------

def test_store_and_clerk_rankings_put_the_most_sales_first(world, client, auth):
    rows = report(client, auth, "rankings/stores")["rows"]
    assert [(r["rank"], r["store_name"], r["region_code"], r["items_sold"]) for r in rows] == [
        (1, world.store_bj.name, DONGCHENG, 2), (2, world.store_zj.name, XIHU, 1)]
    assert rows[0]["region_name"] == "东城区"
    rows = report(client, auth, "rankings/clerks", top=1)["rows"]
    assert [(r["rank"], r["app_user_id"], r["nickname"], r["store_name"], r["sale_scans"]) for r in rows] == [
        (1, world.clerk_bj.id, world.clerk_bj.nickname, world.store_bj.name, 2)]


def test_rankings_of_a_regional_user_hold_their_stores_and_clerks_only(world, client, auth, regions):
    regions(ZHEJIANG_PREFIX)
    assert [r["store_id"] for r in report(client, auth, "rankings/stores")["rows"]] == [world.store_zj.id]
    assert [r["app_user_id"] for r in report(client, auth, "rankings/clerks")["rows"]] == [world.clerk_zj.id]


def test_a_period_without_sales_ranks_nobody(world, client, auth):
    before = (world.today - timedelta(days=10)).isoformat()
    assert report(client, auth, "rankings/clerks", **{"from": before, "to": before})["rows"] == []
    assert report(client, auth, "rankings/stores", **{"from": before, "to": before})["rows"] == []


# --- diversion ----------------------------------------------------------------------------------

def test_diversion_by_dealer_and_region_counts_alerts_raised_closed_and_open_now(world, client, auth):
    [row] = report(client, auth, "diversion", by="dealer")["rows"]
    assert (row["dealer_name"], row["raised"], row["closed"], row["open_now"]) == (world.dealer2.name, 2, 1, 1)
    [row] = report(client, auth, "diversion", by="city")["rows"]
    assert (row["region_code"], row["raised"], row["closed"], row["open_now"]) == ("110100000000", 2, 1, 1)
    assert row["region_name"] and row["latitude"] is not None and row["longitude"] is not None
    [row] = report(client, auth, "diversion", by="day,product")["rows"]
    # Open now is a state, not a daily fact.
    assert (row["day"], row["sku"], row["raised"], row["closed"], row["open_now"]) == (
        world.today.isoformat(), world.product.sku, 2, 1, None)
    assert rollup_differences() == {}


def test_an_alert_still_open_from_before_the_period_counts_as_open_now(world, client, auth):
    before = (world.today - timedelta(days=5)).isoformat()
    [row] = report(client, auth, "diversion", by="province", **{"from": before, "to": before})["rows"]
    assert (row["region_code"], row["raised"], row["closed"], row["open_now"]) == (BEIJING, 0, 0, 1)
    assert db.session.query(DiversionAlert).filter_by(status=AlertStatus.OPEN).count() == 1


def test_a_regional_user_sees_no_alert_seen_outside_their_regions(world, client, auth, regions):
    regions(ZHEJIANG_PREFIX)
    assert report(client, auth, "diversion", by="dealer")["rows"] == []
    regions(BEIJING_PREFIX)
    assert [r["open_now"] for r in report(client, auth, "diversion", by="dealer")["rows"]] == [1]


# --- parameters and roles -----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["production", "channel/flows", "sell-through", "diversion"])
@pytest.mark.parametrize("by", ["week", "day,day", "day,product,store", "day,"])
def test_an_unknown_or_doubled_dimension_is_a_422_naming_by(app, client, auth, path, by):
    answer = client.get(f"/api/admin/reports/{path}", query_string={"by": by}, headers=auth.headers_for(Role.ADMIN))
    assert answer.status_code == 422, answer.json
    assert answer.json["code"] == "report_parameter_invalid" and "by" in answer.json["errors"]


@pytest.mark.parametrize("path", ["production", "channel/flows", "sell-through", "diversion", "rankings/stores",
                                  "rankings/clerks"])
def test_an_inverted_or_too_long_period_is_a_422_naming_the_parameter(app, client, auth, path):
    headers = auth.headers_for(Role.ADMIN)
    answer = client.get(f"/api/admin/reports/{path}", query_string={"from": "2026-03-02", "to": "2026-03-01"},
                        headers=headers)
    assert (answer.status_code, list(answer.json["errors"])) == (422, ["from"])
    answer = client.get(f"/api/admin/reports/{path}", query_string={"from": "2025-01-01", "to": "2026-01-02"},
                        headers=headers)
    assert (answer.status_code, list(answer.json["errors"])) == (422, ["to"])


def test_a_ranking_of_more_than_a_hundred_is_a_422_naming_top(app, client, auth):
    answer = client.get("/api/admin/reports/rankings/stores", query_string={"top": 101},
                        headers=auth.headers_for(Role.ADMIN))
    assert answer.status_code == 422 and "top" in str(answer.json["errors"])


def test_a_marketer_reads_no_operations_report_and_finance_no_production(app, client, auth):
    for path in ("production", "channel/flows", "sell-through", "diversion", "rankings/stores"):
        answer = client.get(f"/api/admin/reports/{path}", headers=auth.headers_for(Role.MARKETER))
        assert answer.status_code == 403, path
    assert client.get("/api/admin/reports/production", headers=auth.headers_for(Role.FINANCE)).status_code == 403
    assert client.get("/api/admin/reports/sell-through", headers=auth.headers_for(Role.AUDITOR)).status_code == 200


def test_clerks_tied_share_a_rank_and_show_the_store_where_they_scanned_most(app):
    product = make_product()
    store_bj, store_zj = make_store(region_code=DONGCHENG), make_store(region_code=XIHU)
    a, b, c = _clerk(store_bj.id), _clerk(store_zj.id), _clerk(store_bj.id)
    now, serials = utcnow(), itertools.count(1)
    scans = [(a, store_bj), (a, store_bj), (a, store_zj), (b, store_zj), (b, store_zj), (b, store_zj), (c, store_bj)]
    with transaction():
        for i, (clerk, shop) in enumerate(scans):
            db.session.add(SaleScan(serial=next(serials), code=f"S{i}", store_id=shop.id, app_user_id=clerk.id,
                                    product_id=product.id, region_code=shop.region_code, scanned_at=now))
        # Before the period: not counted.
        db.session.add(SaleScan(serial=next(serials), code="old", store_id=store_bj.id, app_user_id=c.id,
                                product_id=product.id, region_code=DONGCHENG, scanned_at=now - timedelta(days=40)))
    today = china_day(now)
    period = Period(today - timedelta(days=29), today)

    ranking = channel_reports.clerk_ranking(period=period)
    assert [(r["rank"], r["app_user_id"], r["store_id"], r["sale_scans"]) for r in ranking.rows] == [
        (1, a.id, store_bj.id, 3), (1, b.id, store_zj.id, 3), (3, c.id, store_bj.id, 1)]
    ranking = channel_reports.clerk_ranking(period=period, regions=[ZHEJIANG_PREFIX])
    assert [(r["rank"], r["app_user_id"], r["store_id"], r["sale_scans"]) for r in ranking.rows] == [
        (1, b.id, store_zj.id, 3), (2, a.id, store_zj.id, 1)]
    assert [r["app_user_id"] for r in channel_reports.clerk_ranking(period=period, top=1).rows] == [a.id]
