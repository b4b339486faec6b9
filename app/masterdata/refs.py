"""How outbound events and integration answers name a party or a product.

One shape for a party wherever the ERP meets one: ``{kind, id, name, external_id}`` (kind: factory,
line, warehouse, dealer or store; ``external_id`` is the ERP's own id as synced through master data,
null for a record the ERP never sent), and one for a product: ``{id, sku, name, external_id, gtin}``.
Names are read in one query per kind, so a payload naming many parties costs a few queries, not one
per party.
"""
from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from app.extensions import db
from app.masterdata.models import Dealer, Factory, Product, ProductionLine, Store, Warehouse

PARTY_MODELS = {"factory": Factory, "line": ProductionLine, "warehouse": Warehouse, "dealer": Dealer,
                "store": Store}


CHUNK = 1000  # ids in one IN list


def kind_value(kind) -> str:
    """A party kind as its word ("dealer"), whichever enum (or string) it came as."""
    return getattr(kind, "value", kind)


def _rows(columns, id_column, ids) -> list:
    ids = sorted(ids)
    return [row for start in range(0, len(ids), CHUNK)
            for row in db.session.execute(sa.select(*columns).where(id_column.in_(ids[start:start + CHUNK])))]


def parties(pairs: Iterable[tuple]) -> dict[tuple[str, int], dict]:
    """(kind, id) -> the party's reference, for every pair of a known kind (an unknown id keeps a null name)."""
    wanted: dict[str, set[int]] = {}
    for kind, party_id in pairs:
        if kind_value(kind) in PARTY_MODELS and party_id is not None:
            wanted.setdefault(kind_value(kind), set()).add(int(party_id))
    found = {}
    for kind, ids in wanted.items():
        model = PARTY_MODELS[kind]
        for row in _rows((model.id, model.name, model.external_id), model.id, ids):
            found[kind, row.id] = of_party(kind, row)
        for party_id in ids - {i for k, i in found if k == kind}:
            found[kind, party_id] = {"kind": kind, "id": party_id, "name": None, "external_id": None}
    return found


def party(kind, party_id: int | None) -> dict | None:
    """One party's reference (None for no party)."""
    if party_id is None:
        return None
    kind = kind_value(kind)
    return parties([(kind, party_id)]).get((kind, party_id), {"kind": kind, "id": party_id, "name": None,
                                                              "external_id": None})


def products(ids: Iterable[int | None]) -> dict[int, dict]:
    """product id -> its reference, for every id given (an unknown id keeps null names)."""
    ids = {int(i) for i in ids if i is not None}
    columns = (Product.id, Product.sku, Product.name, Product.external_id, Product.gtin)
    found = {row.id: of_product(row) for row in _rows(columns, Product.id, ids)}
    for product_id in ids - set(found):
        found[product_id] = {"id": product_id, "sku": None, "name": None, "external_id": None, "gtin": None}
    return found


def of_party(kind, row) -> dict:
    """The reference of a party row already loaded (a Dealer, Store, Warehouse...)."""
    return {"kind": kind_value(kind), "id": row.id, "name": row.name, "external_id": row.external_id}


def of_product(row: Product) -> dict:
    """The reference of a product row already loaded."""
    return {"id": row.id, "sku": row.sku, "name": row.name, "external_id": row.external_id, "gtin": row.gtin}


def product(product_id: int | None) -> dict | None:
    """One product's reference (None for no product)."""
    return None if product_id is None else products([product_id])[int(product_id)]
