"""Dealers: tier, parent dealer, sales territory, contacts."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.admin_api.masterdata.fields import external_id, status, status_filter, text
from app.db import transaction
from app.http import (ALL_ROLES, WRITERS_OF_MASTER_DATA, SelectPage, authenticate_back_office, current_actor,
                      current_scope, regional, roles)
from app.masterdata import dealers as masterdata_dealers
from app.identity.personal_data import PHONE
from app.schemas import Int, Masked

blp = Blueprint("admin_dealers", __name__, url_prefix="/api/admin/dealers",
                description="Dealers (经销商): tier n buys from a tier n-1 parent; territory is a set of regions.")
blp.before_request(authenticate_back_office)


class ContactSchema(ma.Schema):
    name = text(64, required=True)
    phone = text(32, load_default="")
    title = text(64, load_default="")


class ContactReadSchema(ma.Schema):
    name = ma.fields.String()
    phone = Masked(PHONE)
    title = ma.fields.String()


class DealerReadSchema(ma.Schema):
    id = Int()
    external_id = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    tier = Int()
    parent_id = Int(allow_none=True)
    territory = ma.fields.Function(lambda dealer: sorted(region.code for region in dealer.territory),
                                   metadata={"description": "Region codes"})
    contacts = ma.fields.List(ma.fields.Nested(ContactReadSchema))
    status = status()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class DealerUpdateSchema(ma.Schema):
    external_id = external_id()
    name = text(200)
    parent_id = Int(allow_none=True)
    tier = Int(allow_none=True, metadata={
        "description": "Optional; when given it must be the parent's tier + 1 (1 without a parent)"})
    territory = ma.fields.List(ma.fields.String(), validate=ma.validate.Length(max=1000),
                               metadata={"description": "Region codes of any level"})
    contacts = ma.fields.List(ma.fields.Nested(ContactSchema), validate=ma.validate.Length(max=50))


class DealerCreateSchema(DealerUpdateSchema):
    name = text(200, required=True)


class DealerQuerySchema(ma.Schema):
    status = status_filter()
    q = ma.fields.String(metadata={"description": "Part of the name"})
    tier = Int()
    parent_id = Int()
    region_code = ma.fields.String(metadata={"description": "Dealers whose territory covers this region"})
    external_id = ma.fields.String()


@blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.arguments(DealerQuerySchema, location="query")
@blp.response(200, DealerReadSchema(many=True))
@blp.paginate(SelectPage)
def list_dealers(query):
    """List dealers"""
    return masterdata_dealers.list_dealers(**query, scope=current_scope())


@blp.route("", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@blp.arguments(DealerCreateSchema)
@blp.response(201, DealerReadSchema)
def create_dealer(body):
    """Create a dealer"""
    with transaction():
        return masterdata_dealers.create_dealer(actor=current_actor(), data=body)


@blp.route("/<int:dealer_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@blp.response(200, DealerReadSchema)
def get_dealer(dealer_id):
    """Get a dealer"""
    return masterdata_dealers.get_dealer(dealer_id, scope=current_scope())


@blp.route("/<int:dealer_id>", methods=["PATCH"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@blp.arguments(DealerUpdateSchema)
@blp.response(200, DealerReadSchema)
def update_dealer(body, dealer_id):
    """Change a dealer (a new parent re-tiers its sub-dealers)"""
    with transaction():
        return masterdata_dealers.update_dealer(actor=current_actor(), dealer_id=dealer_id, changes=body)


@blp.route("/<int:dealer_id>/deactivate", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@blp.response(200, DealerReadSchema)
def deactivate_dealer(dealer_id):
    """Deactivate a dealer"""
    with transaction():
        return masterdata_dealers.deactivate_dealer(actor=current_actor(), dealer_id=dealer_id)


@blp.route("/<int:dealer_id>/reactivate", methods=["POST"])
@roles(*WRITERS_OF_MASTER_DATA)
@regional
@blp.response(200, DealerReadSchema)
def reactivate_dealer(dealer_id):
    """Reactivate a dealer"""
    with transaction():
        return masterdata_dealers.reactivate_dealer(actor=current_actor(), dealer_id=dealer_id)
