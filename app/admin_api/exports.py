"""Exports of back-office lists and reports: the jobs of large ones, their progress and their files.

Any list exports with `?format=xlsx|csv` (app.exports.web); these routes follow what it queued.
Each user sees their own exports; an admin sees everyone's.
"""
from __future__ import annotations

import marshmallow as ma
from flask import send_file
from flask_smorest import Blueprint

from app.db import transaction
from app.exports import service
from app.exports.models import ExportStatus
from app.exports.web import ExportJobSchema, sheet_mimetype
from app.http import ALL_ROLES, SelectPage, authenticate_back_office, current_actor, not_regional, roles

blp = Blueprint("admin_exports", __name__, url_prefix="/api/admin/exports",
                description="Exports of lists and reports (.xlsx, CSV) run in the background: progress and files.")
blp.before_request(authenticate_back_office)


class ExportQuerySchema(ma.Schema):
    status = ma.fields.Enum(ExportStatus, by_value=True)


@blp.route("", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("a user's own export jobs, each made as that user: only the rows their scope showed")
@blp.arguments(ExportQuerySchema, location="query")
@blp.response(200, ExportJobSchema(many=True))
@blp.paginate(SelectPage)
def list_exports(query):
    """My exports (an admin: everyone's), newest first"""
    return service.list_jobs(actor=current_actor(), status=query.get("status"))


@blp.route("/<int:job_id>", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("a user's own export jobs, each made as that user: only the rows their scope showed")
@blp.response(200, ExportJobSchema)
def get_export(job_id):
    """An export's progress (rows_done of rows_total) and status"""
    return service.get_job(actor=current_actor(), job_id=job_id)


@blp.route("/<int:job_id>/file", methods=["GET"])
@roles(*ALL_ROLES)
@not_regional("a user's own export jobs, each made as that user: only the rows their scope showed")
@blp.response(200, content_type="application/octet-stream")
def download_export(job_id):
    """Download a finished export (its requester or an admin); every download is audited"""
    with transaction():
        path, name = service.download(actor=current_actor(), job_id=job_id)
        job = service.get_job(actor=current_actor(), job_id=job_id)
        mimetype = sheet_mimetype(job.format)
    return send_file(path, mimetype=mimetype, as_attachment=True, download_name=name, max_age=0)
