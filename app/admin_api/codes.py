"""Code issuance (赋码): batches, code packs, code lookup, QR images and label sheets."""
from __future__ import annotations

import marshmallow as ma
from flask import Response, send_file
from flask_smorest import Blueprint

from app.codes import export_jobs, labels
from app.codes import service as codes
from app.codes.export import MIN_PASSWORD_LENGTH
from app.codes.format import HIDDEN_DIGITS
from app.codes.models import BatchStatus, ExportStatus, Level
from app import rfid
from app.admin_api.approvals import ApprovalRequestSchema, accepted_or
from app.approvals import flows
from app.approvals.models import ApprovalRequest
from app.db import transaction
from app.http import ALL_ROLES, SelectPage, authenticate_back_office, current_actor, national_only, not_regional, roles
from app.identity.models import Role
from app.schemas import Int
from app.units import code_status

batches = Blueprint("admin_code_batches", __name__, url_prefix="/api/admin/code-batches",
                    description="Code batches (reserved serial ranges) and their code packs.")
batches.before_request(authenticate_back_office)

lookup = Blueprint("admin_codes", __name__, url_prefix="/api/admin/codes",
                   description="Look up a single code; its QR image.")
lookup.before_request(authenticate_back_office)

ISSUERS = (Role.ADMIN, Role.OPS)


class ProductBriefSchema(ma.Schema):
    id = Int()
    sku = ma.fields.String()
    name = ma.fields.String()
    gtin = ma.fields.String(allow_none=True)


class ExportReadSchema(ma.Schema):
    id = Int()
    batch_id = Int()
    status = ma.fields.Enum(ExportStatus, by_value=True)
    rows_done = Int()
    rows_total = Int()
    file_rows = Int(metadata={"description": "Rows per CSV file in the zip"})
    encrypted = ma.fields.Boolean()
    file_size = Int(allow_none=True)
    sha256 = ma.fields.String(allow_none=True)
    error = ma.fields.String(allow_none=True)
    requested_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)


class BatchReadSchema(ma.Schema):
    id = Int()
    batch_no = ma.fields.String()
    product_id = Int(allow_none=True)
    product = ma.fields.Nested(ProductBriefSchema, allow_none=True)
    level = ma.fields.Enum(Level, by_value=True)
    count = Int()
    key_version = Int()
    serial_start = Int()
    serial_end = Int()
    hidden_code_digits = Int(allow_none=True)
    sscc_company_prefix = ma.fields.String(allow_none=True)
    status = ma.fields.Enum(BatchStatus, by_value=True)
    voided_at = ma.fields.DateTime(allow_none=True)
    void_reason = ma.fields.String(allow_none=True)
    created_by = ma.fields.String()
    created_at = ma.fields.DateTime()


class BatchDetailSchema(BatchReadSchema):
    exports = ma.fields.List(ma.fields.Nested(ExportReadSchema), metadata={"description": "Newest first"})


class BatchIssuedSchema(ma.Schema):
    batch = ma.fields.Nested(BatchReadSchema)
    export = ma.fields.Nested(ExportReadSchema)


class BatchCreateSchema(ma.Schema):
    # Range rules (count, digits, level) are the service's, so they answer with their own codes.
    product_id = Int(load_default=None, allow_none=True,
                                   metadata={"description": "Leave out for unassigned codes"})
    level = ma.fields.String(required=True, metadata={"description": "item, case or pallet"})
    count = Int(required=True, strict=True)
    hidden_code_digits = Int(load_default=None, allow_none=True, strict=True,
                                           metadata={"description": f"{HIDDEN_DIGITS[0]}-{HIDDEN_DIGITS[-1]}; item level only"})
    export_password = ma.fields.String(load_default=None, allow_none=True, load_only=True,
                                       metadata={"description": f"Encrypt the code pack (at least {MIN_PASSWORD_LENGTH} characters); never stored"})


