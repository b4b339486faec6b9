"""Machine sync of production (line controllers, the ERP): lots and raw-material lots upserted in bulk by
external id, and the raw-material lots a production lot consumed, with products, factories, lines,
materials and suppliers named by their external ids or codes."""
from __future__ import annotations

import sqlalchemy as sa

from app.bulk import ItemResult, saver, upsert_batch
from app.extensions import db
from app.identity.service import Actor
from app.masterdata import rules as masterdata_rules
from app.masterdata.models import Factory, Product, ProductionLine
from app.production import errors
from app.production.models import Material, ProductionLot, RawMaterialLot, Supplier
from app.production.service import (
    add_consumption, create_production_lot, create_raw_material_lot, save_raw_lot, save_synced_lot,
)


def _by_external_id(model, external_id, field: str, error):
    obj = db.session.scalar(sa.select(model).where(model.external_id == external_id)) if external_id else None
    if obj is None:
        raise error(f"No record has the external id {external_id!r}.", errors={field: [external_id]})
    return obj


def _translate_lot(record: dict) -> dict:
    record = dict(record)
    if "product_external_id" in record:
        record["product_id"] = _by_external_id(Product, record.pop("product_external_id"),
                                               "product_external_id", errors.ProductUnknown).id
    if "factory_external_id" in record:
        record["factory_id"] = _by_external_id(Factory, record.pop("factory_external_id"),
                                               "factory_external_id", errors.FactoryUnknown).id
    if "line_external_id" in record:
        ext = record.pop("line_external_id")
        record["line_id"] = _by_external_id(ProductionLine, ext, "line_external_id", errors.LineUnknown).id \
            if ext else None
    return record


def _save_lot_from_sync(actor: Actor, lot: ProductionLot, record: dict) -> bool:
    return save_synced_lot(actor, lot, _translate_lot(record))


def bulk_upsert_production_lots(*, actor: Actor, records: list[dict]) -> list[ItemResult]:
    """Production lots by external id; product, factory and line by their external ids."""
    return upsert_batch(records=records, model=ProductionLot, save=saver(
        actor, lambda *, actor, data: create_production_lot(actor=actor, data=_translate_lot(data)),
        _save_lot_from_sync))


def _translate_raw_lot(record: dict) -> dict:
    record = dict(record)
    if "material_code" in record:
        code = record.pop("material_code")
        material = db.session.scalar(sa.select(Material).where(Material.code == code))
        if material is None:
            raise errors.MaterialUnknown(f"No material has the code {code!r}.", errors={"material_code": [code]})
        record["material_id"] = material.id
    if "supplier_external_id" in record:
        record["supplier_id"] = _by_external_id(Supplier, record.pop("supplier_external_id"),
                                                "supplier_external_id", errors.SupplierUnknown).id
    return record


def bulk_upsert_raw_material_lots(*, actor: Actor, records: list[dict]) -> list[ItemResult]:
    """Raw-material lots by external id; material by code, supplier by external id."""
    return upsert_batch(records=records, model=RawMaterialLot, save=saver(
        actor, lambda *, actor, data: create_raw_material_lot(actor=actor, data=_translate_raw_lot(data)),
        lambda a, raw, r: save_raw_lot(a, raw, _translate_raw_lot(r))))


def record_consumptions(*, actor: Actor, lot_external_id: str, items: list[dict]) -> list[ItemResult]:
    """A line reports the raw-material lots (by external id) a production lot used; all or nothing."""
    lot = db.session.scalar(sa.select(ProductionLot).where(ProductionLot.external_id == lot_external_id))
    if lot is None:
        raise masterdata_rules.not_found("production_lot")

    def save(raw, item):
        if raw is None:
            raise errors.RawMaterialLotUnknown(f"No raw-material lot has the external id {item['external_id']!r}.",
                                              errors={"external_id": [item["external_id"]]})
        return add_consumption(actor=actor, lot_id=lot.id, raw_lot_id=raw.id, quantity=item.get("quantity"))

    # Items are keyed by the raw-material lot's external id, so the batch rules (no duplicates,
    # all or nothing, a retry answers "unchanged") are the bulk upsert's.
    return upsert_batch(records=items, model=RawMaterialLot, save=save)
