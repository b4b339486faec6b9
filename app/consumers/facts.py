"""The reference data every consumer scan reads, from short per-process caches.

Code batches, products, production lots, stores and dealer territories change rarely (a batch is
voided, a product renamed, a territory redrawn) and every scan needs them, so each process keeps what it read for
SCAN_CACHE_SECONDS (default 5): a change shows in scans within that time. A serial no cached batch
holds is looked up in the database (a batch issued a moment ago is found at once). Units are not
cached here: their state and counters are in Redis, kept in step by their writers (app.units.scan_facts).
"""
from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app

from app.codes.models import BatchStatus, CodeBatch
from app.extensions import db
from app.masterdata.models import Factory, Product, Store, dealer_territories
from app.production.models import ProductionLot


@dataclass(frozen=True)
class BatchFacts:
    id: int
    serial_start: int
    count: int
    key_version: int
    voided: bool
    hidden_code_digits: int | None
    product_id: int | None

    def holds(self, serial: int) -> bool:
        return self.serial_start <= serial < self.serial_start + self.count


@dataclass(frozen=True)
class LotFacts:
    lot_no: str
    production_date: date
    expiry_date: date | None
    factory_region: str | None


@dataclass(frozen=True)
class ProductFacts:
    id: int
    name: str
    specification: str
    image_url: str | None
    gtin: str | None


class _Caches:
    def __init__(self, config):
        self.config = config  # the app's (read on every look-up: a test may change SCAN_CACHE_SECONDS)
        self.lock = threading.Lock()
        self.starts: list[int] = []  # serial_start of the batches below, sorted
        self.batches: dict[int, tuple[float, BatchFacts]] = {}  # serial_start -> (read at, batch)
        self.products: dict[int, tuple[float, ProductFacts | None]] = {}
        self.territories: dict[int, tuple[float, frozenset[str]]] = {}
        self.lots: dict[int, tuple[float, LotFacts | None]] = {}
        self.stores: dict[int, tuple[float, tuple[str, str | None] | None]] = {}


def _caches() -> _Caches:
    extensions = current_app.extensions
    caches = extensions.get("consumer_scan_facts")
    if caches is None:
        caches = extensions.setdefault("consumer_scan_facts", _Caches(current_app.config))
    return caches


def _fresh(caches: _Caches, read_at: float) -> bool:
    return time.monotonic() - read_at < caches.config["SCAN_CACHE_SECONDS"]


_BATCH_COLUMNS = (CodeBatch.id, CodeBatch.serial_start, CodeBatch.count, CodeBatch.key_version, CodeBatch.status,
                  CodeBatch.hidden_code_digits, CodeBatch.product_id)


def batch_holding(serial: int) -> BatchFacts | None:
    """The batch whose serial range holds this serial (None: no batch does)."""
    caches = _caches()
    i = bisect.bisect_right(caches.starts, serial) - 1
    if i >= 0:
        cached = caches.batches.get(caches.starts[i])
        if cached is not None and cached[1].holds(serial) and _fresh(caches, cached[0]):
            return cached[1]
    row = db.session.execute(sa.select(*_BATCH_COLUMNS).where(CodeBatch.serial_start <= serial)
                             .order_by(CodeBatch.serial_start.desc()).limit(1)).first()
    if row is None:
        return None
    batch = BatchFacts(row.id, row.serial_start, row.count, row.key_version, row.status is BatchStatus.VOIDED,
                       row.hidden_code_digits, row.product_id)
    with caches.lock:
        if batch.serial_start not in caches.batches:
            bisect.insort(caches.starts, batch.serial_start)
        caches.batches[batch.serial_start] = (time.monotonic(), batch)
    return batch if batch.holds(serial) else None


def product(product_id: int | None) -> ProductFacts | None:
    if product_id is None:
        return None
    def load():
        row = db.session.execute(sa.select(Product.id, Product.name, Product.specification, Product.image_url,
                                           Product.gtin).where(Product.id == product_id)).first()
        return ProductFacts(*row) if row is not None else None
    return _cached("products", product_id, load)


def _cached(kind: str, key: int, load):
    caches = _caches()
    entries = getattr(caches, kind)
    cached = entries.get(key)
    if cached is not None and _fresh(caches, cached[0]):
        return cached[1]
    value = load()
    entries[key] = (time.monotonic(), value)
    return value


def lot(lot_id: int | None) -> LotFacts | None:
    """A production lot as a scan's story tells it: number, dates, its factory's region."""
    if lot_id is None:
        return None

    def load():
        row = db.session.execute(
            sa.select(ProductionLot.lot_no, ProductionLot.production_date, ProductionLot.expiry_date,
                      Factory.region_code).outerjoin(Factory, Factory.id == ProductionLot.factory_id)
            .where(ProductionLot.id == lot_id)).first()
        return LotFacts(*row) if row is not None else None
    return _cached("lots", lot_id, load)


def store(store_id: int | None) -> tuple[str, str | None] | None:
    """A store's (name, region code)."""
    if store_id is None:
        return None

    def load():
        row = db.session.execute(sa.select(Store.name, Store.region_code).where(Store.id == store_id)).first()
        return tuple(row) if row is not None else None
    return _cached("stores", store_id, load)


def territory(dealer_id: int | None) -> frozenset[str]:
    """The region codes of a dealer's territory (none for no dealer, or one that does not exist)."""
    if dealer_id is None:
        return frozenset()
    return _cached("territories", dealer_id, lambda: frozenset(db.session.scalars(
        sa.select(dealer_territories.c.region_code).where(dealer_territories.c.dealer_id == dealer_id))))


def forget() -> None:
    """Drop this process's cached facts (tests that change a batch, product or territory mid-test)."""
    current_app.extensions.pop("consumer_scan_facts", None)
