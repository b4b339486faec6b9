"""Channel reports: goods flowing through warehouses, dealers and stores; sell-through (动销) and case
opening (开箱); store and clerk rankings; diversion (窜货) alerts for a map.

Every figure but two is read from the daily rollups. Diversion alerts open now are a state, read from
diversion_alerts by status (indexed). The clerk ranking reads sale_scans over the period through the
covering index (scanned_at, app_user_id, store_id, region_code): the rollups have no clerk, and 30
days of sale scans are a short index range (about 16,000 rows of 200,000 a year), so one GROUP BY
answers in milliseconds without a clerk dimension kept by every sale.

Region scope: a regional user counts only rollup rows whose region is in their scope. Warehouses and
stores have a region; a dealer (who has a territory, not a place) has none, so a dealer's shipments and
receipts are not shown to a regional user, and neither are diversion alerts seen nowhere in particular.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from app.accounts.models import AppUser
from app.channel.models import AlertStatus, DiversionAlert
from app.extensions import db
from app.masterdata.models import Dealer, Product, Region, Status, Store, Warehouse, store_dealers
from app.platform.clock import day_start
from app.reports import service
from app.reports.breakdown import Measure, Report, fold, names_of, parse_by, region_fields, sort_key
from app.reports.models import DailyFact
from app.reports.service import REGION_LEVELS, Period, region_condition
from app.retail.models import SaleScan

REGIONS = tuple(REGION_LEVELS)  # province, city, district
PLACES = {"warehouse": "warehouse", "dealer": "dealer", "tier": "dealer", "store": "store"}
RANKING_MAX = 100


# --- flows ----------------------------------------------------------------------------------------

FLOW_DIMENSIONS = ("day", "warehouse", "dealer", "tier", "store", "product", *REGIONS)
_RECEIPTS = frozenset({"day", "warehouse", "dealer", "tier", "store", *REGIONS})  # a receipt has no product
FLOW_MEASURES = {
    "warehouse_in_items": Measure("stock.in", "amount", place_kinds=("warehouse",),
                                  dimensions=frozenset({"day", "warehouse", "product", *REGIONS})),
    "shipped_by_brand_items": Measure("stock.out", "amount", place_kinds=("warehouse",),
                                      dimensions=frozenset({"day", "warehouse", "product", *REGIONS})),
    "dealer_in_items": Measure("stock.in", "amount", place_kinds=("dealer",),
                               dimensions=frozenset({"day", "dealer", "tier", "product"})),
    "shipped_by_dealers_items": Measure("stock.out", "amount", place_kinds=("dealer",),
                                        dimensions=frozenset({"day", "dealer", "tier", "product"})),
    "received_by_stores_items": Measure("stock.in", "amount", place_kinds=("store",),
                                        dimensions=frozenset({"day", "store", "product", *REGIONS})),
    "receipts": Measure("receipt", dimensions=_RECEIPTS),
    "receipt_items": Measure("receipt", "amount", dimensions=_RECEIPTS),
    "missing_items": Measure("receipt.missing", "amount", dimensions=_RECEIPTS),
    "extra_items": Measure("receipt.extra", "amount", dimensions=_RECEIPTS),
    "damaged_items": Measure("receipt.damaged", "amount", dimensions=_RECEIPTS),
}


def flows(*, period: Period, by: str | None, regions: Iterable[str] | None = None) -> Report:
    """Items in and out of warehouses, dealers (by tier) and stores, and what receipts found, over the period."""
    dims = parse_by(by, FLOW_DIMENSIONS)
    columns = set()
    for name in dims:
        columns |= {"day"} if name == "day" else {"product_id"} if name == "product" else \
            {"place_kind", "place_id"} if name in PLACES else {"region"}
    rows = service.sums({m.fact for m in FLOW_MEASURES.values()}, period, by=sorted({"place_kind", *columns}),
                        regions=regions)
    dealers = names_of(Dealer, {r.place_id for r in rows if r.place_kind == "dealer"}, Dealer.name, Dealer.tier) \
        if "place_id" in columns else {}
    groups = fold(rows, by=dims, keys=_keys(dealers), measures=FLOW_MEASURES)
    return _report(period, dims, groups, dealers)


def _region_keys() -> dict:
    """A row's province, city or district: the adcode prefix of its region."""
    def prefix(length):
        return lambda row: row.region[:length]
    return {level: prefix(length) for level, length in REGION_LEVELS.items()}


