"""Reading channel stock (positions with their age and days of stock), and checking or rebuilding it from the units.

The positions are kept by the writers that move units (``app.units.store.adjust_stock``); these
reads never count units. Ages and the outflow window are in China days (``store.today``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from app.codes.models import Level
from app.errors import ValidationFailed
from app.extensions import db
from app.masterdata.models import Dealer, Product, Region, Store, Warehouse, dealer_territories
from app.masterdata.rules import region_prefix
from app.production.models import ProductionLot
from app.stock.models import HolderKind, StockOutflow, StockPosition
from app.units import store
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


def filters(*, holder_kind: str | None = None, holder_id: int | None = None, warehouse_id: int | None = None,
            product_id: int | None = None, lot_id: int | None = None, region_code: str | None = None) -> Filters:
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
    return Filters(kind, holder_id, product_id, lot_id, region_code)


def _adcode(code: str) -> str:
    code = code.strip()
    return code.ljust(12, "0") if len(code) in (6, 9) and code.isdigit() else code


def _check_days(days: int) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise StockQueryInvalid(errors={"days": [f"from 1 to {MAX_DAYS}"]})


def _keyed(model, wanted: Filters) -> list:
    conditions = []
    if wanted.holder_kind is not None:
        conditions.append(model.holder_kind == wanted.holder_kind)
    if wanted.holder_id is not None:
        conditions.append(model.holder_id == wanted.holder_id)
    if wanted.product_id is not None:
        conditions.append(model.product_id == wanted.product_id)
    if wanted.lot_id is not None:
        conditions.append(model.lot_id == wanted.lot_id)
    return conditions


def _per_key(wanted: Filters, days: int, today: date, *, held_only: bool):
    """Per holder, product and lot: quantity, oldest day received, age buckets, outflow in the window."""
    held = sa.select(
        StockPosition.holder_kind, StockPosition.holder_id, StockPosition.product_id, StockPosition.lot_id,
        StockPosition.quantity.label("quantity"), StockPosition.received_on.label("received_on"),
        sa.literal(0, sa.BigInteger).label("outflow"),
    ).where(StockPosition.quantity > 0, *_keyed(StockPosition, wanted))
    # The window is the last `days` China days, today included.
    left = sa.select(
        StockOutflow.holder_kind, StockOutflow.holder_id, StockOutflow.product_id, StockOutflow.lot_id,
        sa.literal(0, sa.BigInteger).label("quantity"), sa.null().label("received_on"),
        StockOutflow.quantity.label("outflow"),
    ).where(StockOutflow.day > today - timedelta(days=days), *_keyed(StockOutflow, wanted))
    both = sa.union_all(held, left).subquery("moves")
    buckets, newer = [], None
    for label, oldest in AGE_BUCKETS:
        conditions = [both.c.received_on.is_not(None)]
        if oldest is not None:
            conditions.append(both.c.received_on >= today - timedelta(days=oldest))
        if newer is not None:
            conditions.append(both.c.received_on < today - timedelta(days=newer))
        buckets.append(sa.func.sum(sa.case((sa.and_(*conditions), both.c.quantity), else_=0)).label(label))
        newer = oldest
    keys = (both.c.holder_kind, both.c.holder_id, both.c.product_id, both.c.lot_id)
    query = (sa.select(*keys, sa.func.sum(both.c.quantity).label("quantity"),
                       sa.func.min(both.c.received_on).label("oldest_received_on"), *buckets,
                       sa.func.sum(both.c.outflow).label("outflow"))
             .group_by(*keys))
    if held_only:
        query = query.having(sa.func.sum(both.c.quantity) > 0)
    return query.subquery("per_key")


def _single_region():
    """Each dealer's region when its territory is one region (a dealer has a territory, not a place)."""
    return (sa.select(dealer_territories.c.dealer_id,
                      sa.case((sa.func.count() == 1, sa.func.min(dealer_territories.c.region_code))).label("region_code"))
            .group_by(dealer_territories.c.dealer_id).subquery("dealer_region"))


