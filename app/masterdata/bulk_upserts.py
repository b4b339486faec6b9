"""The ERP's bulk upsert of master data.

Bulk upserts (ERP) match records by ``external_id`` and are all or nothing: every item is
checked in order (each seeing the ones before it), and if any is refused ``BatchRejected`` is
raised with the reason of each refused item, so the caller's transaction writes nothing.
The same payload sent twice changes nothing and writes no audit record the second time.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.bulk import ItemResult, saver as _saver, upsert_batch as _upsert_batch
from app.errors import ValidationFailed
from app.extensions import db
from app.identity.service import Actor
from app.masterdata import errors
from app.masterdata.dealers import _save_dealer, create_dealer
from app.masterdata.models import Dealer, Factory, Product, Store, Warehouse
from app.masterdata.places import _place_values, _warehouse_values, create_factory, create_warehouse
from app.masterdata.products import _product_values, create_product
from app.masterdata.records import _update
from app.masterdata.stores import _save_store, create_store


def bulk_upsert_products(*, actor: Actor, records: list[dict]) -> list[ItemResult]:
    return _upsert_batch(records=records, model=Product, save=_saver(
        actor, create_product, lambda a, p, r: _update(a, p, _product_values(r, p))))


def bulk_upsert_factories(*, actor: Actor, records: list[dict]) -> list[ItemResult]:
    return _upsert_batch(records=records, model=Factory, save=_saver(
        actor, create_factory, lambda a, f, r: _update(a, f, _place_values(Factory, r, f))))


def _by_external_id(model, external_id, field: str, error: type[ValidationFailed]):
    obj = db.session.scalar(sa.select(model).where(model.external_id == external_id))
    if obj is None:
        raise error(f"No record has the external id {external_id!r}.", errors={field: [external_id]})
    return obj


def bulk_upsert_warehouses(*, actor: Actor, records: list[dict]) -> list[ItemResult]:
    """Warehouses; the factory is named by factory_external_id."""
    def translate(record):
        record = dict(record)
        if "factory_external_id" in record:
            ext = record.pop("factory_external_id")
            record["factory_id"] = _by_external_id(Factory, ext, "factory_external_id",
                                                   errors.FactoryUnknown).id if ext else None
        return record

    return _upsert_batch(records=records, model=Warehouse, save=_saver(
        actor, lambda *, actor, data: create_warehouse(actor=actor, data=translate(data)),
        lambda a, w, r: _update(a, w, _warehouse_values(translate(r), w))))


def _parents_first(records: list[dict]) -> tuple[list[int], dict[int, ValidationFailed]]:
    """An order in which every in-batch parent comes before its children, and the items in loops."""
    index_of = {r["external_id"]: i for i, r in enumerate(records)}
    order, done, refused = [], set(), {}
    for start in range(len(records)):
        path, on_path, node = [], set(), start
        while node is not None and node not in done and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = index_of.get(records[node].get("parent_external_id"))
        if node is not None and node in on_path:  # the walk came back to itself: a loop
            for member in path:
                refused[member] = errors.DealerParentCycle(
                    "The batch makes dealers each other's ancestors.",
                    errors={"parent_external_id": ["would create a cycle"]})
        order.extend(reversed(path))
        done.update(path)
    return order, refused


def bulk_upsert_dealers(*, actor: Actor, records: list[dict]) -> list[ItemResult]:
    """Dealers; parent by parent_external_id (in the database or earlier in any order in the batch)."""
    def translate(record):
        record = dict(record)
        if "parent_external_id" in record:
            ext = record.pop("parent_external_id")
            record["parent_id"] = _by_external_id(Dealer, ext, "parent_external_id",
                                                  errors.DealerParentUnknown).id if ext else None
        return record

    order, refused = _parents_first(records)
    return _upsert_batch(records=records, model=Dealer, order=order, refused=refused, save=_saver(
        actor, lambda *, actor, data: create_dealer(actor=actor, data=translate(data)),
        lambda a, d, r: _save_dealer(a, d, translate(r))))


def bulk_upsert_stores(*, actor: Actor, records: list[dict]) -> list[ItemResult]:
    """Stores; dealers by dealer_external_ids."""
    def translate(record):
        record = dict(record)
        if "dealer_external_ids" in record:
            wanted = sorted(set(record.pop("dealer_external_ids") or []))
            found = db.session.execute(sa.select(Dealer.external_id, Dealer.id)
                                       .where(Dealer.external_id.in_(wanted))).all() if wanted else []
            unknown = sorted(set(wanted) - {ext for ext, _ in found})
            if unknown:
                raise errors.DealerUnknown(f"Unknown dealer external id(s): {', '.join(unknown)}.",
                                          errors={"dealer_external_ids": unknown})
            record["dealer_ids"] = [dealer_id for _, dealer_id in found]
        return record

    return _upsert_batch(records=records, model=Store, save=_saver(
        actor, lambda *, actor, data: create_store(actor=actor, data=translate(data)),
        lambda a, s, r: _save_store(a, s, translate(r))))
