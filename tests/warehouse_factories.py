"""Warehouse scans for tests: a world of a line, two warehouses and a dealer; scan records, applying them, stock."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.db import transaction
from app.extensions import db
from app.masterdata import places
from app.stock.models import HolderKind, StockPosition
from app.warehouse import service
from tests import unit_factories as uf
from tests.masterdata_factories import ACTOR, make_dealer, make_factory, make_product
from tests.production_factories import make_line, make_production_lot

_record_ids = itertools.count(1)
LATER = uf.SCANNED + timedelta(hours=1)


@dataclass
class World:
    """What make_world made, by id."""
    line_id: int
    a: int  # warehouse A
    b: int  # warehouse B
    dealer: int
    lot: object
    other_lot: object


def make_world() -> World:
    """A factory with a line, two warehouses, a dealer, two lots of one product."""
    factory = make_factory()
    line = make_line(factory.id)
    with transaction():
        a = places.create_warehouse(actor=ACTOR, data={"name": "A", "factory_id": factory.id})
        b = places.create_warehouse(actor=ACTOR, data={"name": "B", "factory_id": factory.id})
    product = make_product(units_per_case=24, cases_per_pallet=50)
    lot = make_production_lot(product_id=product.id, factory_id=factory.id, line_id=line.id)
    other = make_production_lot(product_id=product.id, factory_id=factory.id, line_id=line.id)
    return World(line.id, a.id, b.id, make_dealer().id, lot, other)


def record(code: str, action: str, warehouse_id: int, *, at: datetime = LATER, **fields) -> dict:
    """One scan record with a fresh record id."""
    return {"record_id": f"r-{next(_record_ids)}", "scanned_at": at, "action": action, "code": code,
            "warehouse_id": warehouse_id, **fields}


def inbound(code, warehouse_id, source="line", **fields) -> dict:
    """An inbound scan record (from the line unless told)."""
    return record(code, "inbound", warehouse_id, source=source, **fields)


def outbound(code, warehouse_id, **fields) -> dict:
    """An outbound scan record."""
    return record(code, "outbound", warehouse_id, **fields)


def apply(*records: dict) -> list[service.Result]:
    """Apply the scan records in one transaction; their results."""
    with transaction():
        return service.apply_scans(actor=ACTOR, records=list(records))


def apply_one(rec: dict) -> service.Result:
    return apply(rec)[0]


def stock_of(warehouse_id: int, lot) -> int:
    """The warehouse's stock of the lot, in items."""
    return db.session.scalar(sa.select(sa.func.sum(StockPosition.quantity)).where(
        StockPosition.holder_kind == HolderKind.WAREHOUSE, StockPosition.holder_id == warehouse_id,
        StockPosition.lot_id == lot.id)) or 0
