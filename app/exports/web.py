"""The HTTP face of exports: `?format=xlsx|csv` on every back-office list, `respond()` for any other view.

Every paginated GET of the back office answers the whole list (every row its filters match, not a page)
as an .xlsx or CSV file when asked with ``?format=xlsx`` or ``?format=csv``; ``json`` (the default) is
the page as before. Its response schema gives the columns. Up to EXPORT_INLINE_MAX_ROWS rows the file is
the response; above, the answer is 202 with a job (app.exports.service) whose file is downloaded later.

How it hooks in, once for all lists: a before_request of the back-office blueprints sees the format
and leaves an exporter in the request's environ; the pager (app.http.SelectPage) hands itself to it instead
of reading a page. A job's runner replays the request (same path, query and requester) with a
collecting exporter in its place, so a job exports exactly what the list would have shown its requester.
"""
from __future__ import annotations

import contextlib
import io
from itertools import islice

import marshmallow as ma
import sqlalchemy as sa
from flask import Flask, current_app, g, jsonify, request, send_file

from app.db import transaction, utcnow
from app.errors import ValidationFailed
from app.exports import rows, service, sheet
from app.exports.models import ExportFormat, ExportStatus
from app.exports.service import Source
from app.extensions import db
from app.http import LIST_EXPORTER, SORT, current_actor, view_function
from app.platform.clock import BUSINESS_TZ
from app.schemas import Int

FORMATS = ("json",) + tuple(f.value for f in ExportFormat)
# Query parameters that shape a page, not the rows: not filters of an export.
NOT_FILTERS = frozenset({"page", "page_size", "format", SORT})


class _ExpiresAt(ma.fields.DateTime):
    """When a job's file is removed, computed from when it finished: dumped as a time like every other
    (ISO 8601), where a Function field handed the datetime to JSON, which wrote an HTTP date."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return service.expires_at(obj)


class ExportJobSchema(ma.Schema):
    id = Int()
    status = ma.fields.Enum(ExportStatus, by_value=True)
    format = ma.fields.Enum(ExportFormat, by_value=True)
    name = ma.fields.String()
    path = ma.fields.String(metadata={"description": "The list or report exported"})
    filters = ma.fields.Dict(metadata={"description": "Its query parameters"})
    rows_done = Int()
    rows_total = Int(allow_none=True, metadata={"description": "Unknown until counted for some reports"})
    file_size = Int(allow_none=True)
    error = ma.fields.String(allow_none=True)
    requested_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    expires_at = _ExpiresAt(dump_only=True, allow_none=True, metadata={"description": "When the file is removed"})
    links = ma.fields.Function(lambda job: {"self": f"/api/admin/exports/{job.id}",
                                            "file": f"/api/admin/exports/{job.id}/file"})


def requested_format() -> ExportFormat | None:
    """The file format this request asks for (`?format=`), None for the JSON page; 422 for another value."""
    value = request.args.get("format", "json")
    if value == "json":
        return None
    try:
        return ExportFormat(value)
    except ValueError:
        raise ValidationFailed(f"format must be one of {', '.join(FORMATS)}, not {value[:20]!r}.",
                               errors={"query": {"format": [f"Must be one of: {', '.join(FORMATS)}."]}}) from None


def export_name() -> str:
    """The file name's stem: the list's path under /api/admin ("payouts-incidents", "dealers-5-members")."""
    tail = request.path.removeprefix("/api/admin/").strip("/")
    return tail.replace("/", "-") or "export"


def filters_of_request() -> dict:
    args = request.args.to_dict(flat=False)
    return {k: (v[0] if len(v) == 1 else v) for k, v in args.items() if k not in NOT_FILTERS}


def _answer(source: Source, fmt: ExportFormat, name: str):
    """The file now (a small export), or 202 with a queued job (a large one)."""
    service.check_size(fmt, source.total)
    actor = current_actor()
    if source.total is None or source.total > service.inline_max_rows():
        with transaction():
            job = service.request_job(actor=actor, fmt=fmt, name=name, endpoint=request.endpoint,
                                      path=request.path, query_string=request.query_string.decode(),
                                      view_args=dict(request.view_args or {}), filters=filters_of_request(),
                                      rows_total=source.total)
        job_id = job.id
        service.dispatch(job_id=job_id)
        job = service.get_job(actor=actor, job_id=job_id)
        response = jsonify(ExportJobSchema().dump(job))
        response.status_code = 202
        response.headers["Location"] = f"/api/admin/exports/{job_id}"
        return response
    path = service.write_now(actor=actor, source=source, fmt=fmt, name=name, path=request.path,
                             filters=filters_of_request())
    # The file is read into the response and removed at once: nothing is left behind if the client goes.
    with open(path, "rb") as fh:
        data = io.BytesIO(fh.read())
    path.unlink(missing_ok=True)
    stamp = utcnow().astimezone(BUSINESS_TZ).strftime("%Y%m%d-%H%M")
    return send_file(data, mimetype=sheet_mimetype(fmt), as_attachment=True,
                     download_name=f"{name}-{stamp}.{fmt.value}", max_age=0)


def sheet_mimetype(fmt: ExportFormat) -> str:
    return sheet.Format(fmt.value).mimetype


class _Inline:
    """The exporter of a request that asked a list for a file (set by the before_request below)."""

    def __init__(self, fmt: ExportFormat, schema: ma.Schema, name: str):
        self.fmt, self.schema, self.name = fmt, schema, name

    def answer(self, page):
        source = Source(schema=self.schema, total=page.page_params.item_count,
                        chunks=lambda: rows.select_chunks(page.collection, entities=page.entities,
                                                          present=page.present))
        return _answer(source, self.fmt, self.name)


class _Collector:
    """The exporter of a job's replayed request: keeps the rows instead of answering."""

    def __init__(self, schema: ma.Schema | None):
        self.schema = schema
        self.source: Source | None = None

    def answer(self, page):
        self.source = Source(schema=self.schema, total=page.page_params.item_count,
                             chunks=lambda: rows.select_chunks(page.collection, entities=page.entities,
                                                               present=page.present))
        return []

    def take(self, source: Source) -> None:
        self.source = source