class BatchQuerySchema(ma.Schema):
    product_id = Int()
    level = ma.fields.String(validate=ma.validate.OneOf([l.value for l in Level]))
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in BatchStatus]))


class VoidSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


class ExportCreateSchema(ma.Schema):
    password = ma.fields.String(load_default=None, allow_none=True, load_only=True,
                                metadata={"description": f"Encrypt the zip with AES-256 (at least {MIN_PASSWORD_LENGTH} characters); never stored"})


class UrlsSchema(ma.Schema):
    short = ma.fields.String()
    digital_link = ma.fields.String(allow_none=True)
    sscc = ma.fields.String(allow_none=True)


class BatchBriefSchema(ma.Schema):
    id = Int()
    batch_no = ma.fields.String()
    status = ma.fields.Enum(BatchStatus, by_value=True)


class ResolutionSchema(ma.Schema):
    code = ma.fields.String()
    valid = ma.fields.Boolean()
    status = ma.fields.String(metadata={"description": "issued, voided, forged, malformed or not_issued; voided "
                                                       "when the batch is voided or the label was replaced"})
    reason = ma.fields.String(allow_none=True, metadata={"description": "Voided: replaced (the label was replaced); "
                                                                         "forged or malformed: why"})
    replaced_by = ma.fields.String(allow_none=True, metadata={
        "description": "Voided because the label was replaced: the code that carries the unit on"})
    key_version = Int(allow_none=True)
    serial = Int(allow_none=True)
    batch = ma.fields.Nested(BatchBriefSchema, allow_none=True)
    product = ma.fields.Nested(ProductBriefSchema, allow_none=True)
    level = ma.fields.Enum(Level, by_value=True, allow_none=True)
    urls = ma.fields.Nested(UrlsSchema, allow_none=True)


class EpcBindingSchema(ma.Schema):
    epc = ma.fields.String(metadata={"description": "Upper-case hex"})
    kind = ma.fields.String(metadata={"enum": ["sgtin96", "tid"]})
    uri = ma.fields.Function(lambda b: rfid.decode_sgtin96(b.epc).uri if b.kind == rfid.SGTIN96 else None,
                             metadata={"description": "An SGTIN's pure identity URI (urn:epc:id:sgtin:...)",
                                       "type": "string", "nullable": True})
    bound_at = ma.fields.DateTime()


class CodeLookupSchema(ResolutionSchema):
    epcs = ma.fields.List(ma.fields.Nested(EpcBindingSchema), metadata={
        "description": "The RFID tags (SGTIN-96 EPCs, TIDs) bound to the code, oldest first"})


class QrQuerySchema(ma.Schema):
    form = ma.fields.String(load_default="short", validate=ma.validate.OneOf(["short", "digital_link"]),
                            metadata={"description": "Which label URL the QR holds"})


@batches.route("", methods=["POST"])
@roles(*ISSUERS)
@national_only("code packs are issued and exported for the whole brand")
@batches.arguments(BatchCreateSchema)
@batches.response(202, BatchIssuedSchema)
def issue_batch(body):
    """Issue a batch of codes; its code pack is exported in the background"""
    password = body.pop("export_password")
    with transaction():
        batch, job = codes.issue_batch(actor=current_actor(), export_password=password, **body)
    export_jobs.dispatch_export(job_id=job.id, password=password)
    return {"batch": batch, "export": job}


