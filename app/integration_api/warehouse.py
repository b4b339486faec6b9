"""Warehouse PDAs: inbound and outbound scans, unpacking (scope warehouse).

Each record is answered on its own (accepted, duplicate, rejected with a reason); a retried upload
applies nothing twice. A malformed record refuses the whole request (422) and writes nothing.
"""
from __future__ import annotations

from datetime import datetime, timezone

import marshmallow as ma
from flask_smorest import Blueprint

from app.db import transaction
from app.http import authenticate_machine, current_actor, scopes
from app.identity.models import Scope
from app.schemas import ClientId, Int, UtcTime
from app.units import packing
from app.warehouse import rules, service

blp = Blueprint("integration_warehouse", __name__, url_prefix="/api/integration/warehouse",
                description="Warehouse PDAs: inbound and outbound scans, unpacking (scope warehouse).")
blp.before_request(authenticate_machine)

# Beyond these a time isn't a scan time (and may not even convert to UTC); within them, a time that
# can't be right (before 2000, ahead of our clock) rejects only its record: scan_time_invalid.
SCAN_TIMES = ma.validate.Range(min=datetime(1970, 1, 1, tzinfo=timezone.utc),
                               max=datetime(2100, 1, 1, tzinfo=timezone.utc))


class ScanRecordSchema(ma.Schema):
    record_id = ClientId(required=True, metadata={
        "description": "The client's own id of this scan; a retry sends the same id"})
    scanned_at = UtcTime(required=True, validate=SCAN_TIMES)
    action = ma.fields.String(required=True, validate=ma.validate.OneOf([service.INBOUND, service.OUTBOUND]))
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "The scanned code: an item, a case or a pallet (what is inside moves with it)"})
    warehouse_id = Int(required=True, metadata={"description": "The warehouse that scans"})
    source = ma.fields.String(validate=ma.validate.OneOf([service.FROM_LINE, service.FROM_TRANSFER]), metadata={
        "description": "Inbound only: from a production line, or a transfer from another warehouse"})
    to_dealer_id = Int(metadata={"description": "Outbound to a dealer (or to_warehouse_id)"})
    to_warehouse_id = Int(metadata={"description": "Outbound transfer to another warehouse (or to_dealer_id)"})
    order_no = ma.fields.String(validate=ma.validate.Length(max=64), allow_none=True, metadata={
        "description": "The order shipped against; stored on the event, not yet checked"})

    @ma.validates_schema
    def check_action(self, data, **kwargs):
        if data.get("action") == service.INBOUND:
            if "source" not in data:
                raise ma.ValidationError("An inbound scan says where the goods come from.", "source")
            if "to_dealer_id" in data or "to_warehouse_id" in data:
                raise ma.ValidationError("An inbound scan has no destination.", "to_dealer_id")
        elif data.get("action") == service.OUTBOUND:
            if ("to_dealer_id" in data) == ("to_warehouse_id" in data):
                raise ma.ValidationError("An outbound scan goes to exactly one of to_dealer_id, "
                                         "to_warehouse_id.", "to_dealer_id")
            if "source" in data:
                raise ma.ValidationError("An outbound scan has no source.", "source")


class ScanUploadSchema(ma.Schema):
    records = ma.fields.List(ma.fields.Nested(ScanRecordSchema), required=True,
                             validate=ma.validate.Length(min=1, max=service.MAX_RECORDS))


class ScanResultSchema(ma.Schema):
    index = Int(metadata={"description": "The record's position in the request"})
    record_id = ma.fields.String()
    status = ma.fields.String(metadata={"description": "accepted | duplicate | rejected"})
    reason = ma.fields.String(metadata={"description": "Rejected: " + ", ".join(rules.REASONS)})
    message = ma.fields.String()
    units = Int(metadata={"description": "Accepted: the items moved (inside the scanned code too)"})
    previously_applied = ma.fields.Boolean(metadata={
        "description": "Duplicate because this record id was applied before (absent otherwise)"})


class ScanAnswerSchema(ma.Schema):
    accepted = Int()
    duplicate = Int()
    rejected = Int()
    results = ma.fields.List(ma.fields.Nested(ScanResultSchema))


def _answer(results: list, counted: str = "units") -> dict:
    """Counts by status and each result without its empty fields (``counted``: what an accepted one did)."""
    counts = {status: 0 for status in (rules.ACCEPTED, rules.DUPLICATE, rules.REJECTED)}
    for result in results:
        counts[result.status] += 1
    items = [{name: value for name, value in (
        ("index", r.index), ("record_id", r.record_id), ("status", r.status), ("reason", r.reason),
        ("message", r.message), (counted, getattr(r, counted)), ("previously_applied", r.previously_applied or None))
        if value is not None} for r in results]
    return {**counts, "results": items}


@blp.route("/scans", methods=["POST"])
@scopes(Scope.WAREHOUSE)
@blp.arguments(ScanUploadSchema)
@blp.response(200, ScanAnswerSchema)
def post_scans(body):
    """Apply inbound and outbound scans (1 to 10,000 records); each record is answered on its own"""
    with transaction():
        results = service.apply_scans(actor=current_actor(), records=body["records"])
    return _answer(results)


class UnpackRecordSchema(ma.Schema):
    record_id = ClientId(required=True, metadata={
        "description": "The client's own id of this unpack; a retry sends the same id"})
    scanned_at = UtcTime(required=True, validate=SCAN_TIMES)
    warehouse_id = Int(required=True, metadata={"description": "The warehouse that holds the goods and unpacks"})
    mode = ma.fields.String(required=True, validate=ma.validate.OneOf(packing.MODES), metadata={
        "description": "whole: code is a case or pallet, every child comes out; partial: code is a child that "
                       "leaves its parent"})
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    parent = ma.fields.String(validate=ma.validate.Length(min=1, max=64), metadata={
        "description": "Partial only: the parent the child must be in (not_packed otherwise)"})

    @ma.validates_schema
    def check_parent(self, data, **kwargs):
        if "parent" in data and data.get("mode") != packing.PARTIAL:
            raise ma.ValidationError("A parent goes with a partial unpack only.", "parent")


class UnpackUploadSchema(ma.Schema):
    records = ma.fields.List(ma.fields.Nested(UnpackRecordSchema), required=True,
                             validate=ma.validate.Length(min=1, max=service.MAX_RECORDS))


class UnpackResultSchema(ScanResultSchema):
    class Meta:
        exclude = ("units",)

    reason = ma.fields.String(metadata={"description": "Rejected: why (the line's packing reasons, wrong_location, "
                                                       "warehouse_unknown, in_open_shipment)"})
    released = Int(metadata={"description": "Accepted: the children taken out (partial: 1)"})


class UnpackAnswerSchema(ScanAnswerSchema):
    results = ma.fields.List(ma.fields.Nested(UnpackResultSchema))


@blp.route("/unpacks", methods=["POST"])
@scopes(Scope.WAREHOUSE)
@blp.arguments(UnpackUploadSchema)
@blp.response(200, UnpackAnswerSchema)
def post_unpacks(body):
    """Unpack cases and pallets held in a warehouse, whole or one child at a time (1 to 10,000 records)"""
    with transaction():
        results = service.apply_unpacks(actor=current_actor(), records=body["records"])
    return _answer(results, "released")
