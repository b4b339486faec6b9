"""Stores and the dealers that serve them: create, update, (de)activate, list."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.identity.scope import NATIONAL, DataScope
from app.identity.service import Actor
from app.masterdata import errors, rules
from app.masterdata.models import Dealer, RegionLevel, Status, Store
from app.masterdata.records import (
    _create, _get_in_scope, _place_write, _region, _replace, _set_status, _update, common_values,
)
from app.platform.filters import Filters, containing


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
            raise errors.DealerUnknown(f"Unknown dealer id(s): {', '.join(map(str, unknown))}.",
                                      errors={"dealer_ids": unknown})
        current = {dealer.id for dealer in store.dealers} if store is not None else set()
        inactive = sorted(d.id for d in dealers if d.status is not Status.ACTIVE and d.id not in current)
        if inactive:
            raise errors.DealerInactive(f"Deactivated dealer id(s): {', '.join(map(str, inactive))}.",
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
