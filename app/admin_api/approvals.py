"""Dual control in the back office: requests waiting for a second person, approved or rejected here.

Every role reads. Approving or rejecting needs a role allowed for the request's kind (the roles that
may do the action itself); the requester cannot approve their own request, but may withdraw it.
"""
from __future__ import annotations

import marshmallow as ma
from flask import jsonify, url_for
from flask_smorest import Blueprint

from app.approvals import service as approvals
from app.approvals.models import ApprovalRequest, ApprovalStatus
from app.db import transaction, utcnow
from app.http import ALL_ROLES, SelectPage, authenticate_back_office, current_actor, national_only, roles
from app.identity.models import Role
from app.schemas import Int

blp = Blueprint("admin_approvals", __name__, url_prefix="/api/admin/approvals",
                description="Dual control: actions one back-office user requested and a second one approves.")
blp.before_request(authenticate_back_office)
BLUEPRINTS = (blp,)

DECIDERS = (Role.ADMIN, Role.MARKETER, Role.OPS, Role.FINANCE)  # each kind narrows this further


class ApprovalRequestSchema(ma.Schema):
    id = Int()
    kind = ma.fields.String(metadata={"description": "rebate_statement.approve, campaign.activate, points.adjust "
                                                     "or code_pack.download"})
    target_type = ma.fields.String(metadata={"description": "The target's table"})
    target_id = Int()
    params = ma.fields.Dict(metadata={"description": "What was asked, as it was when asked"})
    status = ma.fields.Function(lambda request: request.state(utcnow()).value, metadata={
        "description": "pending, approved (a download not used yet), executed, rejected or expired"})
    requested_by = ma.fields.String()
    requested_by_id = Int()
    requested_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime(metadata={"description": "Pending: decide before; approved: use before"})
    decided_by = ma.fields.String(allow_none=True)
    decided_by_id = Int(allow_none=True)
    decided_at = ma.fields.DateTime(allow_none=True)
    reason = ma.fields.String()
    executed_at = ma.fields.DateTime(allow_none=True)


class ApprovalQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in ApprovalStatus]))
    kind = ma.fields.String(validate=ma.validate.Length(max=40))
    target_type = ma.fields.String(validate=ma.validate.Length(max=40))
    target_id = Int()


class ApprovalRejectSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


def accepted_or(result):
    """What a view under dual control answers: 202 with the approval request when one was made
    (or found open), else the action's own result for the view's schema."""
    if not isinstance(result, ApprovalRequest):
        return result
    response = jsonify(ApprovalRequestSchema().dump(result))
    response.status_code = 202
    response.headers["Location"] = url_for("admin_approvals.get_approval", request_id=result.id)
    return response


@blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("requests point at statements and points adjustments of any region")
@blp.arguments(ApprovalQuerySchema, location="query")
@blp.response(200, ApprovalRequestSchema(many=True))
@blp.paginate(SelectPage)
def list_approvals(query):
    """Approval requests, newest first (status=pending: what waits for a second person)"""
    return approvals.list_requests(**query)


@blp.route("/<int:request_id>", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("requests point at statements and points adjustments of any region")
@blp.response(200, ApprovalRequestSchema)
def get_approval(request_id):
    """An approval request"""
    return approvals.get_request(request_id)


@blp.route("/<int:request_id>/approve", methods=["POST"])
@roles(*DECIDERS)
@national_only("requests point at statements and points adjustments of any region")
@blp.response(200, ApprovalRequestSchema)
def approve(request_id):
    """Approve a request of someone else: its action runs now (a code pack: its requester may download it once)"""
    with transaction():
        return approvals.approve(actor=current_actor(), request_id=request_id)


@blp.route("/<int:request_id>/reject", methods=["POST"])
@roles(*DECIDERS)
@national_only("requests point at statements and points adjustments of any region")
@blp.arguments(ApprovalRejectSchema)
@blp.response(200, ApprovalRequestSchema)
def reject(body, request_id):
    """Reject a request (or withdraw your own): nothing runs"""
    with transaction():
        return approvals.reject(actor=current_actor(), request_id=request_id, reason=body["reason"])
