"""Rebates (返利): rules per dealer tier, product and period; statements computed from verified flows."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.admin_api.approvals import ApprovalRequestSchema, accepted_or
from app.admin_api.reports.common import exportable
from app.approvals import flows
from app.db import transaction
from app.http import (ALL_ROLES, SelectPage, authenticate_back_office, current_actor, current_scope, national_only,
                      not_regional, regional, roles)
from app.identity.models import Role
from app.masterdata.models import Status
from app.rebates import service
from app.rebates.models import RebateBasis, StatementStatus
from app.schemas import Int

rules_blp = Blueprint("admin_rebate_rules", __name__, url_prefix="/api/admin/rebate-rules",
                      description="Rebate rules: an amount per case received by stores or per unit sold, by "
                                  "dealer tier and product, within dates.")
statements_blp = Blueprint("admin_rebate_statements", __name__, url_prefix="/api/admin/rebate-statements",
                           description="Rebate statements: a dealer's rebate for a period, computed from verified "
                                       "flows; recomputable while a draft, frozen once approved.")
BLUEPRINTS = (rules_blp, statements_blp)
for _blueprint in BLUEPRINTS:
    _blueprint.before_request(authenticate_back_office)

FINANCE = (Role.ADMIN, Role.FINANCE)


def _rule_fields(required: bool) -> dict:
    return {
        "name": ma.fields.String(required=required, validate=ma.validate.Length(min=1, max=200)),
        "tier": Int(allow_none=True, validate=ma.validate.Range(min=1, max=service.MAX_TIER),
                    metadata={"description": "None: every tier"}),
        "product_id": Int(allow_none=True, metadata={"description": "None: every product"}),
        "basis": ma.fields.String(required=required, validate=ma.validate.OneOf([b.value for b in RebateBasis])),
        "amount_fen": Int(required=required, validate=ma.validate.Range(min=1),
                          metadata={"description": "Per case or per unit, in fen"}),
        "starts_on": ma.fields.Date(required=required),
        "ends_on": ma.fields.Date(required=required, metadata={"description": "Inclusive"}),
        "status": ma.fields.String(validate=ma.validate.OneOf([s.value for s in Status])),
    }


RuleCreateSchema = ma.Schema.from_dict(_rule_fields(True), name="RuleCreateSchema")
RuleUpdateSchema = ma.Schema.from_dict(_rule_fields(False), name="RuleUpdateSchema")


class RuleReadSchema(RuleUpdateSchema):
    id = Int()
    basis = ma.fields.Enum(RebateBasis, by_value=True)
    status = ma.fields.Enum(Status, by_value=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class RuleQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in Status]))
    product_id = Int()
    tier = Int()
    basis = ma.fields.String(validate=ma.validate.OneOf([b.value for b in RebateBasis]))


class StatementLineSchema(ma.Schema):
    rule_id = Int()
    product_id = Int()
    basis = ma.fields.Enum(RebateBasis, by_value=True)
    quantity = Int(metadata={"description": "Cases (case_to_store) or units (unit_sold)"})
    amount_fen = Int()


class StatementReadSchema(ma.Schema):
    id = Int()
    dealer_id = Int()
    period_start = ma.fields.Date()
    period_end = ma.fields.Date(metadata={"description": "Inclusive"})
    status = ma.fields.Enum(StatementStatus, by_value=True)
    total_fen = Int()
    computed_at = ma.fields.DateTime(allow_none=True)
    approved_by = ma.fields.String(allow_none=True)
    approved_at = ma.fields.DateTime(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(StatementLineSchema))


class StatementBriefSchema(StatementReadSchema):
    class Meta:
        exclude = ("lines",)


class StatementCreateSchema(ma.Schema):
    dealer_id = Int(required=True)
    period_start = ma.fields.Date(required=True)
    period_end = ma.fields.Date(required=True, metadata={"description": "Inclusive"})


class StatementQuerySchema(ma.Schema):
    dealer_id = Int()
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in StatementStatus]))
    period_from = ma.fields.Date(metadata={"description": "Statements whose period ends on or after this day"})
    period_to = ma.fields.Date(metadata={"description": "Statements whose period starts on or before this day"})


# --- rules --------------------------------------------------------------------------------------

@rules_blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("rebate rules are per tier and product, not per region")
@rules_blp.arguments(RuleQuerySchema, location="query")
@rules_blp.response(200, RuleReadSchema(many=True))
@rules_blp.paginate(SelectPage)
def list_rules(query):
    """List rebate rules (newest first)"""
    return service.list_rules(**query)


@rules_blp.route("", methods=["POST"])
@roles(*FINANCE)
@national_only("brand-wide configuration is written by users who see the whole country")
@rules_blp.arguments(RuleCreateSchema)
@rules_blp.response(201, RuleReadSchema)
def create_rule(body):
    """Create a rebate rule"""
    with transaction():
        return service.create_rule(actor=current_actor(), data=body)


@rules_blp.route("/<int:rule_id>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("rebate rules are per tier and product, not per region")
@rules_blp.response(200, RuleReadSchema)
def get_rule(rule_id):
    """Get a rebate rule"""
    return service.get_rule(rule_id)


@rules_blp.route("/<int:rule_id>", methods=["PATCH"])
@roles(*FINANCE)
@national_only("brand-wide configuration is written by users who see the whole country")
@rules_blp.arguments(RuleUpdateSchema)
@rules_blp.response(200, RuleReadSchema)
def update_rule(body, rule_id):
    """Change a rebate rule, or set it inactive (approved statements keep their figures)"""
    with transaction():
        return service.update_rule(actor=current_actor(), rule_id=rule_id, changes=body)


# --- statements ---------------------------------------------------------------------------------

@statements_blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@statements_blp.arguments(StatementQuerySchema, location="query")
@statements_blp.response(200, StatementBriefSchema(many=True))
@statements_blp.paginate(SelectPage)
def list_statements(query):
    """List rebate statements (latest period first)"""
    return service.list_statements(**query, scope=current_scope())


@statements_blp.route("", methods=["POST"])
@roles(*FINANCE)
@regional
@statements_blp.arguments(StatementCreateSchema)
@statements_blp.response(200, StatementReadSchema)
def compute_statement(body):
    """Compute a dealer's statement for a period, or recompute its draft (an approved one answers 409)"""
    with transaction():
        return service.compute_statement(actor=current_actor(), **body)


@statements_blp.route("/<int:statement_id>", methods=["GET"])
@roles(*ALL_ROLES)
@regional
@statements_blp.response(200, StatementReadSchema)
@exportable(StatementReadSchema, "lines", name="rebate-statement")  # finance hands the dealer its lines as a sheet
def get_statement(statement_id):
    """Get a rebate statement with its lines (?format=xlsx|csv: its lines as a sheet)"""
    return service.get_statement(statement_id, scope=current_scope())


@statements_blp.route("/<int:statement_id>/approve", methods=["POST"])
@roles(*FINANCE)
@regional
@statements_blp.response(200, StatementReadSchema)
@statements_blp.alt_response(202, schema=ApprovalRequestSchema, description="Under dual control: a second "
                             "person approves the request (POST /api/admin/approvals/{id}/approve)")
def approve_statement(statement_id):
    """Approve a draft statement: its figures are frozen (under dual control: 202, a second person approves)"""
    with transaction():
        made = flows.approve_statement(actor=current_actor(), statement_id=statement_id)
    return accepted_or(made)
