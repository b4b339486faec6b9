"""Products: create, update, (de)activate, list."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.identity.service import Actor
from app.masterdata import errors, rules
from app.masterdata.models import Product, Status
from app.masterdata.records import _create, _get, _set_status, _update, common_values
from app.platform.filters import Filters, containing

PRODUCT_TEXT = ("sku", "name", "specification", "description")


def _product_values(data: dict, product: Product | None) -> dict:
    values = common_values(Product, data, product, plain=PRODUCT_TEXT, required=("sku", "name"))
    if "sku" in values:
        # Case-insensitive on every backend, as MySQL's unique index already is.
        taken = db.session.scalar(sa.select(Product.id).where(
            sa.func.lower(Product.sku) == values["sku"].lower(),
            Product.id != (product.id if product else -1)))
        if taken is not None:
            raise errors.SkuTaken(f"The SKU {values['sku']!r} is taken.", errors={"sku": ["taken"]})
    if "gtin" in data:
        values["gtin"] = rules.gtin14(data["gtin"])
        if values["gtin"] is not None:
            taken = db.session.scalar(sa.select(Product.id).where(
                Product.gtin == values["gtin"], Product.id != (product.id if product else -1)))
            if taken is not None:
                raise errors.GtinTaken(f"The GTIN {values['gtin']} is taken.", errors={"gtin": ["taken"]})
    for name in ("units_per_case", "cases_per_pallet"):
        if name in data:
            values[name] = rules.positive_int(data[name], name, errors.PackagingInvalid)
        elif product is None:
            values[name] = 1
    if "shelf_life_days" in data:
        values["shelf_life_days"] = rules.positive_int(data["shelf_life_days"], "shelf_life_days",
                                                       errors.ShelfLifeInvalid, optional=True)
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
    except errors.GtinInvalid:
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