def _keys(dealers) -> dict:
    def at(kind):
        return lambda row: row.place_id if row.place_kind == kind else None
    return {"day": lambda row: row.day, "product": lambda row: row.product_id, "warehouse": at("warehouse"),
            "dealer": at("dealer"), "store": at("store"),
            "tier": lambda row: dealers[row.place_id].tier if row.place_kind == "dealer" and row.place_id in dealers
            else None,
            **_region_keys()}


def _report(period, dims, groups, dealers=None) -> Report:
    ordered = sorted(groups.items(), key=lambda item: sort_key(item[0]))
    label = Labels(dims, [group for group, _ in ordered], dealers)
    return Report(as_of=service.as_of(), period=period, by=dims,
                  rows=[{**label(group), **values} for group, values in ordered])


class Labels:
    """The dimension values of groups with the names a reader needs, read once for all the groups."""

    def __init__(self, dims, groups, dealers=None):
        self.dims = dims
        values = [dict(zip(dims, group)) for group in groups]

        def wanted(name):
            return {v[name] for v in values if name in v}
        self.warehouses = names_of(Warehouse, wanted("warehouse"), Warehouse.name, Warehouse.region_code)
        self.dealers = dealers if dealers is not None else {}
        self.dealers.update(names_of(Dealer, wanted("dealer") - set(self.dealers), Dealer.name, Dealer.tier))
        self.stores = names_of(Store, wanted("store"), Store.name, Store.region_code)
        self.products = names_of(Product, wanted("product"), Product.sku, Product.name)
        self.regions = {(level, prefix): region_fields(level, prefix) for level in REGIONS
                        for prefix in wanted(level)}

    def __call__(self, group) -> dict:
        labels: dict = {}
        for name, value in zip(self.dims, group):
            if name == "day":
                labels["day"] = value
            elif name == "tier":
                labels["tier"] = value
            elif name == "warehouse":
                found = self.warehouses.get(value)
                labels.update(warehouse_id=value, warehouse_name=found.name if found else None)
            elif name == "dealer":
                found = self.dealers.get(value)
                labels.update(dealer_id=value, dealer_name=found.name if found else None,
                              tier=found.tier if found else None)
            elif name == "store":
                found = self.stores.get(value)
                labels.update(store_id=value, store_name=found.name if found else None,
                              store_region_code=found.region_code if found else None)
            elif name == "product":
                found = self.products.get(value)
                labels.update(product_id=value or None, sku=found.sku if found else None,
                              product_name=found.name if found else None)
            else:
                labels.update(level=name, **self.regions[(name, value)])
        return labels


# --- sell-through (动销) and case opening (开箱) -----------------------------------------------------

SELL_DIMENSIONS = ("day", *REGIONS, "store", "dealer", "product")
SELL_MEASURES = {
    "items_sold": Measure("unit.sold", place_kinds=("store",)),
    # 开箱: an item taken out of its case at a store. Today a store opens a case only by selling an
    # item from it (the sale scan takes it out), so this counts the items sold from cases opened there.
    "items_unpacked": Measure("unit.unpacked", variants=("item",), place_kinds=("store",)),
}


def sell_through(*, period: Period, by: str | None, regions: Iterable[str] | None = None) -> Report:
    """Items sold and taken out of cases at stores over the period, with the stores that sold and the
    active stores of each group (their ratio is the sell-through rate).

    By dealer: the stores the dealer supplies (store_dealers); a store supplied by two dealers counts
    for both, so dealer rows add up to more than the whole."""
    dims = parse_by(by, SELL_DIMENSIONS)
    regions = list(regions) if regions is not None else None
    if not {"store", "dealer"} & set(dims):
        return _sell_through_by_group(period, dims, regions)
    columns = {"place_kind", "place_id", "variant", "region", *(("day",) if "day" in dims else ()),
               *(("product_id",) if "product" in dims else ())}
    rows = service.sums({m.fact for m in SELL_MEASURES.values()}, period, by=sorted(columns), regions=regions,
                        place_kind="store")
    supplied = _dealers_of_stores() if "dealer" in dims else {}
    # By dealer, a row counts once for each dealer supplying its store.
    rows = [SimpleNamespace(**row._mapping, dealer=dealer) for row in rows
            for dealer in (supplied.get(row.place_id, ()) if "dealer" in dims else (None,))]
    keys = {"day": lambda row: row.day, "product": lambda row: row.product_id, "store": lambda row: row.place_id,
            "dealer": lambda row: row.dealer, **_region_keys()}
    groups = fold(rows, by=dims, keys=keys, measures=SELL_MEASURES)
    selling: dict[tuple, set[int]] = defaultdict(set)
    for row in rows:
        if row.fact == "unit.sold" and row.n:
            selling[tuple(keys[name](row) for name in dims)].add(row.place_id)
    active = _active_stores(dims, regions, supplied)
    for group, values in groups.items():
        values["stores_with_sales"] = len(selling.get(group, ()))
        values["active_stores"] = active(group)
        values["sell_through_rate"] = round(values["stores_with_sales"] / values["active_stores"], 4) \
            if values["active_stores"] else None
    return _report(period, dims, groups)


