"""Production use cases: production lots, materials, suppliers, raw-material lots, consumption, trace.

Every change writes an audit record with the changed fields, in the caller's transaction; checks
come before any attribute is set, so a refused change leaves the session untouched.

A production lot's expiry date defaults to production date + the product's shelf life (when the
product has one) and must be after the production date; its line, when given, belongs to its
factory. A closed lot refuses changes and new consumptions until reopened.

A raw-material lot may be consumed once inspection passed it, or passed it with a concession
(``conditional``); ``failed`` and ``pending`` lots are refused, as a plant's quality gate does.
Quantities are decimals (3 places) in the material's unit. A later failed inspection does not
erase recorded consumptions: they are exactly what the recall query needs.
"""
from __future__ import annotations

from datetime import date, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.db import certify_lock, utcnow
from app.extensions import db
from app.identity.service import Actor, apply_changes, audit
from app.masterdata import rules as masterdata_rules
from app.masterdata.models import Factory, Product, ProductionLine, Status
from app.identity.scope import NATIONAL, DataScope
from app.masterdata.records import common_values, flush_or_conflict
from app.masterdata.scope_ids import factory_ids_in, factory_in
from app.platform.filters import Filters, containing
from app.production import errors, rules
from app.production.models import (
    InspectionResult, LotConsumption, LotStatus, Material, ProductionLot, RawMaterialLot, Supplier,
)

_ENTITY_NAMES = {ProductionLot: "production_lot", Material: "material", Supplier: "supplier",
                 RawMaterialLot: "raw_material_lot"}
CONSUMABLE = (InspectionResult.PASSED, InspectionResult.CONDITIONAL)


def _get(model, entity_id):
    obj = db.session.get(model, entity_id)
    if obj is None:
        raise masterdata_rules.not_found(_ENTITY_NAMES[model])
    return obj


def _create(actor: Actor, obj, values: dict):
    db.session.add(obj)
    changes = apply_changes(obj, values)
    flush_or_conflict()
    audit(actor, f"{_ENTITY_NAMES[type(obj)]}.create", obj, changes)
    return obj


def _update(actor: Actor, obj, values: dict, verb: str = "update") -> bool:
    changes = apply_changes(obj, values)
    if changes:
        flush_or_conflict()
        audit(actor, f"{_ENTITY_NAMES[type(obj)]}.{verb}", obj, changes)
    return bool(changes)


def _referenced(model, entity_id, field: str, error):
    obj = db.session.get(model, entity_id) if entity_id else None
    if obj is None:
        raise error(errors={field: ["unknown"]})
    return obj


# --- production lots ----------------------------------------------------------------------------

def _lot_values(data: dict, lot: ProductionLot | None) -> dict:
    values = common_values(ProductionLot, data, lot, plain=("lot_no", "shift"),
                     required=("product_id", "lot_no", "production_date", "factory_id"))
    values.pop("status", None)  # open/closed changes only through close and reopen
    if "product_id" in data:
        values["product_id"] = _referenced(Product, data["product_id"], "product_id", errors.ProductUnknown).id
    if "factory_id" in data:
        values["factory_id"] = _referenced(Factory, data["factory_id"], "factory_id", errors.FactoryUnknown).id
    if "line_id" in data:
        values["line_id"] = data["line_id"] and _referenced(
            ProductionLine, data["line_id"], "line_id", errors.LineUnknown).id
    if "production_date" in data:
        values["production_date"] = rules.plausible(data["production_date"], "production_date")
    if "expiry_date" in data:
        values["expiry_date"] = rules.plausible(data["expiry_date"], "expiry_date")

    def final(name):
        return values.get(name, getattr(lot, name) if lot else None)

    line_id, factory_id = final("line_id"), final("factory_id")
    if line_id and db.session.get(ProductionLine, line_id).factory_id != factory_id:
        raise errors.LineNotInFactory(errors={"line_id": ["not a line of this factory"]})
    product = db.session.get(Product, final("product_id"))
    if final("expiry_date") is None and product.shelf_life_days:
        values["expiry_date"] = final("production_date") + timedelta(days=product.shelf_life_days)
    if final("expiry_date") is not None and final("expiry_date") <= final("production_date"):
        raise errors.ExpiryBeforeProduction(errors={"expiry_date": ["after the production date"]})
    taken = db.session.scalar(sa.select(ProductionLot.id).where(
        ProductionLot.product_id == product.id, ProductionLot.lot_no == final("lot_no"),
        ProductionLot.id != (lot.id if lot else -1)))
    if taken is not None:
        raise errors.LotNoTaken(f"The product already has a lot {final('lot_no')!r}.", errors={"lot_no": ["taken"]})
    return values


