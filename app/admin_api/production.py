"""Production lots, materials, suppliers, raw-material lots and what each production lot consumed."""
from __future__ import annotations


import marshmallow as ma
from flask_smorest import Blueprint

from app.admin_api.masterdata.fields import external_id, status, status_filter, text
from app.db import transaction
from app.http import (ALL_ROLES, WRITERS_OF_MASTER_DATA, SelectPage, authenticate_back_office, current_actor,
                      current_scope, national_only, not_regional, regional, roles)
from app.production import service
from app.production.models import InspectionResult, LotStatus
from app.schemas import Int, UtcTime

lots = Blueprint("admin_production_lots", __name__, url_prefix="/api/admin/production-lots",
                 description="Production lots and the raw-material lots each consumed.")
materials = Blueprint("admin_materials", __name__, url_prefix="/api/admin/materials",
                      description="Raw materials (with the unit their quantities are counted in).")
suppliers = Blueprint("admin_suppliers", __name__, url_prefix="/api/admin/suppliers",
                      description="Suppliers of raw materials.")
raw_lots = Blueprint("admin_raw_material_lots", __name__, url_prefix="/api/admin/raw-material-lots",
                     description="Received raw-material lots, their inspection, and the production lots that used them.")
BLUEPRINTS = (lots, materials, suppliers, raw_lots)
for _blueprint in BLUEPRINTS:
    _blueprint.before_request(authenticate_back_office)

WRITERS = WRITERS_OF_MASTER_DATA
INSPECTION_NAMES = [r.value for r in InspectionResult]


def quantity(**kwargs) -> ma.fields.Decimal:
    return ma.fields.Decimal(allow_nan=False, allow_none=True, as_string=True, metadata={
        "description": "In the material's unit; up to 3 decimals"}, **kwargs)


# --- schemas ------------------------------------------------------------------------------------

class ProductionLotReadSchema(ma.Schema):
    id = Int()
    external_id = ma.fields.String(allow_none=True)
    product_id = Int()
    lot_no = ma.fields.String()
    production_date = ma.fields.Date()
    expiry_date = ma.fields.Date(allow_none=True)
    factory_id = Int()
    line_id = Int(allow_none=True)
    shift = ma.fields.String()
    status = ma.fields.Enum(LotStatus, by_value=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class MaterialReadSchema(ma.Schema):
    id = Int()
    external_id = ma.fields.String(allow_none=True)
    code = ma.fields.String()
    name = ma.fields.String()
    unit = ma.fields.String()
    status = status()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class SupplierReadSchema(ma.Schema):
    id = Int()
    external_id = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    status = status()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class RawMaterialLotReadSchema(ma.Schema):
    id = Int()
    external_id = ma.fields.String(allow_none=True)
    material_id = Int()
    supplier_id = Int()
    lot_no = ma.fields.String()
    received_at = ma.fields.DateTime()
    quantity = quantity()
    inspection_result = ma.fields.Enum(InspectionResult, by_value=True)
    inspection_note = ma.fields.String()
    inspected_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class ConsumedRawLotSchema(ma.Schema):
    raw_material_lot = ma.fields.Nested(RawMaterialLotReadSchema)
    material = ma.fields.Nested(MaterialReadSchema, attribute="raw_material_lot.material")
    supplier = ma.fields.Nested(SupplierReadSchema, attribute="raw_material_lot.supplier")
    quantity = quantity()
    recorded_at = ma.fields.DateTime()


class ConsumingLotSchema(ma.Schema):
    production_lot = ma.fields.Nested(ProductionLotReadSchema)
    quantity = quantity()
    recorded_at = ma.fields.DateTime()


class ProductionLotDetailSchema(ProductionLotReadSchema):
    consumed = ma.fields.List(ma.fields.Nested(ConsumedRawLotSchema),
                              metadata={"description": "Trace back: the raw-material lots this lot used"})


class RawMaterialLotDetailSchema(RawMaterialLotReadSchema):
    consumed_by = ma.fields.List(ma.fields.Nested(ConsumingLotSchema),
                                 metadata={"description": "Trace forward: the production lots that used it"})


class ProductionLotUpdateSchema(ma.Schema):
    external_id = external_id()
    product_id = Int()
    lot_no = text(64)
    production_date = ma.fields.Date()
    expiry_date = ma.fields.Date(allow_none=True, metadata={
        "description": "Default: production date + the product's shelf life"})
    factory_id = Int()
    line_id = Int(allow_none=True)
    shift = text(16)


class ProductionLotCreateSchema(ProductionLotUpdateSchema):
    product_id = Int(required=True)
    lot_no = text(64, required=True)
    production_date = ma.fields.Date(required=True)
    factory_id = Int(required=True)


class ProductionLotQuerySchema(ma.Schema):
    product_id = Int()
    factory_id = Int()
    line_id = Int()
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in LotStatus]))
    produced_from = ma.fields.Date()
    produced_to = ma.fields.Date()
    lot_no = ma.fields.String()
    external_id = ma.fields.String()


