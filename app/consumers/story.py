"""A unit's story for the consumer: the product, the lot, where it was made, the dealers' regions, the store."""
from __future__ import annotations

import sqlalchemy as sa

from app.consumers import facts
from app.extensions import db
from app.masterdata import region_cache
from app.masterdata.models import Region, RegionLevel
from app.units.models import LocationKind


_PLACEHOLDER_CITIES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


def _region_names(code: str | None) -> list[tuple[str, RegionLevel, str]]:
    """The region and its ancestors: (code, level, name), the region first (from the process's region table)."""
    return region_cache.table().chain(code)


def city_of(code: str | None) -> str | None:
    """The name of the city a region lies in (a province-level city for municipalities)."""
    chain = _region_names(code)
    for i, (_, level, name) in enumerate(chain):
        if level is RegionLevel.CITY:
            if name in _PLACEHOLDER_CITIES and i + 1 < len(chain):
                return chain[i + 1][2]  # a municipality's 市辖区: the municipality itself
            return name
    return chain[0][2] if chain else None


def _product(product: facts.ProductFacts | None) -> dict | None:
    if product is None:
        return None
    return {"id": product.id, "name": product.name, "specification": product.specification,
            "image_url": product.image_url, "gtin": product.gtin}


def _lot(lot: facts.LotFacts | None) -> dict | None:
    if lot is None:
        return None
    return {"lot_no": lot.lot_no, "production_date": lot.production_date, "expiry_date": lot.expiry_date}


def _at_store(unit) -> bool:
    """Whether the unit's story names a store: sold there, or on its shelf (not in transit)."""
    at_store = unit.location_kind is LocationKind.CONSUMER or (
        unit.location_kind is LocationKind.STORE and not unit.in_transit)
    return at_store and unit.location_id is not None


def _region_name_list(codes: set[str]) -> list[str]:
    regions = region_cache.table()
    names = [regions.rows[code].name for code in codes if code in regions.rows]
    missing = [code for code in codes if code not in regions.rows]  # newer than this process's copy
    if missing:
        names += db.session.scalars(sa.select(Region.name).where(Region.code.in_(missing)))
    return sorted(names)


def _story(unit, lot: facts.LotFacts | None, factory_region: str | None, shop: tuple[str, str | None] | None,
           territory: set[str]) -> dict:
    made = None
    if lot is not None:
        made = {"city": city_of(factory_region), "date": lot.production_date}
    dealer_regions = _region_name_list(territory) if unit.last_dealer_id is not None else []
    sold_at = None
    if shop is not None:
        sold_at = {"name": shop[0], "city": city_of(shop[1]), "sold": unit.location_kind is LocationKind.CONSUMER}
    return {"made": made, "dealer_regions": dealer_regions, "store": sold_at}
