"""Factories, their production lines, and warehouses."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.admin_api.masterdata.fields import external_id, status, status_filter, text
from app.db import transaction
from app.http import (ALL_ROLES, WRITERS_OF_MASTER_DATA, SelectPage, authenticate_back_office, current_actor,
                      current_scope, national_only, regional, roles)
from app.masterdata import places
from app.masterdata.models import LineMode
from app.schemas import Int

factories = Blueprint("admin_factories", __name__, url_prefix="/api/admin/factories",
                      description="Factories.")
lines = Blueprint("admin_production_lines", __name__, url_prefix="/api/admin/production-lines",
                  description="Production lines of the factories.")
warehouses = Blueprint("admin_warehouses", __name__, url_prefix="/api/admin/warehouses",
                       description="Warehouses (a factory's or free-standing).")
for _blp in (factories, lines, warehouses):
    _blp.before_request(authenticate_back_office)

MODE_NAMES = [m.value for m in LineMode]


class FactoryReadSchema(ma.Schema):
    id = Int()
    external_id = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    address = ma.fields.String()
    region_code = ma.fields.String(allow_none=True)
    status = status()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class FactoryUpdateSchema(ma.Schema):
    external_id = external_id()
    name = text(200)
    address = text(500)
    region_code = ma.fields.String(allow_none=True, metadata={"description": "12-digit adcode, any level"})


class FactoryCreateSchema(FactoryUpdateSchema):
    name = text(200, required=True)


class PlaceQuerySchema(ma.Schema):
    status = status_filter()
    q = ma.fields.String(metadata={"description": "Part of the name"})
    region_code = ma.fields.String(metadata={"description": "In this region or inside it"})
    external_id = ma.fields.String()


class LineReadSchema(ma.Schema):
    id = Int()
    external_id = ma.fields.String(allow_none=True)
    factory_id = Int()
    code = ma.fields.String()
    name = ma.fields.String()
    mode = ma.fields.Enum(LineMode, by_value=True)
    status = status()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class LineUpdateSchema(ma.Schema):
    external_id = external_id()
    factory_id = Int()
    code = text(32)
    name = text(200)
    mode = ma.fields.String(validate=ma.validate.OneOf(MODE_NAMES))


class LineCreateSchema(LineUpdateSchema):
    factory_id = Int(required=True)
    code = text(32, required=True)
    name = text(200, required=True)


class LineQuerySchema(ma.Schema):
    factory_id = Int()
    status = status_filter()
    mode = ma.fields.String(validate=ma.validate.OneOf(MODE_NAMES))
    q = ma.fields.String(metadata={"description": "Part of the name or code"})


class WarehouseReadSchema(FactoryReadSchema):
    factory_id = Int(allow_none=True)


class WarehouseUpdateSchema(FactoryUpdateSchema):
    factory_id = Int(allow_none=True)


class WarehouseCreateSchema(WarehouseUpdateSchema):
    name = text(200, required=True)


class WarehouseQuerySchema(PlaceQuerySchema):
    factory_id = Int()


# --- factories --------------------------------------------------------------------------------

@factories.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@factories.arguments(PlaceQuerySchema, location="query")
@factories.response(200, FactoryReadSchema(many=True))
@factories.paginate(SelectPage)
def list_factories(query):
    """List factories"""
    return places.list_factories(**query, scope=current_scope())


@factories.route("", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@factories.arguments(FactoryCreateSchema)
@factories.response(201, FactoryReadSchema)
def create_factory(body):
    """Create a factory"""
    with transaction():
        return places.create_factory(actor=current_actor(), data=body)


@factories.route("/<int:factory_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@factories.response(200, FactoryReadSchema)
def get_factory(factory_id):
    """Get a factory"""
    return places.get_factory(factory_id, scope=current_scope())


@factories.route("/<int:factory_id>", methods=["PATCH"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@factories.arguments(FactoryUpdateSchema)
@factories.response(200, FactoryReadSchema)
def update_factory(body, factory_id):
    """Change a factory"""
    with transaction():
        return places.update_factory(actor=current_actor(), factory_id=factory_id, changes=body)


@factories.route("/<int:factory_id>/deactivate", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@factories.response(200, FactoryReadSchema)
def deactivate_factory(factory_id):
    """Deactivate a factory"""
    with transaction():
        return places.deactivate_factory(actor=current_actor(), factory_id=factory_id)


@factories.route("/<int:factory_id>/reactivate", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@factories.response(200, FactoryReadSchema)
def reactivate_factory(factory_id):
    """Reactivate a factory"""
    with transaction():
        return places.reactivate_factory(actor=current_actor(), factory_id=factory_id)


# --- production lines -------------------------------------------------------------------------

@lines.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@lines.arguments(LineQuerySchema, location="query")
@lines.response(200, LineReadSchema(many=True))
@lines.paginate(SelectPage)
def list_lines(query):
    """List production lines"""
    return places.list_production_lines(**query, scope=current_scope())


@lines.route("", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@national_only("production lines are written by the brand's production staff")
@lines.arguments(LineCreateSchema)
@lines.response(201, LineReadSchema)
def create_line(body):
    """Create a production line in a factory"""
    with transaction():
        return places.create_production_line(actor=current_actor(), data=body)


@lines.route("/<int:line_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@lines.response(200, LineReadSchema)
def get_line(line_id):
    """Get a production line"""
    return places.get_production_line(line_id, scope=current_scope())


@lines.route("/<int:line_id>", methods=["PATCH"])
@roles(*WRITERS_OF_MASTER_DATA)
@national_only("production lines are written by the brand's production staff")
@lines.arguments(LineUpdateSchema)
@lines.response(200, LineReadSchema)
def update_line(body, line_id):
    """Change a production line"""
    with transaction():
        return places.update_production_line(actor=current_actor(), line_id=line_id, changes=body)


@lines.route("/<int:line_id>/deactivate", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@national_only("production lines are written by the brand's production staff")
@lines.response(200, LineReadSchema)
def deactivate_line(line_id):
    """Deactivate a production line"""
    with transaction():
        return places.deactivate_production_line(actor=current_actor(), line_id=line_id)


@lines.route("/<int:line_id>/reactivate", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@national_only("production lines are written by the brand's production staff")
@lines.response(200, LineReadSchema)
def reactivate_line(line_id):
    """Reactivate a production line"""
    with transaction():
        return places.reactivate_production_line(actor=current_actor(), line_id=line_id)


# --- warehouses -------------------------------------------------------------------------------

@warehouses.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@warehouses.arguments(WarehouseQuerySchema, location="query")
@warehouses.response(200, WarehouseReadSchema(many=True))
@warehouses.paginate(SelectPage)
def list_warehouses(query):
    """List warehouses"""
    return places.list_warehouses(**query, scope=current_scope())


@warehouses.route("", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@warehouses.arguments(WarehouseCreateSchema)
@warehouses.response(201, WarehouseReadSchema)
def create_warehouse(body):
    """Create a warehouse"""
    with transaction():
        return places.create_warehouse(actor=current_actor(), data=body)


@warehouses.route("/<int:warehouse_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@warehouses.response(200, WarehouseReadSchema)
def get_warehouse(warehouse_id):
    """Get a warehouse"""
    return places.get_warehouse(warehouse_id, scope=current_scope())


@warehouses.route("/<int:warehouse_id>", methods=["PATCH"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@warehouses.arguments(WarehouseUpdateSchema)
@warehouses.response(200, WarehouseReadSchema)
def update_warehouse(body, warehouse_id):
    """Change a warehouse"""
    with transaction():
        return places.update_warehouse(actor=current_actor(), warehouse_id=warehouse_id, changes=body)


@warehouses.route("/<int:warehouse_id>/deactivate", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@warehouses.response(200, WarehouseReadSchema)
def deactivate_warehouse(warehouse_id):
    """Deactivate a warehouse"""
    with transaction():
        return places.deactivate_warehouse(actor=current_actor(), warehouse_id=warehouse_id)


@warehouses.route("/<int:warehouse_id>/reactivate", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@warehouses.response(200, WarehouseReadSchema)
def reactivate_warehouse(warehouse_id):
    """Reactivate a warehouse"""
    with transaction():
        return places.reactivate_warehouse(actor=current_actor(), warehouse_id=warehouse_id)
