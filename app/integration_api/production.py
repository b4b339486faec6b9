"""Line controllers and ERP: push production lots, raw-material lots and consumptions (scope production).

Bulk upserts by external id, all or nothing and idempotent, like the master-data sync: a record's
absent fields are left as they are; references use external ids (``product_external_id``,
``factory_external_id``, ``line_external_id``, ``supplier_external_id``) or the material's code.
"""
from __future__ import annotations


import marshmallow as ma
from flask_smorest import Blueprint

from app.db import transaction
from app.http import authenticate_machine, current_actor, scopes
from app.identity.models import Scope
from app.integration_api.batch import UpsertResultSchema, answer, batch_of
from app.production import sync
from app.production.models import InspectionResult
from app.schemas import UtcTime

blp = Blueprint("integration_production", __name__, url_prefix="/api/integration/production",
                description="Line controllers and ERP: production lots, raw-material lots, consumptions "
                            "(scope production).")
blp.before_request(authenticate_machine)


def _text(max_length: int, **kwargs):
    return ma.fields.String(validate=ma.validate.Length(max=max_length), **kwargs)


def _external_id(**kwargs):
    return ma.fields.String(validate=ma.validate.Length(min=1, max=64), **kwargs)


def _quantity():
    return ma.fields.Decimal(allow_nan=False, allow_none=True, metadata={
        "description": "In the material's unit; up to 3 decimals"})


class ProductionLotItemSchema(ma.Schema):
    external_id = _external_id(required=True)
    product_external_id = _external_id(required=True)
    lot_no = _text(64, required=True)
    production_date = ma.fields.Date(required=True)
    expiry_date = ma.fields.Date(allow_none=True, metadata={
        "description": "Default: production date + the product's shelf life"})
    factory_external_id = _external_id(required=True)
    line_external_id = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=64))
    shift = _text(16)


class RawMaterialLotItemSchema(ma.Schema):
    external_id = _external_id(required=True)
    material_code = _text(64, required=True)
    supplier_external_id = _external_id(required=True)
    lot_no = _text(64, required=True)
    received_at = UtcTime(required=True)
    quantity = _quantity()
    inspection_result = ma.fields.String(validate=ma.validate.OneOf([r.value for r in InspectionResult]))
    inspection_note = _text(500, allow_none=True)


class ConsumptionItemSchema(ma.Schema):
    external_id = _external_id(required=True, metadata={"description": "The raw-material lot's external id"})
    quantity = _quantity()


ProductionLotBatchSchema = batch_of(ProductionLotItemSchema)
RawMaterialLotBatchSchema = batch_of(RawMaterialLotItemSchema)
ConsumptionBatchSchema = batch_of(ConsumptionItemSchema)


@blp.route("/lots", methods=["PUT"])
@scopes(Scope.PRODUCTION)
@blp.arguments(ProductionLotBatchSchema)
@blp.response(200, UpsertResultSchema)
def upsert_production_lots(body):
    """Create or update production lots by external id"""
    with transaction():
        return answer(sync.bulk_upsert_production_lots(actor=current_actor(), records=body["items"]))


@blp.route("/raw-material-lots", methods=["PUT"])
@scopes(Scope.PRODUCTION)
@blp.arguments(RawMaterialLotBatchSchema)
@blp.response(200, UpsertResultSchema)
def upsert_raw_material_lots(body):
    """Create or update raw-material lots by external id (material by code, supplier by external id)"""
    with transaction():
        return answer(sync.bulk_upsert_raw_material_lots(actor=current_actor(), records=body["items"]))


@blp.route("/lots/<string:external_id>/consumptions", methods=["POST"])
@scopes(Scope.PRODUCTION)
@blp.arguments(ConsumptionBatchSchema)
@blp.response(200, UpsertResultSchema)
def record_consumptions(body, external_id):
    """Record the raw-material lots (by external id) a production lot used; a retry changes nothing"""
    with transaction():
        return answer(sync.record_consumptions(actor=current_actor(), lot_external_id=external_id,
                                                  items=body["items"]))
