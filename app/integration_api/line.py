"""Line controllers, PDAs, hand scanners: line sessions and their record uploads (scope production).

The upload body is read with msgspec, not marshmallow: a hundred thousand records must parse in a
fraction of a second. The marshmallow-free request body below is only its OpenAPI description.
"""
from __future__ import annotations

import io
import logging

import marshmallow as ma
import msgspec
from flask import Response, current_app, request, stream_with_context
from flask_smorest import Blueprint
from werkzeug.exceptions import RequestEntityTooLarge

from app.db import transaction
from app.errors import DomainError
from app.http import SelectPage, authenticate_machine, current_actor, scopes
from app.identity.models import Scope
from app.idempotency import HEADER as IDEMPOTENCY_HEADER
from app.inputs import decodes_own_body, too_large
from app.schemas import Int
from app.units import line_engine, line_records, line_sessions, line_uploads, rules
from app.units.models import SessionStatus

log = logging.getLogger(__name__)

blp = Blueprint("integration_line", __name__, url_prefix="/api/integration/line",
                description="Line controllers and PDAs: line sessions and their records (scope production).")
blp.before_request(authenticate_machine)

NDJSON = "application/x-ndjson"
_upload_decoder = msgspec.json.Decoder(line_records.Upload)
_encoder = msgspec.json.Encoder()


# --- schemas ------------------------------------------------------------------------------------

def _pass_rate(report):
    return line_sessions.pass_rate(**{name: ma.utils.get_value(report, name) for name in ("total", "accepted", "duplicate")})


class SessionCreateSchema(ma.Schema):
    line_id = Int(required=True, validate=ma.validate.Range(min=1))
    lot_id = Int(required=True, validate=ma.validate.Range(min=1))
    operator = ma.fields.String(load_default="", validate=ma.validate.Length(max=64))


class SessionQuerySchema(ma.Schema):
    line_id = Int()
    lot_id = Int()
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in SessionStatus]))


class SessionReadSchema(ma.Schema):
    id = Int()
    line_id = Int()
    lot_id = Int()
    operator = ma.fields.String()
    status = ma.fields.Function(lambda s: SessionStatus(ma.utils.get_value(s, "status")).value)
    started_at = ma.fields.DateTime()
    stopped_at = ma.fields.DateTime(allow_none=True)
    total = Int(metadata={"description": "Distinct record ids, each under its latest outcome"})
    accepted = Int()
    duplicate = Int()
    rejected = Int()
    pass_rate = ma.fields.Function(_pass_rate, metadata={"type": "number", "nullable": True,
                                                         "description": "accepted / (total - duplicate)"})


class SessionReportSchema(SessionReadSchema):
    rejected_by_reason = ma.fields.Dict(keys=ma.fields.String(), values=Int())


class ResultSchema(ma.Schema):
    index = Int(metadata={"description": "Position of the record in the upload"})
    record_id = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["accepted", "duplicate", "rejected"]})
    reason = ma.fields.String(metadata={"enum": sorted(rules.REASONS)})
    message = ma.fields.String()
    codes = ma.fields.List(ma.fields.String(), metadata={"description": "Failing codes of a list or range (≤ 20)"})
    previously_applied = ma.fields.Boolean(metadata={"description": "The record id was applied by an earlier upload"})


class UploadAnswerSchema(ma.Schema):
    accepted = Int()
    duplicate = Int()
    rejected = Int()
    results = ma.fields.List(ma.fields.Nested(ResultSchema))


_CODE = {"type": "string", "minLength": 1, "maxLength": 64}
_RECORD_ID = {"type": "string", "minLength": 1, "maxLength": 64}
RECORD_SCHEMA = {
    "type": "object",
    "required": ["type", "record_id", "scanned_at"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": list(line_records.RECORD_TYPES)},
        "record_id": {**_RECORD_ID, "description": "The client's own id: unique per API key, a retry reuses it"},
        "scanned_at": {"type": "string", "format": "date-time", "description": "With a time zone"},
        "corrects": {**_RECORD_ID, "description": "record_id of an earlier record this one corrects"},
        "code": {**_CODE, "description": "commission: the item (or a range's first); pack/remove: the child; "
                                         "unpack: the parent; replace: the old label; scrap: the unit"},
        "codes": {"type": "array", "items": _CODE, "minItems": 1, "maxItems": line_records.MAX_CODES_PER_RECORD,
                  "description": "commission: a list of items (instead of code)"},
        "last_code": {**_CODE, "description": "commission: the last code of an inclusive range of one batch"},
        "lot_id": {"type": "integer", "minimum": 1, "description": "commission: default the session's lot"},
        "parent": {**_CODE, "description": "pack: the parent; remove: the parent it must be in"},
        "partial": {"type": "boolean", "description": "pack: mark the parent partial (not held to its count)"},
        "new_code": {**_CODE, "description": "replace: the new label"},
        "epc": {**_CODE, "description": "commission (a single code): the item's RFID tag, an SGTIN-96 as 24 hex "
                                        "digits (its GTIN must be the product's) or a TID; bound to the code"},
        "parent_epc": {**_CODE, "description": "pack: the parent's RFID tag (SGTIN-96 hex or TID), bound to "
                                               "the parent's code"},
    },
}
UPLOAD_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {
            "type": "object", "required": ["records"], "additionalProperties": False,
            "properties": {"records": {"type": "array", "minItems": 1, "maxItems": line_records.MAX_RECORDS,
                                       "items": RECORD_SCHEMA}}}},
        NDJSON: {"schema": {"type": "string", "description": "One record per line (any number); answered as "
                                                             "NDJSON: one result per line, then a summary"}},
    },
}


