"""Names of the parties and products other rows refer to by id, read for a whole page at once.

A party is a place that holds or moves goods — a line, a warehouse, a dealer, a store — named by its
kind (``PartyKind``, ``LocationKind`` or their values: the same words) and id. Callers gather every
reference of a page and ask once: one query per kind of party and one for the products, never one
per row.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.masterdata.models import Dealer, Product, ProductionLine, Store, Warehouse

PARTY_MODELS = {"line": ProductionLine, "warehouse": Warehouse, "dealer": Dealer, "store": Store}
CHUNK = 1000


def kind_value(kind) -> str:
    """A party kind as its word ("dealer"), whichever enum (or string) it came as."""
    return getattr(kind, "value", kind)


def _by_ids(columns, id_column, ids) -> list:
    ids = sorted(ids)
    return [row for start in range(0, len(ids), CHUNK)
            for row in db.session.execute(sa.select(*columns).where(id_column.in_(ids[start:start + CHUNK])))]


def party_names(parties: Iterable[tuple]) -> dict[tuple[str, int], str]:
    """{(kind word, id): name} of these (kind, id) parties; kinds without a name (a consumer) and ids
    that no longer exist are left out."""
    wanted: dict[str, set[int]] = {}
    for kind, party_id in parties:
        kind = kind_value(kind)
        if kind in PARTY_MODELS and party_id is not None:
            wanted.setdefault(kind, set()).add(party_id)
    names = {}
    for kind, ids in wanted.items():
        model = PARTY_MODELS[kind]
        names.update(((kind, party_id), name) for party_id, name in _by_ids((model.id, model.name), model.id, ids))
    return names


@dataclass(frozen=True, slots=True)
class ProductName:
    sku: str
    name: str


def product_names(product_ids: Iterable[int | None]) -> dict[int, ProductName]:
    """{id: (sku, name)} of these products."""
    ids = {i for i in product_ids if i is not None}
    if not ids:
        return {}
    return {i: ProductName(sku, name) for i, sku, name in _by_ids((Product.id, Product.sku, Product.name),
                                                                  Product.id, ids)}