def _open(lot: ProductionLot) -> ProductionLot:
    if lot.status is LotStatus.CLOSED:
        raise errors.ProductionLotClosed(f"The production lot {lot.lot_no} is closed; reopen it first.")
    return lot


def create_production_lot(*, actor: Actor, data: dict) -> ProductionLot:
    """Create an open production lot; expiry defaults from the product's shelf life."""
    return _create(actor, ProductionLot(status=LotStatus.OPEN), _lot_values(data, None))


def get_production_lot(lot_id: int, *, scope: DataScope = NATIONAL) -> ProductionLot:
    """A lot; outside the caller's data scope (its factory's region) it is not found."""
    lot = _get(ProductionLot, lot_id)
    if not factory_in(scope, lot.factory_id):
        raise masterdata_rules.not_found("production_lot")
    return lot


def update_production_lot(*, actor: Actor, lot_id: int, changes: dict) -> ProductionLot:
    lot = _open(get_production_lot(lot_id))
    _update(actor, lot, _lot_values(changes, lot))
    return lot


def save_synced_lot(actor: Actor, lot: ProductionLot, data: dict) -> bool:
    """Apply a machine's record (internal ids) to a production lot: a closed lot refuses any change."""
    values = _lot_values(data, lot)
    if lot.status is LotStatus.CLOSED and any(getattr(lot, k) != v for k, v in values.items()):
        raise errors.ProductionLotClosed(f"The production lot {lot.lot_no} is closed; reopen it first.")
    return _update(actor, lot, values)


def close_production_lot(*, actor: Actor, lot_id: int) -> ProductionLot:
    """Close a lot: it accepts no new units or consumptions (closing twice changes nothing)."""
    lot = get_production_lot(lot_id)
    if lot.status is LotStatus.OPEN:
        _update(actor, lot, {"status": LotStatus.CLOSED, "closed_at": utcnow()}, verb="close")
    return lot


def reopen_production_lot(*, actor: Actor, lot_id: int) -> ProductionLot:
    lot = get_production_lot(lot_id)
    if lot.status is LotStatus.CLOSED:
        _update(actor, lot, {"status": LotStatus.OPEN, "closed_at": None}, verb="reopen")
    return lot


_LOT_FILTERS = Filters(
    falsy_is_any=True,
    product_id=lambda value: ProductionLot.product_id == value,
    factory_id=lambda value: ProductionLot.factory_id == value,
    line_id=lambda value: ProductionLot.line_id == value,
    lot_no=lambda value: ProductionLot.lot_no == value,
    external_id=lambda value: ProductionLot.external_id == value,
    status=lambda value: ProductionLot.status == LotStatus(value),
    produced_from=lambda value: ProductionLot.production_date >= value,
    produced_to=lambda value: ProductionLot.production_date <= value,
)


def list_production_lots(*, product_id=None, factory_id=None, line_id=None, status=None,
                         produced_from: date | None = None, produced_to: date | None = None,
                         lot_no=None, external_id=None, scope: DataScope = NATIONAL):
    """Production lots, newest production date first; produced_from/to are inclusive."""
    query = sa.select(ProductionLot).order_by(ProductionLot.production_date.desc(), ProductionLot.id.desc())
    if not scope.national:
        query = query.where(ProductionLot.factory_id.in_(factory_ids_in(scope)))
    return _LOT_FILTERS.apply(query, product_id=product_id, factory_id=factory_id, line_id=line_id, lot_no=lot_no,
                              external_id=external_id, status=status, produced_from=produced_from,
                              produced_to=produced_to)


