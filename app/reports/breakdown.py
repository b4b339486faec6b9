"""Figures broken down by one or two dimensions: the machinery the operations reports share.

A report names its measures (a fact's n or amount, of some variants and place kinds) and the
dimensions it may be broken down by. The rollup rows are summed in SQL by the rollup columns the
dimensions need, then folded here into one row per group. A measure that has no such dimension (codes
issued have no line, a dealer's shipments no region) is None in every row, not a misleading 0; a
place dimension (warehouse, dealer, store) keeps only the facts that happened at such a place.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.reports.service import REGION_LEVELS, Period, ReportParameterInvalid, region_info

MAX_DIMENSIONS = 2


@dataclass
class Report:
    """A report's answer: its rows (one per group of the dimensions asked for), as of an instant."""

    as_of: datetime
    period: Period
    by: tuple[str, ...]
    rows: list[dict]


@dataclass(frozen=True)
class Measure:
    """A figure: the n (or amount) of a fact, of some variants and place kinds, where it has the dimension."""

    fact: str
    measure: str = "n"
    variants: tuple[str, ...] = ()
    place_kinds: tuple[str, ...] = ()
    dimensions: frozenset[str] = field(default_factory=frozenset)  # empty: every dimension of the report

    def counts(self, row) -> bool:
        return row.fact == self.fact and (not self.variants or row.variant in self.variants) \
            and (not self.place_kinds or row.place_kind in self.place_kinds)

    def has(self, by: Iterable[str]) -> bool:
        return not self.dimensions or all(name in self.dimensions for name in by)


def parse_by(text: str | None, allowed: Iterable[str], *, default: str = "day") -> tuple[str, ...]:
    """The dimensions asked for ("day" or "day,line"): one or two of the allowed, else a 422 naming `by`."""
    allowed = tuple(allowed)
    names = tuple(part.strip() for part in (text or default).split(","))
    unknown = [name for name in names if name not in allowed]
    if unknown or not 1 <= len(names) <= MAX_DIMENSIONS or len(set(names)) != len(names):
        raise ReportParameterInvalid(
            f"by takes one or two of {', '.join(allowed)}, separated by a comma.",
            errors={"by": [f"unknown: {', '.join(unknown)}" if unknown else "one or two different dimensions"]})
    return names


def fold(rows: Iterable, *, by: tuple[str, ...], keys: Mapping[str, Callable], measures: Mapping[str, Measure]
         ) -> dict[tuple, dict[str, int | None]]:
    """{group: {measure: value}} from summed rollup rows. ``keys[dimension](row)`` is the row's value of
    the dimension, or None when the row has not that dimension (it then counts in no group)."""
    kept = {name: m for name, m in measures.items() if m.has(by)}
    groups: dict[tuple, dict[str, int | None]] = defaultdict(
        lambda: {name: (0 if name in kept else None) for name in measures})
    for row in rows:
        for name, measure in kept.items():
            if measure.counts(row):
                group = tuple(keys[dimension](row) for dimension in by)
                if None not in group:
                    groups[group][name] += int(getattr(row, measure.measure) or 0)
    return groups


def sort_key(group: tuple) -> tuple:
    """Groups in order of their values (a 0 id, 'none', last)."""
    return tuple((value in (0, ""), str(type(value)), value) for value in group)


# --- names of the things a row is about (small master tables, read by id) -----------------------

def names_of(model, ids: Iterable[int], *columns) -> dict[int, sa.Row]:
    """{id: row of the columns} for the ids (1,000 at a time)."""
    wanted = sorted({i for i in ids if i})
    found = {}
    for start in range(0, len(wanted), 1000):
        for row in db.session.execute(sa.select(model.id, *columns).where(model.id.in_(wanted[start:start + 1000]))):
            found[row.id] = row
    return found


def region_fields(level: str, prefix: str) -> dict:
    """A region's code, name and centroid (for a map), from the adcode prefix of its level."""
    info = region_info(prefix[:REGION_LEVELS[level]])
    return {"region_code": info["region_code"], "region_name": info["region_name"],
            "longitude": info["longitude"], "latitude": info["latitude"]}