def respond(rows_or_select, schema: ma.Schema, *, name: str):
    """Answer a view's rows as a file when the request asks `?format=xlsx|csv`; else give them back.

    For views that are not paginated lists (the reports): ``return exports.respond(rows, Schema(many=True),
    name="channel-stock")`` — with no format (or json) it returns ``rows`` unchanged for the view's
    ``@blp.response`` to serialize; with a file format it returns the response: the file when the rows
    are at most EXPORT_INLINE_MAX_ROWS, else 202 with a job (the job's runner calls the view again as its
    requester, so the view must build its rows from the request alone). A bad format is a 422.

    ``rows_or_select``: any iterable of what ``schema`` dumps (dicts, objects, rows; read at most
    EXPORT_INLINE_MAX_ROWS + 1 of them here to choose), or a SQLAlchemy select (of entities or of
    labelled columns; counted, then read in chunks). The schema's fields are the columns: each needs
    a Chinese label (metadata={"label_zh": ...} or app/exports/labels.py); money fields end in _fen
    (or say metadata={"money": "fen"}) and are written as yuan.
    """
    exporter = request.environ.get(LIST_EXPORTER)
    if isinstance(exporter, _Collector):
        exporter.take(_source_of(rows_or_select, schema, peek=None))
        return []
    fmt = requested_format()
    if fmt is None:
        return rows_or_select
    return _answer(_source_of(rows_or_select, schema, peek=service.inline_max_rows()), fmt, name)


def _source_of(rows_or_select, schema: ma.Schema, *, peek: int | None) -> Source:
    if isinstance(rows_or_select, sa.Select):
        entities = bool(rows_or_select.column_descriptions) and all(
            d.get("entity") is not None and d.get("expr") is d.get("entity")
            for d in rows_or_select.column_descriptions)
        total = db.session.scalar(sa.select(sa.func.count()).select_from(rows_or_select.order_by(None).subquery()))
        return Source(schema=schema, total=total,
                      chunks=lambda: rows.select_chunks(rows_or_select, entities=entities))
    if peek is None:
        return Source(schema=schema, total=None, chunks=lambda: rows.iterable_chunks(rows_or_select))
    iterator = iter(rows_or_select)
    head = list(islice(iterator, peek + 1))
    if len(head) > peek:
        return Source(schema=schema, total=None, chunks=lambda: iter(()))  # a job: its runner reads them again
    return Source(schema=schema, total=len(head), chunks=lambda: rows.iterable_chunks(head))


def prepare_list_export():
    """before_request of back-office blueprints: a paginated GET asked for a file gets an exporter."""
    if request.method != "GET":
        return None
    doc = getattr(view_function(), "_apidoc", None) or {}
    if "pagination" not in doc:
        return None
    fmt = requested_format()
    if fmt is not None:
        request.environ[LIST_EXPORTER] = _Inline(fmt, list_schema(doc), export_name())
    return None


def list_schema(doc: dict) -> ma.Schema:
    """The schema a paginated view answers its 200 with (flask-smorest keeps it in the view's _apidoc)."""
    return doc["response"]["responses"][200][0]["schema"]


@contextlib.contextmanager
def replay(job, actor):
    """The rows of a job: its request answered again, as its requester, with a collecting exporter."""
    app = current_app._get_current_object()
    with app.test_request_context(job.path, method="GET", query_string=job.query_string):
        view = app.view_functions[job.endpoint]
        g.actor = actor
        allowed = getattr(view_function(), "_allowed_roles", frozenset())
        if actor.role not in allowed:
            raise PermissionError(f"the role {actor.role.value!r} may no longer read {job.path}")
        doc = getattr(view_function(), "_apidoc", None) or {}
        collector = _Collector(list_schema(doc) if "pagination" in doc else None)
        request.environ[LIST_EXPORTER] = collector
        view(**(job.view_args or {}))
        if collector.source is None:
            raise RuntimeError(f"{job.path} gave no rows to export")
        yield collector.source


def install(app: Flask, blueprints) -> None:
    """Let every list of these (registered) blueprints export, and jobs replay their requests.

    The hook goes in this app's table after each blueprint's own (its authentication runs first), and
    leaves the blueprint objects, shared by every app made in the process, alone.
    """
    names = {blueprint.name for blueprint in blueprints}
    for name in names:
        app.before_request_funcs.setdefault(name, []).append(prepare_list_export)
    for view in exportable_views(app, names):
        # app.inputs lets these through: the file's format, and the sort every paginated list takes
        # (app.http.SelectPage), which an export keeps.
        view._extra_query_names = frozenset({"format", SORT})
    app.extensions["exports.replay"] = replay


def exportable_views(app: Flask, blueprint_names) -> list:
    """The GET functions of the paginated lists of these blueprints."""
    views = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.rpartition(".")[0] not in blueprint_names:
            continue
        view = app.view_functions[rule.endpoint]
        view = getattr(getattr(view, "view_class", None), "get", view)
        if "pagination" in (getattr(view, "_apidoc", None) or {}):
            views.append(view)
    return views