# --- materials and suppliers --------------------------------------------------------------------

def _material_values(data: dict, material: Material | None) -> dict:
    values = common_values(Material, data, material, plain=("code", "name", "unit"), required=("code", "name"))
    if "code" in values:
        # Case-insensitive on every backend, as MySQL's unique index already is.
        taken = db.session.scalar(sa.select(Material.id).where(
            sa.func.lower(Material.code) == values["code"].lower(),
            Material.id != (material.id if material else -1)))
        if taken is not None:
            raise errors.MaterialCodeTaken(f"The material code {values['code']!r} is taken.",
                                          errors={"code": ["taken"]})
    if material is None and not values.get("unit"):
        values["unit"] = "kg"
    return values


def create_material(*, actor: Actor, data: dict) -> Material:
    return _create(actor, Material(), _material_values(data, None))


def get_material(material_id: int) -> Material:
    return _get(Material, material_id)


def update_material(*, actor: Actor, material_id: int, changes: dict) -> Material:
    material = get_material(material_id)
    _update(actor, material, _material_values(changes, material))
    return material


_MATERIAL_FILTERS = Filters(
    falsy_is_any=True,
    status=lambda value: Material.status == Status(value),
    q=lambda value: containing(value, Material.name, Material.code),
    code=lambda value: Material.code == value,
)


def list_materials(*, status=None, q=None, code=None):
    return _MATERIAL_FILTERS.apply(sa.select(Material).order_by(Material.id), status=status, q=q, code=code)


def create_supplier(*, actor: Actor, data: dict) -> Supplier:
    return _create(actor, Supplier(), common_values(Supplier, data, None, plain=("name",), required=("name",)))


def get_supplier(supplier_id: int) -> Supplier:
    return _get(Supplier, supplier_id)


def update_supplier(*, actor: Actor, supplier_id: int, changes: dict) -> Supplier:
    supplier = get_supplier(supplier_id)
    _update(actor, supplier, common_values(Supplier, changes, supplier, plain=("name",), required=("name",)))
    return supplier


_SUPPLIER_FILTERS = Filters(
    falsy_is_any=True,
    status=lambda value: Supplier.status == Status(value),
    q=lambda value: containing(value, Supplier.name),
    external_id=lambda value: Supplier.external_id == value,
)


def list_suppliers(*, status=None, q=None, external_id=None):
    return _SUPPLIER_FILTERS.apply(sa.select(Supplier).order_by(Supplier.id), status=status, q=q,
                                   external_id=external_id)


# --- raw-material lots --------------------------------------------------------------------------

def _inspection(value) -> InspectionResult:
    try:
        return InspectionResult(value)
    except ValueError:
        raise errors.InspectionResultInvalid(errors={"inspection_result": [", ".join(r.value for r in InspectionResult)]})


def _raw_lot_values(data: dict, raw: RawMaterialLot | None) -> dict:
    values = common_values(RawMaterialLot, data, raw, plain=("lot_no",),
                     required=("material_id", "supplier_id", "lot_no", "received_at"))
    values.pop("status", None)
    if "material_id" in data:
        values["material_id"] = _referenced(Material, data["material_id"], "material_id", errors.MaterialUnknown).id
    if "supplier_id" in data:
        values["supplier_id"] = _referenced(Supplier, data["supplier_id"], "supplier_id", errors.SupplierUnknown).id
    if "received_at" in data:
        # Kept in UTC in memory too, so the answer shows what the database holds.
        values["received_at"] = rules.plausible(data["received_at"], "received_at").astimezone(timezone.utc)
    if "quantity" in data:
        values["quantity"] = rules.quantity(data["quantity"])
    if raw is None:
        values.update(_inspection_values(data.get("inspection_result", InspectionResult.PENDING),
                                         data.get("inspection_note"), None))

    def final(name):
        return values.get(name, getattr(raw, name) if raw else None)

    taken = db.session.scalar(sa.select(RawMaterialLot.id).where(
        RawMaterialLot.material_id == final("material_id"), RawMaterialLot.supplier_id == final("supplier_id"),
        RawMaterialLot.lot_no == final("lot_no"), RawMaterialLot.id != (raw.id if raw else -1)))
    if taken is not None:
        raise errors.LotNoTaken(f"The supplier already delivered a lot {final('lot_no')!r} of this material.",
                               errors={"lot_no": ["taken"]})
    return values