def _sell_through_by_group(period: Period, dims: tuple[str, ...], regions) -> Report:
    """Sell-through by day, region or product: the figures summed in SQL by the groups themselves (the
    coarse or product rows where they serve), and the stores with sales counted there too, rather than
    a row per store and day read into Python."""
    columns = {"day": "day", "product": "product_id", **{level: level for level in REGIONS}}
    by = [columns[name] for name in dims]
    rows = service.sums({m.fact for m in SELL_MEASURES.values()}, period, by=["place_kind", "variant", *by],
                        regions=regions, place_kind="store")
    keys = {name: (lambda column: lambda row: getattr(row, column))(columns[name]) for name in dims}
    groups = fold(rows, by=dims, keys=keys, measures=SELL_MEASURES)
    group_columns = [service.group_column(column) for column in by]
    selling = {tuple(row[:-1]): row[-1] for row in db.session.execute(
        sa.select(*group_columns, sa.func.count(sa.distinct(DailyFact.place_id)))
        .where(DailyFact.fact == "unit.sold", DailyFact.place_kind == "store", DailyFact.n > 0,
               DailyFact.day.between(period.first, period.last), region_condition(DailyFact.region_code, regions))
        .group_by(*group_columns))}
    active = _active_stores(dims, regions, {})
    for group, values in groups.items():
        values["stores_with_sales"] = selling.get(group, 0)
        values["active_stores"] = active(group)
        values["sell_through_rate"] = round(values["stores_with_sales"] / values["active_stores"], 4) \
            if values["active_stores"] else None
    return _report(period, dims, groups)


def _dealers_of_stores() -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    for store_id, dealer_id in db.session.execute(sa.select(store_dealers.c.store_id, store_dealers.c.dealer_id)):
        found[store_id].append(dealer_id)
    return found


def _active_stores(dims, regions, supplied):
    """How many active stores (in the caller's regions) each group has: a store, a region and a dealer
    have their own; a day and a product have them all."""
    stores = db.session.execute(sa.select(Store.id, Store.region_code).where(
        Store.status == Status.ACTIVE, region_condition(Store.region_code, regions))).all()
    counts: Counter = Counter()
    for store_id, region in stores:
        values = {"store": [store_id], "dealer": supplied.get(store_id, []),
                  **{level: [region[:REGION_LEVELS[level]]] for level in REGIONS}}
        own = [name for name in dims if name in values]
        combos = [()]
        for name in own:
            combos = [(*combo, value) for combo in combos for value in values[name]]
        counts.update(combos)

    def active(group) -> int:
        return counts[tuple(value for name, value in zip(dims, group) if name not in ("day", "product"))]
    return active


# --- rankings -------------------------------------------------------------------------------------

@dataclass
class Ranking:
    as_of: datetime
    period: Period
    rows: list[dict]


def _ranked(counts: list[tuple[int, int]], top: int) -> list[tuple[int, int, int]]:
    """(rank, id, count) of the top ids, most first (equal counts share a rank; ties by id)."""
    ranked, previous, rank = [], None, 0
    for position, (id_, count) in enumerate(sorted(counts, key=lambda c: (-c[1], c[0]))[:top], start=1):
        if count != previous:
            rank, previous = position, count
        ranked.append((rank, id_, count))
    return ranked


def store_ranking(*, period: Period, top: int = 10, regions: Iterable[str] | None = None) -> Ranking:
    """The stores that sold the most items over the period, with their region."""
    rows = service.sums(["unit.sold"], period, by=("place_id",), regions=regions, place_kind="store")
    ranked = _ranked([(r.place_id, int(r.n)) for r in rows if r.n], min(top, RANKING_MAX))
    stores = names_of(Store, [id_ for _, id_, _ in ranked], Store.name, Store.region_code)
    regions_named = dict(db.session.execute(sa.select(Region.code, Region.name).where(
        Region.code.in_({s.region_code for s in stores.values()}))).all())
    return Ranking(service.as_of(), period, [
        {"rank": rank, "store_id": id_, "store_name": stores[id_].name if id_ in stores else None,
         "region_code": stores[id_].region_code if id_ in stores else None,
         "region_name": regions_named.get(stores[id_].region_code) if id_ in stores else None, "items_sold": n}
        for rank, id_, n in ranked])


