"""What every report view shares: the period asked for, the caller's regions, the answer's envelope."""
from __future__ import annotations

import marshmallow as ma

from app.http import current_scope
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