def _with_holders(rows, wanted: Filters):
    """The per-key rows joined to their holder (name, region), filtered by the holder's region."""
    dealer_region = _single_region()
    is_ = {kind: rows.c.holder_kind == kind for kind in HolderKind}
    query = (sa.select(rows, sa.func.coalesce(Warehouse.name, Dealer.name, Store.name).label("holder_name"),
                       sa.func.coalesce(Warehouse.region_code, Store.region_code, dealer_region.c.region_code)
                       .label("region_code"))
             .outerjoin(Warehouse, sa.and_(is_[HolderKind.WAREHOUSE], Warehouse.id == rows.c.holder_id))
             .outerjoin(Dealer, sa.and_(is_[HolderKind.DEALER], Dealer.id == rows.c.holder_id))
             .outerjoin(dealer_region, sa.and_(is_[HolderKind.DEALER], dealer_region.c.dealer_id == rows.c.holder_id))
             .outerjoin(Store, sa.and_(is_[HolderKind.STORE], Store.id == rows.c.holder_id)))
    if wanted.region_code is not None:
        inside = region_prefix(wanted.region_code) + "%"
        # A dealer is in a region when any region of its territory lies inside it.
        territory = sa.exists().where(dealer_territories.c.dealer_id == rows.c.holder_id,
                                      dealer_territories.c.region_code.like(inside))
        query = query.where(sa.or_(sa.and_(is_[HolderKind.WAREHOUSE], Warehouse.region_code.like(inside)),
                                   sa.and_(is_[HolderKind.STORE], Store.region_code.like(inside)),
                                   sa.and_(is_[HolderKind.DEALER], territory)))
    return query


def _days_of_stock(quantity, outflow, days: int):
    """Quantity over the average daily outflow of the window (NULL without outflow)."""
    return sa.case((outflow > 0, sa.func.round(quantity * days / outflow, 1)), else_=sa.null())


def positions(*, wanted: Filters, days: int = DEFAULT_DAYS, today: date | None = None) -> sa.Select:
    """Stock per holder, product and lot (rows holding something), with age and days of stock, for paging."""
    _check_days(days)
    today = today or store.today()
    rows = _with_holders(_per_key(wanted, days, today, held_only=True), wanted).subquery()
    return (sa.select(rows, Product.sku, Product.name.label("product_name"), ProductionLot.lot_no,
                      _days_of_stock(rows.c.quantity, rows.c.outflow, days).label("days_of_stock"))
            .join(Product, Product.id == rows.c.product_id)
            .join(ProductionLot, ProductionLot.id == rows.c.lot_id)
            .order_by(rows.c.holder_kind, rows.c.holder_id, rows.c.product_id, rows.c.lot_id))


def summary(*, wanted: Filters, group: str, days: int = DEFAULT_DAYS, region_level: str = "province",
            today: date | None = None) -> dict:
    """Stock summed by holder kind, product or region (of the holder), with age and days of stock:
    ``{as_of, days, group, region_level, rows}``."""
    errors = {}
    if group not in GROUPS:
        errors["group"] = [f"one of {', '.join(GROUPS)}"]
    if region_level not in REGION_LEVELS:
        errors["region_level"] = [f"one of {', '.join(REGION_LEVELS)}"]
    if errors:
        raise StockQueryInvalid(errors=errors)
    _check_days(days)
    today = today or store.today()
    rows = _with_holders(_per_key(wanted, days, today, held_only=False), wanted).subquery()
    if group == "holder_kind":
        dimension = [rows.c.holder_kind]
    elif group == "product":
        dimension = [rows.c.product_id]
    else:
        dimension = [sa.func.substr(rows.c.region_code, 1, REGION_LEVELS[region_level]).label("region_prefix")]
    quantity, outflow = sa.func.sum(rows.c.quantity), sa.func.sum(rows.c.outflow)
    holders = sa.func.count(sa.distinct(sa.case(
        (rows.c.quantity > 0,
         sa.cast(rows.c.holder_kind, sa.String(16)).concat(":").concat(sa.cast(rows.c.holder_id, sa.String(20)))))))
    query = (sa.select(*dimension, holders.label("holders"), quantity.label("quantity"),
                       sa.func.min(rows.c.oldest_received_on).label("oldest_received_on"),
                       *(sa.func.sum(rows.c[label]).label(label) for label, _ in AGE_BUCKETS),
                       outflow.label("outflow"), _days_of_stock(quantity, outflow, days).label("days_of_stock"))
             .group_by(*dimension).order_by(*dimension))
    answer = [dict(row._mapping) for row in db.session.execute(query)]
    for row in answer:
        for name in ("quantity", "outflow", *(label for label, _ in AGE_BUCKETS)):
            row[name] = int(row[name] or 0)
        row["days_of_stock"] = float(row["days_of_stock"]) if row["days_of_stock"] is not None else None
    _name_groups(answer, group, region_level)
    return {"as_of": today, "days": days, "group": group, "region_level": region_level, "rows": answer}


def _name_groups(answer: list[dict], group: str, region_level: str) -> None:
    if group == "product":
        names = dict(db.session.execute(sa.select(Product.id, Product.sku).where(
            Product.id.in_([row["product_id"] for row in answer]))).all())
        for row in answer:
            row["key"], row["sku"] = str(row["product_id"]), names.get(row["product_id"])
    elif group == "region":
        for row in answer:
            prefix = row.pop("region_prefix") or None
            row["region_code"] = prefix.ljust(12, "0") if prefix else None
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
    """The units ``store.stock_key`` counts, as SQL."""
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
                              .values(received_on=today or store.today())).rowcount


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