def clerk_ranking(*, period: Period, top: int = 10, regions: Iterable[str] | None = None) -> Ranking:
    """The clerks with the most sale scans over the period (each scan is one item), with the store
    where they scanned most. Reads sale_scans through its (scanned_at, ...) covering index."""
    starts, ends = day_start(period.first), day_start(period.last + timedelta(days=1))
    per_store = db.session.execute(
        sa.select(SaleScan.app_user_id, SaleScan.store_id, sa.func.count().label("n"))
        .where(SaleScan.scanned_at >= starts, SaleScan.scanned_at < ends,
               region_condition(SaleScan.region_code, regions))
        .group_by(SaleScan.app_user_id, SaleScan.store_id)).all()
    totals: Counter = Counter()
    by_clerk: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for user_id, store_id, n in per_store:
        totals[user_id] += n
        by_clerk[user_id].append((store_id, n))
    # A clerk may have scanned at more than one store: show the one with the most scans.
    main_store = {user_id: min(found, key=lambda s: (-s[1], s[0]))[0] for user_id, found in by_clerk.items()}
    ranked = _ranked(list(totals.items()), min(top, RANKING_MAX))
    users = names_of(AppUser, [id_ for _, id_, _ in ranked], AppUser.nickname)
    stores = names_of(Store, [main_store[id_] for _, id_, _ in ranked], Store.name, Store.region_code)
    rows = []
    for rank, id_, n in ranked:
        store = stores.get(main_store[id_])
        rows.append({"rank": rank, "app_user_id": id_, "nickname": users[id_].nickname if id_ in users else None,
                     "store_id": store.id if store else None, "store_name": store.name if store else None,
                     "region_code": store.region_code if store else None, "sale_scans": n})
    return Ranking(service.as_of(), period, rows)


# --- diversion (窜货) -------------------------------------------------------------------------------

DIVERSION_DIMENSIONS = ("day", "dealer", *REGIONS, "product")
DIVERSION_MEASURES = {
    "raised": Measure("alert.diversion"),
    "closed": Measure("alert.diversion_closed"),
}


def diversion(*, period: Period, by: str | None, regions: Iterable[str] | None = None) -> Report:
    """Diversion alerts raised and closed over the period, and open now, by dealer, region (with the
    region's centroid for a map), product and day. Open now is a state, not a daily fact: by day it is None."""
    dims = parse_by(by, DIVERSION_DIMENSIONS)
    regions = list(regions) if regions is not None else None
    columns = {"day": "day", "dealer": "place_id", "product": "product_id"}
    rows = service.sums({m.fact for m in DIVERSION_MEASURES.values()}, period,
                        by=sorted({columns.get(name, "region") for name in dims}), regions=regions)
    keys = {"day": lambda row: row.day, "dealer": lambda row: row.place_id, "product": lambda row: row.product_id,
            **_region_keys()}
    groups = fold(rows, by=dims, keys=keys, measures=DIVERSION_MEASURES)
    open_now = _open_alerts(dims, regions) if "day" not in dims else None
    for group, count in (open_now or {}).items():
        groups[group]["open_now"] = count  # a group with open alerts and none raised or closed in the period
    for values in groups.values():
        values.setdefault("open_now", 0 if open_now is not None else None)
        values.setdefault("raised", 0)
        values.setdefault("closed", 0)
    return _report(period, dims, groups)


def _open_alerts(dims, regions) -> dict[tuple, int]:
    """{group: alerts open now}: diversion_alerts by status (indexed), grouped by the dimensions."""
    expressions = {"dealer": DiversionAlert.dealer_id, "product": sa.func.coalesce(DiversionAlert.product_id, 0),
                   **{level: sa.func.substr(DiversionAlert.region_code, 1, n) for level, n in REGION_LEVELS.items()}}
    groups = [expressions[name] for name in dims]
    query = (sa.select(*groups, sa.func.count()).where(DiversionAlert.status == AlertStatus.OPEN,
                                                       region_condition(DiversionAlert.region_code, regions))
             .group_by(*groups))
    if any(name in REGIONS for name in dims):
        query = query.where(DiversionAlert.region_code.is_not(None), DiversionAlert.region_code != "")
    return {tuple(row[:-1]): row[-1] for row in db.session.execute(query)}
