"""Data scope: a back-office user limited to regions never sees, opens or changes another region's rows.

The world holds the same rows in two provinces (Beijing and Zhejiang); the regional user is limited
to Zhejiang. SCOPED_LISTS walks every regional list; a new regional list is one more line there, and
test_every_admin_read_is_classified fails until it is added (or declared not regional with a reason).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from app.accounts.models import AppName, AppUser, Person
from app.campaigns.models import Campaign, Draw, DrawOutcome, PrizeKind, Redemption, RedemptionStatus
from app.channel.models import AlertStatus, DiversionAlert, PartyKind, SeenKind, Shipment
from app.consumers.models import ConsumerScan, Verdict
from app.db import transaction
from app.extensions import db
from app.identity import service as identity
from app.identity.models import AuditRecord, Role
from app.identity.scope import DataScope
from app.masterdata import dealers as masterdata_dealers
from app.masterdata import places as masterdata_places
from app.masterdata import stores as masterdata_stores
from app.rebates.models import RebateStatement
from app.retail.models import SaleScan
from app.stock.models import HolderKind, StockPosition
from tests.channel_factories import make_order
from tests.factories import PASSWORD
from tests.masterdata_factories import ACTOR, BEIJING, DONGCHENG, XIHU, ZHEJIANG, make_product
from tests.production_factories import make_line, make_production_lot

HANGZHOU_CITY = "330100000000"
AT = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)


@dataclass
class Place:
    """One province's rows: every kind a regional list shows."""

    factory: int
    line: int
    lot: int
    warehouse: int
    dealer: int
    store: int
    order: int
    shipment: int
    consumer: int
    scan: int
    sale_scan: int
    draw: int
    redemption: int
    alert: int
    statement: int


_serials = iter(range(10_000, 20_000))


def _place(name: str, province: str, district: str, product, campaign_id: int) -> Place:
    factory = masterdata_places.create_factory(actor=ACTOR, data={"name": f"{name} factory", "region_code": province})
    db.session.flush()
    warehouse = masterdata_places.create_warehouse(actor=ACTOR, data={"name": f"{name} DC", "region_code": district,
                                                                      "factory_id": factory.id})
    dealer = masterdata_dealers.create_dealer(actor=ACTOR, data={"name": f"{name} dealer", "territory": [province]})
    store = masterdata_stores.create_store(actor=ACTOR, data={"name": f"{name} store", "region_code": district,
                                                              "dealer_ids": [dealer.id]})
    person = Person()
    db.session.add(person)
    db.session.flush()
    consumer = AppUser(app=AppName.CONSUMER, openid=f"o-scope-{name}", person_id=person.id, nickname=name)
    clerk = AppUser(app=AppName.CLERK, openid=f"o-scope-clerk-{name}", person_id=person.id)
    db.session.add_all([consumer, clerk])
    db.session.flush()
    serial = next(_serials)
    scan = ConsumerScan(serial=serial, code=f"C{serial}", app_user_id=consumer.id, verdict=Verdict.GENUINE,
                        product_id=product.id, region_code=district, scanned_at=AT)
    sale = SaleScan(serial=serial, code=f"C{serial}", store_id=store.id, app_user_id=clerk.id,
                    product_id=product.id, region_code=district, scanned_at=AT)
    shipment = Shipment(shipper_kind=PartyKind.WAREHOUSE, shipper_id=warehouse.id, receiver_kind=PartyKind.DEALER,
                        receiver_id=dealer.id, created_by="tests")
    alert = DiversionAlert(serial=serial, code=f"C{serial}", dealer_id=dealer.id, seen_kind=SeenKind.CONSUMER_SCAN,
                           place_key=f"region:{district}", region_code=district, seen_by=name, seen_at=AT,
                           status=AlertStatus.OPEN)
    statement = RebateStatement(dealer_id=dealer.id, period_start=date(2026, 4, 1), period_end=date(2026, 4, 30))
    db.session.add_all([scan, sale, shipment, alert, statement])
    db.session.flush()
    draw = Draw(serial=serial, scan_id=scan.id, campaign_id=campaign_id, app_user_id=consumer.id, random_ppm=1, odds=[],
                outcome=DrawOutcome.WON, prize_id=1, prize_kind=PrizeKind.GIFT, day=AT.date(), region_code=district,
                drawn_at=AT)
    db.session.add(draw)
    db.session.flush()
    redemption = Redemption(draw_id=draw.id, app_user_id=consumer.id, campaign_id=campaign_id, prize_id=1,
                            kind=PrizeKind.GIFT, name="gift", status=RedemptionStatus.TO_SHIP)
    db.session.add(redemption)
    db.session.flush()
    return Place(factory=factory.id, line=0, lot=0, warehouse=warehouse.id, dealer=dealer.id, store=store.id,
                 order=0, shipment=shipment.id, consumer=consumer.id, scan=scan.id, sale_scan=sale.id, draw=draw.id,
                 redemption=redemption.id, alert=alert.id, statement=statement.id)


