"""Stock: items per warehouse, product and lot."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.http import ALL_ROLES, SelectPage, authenticate_back_office, current_scope, regional, roles
from app.schemas import Int
from app.warehouse import service

blp = Blueprint("admin_stock", __name__, url_prefix="/api/admin/stock",
                description="Stock: the items in each warehouse, per product and lot (not those in transit).")
blp.before_request(authenticate_back_office)


class StockQuerySchema(ma.Schema):
    warehouse_id = Int()
    product_id = Int()
    lot_id = Int()


class StockReadSchema(ma.Schema):
    warehouse_id = Int()
    warehouse_name = ma.fields.String(attribute="warehouse.name")
    product_id = Int()
    sku = ma.fields.String(attribute="product.sku")
    product_name = ma.fields.String(attribute="product.name")
    lot_id = Int()
    lot_no = ma.fields.String(attribute="lot.lot_no")
    quantity = Int(metadata={"description": "Active items in the warehouse, not in transit"})


@blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.arguments(StockQuerySchema, location="query")
@blp.response(200, StockReadSchema(many=True))
@blp.paginate(SelectPage)
def list_stock(query):
    """List stock by warehouse, product and lot (rows holding something; filter by any of them)"""
    return service.stock(**query, scope=current_scope())
