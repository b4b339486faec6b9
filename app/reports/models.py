"""Rollups: one row per business day, fact and dimension values, with a count and an amount.

One table serves every fact so a writer, the rebuild and every report share one shape. A dimension a
fact does not have is stored as 0 or '' (not NULL), so the primary key is the rollup's identity and
an upsert adds to the one row it names.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

DIMENSIONS = ("product_id", "lot_id", "place_kind", "place_id", "region_code", "campaign_id", "variant")


class DailyFact(db.Model):
    """How many (n) and how much (amount: fen, points or items) of a fact happened on a day."""

    __tablename__ = "report_daily"
    __table_args__ = (
        sa.Index("ix_report_daily_region", "fact", "region_code", "day"),
    )

    fact: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    lot_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    place_kind: Mapped[str] = mapped_column(sa.String(10), primary_key=True)  # line, warehouse, dealer, store
    place_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    region_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)  # where it happened
    campaign_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    variant: Mapped[str] = mapped_column(sa.String(16), primary_key=True)  # a verdict, a level, an outcome...
    n: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ConsumerTotal(db.Model):
    """A consumer's scans ever and their last day with a scan: their member tag (frequency segment)
    counted on that day by the fact ``consumer.segment``, so the consumers active in a period are
    split by segment from a few rows a day."""

    __tablename__ = "report_consumers"

    app_user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    scans: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    last_day: Mapped[date] = mapped_column(sa.Date)


class ConsumerDay(db.Model):
    """A consumer who scanned on a day (the day's first scan, the lowest id, gives the region): distinct consumers
    over any period without reading the scans.

    ``scans`` and ``prev_day`` serve the frequency segments: a consumer's first day in a period is the
    row whose previous day is before it, so only consumers seen on two days or more of a period need
    their days added up (app.reports.consumers).
    """

    __tablename__ = "report_consumer_days"
    __table_args__ = (
        sa.Index("ix_report_consumer_days_user", "app_user_id", "day"),
        sa.Index("ix_report_consumer_days_prev", "prev_day"),
    )

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    app_user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    region_code: Mapped[str] = mapped_column(sa.String(12), default="")
    scans: Mapped[int] = mapped_column(default=1)  # the consumer's scans that day
    # The consumer's previous day with a scan, when within PREV_DAY_REACH days (None: none, or longer ago).
    prev_day: Mapped[date | None] = mapped_column(sa.Date)
    # Scans are written out of order (a claim writes its scan before the log's earlier ones): the region
    # is that of the lowest scan id seen, so the order they are written in does not change it.
    first_scan_id: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
