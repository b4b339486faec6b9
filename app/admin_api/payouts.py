"""Payouts in the back office (finance and admin write; every role reads), and WeChat Pay's callback.

The callback (POST /api/payouts/wechat/notify) is public by design: WeChat Pay calls it, and it is
believed only when its signature verifies and its resource decrypts.
"""
from __future__ import annotations

import json

import marshmallow as ma
from flask import Response, request
from flask_smorest import Blueprint

from app.db import transaction
from app.http import ALL_ROLES, SelectPage, authenticate_back_office, current_actor, national_only, public, roles
from app.identity.models import Role
from app.payouts import callbacks, incidents, reconciliation, service
from app.identity.personal_data import OPENID
from app.payouts.models import IncidentKind, PayoutChannel, PayoutPurpose, PayoutStatus
from app.schemas import Int, Masked, UtcTime
from app.wechat import pay

blp = Blueprint("admin_payouts", __name__, url_prefix="/api/admin/payouts",
                description="The payout queue: prizes and withdrawals paid through WeChat Pay; reconciliations.")
blp.before_request(authenticate_back_office)
notify_blp = Blueprint("payouts_notify", __name__, url_prefix="/api/payouts",
                       description="WeChat Pay's transfer callback (signed by WeChat Pay).")
BLUEPRINTS = (blp, notify_blp)

WRITERS = (Role.FINANCE, Role.ADMIN)


def _time(**kwargs):
    return UtcTime(**kwargs)


class AdminPayoutReadSchema(ma.Schema):
    id = Int()
    purpose = ma.fields.Enum(PayoutPurpose, by_value=True)
    source = ma.fields.String()
    app_user_id = Int()
    app = ma.fields.Function(lambda p: p.app.value)
    openid = Masked(OPENID)
    amount_fen = Int()
    channel = ma.fields.Enum(PayoutChannel, by_value=True)
    out_bill_no = ma.fields.String(allow_none=True)
    status = ma.fields.Enum(PayoutStatus, by_value=True)
    campaign_id = Int(allow_none=True)
    transfer_bill_no = ma.fields.String(allow_none=True)
    wechat_state = ma.fields.String(allow_none=True)
    fail_reason = ma.fields.String(allow_none=True)
    hold_reason = ma.fields.String(allow_none=True)
    attempts = Int()
    next_attempt_at = ma.fields.DateTime()
    last_error = ma.fields.String(allow_none=True)
    bill_created_at = ma.fields.DateTime(allow_none=True)
    doubt_from = ma.fields.Enum(PayoutStatus, by_value=True, allow_none=True, metadata={
        "description": "In doubt: the step it was on when WeChat Pay's answer was not definitive"})
    in_doubt_since = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class AdminPayoutQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in PayoutStatus]))
    purpose = ma.fields.String(validate=ma.validate.OneOf([p.value for p in PayoutPurpose]))
    channel = ma.fields.String(validate=ma.validate.OneOf([c.value for c in PayoutChannel]))
    app_user_id = Int()
    campaign_id = Int()
    from_ = _time(data_key="from", metadata={"description": "Created at or after"})
    to = _time(metadata={"description": "Created before"})


class AdminPayoutCancelSchema(ma.Schema):
    reason = ma.fields.String(load_default="cancelled", validate=ma.validate.Length(min=1, max=200))


class ReconciliationReadSchema(ma.Schema):
    id = Int()
    day = ma.fields.Function(lambda r: r.day.date().isoformat(), metadata={"type": "string", "format": "date"})
    checked = Int()
    mismatches = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "payout_id, out_bill_no, ours (our status), wechat (WeChat's state), note, repaired"})
    created_at = ma.fields.DateTime()


class IncidentReadSchema(ma.Schema):
    id = Int()
    payout_id = Int()
    kind = ma.fields.Enum(IncidentKind, by_value=True, metadata={
        "description": "in_doubt: no definitive answer for long; unrecovered: paid after its money was returned "
                       "and the money could not be taken back; reconcile: a difference reconciliation could not "
                       "repair"})
    amount_fen = Int(metadata={"description": "The money at stake"})
    detail = ma.fields.String()
    created_at = ma.fields.DateTime()
    resolved_at = ma.fields.DateTime(allow_none=True)
    resolved_by = ma.fields.String(allow_none=True)
    resolution = ma.fields.String(allow_none=True)