# --- views --------------------------------------------------------------------------------------

@blp.route("/sessions", methods=["POST"])
@scopes(Scope.PRODUCTION)
@blp.arguments(SessionCreateSchema)
@blp.response(201, SessionReportSchema)
def start_session(body):
    """Start a line session on a production lot"""
    with transaction():
        session = line_sessions.start_session(actor=current_actor(), **body)
    return line_sessions.session_report(session)


@blp.route("/sessions", methods=["GET"])
@scopes(Scope.PRODUCTION)
@blp.arguments(SessionQuerySchema, location="query")
@blp.response(200, SessionReadSchema(many=True))
@blp.paginate(SelectPage)
def list_sessions(query):
    """List line sessions (newest first) with their counts"""
    return line_sessions.list_sessions(**query)


@blp.route("/sessions/<int:session_id>", methods=["GET"])
@scopes(Scope.PRODUCTION)
@blp.response(200, SessionReportSchema)
def get_session(session_id):
    """A line session's report: counts, rejections by reason, pass rate"""
    return line_sessions.session_report(line_sessions.get_session(session_id))


@blp.route("/sessions/<int:session_id>/stop", methods=["POST"])
@scopes(Scope.PRODUCTION)
@blp.response(200, SessionReportSchema)
def stop_session(session_id):
    """Stop a line session (it takes no more records)"""
    with transaction():
        session = line_sessions.stop_session(actor=current_actor(), session_id=session_id)
        return line_sessions.session_report(session)


@blp.route("/sessions/<int:session_id>/records", methods=["POST"])
@scopes(Scope.PRODUCTION)
@decodes_own_body(max_bytes=lambda: current_app.config["LINE_UPLOAD_MAX_BYTES"])
@blp.doc(requestBody=UPLOAD_BODY)
@blp.response(200, UploadAnswerSchema)
def upload_records(session_id):
    """Upload records: JSON (1 to 100,000) or NDJSON (any number, in chunks of 10,000)"""
    if request.mimetype == NDJSON:
        return _stream(session_id)
    if request.mimetype != "application/json":
        raise rules.RecordsMediaType()
    records = _decode(request.get_data())
    with transaction():
        results = line_engine.apply_records(actor=current_actor(), session_id=session_id, records=records)
    counts = _counts(results)
    return Response(_encoder.encode({**counts, "results": results}), mimetype="application/json")


def _decode(body: bytes) -> list:
    try:
        records = _upload_decoder.decode(body).records
    except msgspec.DecodeError as error:
        raise rules.RecordsInvalid(f"The records are malformed: {error}", errors={"json": [str(error)]})
    if len(records) > line_records.MAX_RECORDS:
        raise rules.TooManyRecords(
            f"An upload holds at most {line_records.MAX_RECORDS:,} records; this one has {len(records):,}. "
            f"Send more as NDJSON.")
    return records


def _counts(results) -> dict:
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for result in results:
        counts[result.status] += 1
    return counts


def _stream(session_id: int) -> Response:
    """NDJSON in, NDJSON out: each chunk of 10,000 records is its own transaction."""
    line_uploads.open_session(session_id)
    upload = line_uploads.StreamedUpload(actor=current_actor(), session_id=session_id)
    # The idempotency check has already read a body it fingerprinted; otherwise read as it comes.
    body = io.BytesIO(request.get_data()) if request.headers.get(IDEMPOTENCY_HEADER) else request.stream

    def generate():
        try:
            for result in upload.results(body):
                yield _encoder.encode(result) + b"\n"
        except (DomainError, RequestEntityTooLarge) as error:
            # A stream without Content-Length is cut off at the limit; the chunks before it stay applied.
            if isinstance(error, RequestEntityTooLarge):
                error = too_large(request.max_content_length)
            yield _encoder.encode({"error": {"code": error.code, "status": error.status,
                                             "message": error.message}}) + b"\n"
        except Exception:
            # The 200 and earlier results are sent: no error handler can answer any more, so any failure is told here.
            log.exception("NDJSON line upload failed")
            yield _encoder.encode({"error": {"code": "internal_error", "status": 500, "message":
                                             "An unexpected error occurred; the chunk was rolled back."}}) + b"\n"
        yield _encoder.encode({"summary": upload.totals}) + b"\n"

    response = Response(stream_with_context(generate()), mimetype=NDJSON)
    response.direct_passthrough = True  # streamed: never buffered (nor kept for Idempotency-Key replays)
    return response
