"""Reading channel stock (positions with their age and days of stock), and checking or rebuilding it from the units.

The positions are kept by the writers that move units (``app.units.stock_moves.adjust_stock``); these
reads never count units. Ages and the outflow window are in China days (``stock_moves.today``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from app.codes.models import Level
from app.errors import ValidationFailed
from app.extensions import db
from app.identity.scope import NATIONAL, DataScope
from app.masterdata.models import Dealer, Product, Region, Store, Warehouse, dealer_territories
from app.masterdata.rules import region_prefix
from app.masterdata.scope_ids import dealer_ids_in, store_ids_in, warehouse_ids_in
from app.production.models import ProductionLot
from app.stock.models import HolderKind, StockOutflow, StockPosition
from app.units import stock_moves
from app.units.models import LocationKind, Unit, UnitStatus

DEFAULT_DAYS, MAX_DAYS = 30, 365
# Age buckets in days since received: (label, oldest age in it); the last one has no end.
AGE_BUCKETS = (("age_0_30", 30), ("age_31_60", 60), ("age_61_90", 90), ("age_over_90", None))
GROUPS = ("holder_kind", "product", "region")
REGION_LEVELS = {"province": 2, "city": 4}


class StockQueryInvalid(ValidationFailed):
    code = "stock_query_invalid"
    message = "The stock query is not valid; see errors for each parameter."


@dataclass(frozen=True, slots=True)
class Filters:
    """Which positions a stock read covers (None: any)."""

    holder_kind: HolderKind | None = None
    holder_id: int | None = None
    product_id: int | None = None
    lot_id: int | None = None
    region_code: str | None = None
    scope: DataScope = NATIONAL  # the reader's data scope: its warehouses, stores and dealers only


def filters(*, holder_kind: str | None = None, holder_id: int | None = None, warehouse_id: int | None = None,
            product_id: int | None = None, lot_id: int | None = None, region_code: str | None = None,
            scope: DataScope = NATIONAL) -> Filters:
    """The filters of a stock read; ``warehouse_id`` (the warehouse-only API's filter) is holder warehouse + id."""
    errors: dict[str, list[str]] = {}
    kind = None
    if holder_kind is not None:
        try:
            kind = HolderKind(holder_kind)
        except ValueError:
            errors["holder_kind"] = [f"one of {', '.join(k.value for k in HolderKind)}"]
    if warehouse_id is not None:
        if kind not in (None, HolderKind.WAREHOUSE) or holder_id not in (None, warehouse_id):
            errors["warehouse_id"] = ["names a warehouse: give it alone, or holder_kind=warehouse&holder_id="]
        kind, holder_id = HolderKind.WAREHOUSE, warehouse_id
    if holder_id is not None and kind is None and "holder_kind" not in errors:
        errors["holder_id"] = ["give holder_kind with holder_id"]
    if region_code is not None and db.session.get(Region, _adcode(region_code)) is None:
        errors["region_code"] = ["unknown region"]
    if errors:
        raise StockQueryInvalid(errors=errors)
    return Filters(kind, holder_id, product_id, lot_id, region_code, scope)


def _adcode(code: str) -> str:
    code = code.strip()
    return code.ljust(12, "0") if len(code) in (6, 9) and code.isdigit() else code


def _check_days(days: int) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise StockQueryInvalid(errors={"days": [f"from 1 to {MAX_DAYS}"]})


def _keyed(model, wanted: Filters) -> list:
    """The conditions of these filters on a stock table (the region as the holders inside it)."""
    conditions = []
    if wanted.holder_kind is not None:
        conditions.append(model.holder_kind == wanted.holder_kind)
    if wanted.holder_id is not None:
        conditions.append(model.holder_id == wanted.holder_id)
    if wanted.product_id is not None:
        conditions.append(model.product_id == wanted.product_id)
    if wanted.lot_id is not None:
        conditions.append(model.lot_id == wanted.lot_id)
    if wanted.region_code is not None:
        inside = _holders_in(wanted.region_code)
        conditions.append(sa.or_(sa.false(), *(sa.and_(model.holder_kind == kind, model.holder_id.in_(sorted(ids)))
                                               for kind, ids in inside.items() if ids)))
    if not wanted.scope.national:
        conditions.append(sa.or_(
            sa.and_(model.holder_kind == HolderKind.WAREHOUSE, model.holder_id.in_(warehouse_ids_in(wanted.scope))),
            sa.and_(model.holder_kind == HolderKind.STORE, model.holder_id.in_(store_ids_in(wanted.scope))),
            sa.and_(model.holder_kind == HolderKind.DEALER, model.holder_id.in_(dealer_ids_in(wanted.scope)))))
    return conditions


def _holders_in(region_code: str) -> dict[HolderKind, set[int]]:
    """The holders in a region: warehouses and stores in it, dealers with any region of their territory in it.

    A few thousand ids at most: filtering the positions by them keeps the stock tables free of joins.
    """
    inside = region_prefix(region_code) + "%"
    return {
        HolderKind.WAREHOUSE: set(db.session.scalars(
            sa.select(Warehouse.id).where(Warehouse.region_code.like(inside)))),
        HolderKind.STORE: set(db.session.scalars(sa.select(Store.id).where(Store.region_code.like(inside)))),
        HolderKind.DEALER: set(db.session.scalars(sa.select(dealer_territories.c.dealer_id).distinct()
                                                  .where(dealer_territories.c.region_code.like(inside)))),
    }


def _figures(today: date) -> list:
    """Quantity, oldest day received and the age buckets of the positions summed in a group."""
    buckets, newer = [], None
    for label, oldest in AGE_BUCKETS:
        conditions = []
        if oldest is not None:
            conditions.append(StockPosition.received_on >= today - timedelta(days=oldest))
        if newer is not None:
            conditions.append(StockPosition.received_on < today - timedelta(days=newer))
        buckets.append(sa.func.sum(sa.case((sa.and_(sa.true(), *conditions), StockPosition.quantity), else_=0))
                       .label(label))
        newer = oldest
    return [sa.func.sum(StockPosition.quantity).label("quantity"),
            sa.func.min(StockPosition.received_on).label("oldest_received_on"), *buckets]


def _outflow(group_by: list, wanted: Filters, days: int, today: date, *extra) -> dict[tuple, int]:
    """Items out in the window (the last ``days`` China days, today included) per group."""
    return {tuple(row[:-1]): int(row[-1]) for row in db.session.execute(
        sa.select(*group_by, sa.func.sum(StockOutflow.quantity))
        .where(StockOutflow.day > today - timedelta(days=days), *_keyed(StockOutflow, wanted), *extra)
        .group_by(*group_by))}


def _days_of_stock(quantity: int, outflow: int, days: int) -> float | None:
    """Quantity over the average daily outflow of the window (None without outflow)."""
    return round(quantity * days / outflow, 1) if outflow else None


_KEY = (StockPosition.holder_kind, StockPosition.holder_id, StockPosition.product_id, StockPosition.lot_id)
_OUT_KEY = (StockOutflow.holder_kind, StockOutflow.holder_id, StockOutflow.product_id, StockOutflow.lot_id)


@dataclass(frozen=True, slots=True)
class Listing:
    """A select to page (positions grouped by holder, product and lot) and what makes its rows answers."""

    select: sa.Select
    finish: Callable[[list], list[dict]]  # a page of rows -> the answers


def positions(*, wanted: Filters, days: int = DEFAULT_DAYS, today: date | None = None) -> Listing:
    """Stock per holder, product and lot (rows holding something), with age and days of stock, for paging.

    The grouping follows the positions' primary key, so a page is read in key order and stops at
    its end; names, regions and the outflow are looked up for that page's rows only.
    """
    _check_days(days)
    today = today or stock_moves.today()
    select = (sa.select(*_KEY, *_figures(today))
              .where(StockPosition.quantity > 0, *_keyed(StockPosition, wanted))
              .group_by(*_KEY).order_by(*_KEY))

    def finish(rows) -> list[dict]:
        return _described([dict(row._mapping) for row in rows], wanted, days, today)
    return Listing(select, finish)


def _described(rows: list[dict], wanted: Filters, days: int, today: date) -> list[dict]:
    if not rows:
        return rows
    keys = [tuple(row[c.key] for c in _KEY) for row in rows]
    out = _outflow(list(_OUT_KEY), wanted, days, today, sa.tuple_(*_OUT_KEY).in_(keys))
    holders = _holders({(row["holder_kind"], row["holder_id"]) for row in rows})
    products = {p.id: p for p in db.session.execute(sa.select(Product.id, Product.sku, Product.name).where(
        Product.id.in_({row["product_id"] for row in rows})))}
    lots = dict(db.session.execute(sa.select(ProductionLot.id, ProductionLot.lot_no).where(
        ProductionLot.id.in_({row["lot_id"] for row in rows}))).all())
    for key, row in zip(keys, rows):
        for name in ("quantity", *(label for label, _ in AGE_BUCKETS)):
            row[name] = int(row[name] or 0)
        name, region = holders.get(key[:2], (None, None))
        is_warehouse = row["holder_kind"] is HolderKind.WAREHOUSE
        product = products.get(row["product_id"])
        row.update(holder_name=name, region_code=region, warehouse_id=row["holder_id"] if is_warehouse else None,
                   warehouse_name=name if is_warehouse else None, sku=product.sku if product else None,
                   product_name=product.name if product else None, lot_no=lots.get(row["lot_id"]),
                   outflow=out.get(key, 0), days_of_stock=_days_of_stock(row["quantity"], out.get(key, 0), days))
    return rows


def _holders(wanted: set[tuple[HolderKind, int]]) -> dict[tuple[HolderKind, int], tuple[str, str | None]]:
    """(name, region) of each holder: a warehouse's or store's region, a dealer's when its territory is one region."""
    ids = {kind: sorted(i for k, i in wanted if k is kind) for kind in HolderKind}
    found = {}
    for kind, model in ((HolderKind.WAREHOUSE, Warehouse), (HolderKind.STORE, Store)):
        for start in range(0, len(ids[kind]), 1000):
            for id_, name, region in db.session.execute(sa.select(model.id, model.name, model.region_code).where(
                    model.id.in_(ids[kind][start:start + 1000]))):
                found[(kind, id_)] = (name, region)
    for start in range(0, len(ids[HolderKind.DEALER]), 1000):
        chunk = ids[HolderKind.DEALER][start:start + 1000]
        territory: dict[int, list[str]] = {}
        for dealer_id, code in db.session.execute(
                sa.select(dealer_territories.c.dealer_id, dealer_territories.c.region_code)
                .where(dealer_territories.c.dealer_id.in_(chunk))):
            territory.setdefault(dealer_id, []).append(code)
        for id_, name in db.session.execute(sa.select(Dealer.id, Dealer.name).where(Dealer.id.in_(chunk))):
            codes = territory.get(id_, [])
            found[(HolderKind.DEALER, id_)] = (name, codes[0] if len(codes) == 1 else None)
    return found


def summary(*, wanted: Filters, group: str, days: int = DEFAULT_DAYS, region_level: str = "province",
            today: date | None = None) -> dict:
    """Stock summed by holder kind, product or region (of the holder), with age and days of stock:
    ``{as_of, days, group, region_level, rows}``. A holder with outflow but no stock counts in the outflow."""
    errors = {}
    if group not in GROUPS:
        errors["group"] = [f"one of {', '.join(GROUPS)}"]
    if region_level not in REGION_LEVELS:
        errors["region_level"] = [f"one of {', '.join(REGION_LEVELS)}"]
    if errors:
        raise StockQueryInvalid(errors=errors)
    _check_days(days)
    today = today or stock_moves.today()
    # SQL sums at the answer's level: per holder (and product, when grouping by it) inside, then by the
    # group around it, counting the holders; a region's groups are folded here from the holders' rows.
    # Never a row per holder, product and lot back to Python.
    if group == "region":
        held_by, out_by, column = ["holder_kind", "holder_id"], ["holder_kind", "holder_id"], "region_code"
    else:
        column = {"holder_kind": "holder_kind", "product": "product_id"}[group]
        held_by, out_by = [column], [column]
    # The inner grouping in the positions' key order (holder kind, holder, product): MariaDB then reads the
    # table once in order. Grouped by product first, it walks the product index and looks up every row
    # (about 2x slower on 83,600 positions).
    inner = [getattr(StockPosition, name) for name in dict.fromkeys(("holder_kind", "holder_id", *held_by))]
    per_holder = (sa.select(*inner, *_figures(today))
                  .where(StockPosition.quantity > 0, *_keyed(StockPosition, wanted)).group_by(*inner).subquery())
    sums = [sa.func.sum(per_holder.c[label]).label(label) for label in ("quantity", *(b for b, _ in AGE_BUCKETS))]
    held = {tuple(row[:len(held_by)]): row._mapping for row in db.session.execute(
        sa.select(*(per_holder.c[name] for name in held_by), *sums,
                  sa.func.min(per_holder.c.oldest_received_on).label("oldest_received_on"),
                  sa.func.count().label("holders"))
        .group_by(*(per_holder.c[name] for name in held_by)))}
    out_by = [getattr(StockOutflow, name) for name in out_by]
    out = _outflow(out_by, wanted, days, today)
    if group == "region":
        regions = _holders(held.keys() | out.keys())
        digits = REGION_LEVELS[region_level]

        def group_of(key):
            region = (regions.get(key) or (None, None))[1]
            return region[:digits].ljust(12, "0") if region else None
    else:
        def group_of(key):
            return key[0]
    rows: dict = {}
    for key in held.keys() | out.keys():
        name = group_of(key)
        row = rows.setdefault(name, {**_empty(), column: name, "outflow": 0})
        figures = held.get(key)
        if figures is not None:
            for field in ("holders", "quantity", *(label for label, _ in AGE_BUCKETS)):
                row[field] += int(figures[field] or 0)
            oldest = figures["oldest_received_on"]
            if oldest is not None and (row["oldest_received_on"] is None or oldest < row["oldest_received_on"]):
                row["oldest_received_on"] = oldest
        row["outflow"] += out.get(key, 0)
    answer = [rows[name] for name in sorted(rows, key=lambda name: (name is None, name or ""))]
    for row in answer:
        row["days_of_stock"] = _days_of_stock(row["quantity"], row["outflow"], days)
    _name_groups(answer, group)
    return {"as_of": today, "days": days, "group": group, "region_level": region_level, "rows": answer}


def _empty() -> dict:
    return {"holders": 0, "quantity": 0, "oldest_received_on": None, **{label: 0 for label, _ in AGE_BUCKETS}}


def _name_groups(answer: list[dict], group: str) -> None:
    if group == "product":
        names = dict(db.session.execute(sa.select(Product.id, Product.sku).where(
            Product.id.in_([row["product_id"] for row in answer]))).all())
        for row in answer:
            row["key"], row["sku"] = str(row["product_id"]), names.get(row["product_id"])
    elif group == "region":
        codes = [row["region_code"] for row in answer if row["region_code"]]
        names = dict(db.session.execute(sa.select(Region.code, Region.name).where(Region.code.in_(codes))).all())
        for row in answer:
            row["key"], row["region_name"] = row["region_code"] or "", names.get(row["region_code"])
    else:
        for row in answer:
            row["holder_kind"] = getattr(row["holder_kind"], "value", row["holder_kind"])
            row["key"] = row["holder_kind"]


# --- check and rebuild from the units ------------------------------------------------------------

_HOLDING = (LocationKind.WAREHOUSE, LocationKind.DEALER, LocationKind.STORE)


def _in_stock():
    """The units ``stock_moves.stock_key`` counts, as SQL."""
    return (Unit.level == Level.ITEM, Unit.status == UnitStatus.ACTIVE, Unit.in_transit.is_(False),
            Unit.location_kind.in_(_HOLDING), Unit.lot_id.is_not(None))


def counted_from_units() -> dict[tuple, int]:
    """What the units say: (holder kind, holder id, product, lot, day received) -> items."""
    counted = {}
    for kind, holder_id, product_id, lot_id, received_on, n in db.session.execute(
            sa.select(Unit.location_kind, Unit.location_id, Unit.product_id, Unit.lot_id, Unit.received_on,
                      sa.func.count())
            .where(*_in_stock())
            .group_by(Unit.location_kind, Unit.location_id, Unit.product_id, Unit.lot_id, Unit.received_on)):
        counted[(HolderKind(kind.value), holder_id, product_id, lot_id, received_on)] = n
    return counted


def kept() -> dict[tuple, int]:
    """What the positions say (rows holding something)."""
    return {(HolderKind(k), h, p, l, d): q for k, h, p, l, d, q in db.session.execute(
        sa.select(StockPosition.holder_kind, StockPosition.holder_id, StockPosition.product_id,
                  StockPosition.lot_id, StockPosition.received_on, StockPosition.quantity)
        .where(StockPosition.quantity != 0))}


@dataclass(frozen=True, slots=True)
class Mismatch:
    holder_kind: HolderKind
    holder_id: int
    product_id: int
    lot_id: int
    received_on: date | None
    stock: int  # what the position says
    units: int  # what the units say


def check() -> list[Mismatch]:
    """Every position that differs from the count of its units (a missing position counts as 0)."""
    counted, held = counted_from_units(), kept()
    return [Mismatch(*key, stock=held.get(key, 0), units=counted.get(key, 0))
            for key in sorted(counted.keys() | held.keys(), key=_sortable) if held.get(key, 0) != counted.get(key, 0)]


def _sortable(key: tuple) -> tuple:
    return tuple((v is None, v) for v in key)


def date_undated(*, today: date | None = None) -> int:
    """Date today the items in stock without a day received (moved before the days were kept); how many."""
    return db.session.execute(sa.update(Unit).where(*_in_stock(), Unit.received_on.is_(None))
                              .values(received_on=today or stock_moves.today())).rowcount


def lock_for_rebuild() -> None:
    """Lock every position and the gaps between them: a mover's change of them waits for the rebuild.

    A mover changes the units, then the positions: one that moved units before this lock adds its
    change after the rebuild (which did not see those uncommitted units); none slips in between.
    """
    db.session.execute(sa.select(sa.func.count()).select_from(StockPosition).with_for_update())


def rebuild() -> int:
    """Make the positions the count of the units again (the caller's transaction, after
    ``lock_for_rebuild``); the rows written. The outflow is history and stays as it is."""
    db.session.execute(sa.delete(StockPosition))
    rows = [{"holder_kind": kind, "holder_id": holder_id, "product_id": product_id, "lot_id": lot_id,
             "received_on": received_on, "quantity": n}
            for (kind, holder_id, product_id, lot_id, received_on), n in sorted(counted_from_units().items())]
    for start in range(0, len(rows), 5000):
        db.session.execute(sa.insert(StockPosition), rows[start:start + 5000])
    return len(rows)
