"""ERP master-data sync: bulk upsert by external id, all or nothing, idempotent.

Each endpoint takes ``{"items": [...]}`` (up to 1,000 records) and matches them by
``external_id``. A record's absent fields are left as they are. The answer lists every item
with its result (created, updated or unchanged); sending the same payload again answers
"unchanged" for all and writes nothing. If any item is refused, the answer is 422
``batch_rejected`` with the reason of each refused item in ``errors.items`` and nothing is
written; the same external id twice in one batch is 422 ``external_id_duplicate``.
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.db import transaction
from app.http import authenticate_machine, current_actor, scopes
from app.identity.models import Scope
from app.integration_api.batch import UpsertResultSchema, answer, batch_of
from app.masterdata import bulk_upserts
from app.masterdata.models import Status
from app.schemas import Int

blp = Blueprint("integration_masterdata", __name__, url_prefix="/api/integration/masterdata",
                description="ERP: push products, factories, warehouses, dealers and stores (scope masterdata).")
blp.before_request(authenticate_machine)

STATUS_NAMES = [s.value for s in Status]


def _text(max_length: int, **kwargs):
    return ma.fields.String(validate=ma.validate.Length(max=max_length), **kwargs)


class ItemSchema(ma.Schema):
    external_id = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    status = ma.fields.String(validate=ma.validate.OneOf(STATUS_NAMES))


class ProductItemSchema(ItemSchema):
    sku = _text(64, required=True)
    name = _text(200, required=True)
    gtin = ma.fields.String(allow_none=True, metadata={"description": "GTIN-8/12/13/14"})
    specification = _text(200)
    units_per_case = Int()
    cases_per_pallet = Int()
    shelf_life_days = Int(allow_none=True)
    description = _text(5000)
    image_url = _text(500, allow_none=True)


class FactoryItemSchema(ItemSchema):
    name = _text(200, required=True)
    address = _text(500)
    region_code = ma.fields.String(allow_none=True)


class WarehouseItemSchema(FactoryItemSchema):
    factory_external_id = ma.fields.String(allow_none=True)


class ContactItemSchema(ma.Schema):
    name = _text(64, required=True)
    phone = _text(32, load_default="")
    title = _text(64, load_default="")


class DealerItemSchema(ItemSchema):
    name = _text(200, required=True)
    parent_external_id = ma.fields.String(allow_none=True, metadata={
        "description": "The parent dealer: in the database or anywhere in this batch"})
    tier = Int(allow_none=True, metadata={"description": "Checked: parent's tier + 1"})
    territory = ma.fields.List(ma.fields.String(), validate=ma.validate.Length(max=1000))
    contacts = ma.fields.List(ma.fields.Nested(ContactItemSchema), validate=ma.validate.Length(max=50))


class StoreItemSchema(ItemSchema):
    name = _text(200, required=True)
    address = _text(500)
    region_code = ma.fields.String(required=True, metadata={"description": "A city or district adcode"})
    longitude = ma.fields.Float(allow_none=True, allow_nan=False)
    latitude = ma.fields.Float(allow_none=True, allow_nan=False)
    dealer_external_ids = ma.fields.List(ma.fields.String(), validate=ma.validate.Length(max=100))


ProductBatchSchema = batch_of(ProductItemSchema)
FactoryBatchSchema = batch_of(FactoryItemSchema)
WarehouseBatchSchema = batch_of(WarehouseItemSchema)
DealerBatchSchema = batch_of(DealerItemSchema)
StoreBatchSchema = batch_of(StoreItemSchema)


@blp.route("/products", methods=["PUT"])
@scopes(Scope.MASTERDATA)
@blp.arguments(ProductBatchSchema)
@blp.response(200, UpsertResultSchema)
def upsert_products(body):
    """Create or update products by external id"""
    with transaction():
        return answer(bulk_upserts.bulk_upsert_products(actor=current_actor(), records=body["items"]))


@blp.route("/factories", methods=["PUT"])
@scopes(Scope.MASTERDATA)
@blp.arguments(FactoryBatchSchema)
@blp.response(200, UpsertResultSchema)
def upsert_factories(body):
    """Create or update factories by external id"""
    with transaction():
        return answer(bulk_upserts.bulk_upsert_factories(actor=current_actor(), records=body["items"]))


@blp.route("/warehouses", methods=["PUT"])
@scopes(Scope.MASTERDATA)
@blp.arguments(WarehouseBatchSchema)
@blp.response(200, UpsertResultSchema)
def upsert_warehouses(body):
    """Create or update warehouses by external id (factory by factory_external_id)"""
    with transaction():
        return answer(bulk_upserts.bulk_upsert_warehouses(actor=current_actor(), records=body["items"]))


@blp.route("/dealers", methods=["PUT"])
@scopes(Scope.MASTERDATA)
@blp.arguments(DealerBatchSchema)
@blp.response(200, UpsertResultSchema)
def upsert_dealers(body):
    """Create or update dealers by external id (parent by parent_external_id, territory by region codes)"""
    with transaction():
        return answer(bulk_upserts.bulk_upsert_dealers(actor=current_actor(), records=body["items"]))


@blp.route("/stores", methods=["PUT"])
@scopes(Scope.MASTERDATA)
@blp.arguments(StoreBatchSchema)
@blp.response(200, UpsertResultSchema)
def upsert_stores(body):
    """Create or update stores by external id (dealers by dealer_external_ids)"""
    with transaction():
        return answer(bulk_upserts.bulk_upsert_stores(actor=current_actor(), records=body["items"]))
