"""What every report view shares: the period asked for, the caller's regions, the answer's envelope."""
from __future__ import annotations

import functools

import marshmallow as ma

from app.exports import web as exports

from app.http import current_scope, regional, roles
from app.reports.service import Period
from app.schemas import Int


class PeriodQuerySchema(ma.Schema):
    """A period of China days (default: the last 30 days to today; at most 366 days)."""

    first = ma.fields.Date(data_key="from", metadata={"description": "First day (China time), ISO date"})
    last = ma.fields.Date(data_key="to", metadata={"description": "Last day (China time), ISO date; default today"})


def period_of(query: dict, *, default_days: int = 30) -> Period:
    return Period.of(query.pop("first", None), query.pop("last", None), default_days=default_days)


def caller_regions() -> list[str] | None:
    """The caller's data scope as adcode prefixes (None: the whole country; app.identity.scope)."""
    scope = current_scope()
    return None if scope.national else list(scope.prefixes)


class PeriodReadSchema(ma.Schema):
    first = ma.fields.Date(data_key="from")
    last = ma.fields.Date(data_key="to")
    days = Int()


class ReportReadSchema(ma.Schema):
    """Every report's envelope: when its figures were current and the period they cover."""

    as_of = ma.fields.DateTime(metadata={"description": "The figures are current as of this instant (UTC)"})
    period = ma.fields.Nested(PeriodReadSchema)


def exportable(envelope: type[ma.Schema], key: str = "rows", *, name: str):
    """A report view that also answers ``?format=xlsx|csv``: the list under ``key`` of its answer (an
    ``envelope`` schema's field) as a sheet, through app.exports (inline, or a job for a large one).
    Goes just above the view function, under ``@blp.response``."""
    field = envelope().fields[key]
    rows_schema = type((field.inner if isinstance(field, ma.fields.List) else field).schema)

    def decorate(view):
        @functools.wraps(view)
        def answer(*args, **kwargs):
            result = view(*args, **kwargs)
            if exports.requested_format() is None:
                return result
            rows = result[key] if isinstance(result, dict) else getattr(result, key)
            return exports.respond(rows, rows_schema(many=True), name=name)
        answer._extra_query_names = frozenset({"format"})  # app.inputs lets it through
        return answer
    return decorate


def report_view(blp, path: str, *, readers, answer: type[ma.Schema], name: str, query: type[ma.Schema] | None = None,
                key: str = "rows"):
    """What every report view stacks, in order: a GET route, the roles that may read it, the caller's
    regions, its query (if any), its answer, and its export (``exportable``: ``key`` is the list exported)."""
    decorators = [blp.route(path, methods=["GET"]), roles(*readers), regional]
    if query is not None:
        decorators.append(blp.arguments(query, location="query"))
    decorators += [blp.response(200, answer), exportable(answer, key, name=name)]

    def decorate(view):
        for decorator in reversed(decorators):
            view = decorator(view)
        return view
    return decorate
