"""Factories, production lines and warehouses (create, update, (de)activate, list) and the regions they lie in."""
from __future__ import annotations

import sqlalchemy as sa

from app.errors import ValidationFailed
from app.extensions import db
from app.identity.scope import NATIONAL, DataScope
from app.identity.service import Actor
from app.masterdata import errors, rules
from app.masterdata.models import Factory, LineMode, ProductionLine, Region, RegionLevel, Status, Warehouse
from app.masterdata.records import (
    _create, _get, _get_in_scope, _place_write, _region, _set_status, _update, common_values,
)
from app.masterdata.scope_ids import factory_ids_in, factory_in
from app.platform.filters import Filters, containing


def _place_values(model, data: dict, current) -> dict:
    values = common_values(model, data, current, plain=("name", "address"), required=("name",))
    if "region_code" in data:
        values["region_code"] = _region(data["region_code"], "region_code").code \
            if data["region_code"] else None
    return values


def create_factory(*, actor: Actor, data: dict) -> Factory:
    factory, values = Factory(), _place_values(Factory, data, None)
    _place_write(actor, factory, values)
    return _create(actor, factory, values)


def get_factory(factory_id: int, *, scope: DataScope = NATIONAL) -> Factory:
    return _get_in_scope(Factory, factory_id, scope)


def update_factory(*, actor: Actor, factory_id: int, changes: dict) -> Factory:
    factory = get_factory(factory_id)
    values = _place_values(Factory, changes, factory)
    _place_write(actor, factory, values)
    _update(actor, factory, values)
    return factory


def deactivate_factory(*, actor: Actor, factory_id: int) -> Factory:
    factory = get_factory(factory_id)
    _place_write(actor, factory, {})
    return _set_status(actor, factory, Status.INACTIVE)


def reactivate_factory(*, actor: Actor, factory_id: int) -> Factory:
    factory = get_factory(factory_id)
    _place_write(actor, factory, {})
    return _set_status(actor, factory, Status.ACTIVE)


_FACTORY_FILTERS = Filters(
    falsy_is_any=True,
    status=lambda value: Factory.status == Status(value),
    q=lambda value: containing(value, Factory.name),
    region_code=lambda value: Factory.region_code.startswith(rules.region_prefix(value)),
    external_id=lambda value: Factory.external_id == value,
)


def list_factories(*, status=None, q=None, region_code=None, external_id=None, scope: DataScope = NATIONAL):
    query = sa.select(Factory).where(scope.filter(Factory.region_code)).order_by(Factory.id)
    return _FACTORY_FILTERS.apply(query, status=status, q=q, region_code=region_code, external_id=external_id)


def _line_values(data: dict, line: ProductionLine | None) -> dict:
    values = common_values(ProductionLine, data, line, plain=("code", "name"), required=("factory_id", "code", "name"))
    if "factory_id" in data:
        factory = db.session.get(Factory, data["factory_id"]) if data["factory_id"] else None
        if factory is None:
            raise errors.FactoryUnknown(errors={"factory_id": ["unknown factory"]})
        values["factory_id"] = factory.id
    if "mode" in data:
        try:
            values["mode"] = LineMode(data["mode"])
        except ValueError:
            raise ValidationFailed(code="line_mode_invalid", errors={"mode": [", ".join(m.value for m in LineMode)]})
    elif line is None:
        values["mode"] = LineMode.MANUAL
    factory_id = values.get("factory_id", line.factory_id if line else None)
    code = values.get("code", line.code if line else None)
    taken = db.session.scalar(sa.select(ProductionLine.id).where(
        ProductionLine.factory_id == factory_id, ProductionLine.code == code,
        ProductionLine.id != (line.id if line else -1)))
    if taken is not None:
        raise errors.LineCodeTaken(f"The factory already has a line {code!r}.", errors={"code": ["taken"]})
    return values


def create_production_line(*, actor: Actor, data: dict) -> ProductionLine:
    return _create(actor, ProductionLine(), _line_values(data, None))


def get_production_line(line_id: int, *, scope: DataScope = NATIONAL) -> ProductionLine:
    line = _get(ProductionLine, line_id)
    if not factory_in(scope, line.factory_id):
        raise rules.not_found("production_line")
    return line