@dataclass
class World:
    beijing: Place
    zhejiang: Place
    product_id: int


@pytest.fixture
def world(app):
    product = make_product()
    with transaction():
        campaign = Campaign(name="spring", starts_at=AT, ends_at=AT.replace(month=6), total_budget_fen=0)
        db.session.add(campaign)
        db.session.flush()
        places = [_place("beijing", BEIJING, DONGCHENG, product, campaign.id),
                  _place("zhejiang", ZHEJIANG, XIHU, product, campaign.id)]
    for place in places:
        place.line = make_line(place.factory).id
        place.lot = make_production_lot(product_id=product.id, factory_id=place.factory, line_id=place.line).id
        place.order = make_order(seller=("warehouse", place.warehouse), buyer=("dealer", place.dealer),
                                 lines=[(product.id, 24)]).id
        with transaction():
            db.session.add(StockPosition(holder_kind=HolderKind.WAREHOUSE, holder_id=place.warehouse,
                                         product_id=product.id, lot_id=place.lot, received_on=AT.date(), quantity=5))
    with transaction():
        # Rows with no region at all: only national users see them.
        person = Person()
        db.session.add(person)
        db.session.flush()
        nowhere = AppUser(app=AppName.CONSUMER, openid="o-scope-nowhere", person_id=person.id)
        db.session.add(nowhere)
        db.session.flush()
        db.session.add(ConsumerScan(serial=None, code="NOT-OURS", app_user_id=nowhere.id, verdict=Verdict.FORGED,
                                    region_code=None, scanned_at=AT))
        masterdata_places.create_factory(actor=ACTOR, data={"name": "factory without a region"})
    return World(beijing=places[0], zhejiang=places[1], product_id=product.id)


def _user(role: Role = Role.ADMIN, regions: list[str] | None = None, *, name: str):
    with transaction():
        identity.create_user(actor=ACTOR, username=name, password=PASSWORD, role=role, regions=regions)


