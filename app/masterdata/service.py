"""Master-data use cases: create, update, (de)activate, list and the ERP's bulk upsert.

Every change writes an audit record with the changed fields, in the caller's transaction.
Checks come before any attribute is set, so a refused change leaves the session untouched.

Dealer tiers are derived, never free: a dealer without a parent is tier 1, a dealer under a
parent is the parent's tier + 1. A tier given by the caller must agree (else
``dealer_tier_mismatch``); moving a dealer re-tiers its whole subtree.

Bulk upserts (ERP) match records by ``external_id`` and are all or nothing: every item is
checked in order (each seeing the ones before it), and if any is refused ``BatchRejected`` is
raised with the reason of each refused item, so the caller's transaction writes nothing.
The same payload sent twice changes nothing and writes no audit record the second time.
"""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.bulk import ItemResult, saver as _saver, upsert_batch as _upsert_batch
from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.identity.scope import NATIONAL, DataScope, OutsideDataScope, scope_of
from app.identity.service import Actor, apply_changes, audit
from app.masterdata import rules
from app.masterdata.models import (
    Dealer, Factory, LineMode, Product, ProductionLine, Region, RegionLevel, Status, Store, Warehouse,
    dealer_territories,
)
from app.platform.filters import Filters, containing

# --- shared steps -----------------------------------------------------------------------------


def _status(value) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise rules.StatusInvalid(errors={"status": ["active or inactive"]})


def _external_id(model, value, current) -> str | None:
    value = rules.text(value, "external_id") or None
    if value is not None:
        other = db.session.scalar(sa.select(model.id).where(model.external_id == value))
        if other is not None and (current is None or other != current.id):
            raise rules.ExternalIdTaken(f"The external id {value!r} is taken.",
                                        errors={"external_id": ["taken"]})
    return value


def _region(code, field: str, *, levels: tuple[RegionLevel, ...] | None = None) -> Region:
    region = db.session.get(Region, str(code).strip()) if code else None
    if region is None:
        raise rules.RegionUnknown(f"No region has the code {code!r}.", errors={field: ["unknown region"]})
    if levels and region.level not in levels:
        allowed = " or ".join(level.value for level in levels)
        raise rules.RegionLevelInvalid(f"{region.name} is a {region.level.value}; a {allowed} is needed.",
                                       errors={field: [f"a {allowed}"]})
    return region