def update_production_line(*, actor: Actor, line_id: int, changes: dict) -> ProductionLine:
    line = get_production_line(line_id)
    _update(actor, line, _line_values(changes, line))
    return line


def deactivate_production_line(*, actor: Actor, line_id: int) -> ProductionLine:
    return _set_status(actor, get_production_line(line_id), Status.INACTIVE)


def reactivate_production_line(*, actor: Actor, line_id: int) -> ProductionLine:
    return _set_status(actor, get_production_line(line_id), Status.ACTIVE)


_LINE_FILTERS = Filters(
    falsy_is_any=True,
    factory_id=lambda value: ProductionLine.factory_id == value,
    status=lambda value: ProductionLine.status == Status(value),
    mode=lambda value: ProductionLine.mode == LineMode(value),
    q=lambda value: containing(value, ProductionLine.name, ProductionLine.code),
)


def list_production_lines(*, factory_id=None, status=None, q=None, mode=None, scope: DataScope = NATIONAL):
    query = sa.select(ProductionLine).order_by(ProductionLine.id)
    if not scope.national:
        query = query.where(ProductionLine.factory_id.in_(factory_ids_in(scope)))
    return _LINE_FILTERS.apply(query, factory_id=factory_id, status=status, mode=mode, q=q)


def _warehouse_values(data: dict, warehouse: Warehouse | None) -> dict:
    values = _place_values(Warehouse, data, warehouse)
    if "factory_id" in data:
        factory = None
        if data["factory_id"] is not None:
            factory = db.session.get(Factory, data["factory_id"])
            if factory is None:
                raise errors.FactoryUnknown(errors={"factory_id": ["unknown factory"]})
        values["factory_id"] = factory.id if factory else None
    return values


def create_warehouse(*, actor: Actor, data: dict) -> Warehouse:
    warehouse, values = Warehouse(), _warehouse_values(data, None)
    _place_write(actor, warehouse, values)
    return _create(actor, warehouse, values)


def get_warehouse(warehouse_id: int, *, scope: DataScope = NATIONAL) -> Warehouse:
    return _get_in_scope(Warehouse, warehouse_id, scope)


def update_warehouse(*, actor: Actor, warehouse_id: int, changes: dict) -> Warehouse:
    warehouse = get_warehouse(warehouse_id)
    values = _warehouse_values(changes, warehouse)
    _place_write(actor, warehouse, values)
    _update(actor, warehouse, values)
    return warehouse


def deactivate_warehouse(*, actor: Actor, warehouse_id: int) -> Warehouse:
    warehouse = get_warehouse(warehouse_id)
    _place_write(actor, warehouse, {})
    return _set_status(actor, warehouse, Status.INACTIVE)


def reactivate_warehouse(*, actor: Actor, warehouse_id: int) -> Warehouse:
    warehouse = get_warehouse(warehouse_id)
    _place_write(actor, warehouse, {})
    return _set_status(actor, warehouse, Status.ACTIVE)


_WAREHOUSE_FILTERS = Filters(
    falsy_is_any=True,
    status=lambda value: Warehouse.status == Status(value),
    q=lambda value: containing(value, Warehouse.name),
    factory_id=lambda value: Warehouse.factory_id == value,
    region_code=lambda value: Warehouse.region_code.startswith(rules.region_prefix(value)),
    external_id=lambda value: Warehouse.external_id == value,
)


def list_warehouses(*, status=None, q=None, factory_id=None, region_code=None, external_id=None,
                    scope: DataScope = NATIONAL):
    query = sa.select(Warehouse).where(scope.filter(Warehouse.region_code)).order_by(Warehouse.id)
    return _WAREHOUSE_FILTERS.apply(query, status=status, q=q, factory_id=factory_id, region_code=region_code,
                                    external_id=external_id)


def get_region(code: str) -> Region:
    region = db.session.get(Region, code)
    if region is None:
        raise rules.not_found("region")
    return region


_REGION_FILTERS = Filters(
    falsy_is_any=True,
    level=lambda value: Region.level == RegionLevel(value),
    parent_code=lambda value: Region.parent_code == value,
    q=lambda value: containing(value, Region.name),
)


def list_regions(*, level=None, parent_code=None, q=None):
    return _REGION_FILTERS.apply(sa.select(Region).order_by(Region.code), level=level, parent_code=parent_code, q=q)