@batches.route("", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("code batches belong to products, not regions")
@batches.arguments(BatchQuerySchema, location="query")
@batches.response(200, BatchReadSchema(many=True))
@batches.paginate(SelectPage)
def list_batches(query):
    """List code batches, newest first"""
    return codes.list_batches(**query)


@batches.route("/<int:batch_id>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("code batches belong to products, not regions")
@batches.response(200, BatchDetailSchema)
def get_batch(batch_id):
    """Get a batch with the progress of its exports"""
    return codes.get_batch(batch_id)


@batches.route("/<int:batch_id>/void", methods=["POST"])
@roles(*ISSUERS)
@national_only("code packs are issued and exported for the whole brand")
@batches.arguments(VoidSchema)
@batches.response(200, BatchReadSchema)
def void_batch(body, batch_id):
    """Void a batch: its codes resolve as voided"""
    with transaction():
        return codes.void_batch(actor=current_actor(), batch_id=batch_id, reason=body["reason"])


@batches.route("/<int:batch_id>/exports", methods=["POST"])
@roles(*ISSUERS)
@national_only("code packs are issued and exported for the whole brand")
@batches.arguments(ExportCreateSchema)
@batches.response(202, ExportReadSchema)
def request_export(body, batch_id):
    """Export the batch's code pack again, optionally encrypted"""
    with transaction():
        job = codes.request_export(actor=current_actor(), batch_id=batch_id, password=body["password"])
    export_jobs.dispatch_export(job_id=job.id, password=body["password"])
    return export_jobs.get_export(job.id)


@batches.route("/exports/<int:job_id>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("an export job's state (not its file)")
@batches.response(200, ExportReadSchema)
def get_export(job_id):
    """Progress of a code pack export"""
    return export_jobs.get_export(job_id)


@batches.route("/exports/<int:job_id>/download", methods=["GET"])
@roles(*ISSUERS)
@national_only("code packs are issued and exported for the whole brand")
@batches.response(200, content_type="application/zip")
@batches.alt_response(202, schema=ApprovalRequestSchema, description="A pack of hidden codes "
                      "(DUAL_CONTROL_CODE_PACK_HIDDEN): a second person approves; then this download works once")
def download_export(job_id):
    """Download a code pack (a zip of CSV files); every download is audited (hidden codes: a second person approves)"""
    with transaction():
        result = flows.download_code_pack(actor=current_actor(), job_id=job_id)
    if isinstance(result, ApprovalRequest):
        return accepted_or(result)
    path, name = result
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=name,
                     max_age=0)


@batches.route("/<int:batch_id>/label-sheet", methods=["GET"])
@roles(*ISSUERS)
@national_only("code packs are issued and exported for the whole brand")
@batches.response(200, content_type="text/html")
def label_sheet(batch_id):
    """A printable sample label sheet of the batch's first 24 codes (audited: they are real codes)"""
    with transaction():
        batch, sample = codes.sample_labels(actor=current_actor(), batch_id=batch_id)
    page = labels.label_sheet_html(
        title=f"{batch.batch_no} · {batch.level.value} · sample of {len(sample)}",
        labels=[(code, urls.short, urls.sscc or urls.digital_link) for code, urls in sample],
    )
    return Response(page, mimetype="text/html")


@lookup.route("/<code>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("a code's arithmetic and its batch: no place")
@lookup.response(200, CodeLookupSchema)
def resolve_code(code):
    """Resolve a code: valid or forged, its batch, product, level and status, and the RFID tags bound to it"""
    return code_status.look_up(code)


@lookup.route("/<code>/qr.png", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("a code's image")
@lookup.arguments(QrQuerySchema, location="query")
@lookup.response(200, content_type="image/png")
def qr_png(query, code):
    """QR image (PNG) of an issued code's label URL"""
    return Response(labels.qr_png(_label_url(code, query["form"])), mimetype="image/png")


@lookup.route("/<code>/qr.svg", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("a code's image")
@lookup.arguments(QrQuerySchema, location="query")
@lookup.response(200, content_type="image/svg+xml")
def qr_svg(query, code):
    """QR image (SVG) of an issued code's label URL"""
    return Response(labels.qr_svg(_label_url(code, query["form"])), mimetype="image/svg+xml")


def _label_url(code: str, form: str) -> str:
    urls = codes.issued_code(code).urls
    return urls.digital_link if form == "digital_link" and urls.digital_link else urls.short


BLUEPRINTS = (batches, lookup)
