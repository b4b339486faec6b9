"""Checking the reports' rollups: what the writers kept equals a rebuild from the source rows."""
import sqlalchemy as sa

from app.db import transaction
from app.extensions import db
from app.reports.models import ConsumerDay, ConsumerTotal, DailyFact
from app.reports.rebuild import rebuild


def kept_rollups() -> dict:
    """The rollup rows now, as {key: (n, amount)} without zero rows (a fact added then taken back)."""
    db.session.rollback()
    rows = {}
    for row in db.session.scalars(sa.select(DailyFact)):
        if row.n or row.amount:
            rows[(row.fact, row.day, row.product_id, row.lot_id, row.place_kind, row.place_id, row.region_code,
                  row.campaign_id, row.variant)] = (row.n, row.amount)
    days = set(db.session.execute(sa.select(ConsumerDay.day, ConsumerDay.app_user_id, ConsumerDay.region_code,
                                            ConsumerDay.scans, ConsumerDay.prev_day)))
    totals = set(db.session.execute(sa.select(ConsumerTotal.app_user_id, ConsumerTotal.scans, ConsumerTotal.last_day)))
    db.session.rollback()
    return {"daily": rows, "consumer_days": days, "consumer_totals": totals}


def rollup_differences() -> dict:
    """{key: (kept, rebuilt)} for every rollup row where the incremental rollups and a rebuild differ
    (the database is left with the rebuilt rollups)."""
    kept = kept_rollups()
    days = [d for (_, d, *_rest) in kept["daily"]] + [d for d, *_rest in kept["consumer_days"]]
    bounds = db.session.execute(sa.select(sa.func.min(DailyFact.day), sa.func.max(DailyFact.day))).one()
    db.session.rollback()
    if not days and bounds[0] is None:
        return {}
    first, last = min(days or [bounds[0]]), max(days or [bounds[1]])
    with transaction():
        rebuild(first=first, last=last)
    rebuilt = kept_rollups()
    differences = {key: (kept["daily"].get(key), rebuilt["daily"].get(key))
                   for key in kept["daily"].keys() | rebuilt["daily"].keys()
                   if kept["daily"].get(key) != rebuilt["daily"].get(key)}
    for row in kept["consumer_days"] ^ rebuilt["consumer_days"]:
        differences[("consumer_day", *row)] = (row in kept["consumer_days"], row in rebuilt["consumer_days"])
    for row in kept["consumer_totals"] ^ rebuilt["consumer_totals"]:
        differences[("consumer_total", *row)] = (row in kept["consumer_totals"], row in rebuilt["consumer_totals"])
    return differences


def figure(fact: str, *, measure: str = "n", **equal) -> int:
    """The sum of a fact's n (or amount) over every day, for rows whose dimensions equal ``equal``."""
    query = sa.select(sa.func.coalesce(sa.func.sum(getattr(DailyFact, measure)), 0)).where(DailyFact.fact == fact)
    for name, value in equal.items():
        query = query.where(getattr(DailyFact, name) == value)
    value = db.session.scalar(query)
    db.session.rollback()
    return int(value)