class ConsumptionCreateSchema(ma.Schema):
    raw_material_lot_id = Int(required=True)
    quantity = quantity()


class ConsumptionReadSchema(ma.Schema):
    production_lot_id = Int()
    raw_material_lot_id = Int()
    quantity = quantity()
    recorded_at = ma.fields.DateTime()


class MaterialUpdateSchema(ma.Schema):
    external_id = external_id()
    code = text(64)
    name = text(200)
    unit = text(16, metadata={"description": "kg, l, pcs, ...; default kg"})
    status = ma.fields.String(validate=ma.validate.OneOf(["active", "inactive"]))


class MaterialCreateSchema(MaterialUpdateSchema):
    code = text(64, required=True)
    name = text(200, required=True)


class MaterialQuerySchema(ma.Schema):
    status = status_filter()
    q = ma.fields.String(metadata={"description": "Part of the name or code"})
    code = ma.fields.String()


class SupplierUpdateSchema(ma.Schema):
    external_id = external_id()
    name = text(200)
    status = ma.fields.String(validate=ma.validate.OneOf(["active", "inactive"]))


class SupplierCreateSchema(SupplierUpdateSchema):
    name = text(200, required=True)


class SupplierQuerySchema(ma.Schema):
    status = status_filter()
    q = ma.fields.String(metadata={"description": "Part of the name"})
    external_id = ma.fields.String()


class RawMaterialLotUpdateSchema(ma.Schema):
    external_id = external_id()
    material_id = Int()
    supplier_id = Int()
    lot_no = text(64, metadata={"description": "The supplier's lot number"})
    received_at = UtcTime()
    quantity = quantity()


class RawMaterialLotCreateSchema(RawMaterialLotUpdateSchema):
    material_id = Int(required=True)
    supplier_id = Int(required=True)
    lot_no = text(64, required=True)
    received_at = UtcTime(required=True)
    inspection_result = ma.fields.String(validate=ma.validate.OneOf(INSPECTION_NAMES),
                                         metadata={"description": "Default pending"})
    inspection_note = text(500)


class InspectionSchema(ma.Schema):
    result = ma.fields.String(required=True, validate=ma.validate.OneOf(INSPECTION_NAMES), metadata={
        "description": "passed and conditional lots may be consumed; pending and failed may not"})
    note = text(500)


class RawMaterialLotQuerySchema(ma.Schema):
    material_id = Int()
    supplier_id = Int()
    inspection_result = ma.fields.String(validate=ma.validate.OneOf(INSPECTION_NAMES))
    lot_no = ma.fields.String()
    external_id = ma.fields.String()


# --- production lots ----------------------------------------------------------------------------

def _lot_detail(lot):
    lot.consumed = service.consumptions_of_production_lot(lot.id)
    return lot


@lots.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@lots.arguments(ProductionLotQuerySchema, location="query")
@lots.response(200, ProductionLotReadSchema(many=True))
@lots.paginate(SelectPage)
def list_production_lots(query):
    """List production lots (newest production date first)"""
    return service.list_production_lots(**query, scope=current_scope())


