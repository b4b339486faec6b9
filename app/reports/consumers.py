"""Consumer reports: scan heat by region (for a map) and consumer segments by frequency, product and region.

Read from the rollups: scans from ``report_daily``, consumers from ``report_consumer_days`` (a consumer
counts in the region of their first scan of each day). A consumer's frequency segment is their member
tag, by their scans ever (``report_consumers``), counted on their latest day with a scan.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

import sqlalchemy as sa

from app.extensions import db
from app.masterdata.models import Product
from app.reports import rollups, service
from app.reports.models import ConsumerDay, ConsumerTotal
from app.reports.service import REGION_LEVELS, Period, ReportParameterInvalid

HEAT_LEVELS = ("province", "city")


# --- heat ---------------------------------------------------------------------------------------

def heat(*, period: Period, level: str, regions: Iterable[str] | None = None) -> list[dict]:
    """Scans, first scans and distinct consumers per province or city, with its name and centroid;
    most scans first. Scans without a location are in no region. By province a consumer counts once, in
    the province of their first day with a scan in the period (so the provinces add up to the country);
    by city, in every city where a day of theirs began."""
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
    if level == "province" and all(len(prefix) <= 2 for prefix in regions or ()):
        consumers = service.consumers_by_province(period, regions=regions).items()
    else:  # a city's consumers: read the consumer-days of the period
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
    """{segment, consumers, scans} for each member tag (1, 2-3, 4-9, 10+ scans ever), in order: for the
    whole country the consumers whose latest scan falls in the period (the ``consumer.segment`` facts);
    for a regional caller the consumers who scanned in their regions in the period."""
    consumers, scans = Counter(), Counter()
    if regions is None:
        for row in service.sums([rollups.CONSUMER_SEGMENT], period, by=("variant",)):
            consumers[row.variant], scans[row.variant] = int(row.n), int(row.amount)
    else:
        active = (sa.select(ConsumerDay.app_user_id).distinct()
                  .where(ConsumerDay.day.between(period.first, period.last),
                         service.region_condition(ConsumerDay.region_code, regions)))
        for total in db.session.scalars(sa.select(ConsumerTotal.scans).where(ConsumerTotal.app_user_id.in_(active))):
            consumers[rollups.segment_of(total)] += 1
            scans[rollups.segment_of(total)] += int(total)
    return [{"segment": name, "consumers": consumers[name], "scans": scans[name]}
            for name, _, _ in rollups.FREQUENCY]


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
