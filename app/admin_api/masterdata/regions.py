"""China's administrative divisions, read-only (loaded by a migration from the shipped dataset)."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.http import ALL_ROLES, SelectPage, authenticate_back_office, not_regional, roles
from app.masterdata import places
from app.masterdata.models import RegionLevel

blp = Blueprint("admin_regions", __name__, url_prefix="/api/admin/regions",
                description="Provinces, cities and districts with their 12-digit adcodes.")
blp.before_request(authenticate_back_office)


class RegionReadSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    level = ma.fields.Enum(RegionLevel, by_value=True)
    parent_code = ma.fields.String(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    latitude = ma.fields.Float(allow_none=True)


class RegionQuerySchema(ma.Schema):
    level = ma.fields.String(validate=ma.validate.OneOf([level.value for level in RegionLevel]))
    parent_code = ma.fields.String(metadata={"description": "Direct children of this region"})
    q = ma.fields.String(metadata={"description": "Part of the name"})


@blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("reference data: China's administrative divisions")
@blp.arguments(RegionQuerySchema, location="query")
@blp.response(200, RegionReadSchema(many=True))
@blp.paginate(SelectPage)
def list_regions(query):
    """List regions"""
    return places.list_regions(**query)


@blp.route("/<code>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("reference data: China's administrative divisions")
@blp.response(200, RegionReadSchema)
def get_region(code):
    """Get a region by its adcode"""
    return places.get_region(code)
