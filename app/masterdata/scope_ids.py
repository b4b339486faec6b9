"""Data scope: the ids of the places inside a scope, for lists placed through them."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.identity.scope import DataScope
from app.masterdata.models import Factory, Store, Warehouse, dealer_territories


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