@lots.route("", methods=["POST"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@lots.arguments(ProductionLotCreateSchema)
@lots.response(201, ProductionLotReadSchema)
def create_production_lot(body):
    """Create a production lot"""
    with transaction():
        return service.create_production_lot(actor=current_actor(), data=body)


@lots.route("/<int:lot_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@lots.response(200, ProductionLotDetailSchema)
def get_production_lot(lot_id):
    """Get a production lot with the raw-material lots it consumed"""
    return _lot_detail(service.get_production_lot(lot_id, scope=current_scope()))


@lots.route("/<int:lot_id>", methods=["PATCH"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@lots.arguments(ProductionLotUpdateSchema)
@lots.response(200, ProductionLotReadSchema)
def update_production_lot(body, lot_id):
    """Change an open production lot"""
    with transaction():
        return service.update_production_lot(actor=current_actor(), lot_id=lot_id, changes=body)


@lots.route("/<int:lot_id>/close", methods=["POST"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@lots.response(200, ProductionLotReadSchema)
def close_production_lot(lot_id):
    """Close a production lot (no new units or consumptions)"""
    with transaction():
        return service.close_production_lot(actor=current_actor(), lot_id=lot_id)


@lots.route("/<int:lot_id>/reopen", methods=["POST"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@lots.response(200, ProductionLotReadSchema)
def reopen_production_lot(lot_id):
    """Reopen a closed production lot"""
    with transaction():
        return service.reopen_production_lot(actor=current_actor(), lot_id=lot_id)


@lots.route("/<int:lot_id>/consumptions", methods=["POST"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@lots.arguments(ConsumptionCreateSchema)
@lots.response(200, ConsumptionReadSchema)
def add_consumption(body, lot_id):
    """Record that the lot used a raw-material lot (again: sets the quantity)"""
    with transaction():
        link, _ = service.add_consumption(actor=current_actor(), lot_id=lot_id,
                                          raw_lot_id=body["raw_material_lot_id"], quantity=body.get("quantity"))
        return link


@lots.route("/<int:lot_id>/consumptions/<int:raw_lot_id>", methods=["DELETE"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@lots.response(204)
def remove_consumption(lot_id, raw_lot_id):
    """Remove a consumption recorded by mistake"""
    with transaction():
        service.remove_consumption(actor=current_actor(), lot_id=lot_id, raw_lot_id=raw_lot_id)


# --- materials and suppliers --------------------------------------------------------------------

@materials.route("", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("raw materials come from suppliers, not regions")
@materials.arguments(MaterialQuerySchema, location="query")
@materials.response(200, MaterialReadSchema(many=True))
@materials.paginate(SelectPage)
def list_materials(query):
    """List materials"""
    return service.list_materials(**query)


@materials.route("", methods=["POST"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@materials.arguments(MaterialCreateSchema)
@materials.response(201, MaterialReadSchema)
def create_material(body):
    """Create a material"""
    with transaction():
        return service.create_material(actor=current_actor(), data=body)


@materials.route("/<int:material_id>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("raw materials come from suppliers, not regions")
@materials.response(200, MaterialReadSchema)
def get_material(material_id):
    """Get a material"""
    return service.get_material(material_id)


@materials.route("/<int:material_id>", methods=["PATCH"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@materials.arguments(MaterialUpdateSchema)
@materials.response(200, MaterialReadSchema)
def update_material(body, material_id):
    """Change a material"""
    with transaction():
        return service.update_material(actor=current_actor(), material_id=material_id, changes=body)


@suppliers.route("", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("suppliers are not placed in regions")
@suppliers.arguments(SupplierQuerySchema, location="query")
@suppliers.response(200, SupplierReadSchema(many=True))
@suppliers.paginate(SelectPage)
def list_suppliers(query):
    """List suppliers"""
    return service.list_suppliers(**query)


@suppliers.route("", methods=["POST"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@suppliers.arguments(SupplierCreateSchema)
@suppliers.response(201, SupplierReadSchema)
def create_supplier(body):
    """Create a supplier"""
    with transaction():
        return service.create_supplier(actor=current_actor(), data=body)


@suppliers.route("/<int:supplier_id>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("suppliers are not placed in regions")
@suppliers.response(200, SupplierReadSchema)
def get_supplier(supplier_id):
    """Get a supplier"""
    return service.get_supplier(supplier_id)


@suppliers.route("/<int:supplier_id>", methods=["PATCH"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@suppliers.arguments(SupplierUpdateSchema)
@suppliers.response(200, SupplierReadSchema)
def update_supplier(body, supplier_id):
    """Change a supplier"""
    with transaction():
        return service.update_supplier(actor=current_actor(), supplier_id=supplier_id, changes=body)


# --- raw-material lots --------------------------------------------------------------------------

def _raw_lot_detail(raw):
    raw.consumed_by = service.consumptions_of_raw_material_lot(raw.id)
    return raw


@raw_lots.route("", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("raw-material lots come from suppliers, not regions")
@raw_lots.arguments(RawMaterialLotQuerySchema, location="query")
@raw_lots.response(200, RawMaterialLotReadSchema(many=True))
@raw_lots.paginate(SelectPage)
def list_raw_material_lots(query):
    """List raw-material lots (latest received first)"""
    return service.list_raw_material_lots(**query)


@raw_lots.route("", methods=["POST"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@raw_lots.arguments(RawMaterialLotCreateSchema)
@raw_lots.response(201, RawMaterialLotReadSchema)
def create_raw_material_lot(body):
    """Record a received raw-material lot"""
    with transaction():
        return service.create_raw_material_lot(actor=current_actor(), data=body)


@raw_lots.route("/<int:raw_lot_id>", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("its detail lists the production lots of every factory that used it")
@raw_lots.response(200, RawMaterialLotDetailSchema)
def get_raw_material_lot(raw_lot_id):
    """Get a raw-material lot with the production lots that used it"""
    return _raw_lot_detail(service.get_raw_material_lot(raw_lot_id))


@raw_lots.route("/<int:raw_lot_id>", methods=["PATCH"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@raw_lots.arguments(RawMaterialLotUpdateSchema)
@raw_lots.response(200, RawMaterialLotReadSchema)
def update_raw_material_lot(body, raw_lot_id):
    """Change a raw-material lot"""
    with transaction():
        return service.update_raw_material_lot(actor=current_actor(), raw_lot_id=raw_lot_id, changes=body)


@raw_lots.route("/<int:raw_lot_id>/inspection", methods=["POST"])
@roles(*WRITERS)
@national_only("production records are written by the brand's production staff")
@raw_lots.arguments(InspectionSchema)
@raw_lots.response(200, RawMaterialLotReadSchema)
def record_inspection(body, raw_lot_id):
    """Record the inspection result of a raw-material lot"""
    with transaction():
        return service.record_inspection(actor=current_actor(), raw_lot_id=raw_lot_id,
                                         result=body["result"], note=body.get("note"))