def _inspection_values(result, note, raw: RawMaterialLot | None) -> dict:
    result = _inspection(result)
    values = {"inspection_result": result,
              "inspected_at": None if result is InspectionResult.PENDING else utcnow()}
    if raw is not None and raw.inspection_result is result:
        values.pop("inspected_at")  # the same verdict again keeps its time (idempotent)
    if note is not None:
        values["inspection_note"] = str(note).strip()
    elif raw is None:
        values["inspection_note"] = ""
    return values


def create_raw_material_lot(*, actor: Actor, data: dict) -> RawMaterialLot:
    """Record a received raw-material lot (pending inspection unless a result is given)."""
    return _create(actor, RawMaterialLot(), _raw_lot_values(data, None))


def get_raw_material_lot(raw_lot_id: int) -> RawMaterialLot:
    return _get(RawMaterialLot, raw_lot_id)


def update_raw_material_lot(*, actor: Actor, raw_lot_id: int, changes: dict) -> RawMaterialLot:
    raw = get_raw_material_lot(raw_lot_id)
    save_raw_lot(actor, raw, changes)
    return raw


def save_raw_lot(actor: Actor, raw: RawMaterialLot, changes: dict) -> bool:
    changed = _update(actor, raw, _raw_lot_values(changes, raw))
    if "inspection_result" in changes:
        changed |= _update(actor, raw, _inspection_values(
            changes["inspection_result"], changes.get("inspection_note"), raw), verb="inspect")
    return changed


def record_inspection(*, actor: Actor, raw_lot_id: int, result, note: str | None = None) -> RawMaterialLot:
    """Record the quality inspection's verdict on a raw-material lot."""
    raw = get_raw_material_lot(raw_lot_id)
    _update(actor, raw, _inspection_values(result, note, raw), verb="inspect")
    return raw


_RAW_LOT_FILTERS = Filters(
    falsy_is_any=True,
    material_id=lambda value: RawMaterialLot.material_id == value,
    supplier_id=lambda value: RawMaterialLot.supplier_id == value,
    lot_no=lambda value: RawMaterialLot.lot_no == value,
    external_id=lambda value: RawMaterialLot.external_id == value,
    inspection_result=lambda value: RawMaterialLot.inspection_result == InspectionResult(value),
)


def list_raw_material_lots(*, material_id=None, supplier_id=None, inspection_result=None,
                           lot_no=None, external_id=None):
    query = sa.select(RawMaterialLot).order_by(RawMaterialLot.received_at.desc(), RawMaterialLot.id.desc())
    return _RAW_LOT_FILTERS.apply(query, material_id=material_id, supplier_id=supplier_id, lot_no=lot_no,
                                  external_id=external_id, inspection_result=inspection_result)


# --- consumption and trace ----------------------------------------------------------------------

def _consumption(lot_id: int, raw_lot_id: int) -> LotConsumption | None:
    return db.session.scalar(sa.select(LotConsumption).where(
        LotConsumption.production_lot_id == lot_id, LotConsumption.raw_material_lot_id == raw_lot_id))


