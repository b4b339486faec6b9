"""Channel stock: every holder's items by product, lot and day received, their age and days of stock.

A small world moved through the real services on days of our choosing (``stock_moves.today``), with the
expected figures worked out by hand below.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.channel import stock as channel_stock
from app.db import transaction, utcnow
from app.extensions import db
from app.masterdata.models import Warehouse
from app.stock import service
from app.stock.models import HolderKind, StockOutflow, StockPosition
from app.trace import corrections
from app.units import line_engine, line_sessions, stock_moves
from tests import channel_factories as cf
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, DONGCHENG, XIHU, make_dealer
from tests.retail_factories import items_of, make_clerk, sell

D1 = date(2026, 1, 1)
D2 = D1 + timedelta(days=40)  # 2026-02-10
D3 = D1 + timedelta(days=75)  # 2026-03-17
TODAY = D1 + timedelta(days=100)  # 2026-04-11


@pytest.fixture
def on_day(monkeypatch):
    """Set the China day the moves are dated by (and the reads count ages from)."""
    def set_day(day: date) -> None:
        monkeypatch.setattr(stock_moves, "today", lambda: day)
    return set_day


@dataclass
class World:
    brand: cf.Brand
    dealer_id: int
    store_id: int


def make_world(on_day) -> World:
    """W (Xihu, Zhejiang) receives 3 cases on D1, ships 2 to the dealer (territory Dongcheng, Beijing)
    on D2; the dealer ships 1 to its store (Dongcheng) on D3; today the store sells 3 items and W
    receives one more case."""
    brand = cf.make_brand()
    with transaction():
        db.session.execute(sa.update(Warehouse).where(Warehouse.id == brand.warehouse_id).values(region_code=XIHU))
    dealer = make_dealer(territory=[DONGCHENG])
    shop = cf.make_store_of(dealer.id)
    on_day(D1)
    cases = cf.cases(brand.lot, 3, warehouse_id=brand.warehouse_id)
    on_day(D2)
    cf.receive(cf.ship_to(cases[:2], shipper=("warehouse", brand.warehouse_id), receiver=("dealer", dealer.id)).id,
               receiver=("dealer", dealer.id))
    on_day(D3)
    cf.receive(cf.ship_to(cases[:1], shipper=("dealer", dealer.id), receiver=("store", shop.id)).id,
               receiver=("store", shop.id))
    on_day(TODAY)
    clerk = make_clerk(shop.id)
    for code in items_of(cases[0])[:3]:
        sell(clerk, shop.id, code)
    cf.cases(brand.lot, 1, warehouse_id=brand.warehouse_id)
    return World(brand, dealer.id, shop.id)


def rows(**query) -> list[dict]:
    days = query.pop("days", service.DEFAULT_DAYS)
    listing = service.positions(wanted=service.filters(**query), days=days)
    return listing.finish(db.session.execute(listing.select).all())


FIGURES = ("holder_kind", "quantity", "oldest_received_on", "age_0_30", "age_31_60", "age_61_90", "age_over_90",
           "outflow", "days_of_stock")


def figures(row: dict) -> tuple:
    values = [row[name] for name in FIGURES]
    values[-1] = float(values[-1]) if values[-1] is not None else None
    return tuple(values)


def test_each_holder_s_items_their_age_and_days_of_stock(on_day):
    world = make_world(on_day)

    assert [figures(r) for r in rows()] == [
        # dealer: 24 received D2 (60 days ago: 31-60); shipped 24 out on D3, inside the 30 days: 24 / (24 / 30)
        (HolderKind.DEALER, 24, D2, 0, 24, 0, 0, 24, 30.0),
        # store: 24 received D3 (25 days ago), 3 sold today: 21 / (3 / 30)
        (HolderKind.STORE, 21, D3, 21, 0, 0, 0, 3, 210.0),
        # warehouse: 24 left of D1 (100 days ago) and 24 received today; its shipment (D2) is 60 days back
        (HolderKind.WAREHOUSE, 48, D1, 24, 0, 0, 24, 0, None),
    ]
    # A 90-day window reaches the warehouse's shipment of 48 on D2: 48 / (48 / 90)
    assert figures(rows(days=90)[2])[-2:] == (48, 90.0)
    assert [r["holder_name"].split()[0] for r in rows()] == ["Dealer", "Store", "Brand"]
    warehouse_row = rows(holder_kind="warehouse")[0]
    assert (warehouse_row["holder_id"], warehouse_row["region_code"], warehouse_row["lot_id"]) == (
        world.brand.warehouse_id, XIHU, world.brand.lot.id)


def test_the_region_filter_goes_by_the_holder_s_region_and_a_dealer_s_territory(on_day):
    world = make_world(on_day)
    beijing = [(r["holder_kind"], r["holder_id"]) for r in rows(region_code="110000")]
    assert beijing == [(HolderKind.DEALER, world.dealer_id), (HolderKind.STORE, world.store_id)]
    assert [r["holder_kind"] for r in rows(region_code="330100000000")] == [HolderKind.WAREHOUSE]
    assert rows(region_code="440000000000") == []


def test_the_summary_by_holder_kind_region_and_product(on_day):
    make_world(on_day)
    wanted = service.filters()

    by_kind = service.summary(wanted=wanted, group="holder_kind")
    assert by_kind["as_of"] == TODAY
    assert [(r["key"], r["holders"], r["quantity"], r["age_0_30"], r["age_31_60"], r["age_over_90"], r["outflow"],
             r["days_of_stock"]) for r in by_kind["rows"]] == [
        ("dealer", 1, 24, 0, 24, 0, 24, 30.0),
        ("store", 1, 21, 21, 0, 0, 3, 210.0),
        ("warehouse", 1, 48, 24, 0, 24, 0, None)]

    by_region = service.summary(wanted=wanted, group="region")["rows"]
    # Beijing: the dealer (its territory is one district there) and the store: 45 items, 27 out in 30 days
    assert [(r["region_code"], r["holders"], r["quantity"], r["outflow"], r["days_of_stock"]) for r in by_region] == [
        ("110000000000", 2, 45, 27, 50.0), ("330000000000", 1, 48, 0, None)]
    assert by_region[0]["region_name"] == "北京市"

    by_product = service.summary(wanted=wanted, group="product", days=90)["rows"]
    # 93 held; out in 90 days: 48 (warehouse, D2) + 24 (dealer, D3) + 3 (store, today) = 75: 93 / (75 / 90)
    assert [(r["holders"], r["quantity"], r["outflow"], r["days_of_stock"]) for r in by_product] == [
        (3, 93, 75, 111.6)]


def test_dealer_stock_reads_the_positions(on_day):
    world = make_world(on_day)
    [row] = channel_stock.dealer_stock(dealer_id=world.dealer_id)
    assert (row.lot_id, row.quantity) == (world.brand.lot.id, 24)
    # The positions are what it reads: a position changed behind the units' back shows.
    with transaction():
        db.session.execute(sa.update(StockPosition).where(StockPosition.holder_kind == HolderKind.DEALER)
                           .values(quantity=StockPosition.quantity + 1))
    assert channel_stock.dealer_stock(dealer_id=world.dealer_id)[0].quantity == 25


def test_a_scrap_a_new_label_or_a_lot_correction_is_no_outflow_and_keeps_the_day_received(on_day):
    brand = cf.make_brand()
    on_day(D1)
    items = uf.commission(brand.lot, 3, warehouse_id=brand.warehouse_id)
    on_day(D2)
    with transaction():
        corrections.correct_unit_lot(actor=ACTOR, code=items[0], lot_id=brand.other_lot.id, reason="wrong lot")
    with transaction():
        session = line_sessions.start_session(actor=ACTOR, line_id=brand.line_id, lot_id=brand.lot.id)
    new_label = uf.issue(1, product_id=brand.product.id).codes[0]
    with transaction():
        results = line_engine.apply_records(actor=ACTOR, session_id=session.id, records=[
            {"type": "scrap", "record_id": "scrap-1", "scanned_at": utcnow(), "code": items[1]},
            {"type": "replace", "record_id": "label-1", "scanned_at": utcnow(), "code": items[2],
             "new_code": new_label}])
    assert [r.status for r in results] == ["accepted", "accepted"]
    kept = {(p.lot_id, p.received_on): p.quantity for p in db.session.scalars(sa.select(StockPosition))
            if p.quantity}
    # 3 - 1 corrected - 1 scrapped; the relabelled item is still there, received D1
    assert kept == {(brand.lot.id, D1): 1, (brand.other_lot.id, D1): 1}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StockOutflow)) == 0
    assert service.check() == []


def test_rebuild_recounts_the_positions_from_the_units(app, on_day):
    world = make_world(on_day)
    before = service.kept()
    with transaction():
        db.session.execute(sa.delete(StockPosition).where(StockPosition.holder_kind == HolderKind.STORE))
        db.session.execute(sa.update(StockPosition).values(quantity=StockPosition.quantity + 5))
    assert len(service.check()) == len(before)
    result = app.test_cli_runner().invoke(args=["stock", "rebuild"])
    assert result.exit_code == 0, result.output
    assert service.kept() == before and service.check() == []
    assert app.test_cli_runner().invoke(args=["stock", "check"]).exit_code == 0
    assert world.store_id in {key[1] for key in before if key[0] is HolderKind.STORE}


@pytest.mark.parametrize("query, name", [
    ({"holder_kind": "consumer"}, "holder_kind"),
    ({"holder_id": 3}, "holder_id"),
    ({"region_code": "999999"}, "region_code"),
    ({"warehouse_id": 1, "holder_kind": "dealer"}, "warehouse_id"),
])
def test_bad_filters_are_refused_naming_the_parameter(query, name):
    with pytest.raises(service.StockQueryInvalid) as error:
        service.filters(**query)
    assert name in error.value.errors


@pytest.mark.parametrize("days", [0, 366])
def test_a_window_outside_1_to_365_days_is_refused(days):
    with pytest.raises(service.StockQueryInvalid) as error:
        service.summary(wanted=service.filters(), group="product", days=days)
    assert "days" in error.value.errors
