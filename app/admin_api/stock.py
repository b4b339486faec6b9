"""Channel stock: the items each warehouse, dealer and store holds, their age and days of stock."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.http import ListingPage, authenticate_back_office, current_scope, regional, roles
from app.identity.models import Role
from app.schemas import Int
from app.stock import service
from app.stock.models import HolderKind

blp = Blueprint("admin_stock", __name__, url_prefix="/api/admin/stock",
                description="Channel stock: the items each warehouse, dealer and store holds (not those in "
                            "transit), by product and lot, with their age and days of stock.")
blp.before_request(authenticate_back_office)

READERS = (Role.ADMIN, Role.OPS, Role.FINANCE, Role.AUDITOR)


class StockQuerySchema(ma.Schema):
    holder_kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in HolderKind]))
    holder_id = Int(metadata={"description": "With holder_kind"})
    warehouse_id = Int(metadata={"description": "Shorthand for holder_kind=warehouse&holder_id="})
    product_id = Int()
    lot_id = Int()
    region_code = ma.fields.String(validate=ma.validate.Length(min=2, max=12), metadata={
        "description": "A province, city or district adcode: warehouses and stores in it, dealers with any "
                       "territory in it"})
    days = Int(load_default=service.DEFAULT_DAYS, validate=ma.validate.Range(min=1, max=service.MAX_DAYS),
               metadata={"description": "The outflow window for days of stock, in China days (today included)"})


class StockSummaryQuerySchema(StockQuerySchema):
    group = ma.fields.String(required=True, validate=ma.validate.OneOf(service.GROUPS))
    region_level = ma.fields.String(load_default="province", validate=ma.validate.OneOf(tuple(service.REGION_LEVELS)))


class _Figures(ma.Schema):
    quantity = Int(metadata={"description": "Active items held, not in transit"})
    oldest_received_on = ma.fields.Date(allow_none=True, metadata={"description": "China day the oldest arrived"})
    age_0_30 = Int(metadata={"description": "Items received 0 to 30 days ago"})
    age_31_60 = Int()
    age_61_90 = Int()
    age_over_90 = Int()
    outflow = Int(metadata={"description": "Items shipped out (warehouses, dealers) or sale-scanned (stores) "
                                           "in the last `days` days"})
    days_of_stock = ma.fields.Float(allow_none=True, metadata={
        "description": "quantity / (outflow / days); null without outflow"})


class StockReadSchema(_Figures):
    holder_kind = ma.fields.Enum(HolderKind, by_value=True)
    holder_id = Int()
    holder_name = ma.fields.String(allow_none=True)
    region_code = ma.fields.String(allow_none=True, metadata={
        "description": "The warehouse's or store's region; a dealer's when its territory is one region"})
    warehouse_id = Int(allow_none=True, metadata={"description": "holder_id of a warehouse, else null"})
    warehouse_name = ma.fields.String(allow_none=True)
    product_id = Int()
    sku = ma.fields.String()
    product_name = ma.fields.String()
    lot_id = Int()
    lot_no = ma.fields.String()


class StockSummaryRowSchema(_Figures):
    key = ma.fields.String(metadata={"description": "The group's value (holder kind, product id, region code)"})
    holder_kind = ma.fields.String()
    product_id = Int()
    sku = ma.fields.String(allow_none=True)
    region_code = ma.fields.String(allow_none=True, metadata={"description": "null: dealers whose territory is "
                                                                              "not one region"})
    region_name = ma.fields.String(allow_none=True)
    holders = Int(metadata={"description": "Holders holding something"})


class StockSummarySchema(ma.Schema):
    as_of = ma.fields.Date(metadata={"description": "The China day ages and the outflow window count from"})
    days = Int()
    group = ma.fields.String()
    region_level = ma.fields.String()
    rows = ma.fields.List(ma.fields.Nested(StockSummaryRowSchema))


def _filters(query: dict) -> service.Filters:
    return service.filters(scope=current_scope(), **{k: query.get(k) for k in (
        "holder_kind", "holder_id", "warehouse_id", "product_id", "lot_id", "region_code")})


@blp.route("", methods=["GET"])
@roles(*READERS)
@regional
@blp.arguments(StockQuerySchema, location="query")
@blp.response(200, StockReadSchema(many=True))
@blp.paginate(ListingPage)
def list_stock(query):
    """List stock by holder, product and lot (rows holding something), with age and days of stock"""
    return service.positions(wanted=_filters(query), days=query["days"])


@blp.route("/summary", methods=["GET"])
@roles(*READERS)
@regional
@blp.arguments(StockSummaryQuerySchema, location="query")
@blp.response(200, StockSummarySchema)
def stock_summary(query):
    """Stock summed by holder kind, product or region, with age and days of stock"""
    return service.summary(wanted=_filters(query), group=query["group"], days=query["days"],
                           region_level=query["region_level"])
