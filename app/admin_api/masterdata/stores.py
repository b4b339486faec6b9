"""Stores: address, region, optional coordinates, the dealers that serve them."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.admin_api.masterdata.fields import external_id, status, status_filter, text
from app.db import transaction
from app.http import (ALL_ROLES, WRITERS_OF_MASTER_DATA, SelectPage, authenticate_back_office, current_actor,
                      current_scope, regional, roles)
from app.masterdata import stores as masterdata_stores
from app.schemas import Int

blp = Blueprint("admin_stores", __name__, url_prefix="/api/admin/stores",
                description="Stores (门店) and the dealers that serve them.")
blp.before_request(authenticate_back_office)


class StoreReadSchema(ma.Schema):
    id = Int()
    external_id = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    address = ma.fields.String()
    region_code = ma.fields.String()
    longitude = ma.fields.Float(allow_none=True)
    latitude = ma.fields.Float(allow_none=True)
    dealer_ids = ma.fields.Function(lambda store: sorted(dealer.id for dealer in store.dealers))
    status = status()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class StoreUpdateSchema(ma.Schema):
    external_id = external_id()
    name = text(200)
    address = text(500)
    region_code = ma.fields.String(metadata={"description": "A city or district adcode"})
    longitude = ma.fields.Float(allow_none=True, allow_nan=False)
    latitude = ma.fields.Float(allow_none=True, allow_nan=False)
    dealer_ids = ma.fields.List(Int(), validate=ma.validate.Length(max=100))


class StoreCreateSchema(StoreUpdateSchema):
    name = text(200, required=True)
    region_code = ma.fields.String(required=True, metadata={"description": "A city or district adcode"})


class StoreQuerySchema(ma.Schema):
    status = status_filter()
    q = ma.fields.String(metadata={"description": "Part of the name or address"})
    region_code = ma.fields.String(metadata={"description": "In this region or inside it"})
    dealer_id = Int(metadata={"description": "Served by this dealer"})
    external_id = ma.fields.String()


@blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.arguments(StoreQuerySchema, location="query")
@blp.response(200, StoreReadSchema(many=True))
@blp.paginate(SelectPage)
def list_stores(query):
    """List stores"""
    return masterdata_stores.list_stores(**query, scope=current_scope())


@blp.route("", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@blp.arguments(StoreCreateSchema)
@blp.response(201, StoreReadSchema)
def create_store(body):
    """Create a store"""
    with transaction():
        return masterdata_stores.create_store(actor=current_actor(), data=body)


@blp.route("/<int:store_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.response(200, StoreReadSchema)
def get_store(store_id):
    """Get a store"""
    return masterdata_stores.get_store(store_id, scope=current_scope())


@blp.route("/<int:store_id>", methods=["PATCH"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@blp.arguments(StoreUpdateSchema)
@blp.response(200, StoreReadSchema)
def update_store(body, store_id):
    """Change a store"""
    with transaction():
        return masterdata_stores.update_store(actor=current_actor(), store_id=store_id, changes=body)


@blp.route("/<int:store_id>/deactivate", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@blp.response(200, StoreReadSchema)
def deactivate_store(store_id):
    """Deactivate a store"""
    with transaction():
        return masterdata_stores.deactivate_store(actor=current_actor(), store_id=store_id)


@blp.route("/<int:store_id>/reactivate", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@blp.response(200, StoreReadSchema)
def reactivate_store(store_id):
    """Reactivate a store"""
    with transaction():
        return masterdata_stores.reactivate_store(actor=current_actor(), store_id=store_id)