def add_consumption(*, actor: Actor, lot_id: int, raw_lot_id: int, quantity=None) -> tuple[LotConsumption, str]:
    """Record that a production lot used a raw-material lot; the same pair again updates its quantity."""
    lot = _open(get_production_lot(lot_id))
    raw = _referenced(RawMaterialLot, raw_lot_id, "raw_material_lot_id", errors.RawMaterialLotUnknown)
    if raw.inspection_result is InspectionResult.FAILED:
        raise errors.RawMaterialLotFailedInspection(
            f"The raw-material lot {raw.lot_no} failed inspection.", errors={"raw_material_lot_id": [raw.id]})
    if raw.inspection_result not in CONSUMABLE:
        raise errors.RawMaterialLotNotInspected(
            f"The raw-material lot {raw.lot_no} is pending inspection.", errors={"raw_material_lot_id": [raw.id]})
    quantity = rules.quantity(quantity)
    if quantity is not None and raw.quantity is not None:
        _check_remaining(raw, lot.id, quantity)
    link = _consumption(lot.id, raw.id)
    if link is None:
        link = LotConsumption(production_lot_id=lot.id, raw_material_lot_id=raw.id, quantity=quantity)
        db.session.add(link)
        flush_or_conflict()
        audit(actor, "production_lot.consume", lot, {"raw_material_lot_id": [None, raw.id],
                                                      "quantity": [None, quantity]})
        return link, "created"
    changes = apply_changes(link, {"quantity": quantity})
    if changes:
        audit(actor, "production_lot.consume", lot, {"raw_material_lot_id": [raw.id, raw.id], **changes})
    return link, "updated" if changes else "unchanged"


def _check_remaining(raw: RawMaterialLot, lot_id: int, quantity) -> None:
    """Refuse consuming more of a raw-material lot than it holds (the row is locked: no race past it)."""
    db.session.refresh(raw, with_for_update=True)
    used = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LotConsumption.quantity), 0)).where(
        LotConsumption.raw_material_lot_id == raw.id, LotConsumption.production_lot_id != lot_id)
        .with_for_update(read=True))  # a locking read: the latest consumptions, not the transaction's snapshot
    if used + quantity > raw.quantity:
        left = max(raw.quantity - used, 0)
        raise errors.QuantityExceedsLot(
            f"The raw-material lot {raw.lot_no} has {left} {raw.material.unit} left; {quantity} was asked.",
            errors={"quantity": [f"at most {left}"]})
    certify_lock(raw)  # a twin consuming the same lot on another Galera node conflicts at COMMIT


def remove_consumption(*, actor: Actor, lot_id: int, raw_lot_id: int) -> None:
    """Undo a consumption recorded by mistake."""
    lot = _open(get_production_lot(lot_id))
    link = _consumption(lot.id, raw_lot_id)
    if link is None:
        raise errors.ConsumptionUnknown(errors={"raw_material_lot_id": [raw_lot_id]})
    audit(actor, "production_lot.unconsume", lot, {"raw_material_lot_id": [raw_lot_id, None],
                                                    "quantity": [link.quantity, None]})
    db.session.delete(link)
    db.session.flush()


def consumptions_of_production_lot(lot_id: int) -> list[LotConsumption]:
    """Trace back: the raw-material lots a production lot consumed (with material and supplier)."""
    get_production_lot(lot_id)
    return db.session.scalars(
        sa.select(LotConsumption).where(LotConsumption.production_lot_id == lot_id)
        .options(selectinload(LotConsumption.raw_material_lot).selectinload(RawMaterialLot.material),
                 selectinload(LotConsumption.raw_material_lot).selectinload(RawMaterialLot.supplier))
        .order_by(LotConsumption.id)).all()


def consumptions_of_raw_material_lot(raw_lot_id: int) -> list[LotConsumption]:
    """Trace forward: the production lots that used a raw-material lot (the start of a recall)."""
    get_raw_material_lot(raw_lot_id)
    return db.session.scalars(
        sa.select(LotConsumption).where(LotConsumption.raw_material_lot_id == raw_lot_id)
        .options(selectinload(LotConsumption.production_lot)).order_by(LotConsumption.id)).all()


def production_lot_ids_using(raw_lot_ids: list[int]) -> list[int]:
    """Ids of every production lot that consumed any of these raw-material lots."""
    return list(db.session.scalars(sa.select(LotConsumption.production_lot_id).distinct()
                                   .where(LotConsumption.raw_material_lot_id.in_(raw_lot_ids))))
