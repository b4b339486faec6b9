"""Consumer reports: scan heat by region (for a map) and consumer segments by frequency, product and region.

Read from the rollups: scans from ``report_daily``, consumers from ``report_consumer_days`` (a consumer
counts in the region of their first scan of each day). A consumer's frequency is their scans in the
period; most consumers scan on one day of a period, so the segments add up the days of only those seen
on two days or more (their later days are the rows whose previous day is inside the period).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

import sqlalchemy as sa

from app.extensions import db
from app.masterdata.models import Product
from app.reports import service
from app.reports.models import ConsumerDay
from app.reports.service import REGION_LEVELS, Period, ReportParameterInvalid

HEAT_LEVELS = ("province", "city")
# (segment, fewest scans, most scans; None: no upper bound)
FREQUENCY = (("1", 1, 1), ("2-3", 2, 3), ("4-9", 4, 9), ("10+", 10, None))


def segment_of(scans: int) -> str:
    return next(name for name, low, high in FREQUENCY if scans >= low and (high is None or scans <= high))


def _segment_sql(column):
    return sa.case(*((column <= high, name) for name, _, high in FREQUENCY if high is not None),
                   else_=FREQUENCY[-1][0])


# --- heat ---------------------------------------------------------------------------------------

def heat(*, period: Period, level: str, regions: Iterable[str] | None = None) -> list[dict]:
    """Scans, first scans and distinct consumers per province or city, with its name and centroid;
    most scans first. Scans without a location are in no region."""
    if level not in HEAT_LEVELS:
        raise ReportParameterInvalid(f"level is one of {', '.join(HEAT_LEVELS)}.",
                                     errors={"level": [f"one of {', '.join(HEAT_LEVELS)}"]})
    regions = list(regions) if regions is not None else None
    figures: dict[str, Counter] = {}
    for row in service.sums(["scan", "scan.first"], period, by=(level, "variant"), regions=regions):
        found = figures.setdefault(getattr(row, level), Counter())
        name = "scans" if row.fact == "scan" else "first_scans"
        found[name] += int(row.n)
        if row.fact == "scan.first" and row.variant == "genuine":
            found["genuine_first_scans"] += int(row.n)
    prefix = sa.func.substr(ConsumerDay.region_code, 1, REGION_LEVELS[level])
    consumers = db.session.execute(
        sa.select(prefix, sa.func.count(sa.distinct(ConsumerDay.app_user_id)))
        .where(ConsumerDay.day.between(period.first, period.last), ConsumerDay.region_code != "",
               service.region_condition(ConsumerDay.region_code, regions))
        .group_by(prefix)).all()
    for code, count in consumers:
        figures.setdefault(code, Counter())["consumers"] = count
    rows = [{**service.region_info(code), "scans": found["scans"], "first_scans": found["first_scans"],
             "genuine_first_scans": found["genuine_first_scans"], "consumers": found["consumers"]}
            for code, found in figures.items()]
    return sorted(rows, key=lambda row: (-row["scans"], -row["consumers"], row["region_code"]))


# --- segments -----------------------------------------------------------------------------------

@dataclass
class Segments:
    consumers: int
    frequency: list[dict]  # {segment, consumers, scans}
    products: list[dict]  # {product_id, product_name, scans, first_scans, genuine_first_scans}
    regions: list[dict]  # heat rows by province


def segments(*, period: Period, regions: Iterable[str] | None = None) -> Segments:
    """Consumers by scan frequency in the period (1, 2-3, 4-9, 10+ scans), scans by product, and
    consumers and scans by province."""
    regions = list(regions) if regions is not None else None
    frequency = frequency_segments(period, regions=regions)
    return Segments(consumers=sum(row["consumers"] for row in frequency), frequency=frequency,
                    products=_products(period, regions), regions=heat(period=period, level="province",
                                                                      regions=regions))


def frequency_segments(period: Period, *, regions: list[str] | None = None) -> list[dict]:
    """{segment, consumers, scans} for each frequency segment, in order."""
    if regions is None:
        consumers, scans = _frequency_by_first_days(period)
    else:
        consumers, scans = _frequency_by_grouping(period, regions)
    return [{"segment": name, "consumers": consumers[name], "scans": scans[name]} for name, _, _ in FREQUENCY]


def _frequency_by_first_days(period: Period) -> tuple[Counter, Counter]:
    """Every consumer of the period has one first day in it (its previous day is before the period):
    count those by their scans, then put right the few consumers with later days in the period."""
    table = ConsumerDay.__table__
    in_period = table.c.day.between(period.first, period.last)
    first_day = sa.or_(table.c.prev_day.is_(None), table.c.prev_day < period.first)
    segment = _segment_sql(table.c.scans).label("segment")
    consumers, scans = Counter(), Counter()
    for name, count, total in db.session.execute(
            sa.select(segment, sa.func.count(), sa.func.sum(table.c.scans)).where(in_period, first_day)
            .group_by(segment)):
        consumers[name] += count
        scans[name] += int(total or 0)
    returning = sa.select(table.c.app_user_id).where(table.c.prev_day.between(period.first, period.last),
                                                     table.c.day <= period.last)
    first_scans = sa.func.sum(sa.case((first_day, table.c.scans), else_=0))
    for _, on_first, total in db.session.execute(
            sa.select(table.c.app_user_id, first_scans, sa.func.sum(table.c.scans))
            .where(in_period, table.c.app_user_id.in_(returning)).group_by(table.c.app_user_id)):
        on_first, total = int(on_first), int(total)
        consumers[segment_of(on_first)] -= 1
        scans[segment_of(on_first)] -= on_first
        consumers[segment_of(total)] += 1
        scans[segment_of(total)] += total
    return consumers, scans


def _frequency_by_grouping(period: Period, regions: list[str]) -> tuple[Counter, Counter]:
    """A regional caller's segments: each consumer's scans on the days they began in the caller's regions
    (a smaller set: the first-day shortcut does not hold once other regions' days are left out)."""
    per_consumer = (sa.select(sa.func.sum(ConsumerDay.scans).label("scans"))
                    .where(ConsumerDay.day.between(period.first, period.last),
                           service.region_condition(ConsumerDay.region_code, regions))
                    .group_by(ConsumerDay.app_user_id).subquery())
    segment = _segment_sql(per_consumer.c.scans).label("segment")
    consumers, scans = Counter(), Counter()
    for name, count, total in db.session.execute(
            sa.select(segment, sa.func.count(), sa.func.sum(per_consumer.c.scans)).group_by(segment)):
        consumers[name], scans[name] = count, int(total or 0)
    return consumers, scans


def _products(period: Period, regions) -> list[dict]:
    figures: dict[int, Counter] = {}
    for row in service.sums(["scan", "scan.first"], period, by=("product_id", "variant"), regions=regions):
        if not row.product_id:
            continue  # not a code of ours
        found = figures.setdefault(row.product_id, Counter())
        found["scans" if row.fact == "scan" else "first_scans"] += int(row.n)
        if row.fact == "scan.first" and row.variant == "genuine":
            found["genuine_first_scans"] += int(row.n)
    names = dict(db.session.execute(sa.select(Product.id, Product.name).where(Product.id.in_(list(figures)))).all()) \
        if figures else {}
    rows = [{"product_id": id_, "product_name": names.get(id_), "scans": found["scans"],
             "first_scans": found["first_scans"], "genuine_first_scans": found["genuine_first_scans"]}
            for id_, found in figures.items()]
    return sorted(rows, key=lambda row: (-row["scans"], row["product_id"]))
