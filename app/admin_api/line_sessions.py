"""Line sessions in the back office: list and open them, their pass rate and why records were rejected.

The line's own API key drives sessions (app/integration_api/line.py); here the brand reads them.
Pass rate = accepted / (total - duplicate): a duplicate read is harmless, neither pass nor failure.
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from app.http import SelectPage, authenticate_back_office, national_only, roles
from app.identity.models import Role
from app.schemas import Int, UtcTime
from app.units import line_sessions, rules
from app.units.models import SessionStatus

blp = Blueprint("admin_line_sessions", __name__, url_prefix="/api/admin/line-sessions",
                description="Line sessions: counts, pass rate, rejection reasons and the rejected records.")
blp.before_request(authenticate_back_office)

READERS = (Role.ADMIN, Role.OPS, Role.AUDITOR)
REJECTION_REASONS = sorted({*rules.REASONS, rules.DUPLICATE})


def _pass_rate(session):
    return line_sessions.pass_rate(**{name: ma.utils.get_value(session, name) for name in ("total", "accepted", "duplicate")})


class LineSessionReadSchema(ma.Schema):
    id = Int()
    line_id = Int()
    lot_id = Int()
    source = ma.fields.String(metadata={"description": "Who ran it (api_key:<id>)"})
    operator = ma.fields.String()
    status = ma.fields.Function(lambda s: SessionStatus(ma.utils.get_value(s, "status")).value,
                                metadata={"enum": [s.value for s in SessionStatus]})
    started_at = ma.fields.DateTime()
    stopped_at = ma.fields.DateTime(allow_none=True)
    total = Int(metadata={"description": "Distinct record ids, each under its latest outcome"})
    accepted = Int()
    duplicate = Int(metadata={"description": "Harmless re-reads of facts already recorded"})
    rejected = Int()
    pass_rate = ma.fields.Function(_pass_rate, metadata={
        "type": "number", "nullable": True,
        "description": "accepted / (total - duplicate); null before the first record that is not a duplicate"})


class LineSessionReportSchema(LineSessionReadSchema):
    rejected_by_reason = ma.fields.Dict(keys=ma.fields.String(), values=Int(), metadata={
        "description": "Rejected records per reason (duplicates are not rejections)"})


class LineSessionQuerySchema(ma.Schema):
    line_id = Int()
    lot_id = Int()
    product_id = Int()
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in SessionStatus]))
    since = UtcTime(data_key="from", metadata={"description": "Started at or after"})
    until = UtcTime(data_key="to", metadata={"description": "Started before"})

    @ma.validates_schema
    def check_period(self, data, **kwargs):
        if data.get("since") and data.get("until") and data["until"] <= data["since"]:
            raise ma.ValidationError("The period ends before it starts.", "to")


class RejectedRecordReadSchema(ma.Schema):
    id = Int()
    record_id = ma.fields.String(metadata={"description": "The line client's own id"})
    kind = ma.fields.String(metadata={"description": "The record type (commission, pack, ...)"})
    code = ma.fields.String(allow_none=True)
    reason = ma.fields.String(metadata={"enum": REJECTION_REASONS})
    scanned_at = ma.fields.DateTime()
    recorded_at = ma.fields.DateTime()


class RejectedRecordQuerySchema(ma.Schema):
    reason = ma.fields.String(validate=ma.validate.OneOf(REJECTION_REASONS), metadata={
        "description": "Default: every rejection; duplicate lists the harmless re-reads"})


@blp.route("", methods=["GET"])
@roles(*READERS)
@national_only("a line session is a factory's work record, kept brand-wide (line and lot writes are national only too)")
@blp.arguments(LineSessionQuerySchema, location="query")
@blp.response(200, LineSessionReadSchema(many=True))
@blp.paginate(SelectPage)
def list_line_sessions(query):
    """Line sessions, newest first, by line, lot, product, status and the period they started in"""
    return line_sessions.list_sessions(**query)


@blp.route("/<int:session_id>", methods=["GET"])
@roles(*READERS)
@national_only("a line session is a factory's work record, kept brand-wide (line and lot writes are national only too)")
@blp.response(200, LineSessionReportSchema)
def get_line_session(session_id):
    """A line session: totals, pass rate and rejection reasons with counts"""
    return line_sessions.session_report(line_sessions.get_session(session_id))


@blp.route("/<int:session_id>/rejected-records", methods=["GET"])
@roles(*READERS)
@national_only("a line session is a factory's work record, kept brand-wide (line and lot writes are national only too)")
@blp.arguments(RejectedRecordQuerySchema, location="query")
@blp.response(200, RejectedRecordReadSchema(many=True))
@blp.paginate(SelectPage)
def list_rejected_records(query, session_id):
    """A line session's rejected records, latest first"""
    return line_sessions.rejected_records(session_id=session_id, **query)
