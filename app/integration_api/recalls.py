"""ERP: a recall's units and where each is now (scope orders), the link a ``recall.created`` event carries.

The event carries the recall's counts, not its units (a lot of 100,000 units would flood the feed);
the ERP pages the units here.
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.codes.models import Level
from app.http import SelectPage, authenticate_machine, scopes
from app.identity.models import Scope
from app.integration_api.orders import ProductRefSchema
from app.masterdata import refs
from app.schemas import Int
from app.trace import lots
from app.trace import recalls as recalls_service
from app.units.models import LocationKind, UnitStatus

blp = Blueprint("integration_recalls", __name__, url_prefix="/api/integration/recalls",
                description="ERP: a recall's units and where each is now (scope orders).")
blp.before_request(authenticate_machine)


class RecalledUnitPage(SelectPage):
    @property
    def items(self):
        rows = lots.unit_rows(super().items)
        products = refs.products(row.product_id for row in rows)
        places = refs.parties((row.location.kind, row.location.id) for row in rows if row.location.kind)
        return [{"code": row.code, "level": row.level, "status": row.status, "product_id": row.product_id,
                 "product": products.get(row.product_id), "lot_id": row.lot_id, "in_transit": row.in_transit,
                 "parent_code": row.parent_code,
                 "location": {"kind": row.location.kind, "id": row.location.id, "name": row.location.name,
                              "external_id": (places.get((row.location.kind.value, row.location.id)) or {})
                              .get("external_id") if row.location.kind else None}}
                for row in rows]


class RecalledUnitPlaceSchema(ma.Schema):
    kind = ma.fields.Enum(LocationKind, by_value=True, allow_none=True, metadata={
        "description": "line, warehouse, dealer, store, consumer (sold: id is the store that sold it)"})
    id = Int(allow_none=True)
    name = ma.fields.String(allow_none=True)
    external_id = ma.fields.String(allow_none=True, metadata={"description": "The ERP's id of the place"})


class RecalledUnitSchema(ma.Schema):
    code = ma.fields.String()
    level = ma.fields.Enum(Level, by_value=True)
    status = ma.fields.Enum(UnitStatus, by_value=True)
    product_id = Int(allow_none=True)
    product = ma.fields.Nested(ProductRefSchema, allow_none=True)
    lot_id = Int(allow_none=True)
    location = ma.fields.Nested(RecalledUnitPlaceSchema)
    in_transit = ma.fields.Boolean(metadata={"description": "Shipped towards location, not yet received"})
    parent_code = ma.fields.String(allow_none=True)


class RecalledUnitQuerySchema(ma.Schema):
    level = ma.fields.String(validate=ma.validate.OneOf([lv.value for lv in Level]),
                             metadata={"description": "Default item"})
    location_kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in LocationKind]))


@blp.route("/<int:recall_id>/units", methods=["GET"])
@scopes(Scope.ORDERS)
@blp.arguments(RecalledUnitQuerySchema, location="query")
@blp.response(200, RecalledUnitSchema(many=True))
@blp.paginate(RecalledUnitPage)
def recalled_units(query, recall_id):
    """A recall's units (items by default), in serial order, and where each is now"""
    return recalls_service.recalled_units(recall_id=recall_id, **query)