def common_values(model, data: dict, current, *, plain: tuple[str, ...], required: tuple[str, ...]) -> dict:
    """Values of the plain text fields, external_id and status, checked."""
    if current is None:
        missing = [name for name in required if name not in data]
        if missing:
            raise rules.FieldRequired(f"{', '.join(missing)} required.",
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


# --- data scope: the ids of the places inside a scope, for lists placed through them ---------------

def store_ids_in(scope: DataScope):
    return sa.select(Store.id).where(scope.filter(Store.region_code))


def warehouse_ids_in(scope: DataScope):
    return sa.select(Warehouse.id).where(scope.filter(Warehouse.region_code))


def factory_ids_in(scope: DataScope):
    return sa.select(Factory.id).where(scope.filter(Factory.region_code))


def factory_in(scope: DataScope, factory_id: int | None) -> bool:
    """Whether the factory (a line's, a lot's) lies inside the scope."""
    if scope.national:
        return True
    factory = db.session.get(Factory, factory_id) if factory_id else None
    return factory is not None and scope.allows(factory.region_code)


def dealer_in(scope: DataScope, dealer_id: int) -> bool:
    """Whether the dealer's territory meets the scope (as dealer_ids_in)."""
    return scope.national or db.session.scalar(
        dealer_ids_in(scope).where(dealer_territories.c.dealer_id == dealer_id).limit(1)) is not None


def dealer_ids_in(scope: DataScope):
    """Dealers whose territory meets the scope (a province's dealer is in the scope of one of its cities)."""
    return sa.select(dealer_territories.c.dealer_id).where(scope.overlaps(dealer_territories.c.region_code))


# --- products ---------------------------------------------------------------------------------

PRODUCT_TEXT = ("sku", "name", "specification", "description")


def _product_values(data: dict, product: Product | None) -> dict:
    values = common_values(Product, data, product, plain=PRODUCT_TEXT, required=("sku", "name"))
    if "sku" in values:
        # Case-insensitive on every backend, as MySQL's unique index already is.
        taken = db.session.scalar(sa.select(Product.id).where(
            sa.func.lower(Product.sku) == values["sku"].lower(),
            Product.id != (product.id if product else -1)))
        if taken is not None:
            raise rules.SkuTaken(f"The SKU {values['sku']!r} is taken.", errors={"sku": ["taken"]})
    if "gtin" in data:
        values["gtin"] = rules.gtin14(data["gtin"])
        if values["gtin"] is not None:
            taken = db.session.scalar(sa.select(Product.id).where(
                Product.gtin == values["gtin"], Product.id != (product.id if product else -1)))
            if taken is not None:
                raise rules.GtinTaken(f"The GTIN {values['gtin']} is taken.", errors={"gtin": ["taken"]})
    for name in ("units_per_case", "cases_per_pallet"):
        if name in data:
            values[name] = rules.positive_int(data[name], name, rules.PackagingInvalid)
        elif product is None:
            values[name] = 1
    if "shelf_life_days" in data:
        values["shelf_life_days"] = rules.positive_int(data["shelf_life_days"], "shelf_life_days",
                                                       rules.ShelfLifeInvalid, optional=True)
    if "image_url" in data:
        values["image_url"] = rules.image_url(data["image_url"])
    return values


def create_product(*, actor: Actor, data: dict) -> Product:
    """Create a product (SKU); a GTIN-8/12/13/14 is stored as GTIN-14."""
    return _create(actor, Product(), _product_values(data, None))


def get_product(product_id: int) -> Product:
    return _get(Product, product_id)


def update_product(*, actor: Actor, product_id: int, changes: dict) -> Product:
    product = get_product(product_id)
    _update(actor, product, _product_values(changes, product))
    return product


def deactivate_product(*, actor: Actor, product_id: int) -> Product:
    return _set_status(actor, get_product(product_id), Status.INACTIVE)


def reactivate_product(*, actor: Actor, product_id: int) -> Product:
    return _set_status(actor, get_product(product_id), Status.ACTIVE)


def _as_gtin14(gtin: str) -> str:
    try:
        return rules.gtin14(gtin)
    except rules.GtinInvalid:
        return gtin  # no product has an invalid GTIN: the exact match finds nothing


_PRODUCT_FILTERS = Filters(
    falsy_is_any=True,
    status=lambda value: Product.status == Status(value),
    q=lambda value: containing(value, Product.name, Product.sku),
    gtin=lambda value: Product.gtin == _as_gtin14(value),
    external_id=lambda value: Product.external_id == value,
)


def list_products(*, status=None, q=None, gtin=None, external_id=None):
    return _PRODUCT_FILTERS.apply(sa.select(Product).order_by(Product.id), status=status, q=q, gtin=gtin,
                                  external_id=external_id)


# --- factories, production lines, warehouses ------------------------------------------------------

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
            raise rules.FactoryUnknown(errors={"factory_id": ["unknown factory"]})
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
        raise rules.LineCodeTaken(f"The factory already has a line {code!r}.", errors={"code": ["taken"]})
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
                raise rules.FactoryUnknown(errors={"factory_id": ["unknown factory"]})
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


# --- regions ----------------------------------------------------------------------------------

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


# --- dealers ----------------------------------------------------------------------------------

def _dealer_values(data: dict, dealer: Dealer | None) -> tuple[dict, dict]:
    """(column values, collection changes to apply) for a dealer."""
    values = common_values(Dealer, data, dealer, plain=("name",), required=("name",))
    if "parent_id" in data:
        parent = None
        if data["parent_id"] is not None:
            parent = db.session.get(Dealer, data["parent_id"])
            if parent is None:
                raise rules.DealerParentUnknown(errors={"parent_id": ["unknown dealer"]})
            if parent.status is not Status.ACTIVE and (dealer is None or dealer.parent_id != parent.id):
                raise rules.DealerInactive(errors={"parent_id": ["inactive dealer"]})
            if dealer is not None:
                _refuse_cycle(dealer, parent)
        values["parent_id"] = parent.id if parent else None
    else:
        parent = db.session.get(Dealer, dealer.parent_id) if dealer and dealer.parent_id else None
    tier = parent.tier + 1 if parent else 1
    if data.get("tier") is not None and data["tier"] != tier:
        raise rules.DealerTierMismatch(
            f"The tier must be {tier}" + (f" (under the tier-{parent.tier} dealer {parent.name})."
                                          if parent else " for a dealer without a parent."),
            errors={"tier": [f"must be {tier}"]})
    values["tier"] = tier
    if "contacts" in data:
        values["contacts"] = _contacts(data["contacts"])
    elif dealer is None:
        values["contacts"] = []
    territory = None
    if "territory" in data:
        codes = sorted({str(code).strip() for code in data["territory"] or []})
        territory = db.session.scalars(sa.select(Region).where(Region.code.in_(codes))).all() if codes else []
        unknown = sorted(set(codes) - {region.code for region in territory})
        if unknown:
            raise rules.RegionUnknown(f"Unknown region code(s): {', '.join(unknown)}.",
                                      errors={"territory": unknown})
    return values, {"territory": territory}


def _contacts(contacts) -> list[dict]:
    if not isinstance(contacts, list) or not all(isinstance(c, dict) for c in contacts):
        raise ValidationFailed(code="contacts_invalid", errors={"contacts": ["a list of {name, phone, title}"]})
    return [{key: str(contact.get(key) or "").strip() for key in ("name", "phone", "title")}
            for contact in contacts]


def _refuse_cycle(dealer: Dealer, parent: Dealer) -> None:
    """Walk up from the new parent; meeting the dealer itself would close a loop."""
    node, seen = parent, set()
    while node is not None and node.id not in seen:
        if node.id == dealer.id:
            raise rules.DealerParentCycle(
                f"{parent.name} is {dealer.name} itself or one of its sub-dealers.",
                errors={"parent_id": ["would create a cycle"]})
        seen.add(node.id)
        node = db.session.get(Dealer, node.parent_id) if node.parent_id else None


def _retier_subtree(actor: Actor, dealer: Dealer) -> None:
    """After a move, every sub-dealer's tier follows its new depth."""
    queue, seen = [dealer], {dealer.id}
    while queue:
        node = queue.pop()
        for child in db.session.scalars(sa.select(Dealer).where(Dealer.parent_id == node.id)):
            if child.id in seen:
                continue
            seen.add(child.id)
            changes = apply_changes(child, {"tier": node.tier + 1})
            if changes:
                audit(actor, "dealer.update", child, changes)
                queue.append(child)


def _dealer_collections(dealer: Dealer, collections: dict) -> dict:
    if collections["territory"] is None:
        return {}
    return _replace(dealer, "territory", collections["territory"], key=lambda region: region.code)


def _dealer_write(actor: Actor, dealer: Dealer, collections: dict) -> None:
    """A write to a dealer is for users whose scope holds its whole territory, old and new (a dealer
    without a territory, or one reaching beyond the scope, is for national users)."""
    scope = scope_of(actor)
    if scope.national:
        return
    codes = [region.code for region in dealer.territory] if dealer.id is not None else []
    codes += [region.code for region in collections["territory"] or []]
    if not codes:
        raise OutsideDataScope("A dealer without a territory in your regions is for national users.")
    scope.require(*codes)


def create_dealer(*, actor: Actor, data: dict) -> Dealer:
    """Create a dealer; territory is a list of region codes of any level."""
    values, collections = _dealer_values(data, None)
    dealer = Dealer()
    _dealer_write(actor, dealer, collections)
    return _create(actor, dealer, values, _dealer_collections(dealer, collections))


def get_dealer(dealer_id: int, *, scope: DataScope = NATIONAL) -> Dealer:
    dealer = _get(Dealer, dealer_id)
    if not dealer_in(scope, dealer_id):
        raise rules.not_found("dealer")
    return dealer


def update_dealer(*, actor: Actor, dealer_id: int, changes: dict) -> Dealer:
    dealer = get_dealer(dealer_id)
    _save_dealer(actor, dealer, changes)
    return dealer


def _save_dealer(actor: Actor, dealer: Dealer, changes: dict) -> bool:
    values, collections = _dealer_values(changes, dealer)
    _dealer_write(actor, dealer, collections)
    old_tier = dealer.tier
    changed = _update(actor, dealer, values, _dealer_collections(dealer, collections))
    if "parent_id" in values:
        db.session.expire(dealer, ["parent"])
    if dealer.tier != old_tier:
        _retier_subtree(actor, dealer)
    return changed


def deactivate_dealer(*, actor: Actor, dealer_id: int) -> Dealer:
    dealer = get_dealer(dealer_id)
    _dealer_write(actor, dealer, {"territory": None})
    return _set_status(actor, dealer, Status.INACTIVE)


def reactivate_dealer(*, actor: Actor, dealer_id: int) -> Dealer:
    dealer = get_dealer(dealer_id)
    _dealer_write(actor, dealer, {"territory": None})
    return _set_status(actor, dealer, Status.ACTIVE)


_DEALER_FILTERS = Filters(
    falsy_is_any=True,
    status=lambda value: Dealer.status == Status(value),
    q=lambda value: containing(value, Dealer.name),
    tier=lambda value: Dealer.tier == value,
    parent_id=lambda value: Dealer.parent_id == value,
    region_code=lambda value: Dealer.territory.any(Region.code.in_(rules.region_ancestors(value))),
    external_id=lambda value: Dealer.external_id == value,
)


def list_dealers(*, status=None, q=None, tier=None, parent_id=None, region_code=None, external_id=None,
                 scope: DataScope = NATIONAL):
    """Dealers; region_code finds those whose territory covers the region (it or an ancestor)."""
    query = sa.select(Dealer).options(selectinload(Dealer.territory)).order_by(Dealer.id)
    if not scope.national:
        query = query.where(Dealer.id.in_(dealer_ids_in(scope)))
    return _DEALER_FILTERS.apply(query, status=status, q=q, tier=tier, parent_id=parent_id, region_code=region_code,
                                 external_id=external_id)


# --- stores -----------------------------------------------------------------------------------

def _store_values(data: dict, store: Store | None) -> tuple[dict, list[Dealer] | None]:
    values = common_values(Store, data, store, plain=("name", "address"), required=("name", "region_code"))
    if "region_code" in data:
        values["region_code"] = _region(data["region_code"], "region_code",
                                         levels=(RegionLevel.CITY, RegionLevel.DISTRICT)).code
    if "longitude" in data or "latitude" in data:
        values["longitude"], values["latitude"] = rules.coordinates(
            data.get("longitude", store.longitude if store else None),
            data.get("latitude", store.latitude if store else None))
    dealers = None
    if "dealer_ids" in data:
        ids = sorted(set(data["dealer_ids"] or []))
        dealers = db.session.scalars(sa.select(Dealer).where(Dealer.id.in_(ids))).all() if ids else []
        unknown = sorted(set(ids) - {dealer.id for dealer in dealers})
        if unknown:
            raise rules.DealerUnknown(f"Unknown dealer id(s): {', '.join(map(str, unknown))}.",
                                      errors={"dealer_ids": unknown})
        current = {dealer.id for dealer in store.dealers} if store is not None else set()
        inactive = sorted(d.id for d in dealers if d.status is not Status.ACTIVE and d.id not in current)
        if inactive:
            raise rules.DealerInactive(f"Deactivated dealer id(s): {', '.join(map(str, inactive))}.",
                                       errors={"dealer_ids": inactive})
    return values, dealers


def _store_collections(store: Store, dealers: list[Dealer] | None) -> dict:
    if dealers is None:
        return {}
    return _replace(store, "dealers", dealers, key=lambda dealer: dealer.id, label="dealer_ids")


def create_store(*, actor: Actor, data: dict) -> Store:
    """Create a store in a city or district, served by zero or more dealers."""
    values, dealers = _store_values(data, None)
    store = Store()
    _place_write(actor, store, values)
    return _create(actor, store, values, _store_collections(store, dealers))


def get_store(store_id: int, *, scope: DataScope = NATIONAL) -> Store:
    return _get_in_scope(Store, store_id, scope)


def update_store(*, actor: Actor, store_id: int, changes: dict) -> Store:
    store = get_store(store_id)
    _save_store(actor, store, changes)
    return store


def _save_store(actor: Actor, store: Store, changes: dict) -> bool:
    values, dealers = _store_values(changes, store)
    _place_write(actor, store, values)
    return _update(actor, store, values, _store_collections(store, dealers))


def deactivate_store(*, actor: Actor, store_id: int) -> Store:
    store = get_store(store_id)
    _place_write(actor, store, {})
    return _set_status(actor, store, Status.INACTIVE)


def reactivate_store(*, actor: Actor, store_id: int) -> Store:
    store = get_store(store_id)
    _place_write(actor, store, {})
    return _set_status(actor, store, Status.ACTIVE)


_STORE_FILTERS = Filters(
    falsy_is_any=True,
    status=lambda value: Store.status == Status(value),
    q=lambda value: containing(value, Store.name, Store.address),
    region_code=lambda value: Store.region_code.startswith(rules.region_prefix(value)),
    dealer_id=lambda value: Store.dealers.any(Dealer.id == value),
    external_id=lambda value: Store.external_id == value,
)


def list_stores(*, status=None, q=None, region_code=None, dealer_id=None, external_id=None,
                scope: DataScope = NATIONAL):
    """Stores; region_code matches the region and everything inside it."""
    query = (sa.select(Store).options(selectinload(Store.dealers)).where(scope.filter(Store.region_code))
             .order_by(Store.id))
    return _STORE_FILTERS.apply(query, status=status, q=q, region_code=region_code, dealer_id=dealer_id,
                                external_id=external_id)


# --- ERP bulk upsert --------------------------------------------------------------------------

def bulk_upsert_products(*, actor: Actor, records: list[dict]) -> list[ItemResult]:
    return _upsert_batch(records=records, model=Product, save=_saver(
        actor, create_product, lambda a, p, r: _update(a, p, _product_values(r, p))))


def bulk_upsert_factories(*, actor: Actor, records: list[dict]) -> list[ItemResult]:
    return _upsert_batch(records=records, model=Factory, save=_saver(
        actor, create_factory, lambda a, f, r: _update(a, f, _place_values(Factory, r, f))))


def _by_external_id(model, external_id, field: str, error: type[ValidationFailed]):
    obj = db.session.scalar(sa.select(model).where(model.external_id == external_id))
    if obj is None:
        raise error(f"No record has the external id {external_id!r}.", errors={field: [external_id]})
    return obj


def bulk_upsert_warehouses(*, actor: Actor, records: list[dict]) -> list[ItemResult]:
    """Warehouses; the factory is named by factory_external_id."""
    def translate(record):
        record = dict(record)
        if "factory_external_id" in record:
            ext = record.pop("factory_external_id")
            record["factory_id"] = _by_external_id(Factory, ext, "factory_external_id",
                                                   rules.FactoryUnknown).id if ext else None
        return record

    return _upsert_batch(records=records, model=Warehouse, save=_saver(
        actor, lambda *, actor, data: create_warehouse(actor=actor, data=translate(data)),
        lambda a, w, r: _update(a, w, _warehouse_values(translate(r), w))))


def _parents_first(records: list[dict]) -> tuple[list[int], dict[int, ValidationFailed]]:
    """An order in which every in-batch parent comes before its children, and the items in loops."""
    index_of = {r["external_id"]: i for i, r in enumerate(records)}
    order, done, refused = [], set(), {}
    for start in range(len(records)):
        path, on_path, node = [], set(), start
        while node is not None and node not in done and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = index_of.get(records[node].get("parent_external_id"))
        if node is not None and node in on_path:  # the walk came back to itself: a loop
            for member in path:
                refused[member] = rules.DealerParentCycle(
                    "The batch makes dealers each other's ancestors.",
                    errors={"parent_external_id": ["would create a cycle"]})
        order.extend(reversed(path))
        done.update(path)
    return order, refused


def bulk_upsert_dealers(*, actor: Actor, records: list[dict]) -> list[ItemResult]:
    """Dealers; parent by parent_external_id (in the database or earlier in any order in the batch)."""
    def translate(record):
        record = dict(record)
        if "parent_external_id" in record:
            ext = record.pop("parent_external_id")
            record["parent_id"] = _by_external_id(Dealer, ext, "parent_external_id",
                                                  rules.DealerParentUnknown).id if ext else None
        return record

    order, refused = _parents_first(records)
    return _upsert_batch(records=records, model=Dealer, order=order, refused=refused, save=_saver(
        actor, lambda *, actor, data: create_dealer(actor=actor, data=translate(data)),
        lambda a, d, r: _save_dealer(a, d, translate(r))))


def bulk_upsert_stores(*, actor: Actor, records: list[dict]) -> list[ItemResult]:
    """Stores; dealers by dealer_external_ids."""
    def translate(record):
        record = dict(record)
        if "dealer_external_ids" in record:
            wanted = sorted(set(record.pop("dealer_external_ids") or []))
            found = db.session.execute(sa.select(Dealer.external_id, Dealer.id)
                                       .where(Dealer.external_id.in_(wanted))).all() if wanted else []
            unknown = sorted(set(wanted) - {ext for ext, _ in found})
            if unknown:
                raise rules.DealerUnknown(f"Unknown dealer external id(s): {', '.join(unknown)}.",
                                          errors={"dealer_external_ids": unknown})
            record["dealer_ids"] = [dealer_id for _, dealer_id in found]
        return record

    return _upsert_batch(records=records, model=Store, save=_saver(
        actor, lambda *, actor, data: create_store(actor=actor, data=translate(data)),
        lambda a, s, r: _save_store(a, s, translate(r))))