class IncidentQuerySchema(ma.Schema):
    state = ma.fields.String(load_default="open", validate=ma.validate.OneOf(["open", "all"]))
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in IncidentKind]))


class IncidentResolveSchema(ma.Schema):
    resolution = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500),
                                  metadata={"description": "What was done about it"})


@blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("payouts are money of every region; finance sees the queue whole")
@blp.arguments(AdminPayoutQuerySchema, location="query")
@blp.response(200, AdminPayoutReadSchema(many=True))
@blp.paginate(SelectPage)
def list_payouts(query):
    """Payouts, newest first, by status, purpose, channel, user, campaign and period"""
    return service.list_payouts(status=query.get("status"), purpose=query.get("purpose"),
                                channel=query.get("channel"), app_user_id=query.get("app_user_id"),
                                campaign_id=query.get("campaign_id"), since=query.get("from_"),
                                until=query.get("to"))


@blp.route("/reconciliations", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("payouts are money of every region; finance sees the queue whole")
@blp.response(200, ReconciliationReadSchema(many=True))
@blp.paginate(SelectPage)
def list_reconciliations():
    """Daily reconciliations with WeChat Pay, newest day first"""
    return reconciliation.list_reconciliations()


@blp.route("/incidents", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("payouts are money of every region; finance sees the queue whole")
@blp.arguments(IncidentQuerySchema, location="query")
@blp.response(200, IncidentReadSchema(many=True))
@blp.paginate(SelectPage)
def list_incidents(query):
    """Payouts that need a person (in doubt too long, money not recovered, unreconciled), newest first"""
    return incidents.list_incidents(open_only=query["state"] == "open", kind=query.get("kind"))


@blp.route("/incidents/<int:incident_id>/resolve", methods=["POST"])
@roles(*WRITERS)
@national_only("payouts are money of every region; finance sees the queue whole")
@blp.arguments(IncidentResolveSchema)
@blp.response(200, IncidentReadSchema)
def resolve_incident(body, incident_id):
    """Close an incident, saying what was done"""
    with transaction():
        return incidents.resolve_incident(actor=current_actor(), incident_id=incident_id,
                                          resolution=body["resolution"])


@blp.route("/<int:payout_id>", methods=["GET"])
@roles(*ALL_ROLES)
@national_only("payouts are money of every region; finance sees the queue whole")
@blp.response(200, AdminPayoutReadSchema)
def get_payout(payout_id):
    """A payout"""
    return service.get_payout(payout_id)


@blp.route("/<int:payout_id>/release", methods=["POST"])
@roles(*WRITERS)
@national_only("payouts are money of every region; finance sees the queue whole")
@blp.response(200, AdminPayoutReadSchema)
def release_payout(payout_id):
    """Release a held payout to the queue"""
    with transaction():
        return service.release(actor=current_actor(), payout_id=payout_id)


@blp.route("/<int:payout_id>/cancel", methods=["POST"])
@roles(*WRITERS)
@national_only("payouts are money of every region; finance sees the queue whole")
@blp.arguments(AdminPayoutCancelSchema)
@blp.response(200, AdminPayoutReadSchema)
def cancel_payout(body, payout_id):
    """Cancel a pending or held payout (no bill exists yet); its money returns"""
    with transaction():
        return service.cancel(actor=current_actor(), payout_id=payout_id, reason=body["reason"])


def _wechat_answer(status: int, code: str | None = None, message: str | None = None) -> Response:
    if code is None:
        return Response(status=status)
    return Response(json.dumps({"code": code, "message": message}, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


@notify_blp.route("/wechat/notify", methods=["POST"])
@public
@notify_blp.response(204, description="Acknowledged (also a duplicate or an unknown bill)")
@notify_blp.alt_response(401, description='Bad signature: {"code": "FAIL", "message": "签名错误"}')
def wechat_notify():
    """WeChat Pay's MCHTRANSFER.BILL.FINISHED callback: verified, decrypted, applied once"""
    body = request.get_data()
    notification = pay.parse_transfer_callback(request.headers, body)
    with transaction():
        callbacks.receive_transfer_callback(notification=notification, body=body)
    return _wechat_answer(204)


@notify_blp.errorhandler(pay.CallbackInvalid)
def _refuse_callback(_error):
    """A callback WeChat Pay did not sign is refused in WeChat Pay's own answer shape."""
    return _wechat_answer(401, "FAIL", "签名错误")
