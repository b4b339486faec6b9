"""The steps every master-data use case shares: values checked, rows created, updated and
(de)activated with their audit record, rows found by id (in a data scope).

Every change writes an audit record with the changed fields, in the caller's transaction.
Checks come before any attribute is set, so a refused change leaves the session untouched.
"""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa

from app.errors import Conflict
from app.extensions import db
from app.identity.scope import DataScope, scope_of
from app.identity.service import Actor, apply_changes, audit
from app.masterdata import errors, rules
from app.masterdata.models import (
    Dealer, Factory, Product, ProductionLine, Region, RegionLevel, Status, Store, Warehouse,
)


def _status(value) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise errors.StatusInvalid(errors={"status": ["active or inactive"]})


def _external_id(model, value, current) -> str | None:
    value = rules.text(value, "external_id") or None
    if value is not None:
        other = db.session.scalar(sa.select(model.id).where(model.external_id == value))
        if other is not None and (current is None or other != current.id):
            raise errors.ExternalIdTaken(f"The external id {value!r} is taken.",
                                        errors={"external_id": ["taken"]})
    return value


def _region(code, field: str, *, levels: tuple[RegionLevel, ...] | None = None) -> Region:
    region = db.session.get(Region, str(code).strip()) if code else None
    if region is None:
        raise errors.RegionUnknown(f"No region has the code {code!r}.", errors={field: ["unknown region"]})
    if levels and region.level not in levels:
        allowed = " or ".join(level.value for level in levels)
        raise errors.RegionLevelInvalid(f"{region.name} is a {region.level.value}; a {allowed} is needed.",
                                       errors={field: [f"a {allowed}"]})
    return region


def common_values(model, data: dict, current, *, plain: tuple[str, ...], required: tuple[str, ...]) -> dict:
    """Values of the plain text fields, external_id and status, checked."""
    if current is None:
        missing = [name for name in required if name not in data]
        if missing:
            raise errors.FieldRequired(f"{', '.join(missing)} required.",
                                      errors={name: ["required"] for name in missing})
    values = {}
    for name in plain:
        if name in data:
            values[name] = rules.text(data[name], name, required=name in required) or ""
    if "external_id" in data:
        values["external_id"] = _external_id(model, data["external_id"], current)
    if "status" in data:
        values["status"] = _status(data["status"])
    elif current is None:
        values["status"] = Status.ACTIVE
    return values


def flush_or_conflict() -> None:
    """Flush; a unique key that our checks found free but a concurrent request took is a 409."""
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict("A concurrent change took the same key; retry the request.",
                       code="concurrent_change")


def _create(actor: Actor, obj, values: dict, collections: dict | None = None):
    db.session.add(obj)
    changes = apply_changes(obj, values)
    changes.update(collections or {})
    flush_or_conflict()
    audit(actor, f"{_entity(obj)}.create", obj, changes)
    return obj


def _update(actor: Actor, obj, values: dict, collections: dict | None = None) -> bool:
    changes = apply_changes(obj, values)
    changes.update(collections or {})
    if changes:
        flush_or_conflict()
        audit(actor, f"{_entity(obj)}.update", obj, changes)
    return bool(changes)


def _replace(obj, name: str, items: list, key: Callable, label: str | None = None) -> dict:
    """Replace a many-to-many collection; return {label: [old keys, new keys]} when it changed."""
    old = sorted(key(item) for item in getattr(obj, name))
    new = sorted(key(item) for item in items)
    if old == new:
        return {}
    setattr(obj, name, list(items))
    return {label or name: [old, new]}


def _set_status(actor: Actor, obj, status: Status):
    changes = apply_changes(obj, {"status": status})
    if changes:
        verb = "deactivate" if status is Status.INACTIVE else "reactivate"
        audit(actor, f"{_entity(obj)}.{verb}", obj, changes)
    return obj


_ENTITY_NAMES = {Product: "product", Factory: "factory", ProductionLine: "production_line",
                 Warehouse: "warehouse", Dealer: "dealer", Store: "store"}


def _entity(obj) -> str:
    return _ENTITY_NAMES[type(obj)]


def _get(model, entity_id):
    obj = db.session.get(model, entity_id)
    if obj is None:
        raise rules.not_found(_ENTITY_NAMES[model])
    return obj


def _get_in_scope(model, entity_id, scope: DataScope):
    """The row, or 404 when it lies outside the caller's data scope (its existence is not revealed)."""
    obj = _get(model, entity_id)
    if not scope.allows(obj.region_code):
        raise rules.not_found(_ENTITY_NAMES[model])
    return obj


def _place_write(actor: Actor, obj, values: dict) -> None:
    """A write to a place (factory, warehouse, store) is for users whose scope holds its old and new region."""
    codes = [values["region_code"]] if "region_code" in values else []
    if obj.id is not None:
        codes.append(obj.region_code)
    scope_of(actor).require(*codes or [None])
