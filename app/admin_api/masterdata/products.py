"""Products (SKUs): GTIN, specification, packaging hierarchy, shelf life, consumer-facing text."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.admin_api.masterdata.fields import external_id, status, status_filter, text
from app.db import transaction
from app.http import (ALL_ROLES, SelectPage, WRITERS_OF_MASTER_DATA, authenticate_back_office, current_actor,
                      national_only, not_regional, roles)
from app.masterdata import products as masterdata_products
from app.schemas import Int

blp = Blueprint("admin_products", __name__, url_prefix="/api/admin/products",
                description="Products (SKUs) and their packaging hierarchy.")
blp.before_request(authenticate_back_office)


class ProductReadSchema(ma.Schema):
    id = Int()
    external_id = ma.fields.String(allow_none=True)
    sku = ma.fields.String()
    name = ma.fields.String()
    gtin = ma.fields.String(allow_none=True, metadata={"description": "GTIN-14"})
    specification = ma.fields.String()
    units_per_case = Int()
    cases_per_pallet = Int()
    shelf_life_days = Int(allow_none=True)
    description = ma.fields.String()
    image_url = ma.fields.String(allow_none=True)
    status = status()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class ProductUpdateSchema(ma.Schema):
    external_id = external_id()
    sku = text(64)
    name = text(200)
    gtin = ma.fields.String(allow_none=True, metadata={"description": "GTIN-8/12/13/14; stored as GTIN-14"})
    specification = text(200)
    units_per_case = Int()
    cases_per_pallet = Int()
    shelf_life_days = Int(allow_none=True)
    description = text(5000)
    image_url = text(500, allow_none=True)


class ProductCreateSchema(ProductUpdateSchema):
    sku = text(64, required=True)
    name = text(200, required=True)


class ProductQuerySchema(ma.Schema):
    status = status_filter()
    q = ma.fields.String(metadata={"description": "Part of the name or SKU"})
    gtin = ma.fields.String()
    external_id = ma.fields.String()


@blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("the catalogue is the brand's, not a region's")
@blp.arguments(ProductQuerySchema, location="query")
@blp.response(200, ProductReadSchema(many=True))
@blp.paginate(SelectPage)
def list_products(query):
    """List products"""
    return masterdata_products.list_products(**query)


@blp.route("", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@national_only("brand-wide configuration is written by users who see the whole country")
@blp.arguments(ProductCreateSchema)
@blp.response(201, ProductReadSchema)
def create_product(body):
    """Create a product"""
    with transaction():
        return masterdata_products.create_product(actor=current_actor(), data=body)


@blp.route("/<int:product_id>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("the catalogue is the brand's, not a region's")
@blp.response(200, ProductReadSchema)
def get_product(product_id):
    """Get a product"""
    return masterdata_products.get_product(product_id)


@blp.route("/<int:product_id>", methods=["PATCH"])
@roles(*WRITERS_OF_MASTER_DATA)
@national_only("brand-wide configuration is written by users who see the whole country")
@blp.arguments(ProductUpdateSchema)
@blp.response(200, ProductReadSchema)
def update_product(body, product_id):
    """Change a product"""
    with transaction():
        return masterdata_products.update_product(actor=current_actor(), product_id=product_id, changes=body)


@blp.route("/<int:product_id>/deactivate", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@national_only("brand-wide configuration is written by users who see the whole country")
@blp.response(200, ProductReadSchema)
def deactivate_product(product_id):
    """Deactivate a product"""
    with transaction():
        return masterdata_products.deactivate_product(actor=current_actor(), product_id=product_id)


@blp.route("/<int:product_id>/reactivate", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@national_only("brand-wide configuration is written by users who see the whole country")
@blp.response(200, ProductReadSchema)
def reactivate_product(product_id):
    """Reactivate a product"""
    with transaction():
        return masterdata_products.reactivate_product(actor=current_actor(), product_id=product_id)