def _headers(client, name: str) -> dict:
    response = client.post("/api/admin/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


@pytest.fixture
def regional(client, world):
    """An admin limited to Zhejiang."""
    _user(regions=[ZHEJIANG], name="zj-manager")
    return _headers(client, "zj-manager")


@pytest.fixture
def national(client, world):
    _user(name="hq-admin")
    return _headers(client, "hq-admin")


def ids(key: str):
    return lambda rows: {row[key] for row in rows}


# Every regional list: (path, what identifies a row, the Place field that row is).
SCOPED_LISTS = [
    ("/api/admin/stores", ids("id"), "store"),
    ("/api/admin/dealers", ids("id"), "dealer"),
    ("/api/admin/factories", ids("id"), "factory"),
    ("/api/admin/production-lines", ids("id"), "line"),
    ("/api/admin/production-lots", ids("id"), "lot"),
    ("/api/admin/warehouses", ids("id"), "warehouse"),
    ("/api/admin/stock", ids("warehouse_id"), "warehouse"),
    ("/api/admin/orders", ids("id"), "order"),
    ("/api/admin/shipments", ids("id"), "shipment"),
    ("/api/admin/diversion-alerts", ids("id"), "alert"),
    ("/api/admin/consumer-scans", ids("id"), "scan"),
    ("/api/admin/retail/sale-scans", ids("id"), "sale_scan"),
    ("/api/admin/draws", ids("id"), "draw"),
    ("/api/admin/draws/redemptions", ids("id"), "redemption"),
    ("/api/admin/rebate-statements", ids("id"), "statement"),
    ("/api/admin/consumer-profiles", ids("app_user_id"), "consumer"),
]

# Every regional detail: (path with {id}, the Place field it opens).
SCOPED_DETAILS = [
    ("/api/admin/stores/{id}", "store"),
    ("/api/admin/dealers/{id}", "dealer"),
    ("/api/admin/factories/{id}", "factory"),
    ("/api/admin/production-lines/{id}", "line"),
    ("/api/admin/production-lots/{id}", "lot"),
    ("/api/admin/warehouses/{id}", "warehouse"),
    ("/api/admin/orders/{id}", "order"),
    ("/api/admin/shipments/{id}", "shipment"),
    ("/api/admin/shipments/{id}/discrepancies", "shipment"),
    ("/api/admin/diversion-alerts/{id}", "alert"),
    ("/api/admin/draws/{id}", "draw"),
    ("/api/admin/draws/redemptions/{id}", "redemption"),
    ("/api/admin/rebate-statements/{id}", "statement"),
    ("/api/admin/consumer-profiles/{id}", "consumer"),
]

# Regional reads that are neither a list of rows nor a detail: checked by their own test below.
SCOPED_OTHER = {"/api/admin/consumer-profiles/segments",
                "/api/admin/reports/overview",  # tests/reports/test_reports_rollups.py
                # tests/reports/test_reports_marketing.py::test_a_regional_user_sees_only_their_regions
                "/api/admin/reports/campaigns", "/api/admin/reports/campaigns/{id}",
                "/api/admin/reports/consumers/heat", "/api/admin/reports/consumers/segments",
                # tests/reports/test_reports_operations.py::test_a_regional_user_*
                "/api/admin/reports/production", "/api/admin/reports/channel/flows", "/api/admin/reports/sell-through",
                "/api/admin/reports/rankings/stores", "/api/admin/reports/rankings/clerks",
                "/api/admin/reports/diversion",
                "/api/admin/stock/summary"}  # tests/channel/test_channel_stock.py


def _all_rows(client, path: str, headers: dict) -> list[dict]:
    response = client.get(path, query_string={"page_size": 100}, headers=headers)
    assert response.status_code == 200, (path, response.get_json())
    return response.get_json()


@pytest.mark.parametrize("path, row_ids, field", SCOPED_LISTS, ids=[entry[0] for entry in SCOPED_LISTS])
def test_a_regional_list_never_shows_another_regions_rows(client, world, regional, national, path, row_ids, field):
    everyone = row_ids(_all_rows(client, path, national))
    assert {getattr(world.beijing, field), getattr(world.zhejiang, field)} <= everyone

    seen = row_ids(_all_rows(client, path, regional))
    assert getattr(world.zhejiang, field) in seen
    assert getattr(world.beijing, field) not in seen


@pytest.mark.parametrize("path, field", SCOPED_DETAILS, ids=[entry[0] for entry in SCOPED_DETAILS])
def test_a_detail_outside_the_scope_is_not_found(client, world, regional, national, path, field):
    outside = path.format(id=getattr(world.beijing, field))
    inside = path.format(id=getattr(world.zhejiang, field))
    assert client.get(outside, headers=national).status_code == 200
    assert client.get(inside, headers=regional).status_code == 200

    response = client.get(outside, headers=regional)
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["code"].endswith("not_found")


def test_rows_without_a_region_are_for_national_users_only(client, world, regional, national):
    def unplaced_factories(headers):
        return [row for row in _all_rows(client, "/api/admin/factories", headers) if row["region_code"] is None]

    def unplaced_scans(headers):
        return [row for row in _all_rows(client, "/api/admin/consumer-scans", headers) if row["region_code"] is None]

    assert unplaced_factories(national) and unplaced_scans(national)
    assert unplaced_factories(regional) == [] and unplaced_scans(regional) == []


def test_consumer_segments_count_only_the_scans_inside_the_scope(client, world, regional, national):
    def segments(headers):
        response = client.get("/api/admin/consumer-profiles/segments", query_string={"group": "region"},
                              headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    assert {row["code"] for row in segments(national)["segments"]} == {BEIJING, ZHEJIANG}
    mine = segments(regional)
    assert [row["code"] for row in mine["segments"]] == [ZHEJIANG]
    assert mine["consumers"] == 1


def test_a_consumer_profile_shows_only_the_scans_inside_the_scope(client, world, regional):
    with transaction():
        # The Zhejiang consumer also scanned in Beijing: the regional user sees the Zhejiang scan only.
        db.session.add(ConsumerScan(serial=None, code="X", app_user_id=world.zhejiang.consumer,
                                    verdict=Verdict.FORGED, region_code=DONGCHENG, scanned_at=AT))
    profile = client.get(f"/api/admin/consumer-profiles/{world.zhejiang.consumer}", headers=regional).get_json()
    assert profile["scans"]["count"] == 1
    assert [region["code"] for region in profile["regions"]] == [HANGZHOU_CITY]


# --- writes ------------------------------------------------------------------------------------

def _writes(world: World):
    """(method, path, body) of writes on Beijing's rows."""
    b = world.beijing
    return [
        ("PATCH", f"/api/admin/stores/{b.store}", {"name": "renamed"}),
        ("POST", f"/api/admin/stores/{b.store}/deactivate", None),
        ("POST", "/api/admin/stores", {"name": "new", "region_code": DONGCHENG}),
        ("PATCH", f"/api/admin/dealers/{b.dealer}", {"name": "renamed"}),
        ("POST", f"/api/admin/dealers/{b.dealer}/deactivate", None),
        ("POST", "/api/admin/dealers", {"name": "new", "territory": [BEIJING]}),
        ("PATCH", f"/api/admin/factories/{b.factory}", {"name": "renamed"}),
        ("PATCH", f"/api/admin/warehouses/{b.warehouse}", {"name": "renamed"}),
        ("POST", f"/api/admin/diversion-alerts/{b.alert}/resolve", {"status": "dismissed", "resolution": "x"}),
        ("POST", f"/api/admin/draws/redemptions/{b.redemption}/cancel", {}),
        ("POST", "/api/admin/rebate-statements", {"dealer_id": b.dealer, "period_start": "2026-05-01",
                                                  "period_end": "2026-05-31"}),
        ("POST", f"/api/admin/rebate-statements/{b.statement}/approve", None),
    ]


def test_a_write_outside_the_scope_is_forbidden(client, world, regional):
    for method, path, body in _writes(world):
        response = client.open(path, method=method, json=body, headers=regional)
        assert response.status_code == 403, (method, path, response.get_json())
        assert response.get_json()["code"] == "outside_data_scope", (method, path)


def test_moving_a_store_out_of_the_scope_is_forbidden_and_changes_nothing(client, world, regional):
    path = f"/api/admin/stores/{world.zhejiang.store}"
    response = client.patch(path, json={"region_code": DONGCHENG}, headers=regional)
    assert response.status_code == 403
    assert client.get(path, headers=regional).get_json()["region_code"] == XIHU


def test_a_write_inside_the_scope_goes_through(client, world, regional):
    z = world.zhejiang
    assert client.patch(f"/api/admin/stores/{z.store}", json={"name": "West Lake"}, headers=regional).status_code == 200
    assert client.post("/api/admin/stores", json={"name": "new", "region_code": XIHU},
                       headers=regional).status_code == 201
    response = client.post(f"/api/admin/diversion-alerts/{z.alert}/resolve",
                           json={"status": "dismissed", "resolution": "a gift"}, headers=regional)
    assert response.status_code == 200, response.get_json()


# --- every admin read is classified ------------------------------------------------------------

def _admin_reads(app):
    """(rule, view) of every authenticated GET view of the back office."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/admin/") and "GET" in rule.methods:
            view = app.view_functions[rule.endpoint]
            if not getattr(view, "_public", False):
                yield rule.rule, view


def _filled(rule: str, value: str) -> str:
    return re.sub(r"<(?:\w+:)?\w+>", value, rule)


def test_every_admin_read_is_classified(app):
    listed = {path for path, _, _ in SCOPED_LISTS} | {path for path, _ in SCOPED_DETAILS} | SCOPED_OTHER
    unclassified, untested, no_reason = [], [], []
    for rule, view in _admin_reads(app):
        stance = getattr(view, "_data_scope", None)
        reason = view._apidoc.get("manual_doc", {}).get("x-data-scope-reason") if hasattr(view, "_apidoc") else None
        if stance is None:
            unclassified.append(rule)
        elif stance == "regional" and _filled(rule, "{id}") not in listed:
            untested.append(rule)
        elif stance in ("not_regional", "national_only") and not reason:
            no_reason.append(rule)
    assert unclassified == [], "declare @regional, @not_regional(reason) or @national_only(reason)"
    assert untested == [], "add these regional reads to SCOPED_LISTS / SCOPED_DETAILS"
    assert no_reason == []


def test_a_view_that_declares_no_scope_refuses_regional_users(app, client, world, regional, national):
    view = app.view_functions["admin_stores.list_stores"]
    stance = view._data_scope
    try:
        del view._data_scope
        response = client.get("/api/admin/stores", headers=regional)
        assert response.status_code == 403
        assert response.get_json()["code"] == "national_scope_required"
        assert client.get("/api/admin/stores", headers=national).status_code == 200
    finally:
        view._data_scope = stance


def test_national_only_reads_refuse_regional_users(app, client, world, regional):
    for rule, view in _admin_reads(app):
        if getattr(view, "_data_scope", None) != "national_only":
            continue
        response = client.get(_filled(rule, "1"), headers=regional)
        assert response.status_code == 403, (rule, response.status_code)
        assert response.get_json()["code"] == "national_scope_required", rule


# --- users: setting and showing a scope --------------------------------------------------------

def test_an_admin_limits_a_user_to_regions_and_the_user_sees_it_in_their_profile(client, national, world):
    response = client.post("/api/admin/users", headers=national, json={
        "username": "sz-manager", "password": PASSWORD, "role": "marketer", "regions": [HANGZHOU_CITY]})
    assert response.status_code == 201, response.get_json()
    user = response.get_json()
    assert user["regions"] == [HANGZHOU_CITY]

    me = client.get("/api/admin/auth/me", headers=_headers(client, "sz-manager")).get_json()
    assert me["regions"] == [HANGZHOU_CITY]

    response = client.patch(f"/api/admin/users/{user['id']}", headers=national, json={"regions": []})
    assert response.status_code == 200 and response.get_json()["regions"] == []
    with transaction():
        record = db.session.scalars(sa.select(AuditRecord).where(
            AuditRecord.action == "user.update", AuditRecord.entity_id == str(user["id"]))).one()
    assert record.changes == {"regions": [[HANGZHOU_CITY], []]}
    assert client.get("/api/admin/auth/me", headers=_headers(client, "sz-manager")).get_json()["regions"] == []


def test_an_unknown_region_code_is_refused_naming_the_field(client, national):
    response = client.post("/api/admin/users", headers=national, json={
        "username": "nowhere", "password": PASSWORD, "role": "ops", "regions": ["990000000000"]})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "region_unknown" and body["errors"] == {"regions": ["990000000000"]}


def test_a_regional_admin_cannot_change_anyones_scope(client, world, regional, national):
    me = client.get("/api/admin/auth/me", headers=regional).get_json()
    response = client.patch(f"/api/admin/users/{me['id']}", headers=regional, json={"regions": []})
    assert response.status_code == 403
    assert response.get_json()["code"] == "national_scope_required"


# --- the helper itself -------------------------------------------------------------------------

def test_a_scope_covers_regions_by_their_prefix():
    scope = DataScope((ZHEJIANG, "110101000000"))
    assert scope.prefixes == ("110101", "33")
    assert scope.allows(XIHU) and scope.allows("110101000000")
    assert not scope.allows("110102000000") and not scope.allows(BEIJING) and not scope.allows(None)
    assert DataScope().national and DataScope().allows(None)
