"""Names of the parties and products other rows refer to by id, read for a whole page at once.

A party is a place that holds or moves goods — a line, a warehouse, a dealer, a store — named by its
kind (``PartyKind``, ``LocationKind`` or their values: the same words) and id. Callers gather every
reference of a page and ask once: one query per kind of party and one for the products, never one
per row. The lookups are app.masterdata.refs's (the ERP's shape); these keep the names only.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.masterdata import refs

kind_value = refs.kind_value


def party_names(parties: Iterable[tuple]) -> dict[tuple[str, int], str]:
    """{(kind word, id): name} of these (kind, id) parties; kinds without a name (a consumer) and ids
    that no longer exist are left out."""
    return {key: ref["name"] for key, ref in refs.parties(parties).items() if ref["name"] is not None}


@dataclass(frozen=True, slots=True)
class ProductName:
    sku: str
    name: str


def product_names(product_ids: Iterable[int | None]) -> dict[int, ProductName]:
    """{id: (sku, name)} of these products (the ids that no longer exist left out)."""
    return {i: ProductName(ref["sku"], ref["name"]) for i, ref in refs.products(product_ids).items()
            if ref["sku"] is not None}
