"""Clerks spend points by turning them into cash (fen) at the brand's rate, then withdraw the cash.

A conversion is one points debit and one cash credit in the clerk's ledger, in one transaction and
under one source (``points-cash:<conversion id>``; the ledger's key is kind and source), so the ledger
rules hold as for every other movement: each cause counts once, a balance never goes below zero (the
guarded UPDATE of ``ledger.debit`` and the CHECK behind it). The cash then leaves through a withdrawal
and the payout queue, with its minimum, review and WeChat Pay handling.

The rate is set in the back office; each change is a new row, and a conversion names the rate it
used. Amounts are whole: a conversion is a whole number of the rate's steps (``points`` for ``fen``),
so nothing is rounded.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import AppUser
from app.db import insert_once
from app.extensions import db
from app.identity.service import Actor, audit
from app.platform.filters import Filters
from app.retail import ledger
from app.retail.errors import ConversionClosed, ConversionInvalid, ConversionRequestReused, RateInvalid, RateNotSet
from app.retail.models import PointsCashRate, PointsConversion, RewardKind

# The most one conversion (and one rate's step) may pay: 100,000,000 yuan. Far below what a balance column
# holds, so adding conversions to a balance never overflows it (an int64 sum would be a 500).
MAX_FEN = 10**10


def current_rate() -> PointsCashRate | None:
    """The rate in force: the newest one set (None before the brand set any)."""
    return db.session.scalar(sa.select(PointsCashRate).order_by(PointsCashRate.id.desc()).limit(1))


def open_rate() -> PointsCashRate | None:
    """The rate clerks may convert at now (None: conversion is closed)."""
    rate = current_rate()
    return rate if rate is not None and rate.enabled else None


def set_rate(*, actor: Actor, points: int, fen: int, min_points: int = 0, enabled: bool = True) -> PointsCashRate:
    """Set the rate (a new row, audited; the rate in force again changes nothing); conversions made before
    keep the rate they were made at."""
    errors = {}
    if points is None or points <= 0:
        errors["points"] = ["A positive number of points."]
    if fen is None or fen <= 0 or fen > MAX_FEN:
        errors["fen"] = [f"A positive number of fen, at most {MAX_FEN:,}."]
    if min_points is None or min_points < 0:
        errors["min_points"] = ["Zero or more."]
    if errors:
        raise RateInvalid(errors=errors)
    was = current_rate()
    if was is not None and (was.points, was.fen, was.min_points, was.enabled) == (points, fen, min_points, enabled):
        return was  # the same rate again (a retry): nothing changes
    rate = PointsCashRate(points=points, fen=fen, min_points=min_points, enabled=enabled,
                          created_by=actor.name[:128])
    db.session.add(rate)
    db.session.flush()
    audit(actor, "points_cash_rate.set", rate, {
        name: [getattr(was, name) if was is not None else None, getattr(rate, name)]
        for name in ("points", "fen", "min_points", "enabled")})
    return rate


def get_rate() -> PointsCashRate:
    rate = current_rate()
    if rate is None:
        raise RateNotSet()
    return rate


def list_rates():
    return sa.select(PointsCashRate).order_by(PointsCashRate.id.desc())


def _by_request(app_user_id: int, request_id: str, *, lock: bool = False) -> PointsConversion | None:
    query = sa.select(PointsConversion).where(PointsConversion.app_user_id == app_user_id,
                                              PointsConversion.request_id == request_id)
    return db.session.scalar(query.with_for_update() if lock else query)


def _amount(rate: PointsCashRate, points: int) -> int:
    """The fen for these points at this rate; 422 when below the minimum or not whole steps."""
    least = rate.least_points
    if points < least or points % rate.points:
        message = f"At least {least} points, in steps of {rate.points} ({rate.points} points = {rate.fen} fen)."
        raise ConversionInvalid(message, errors={"points": [message]})
    amount = points // rate.points * rate.fen
    if amount > MAX_FEN:
        raise ConversionInvalid(errors={"points": ["Too many points for one conversion."]})
    return amount


def convert(*, user: AppUser, points: int, request_id: str) -> PointsConversion:
    """Turn a clerk's points into cash (fen) at the rate in force, once per (user, request_id).

    409 ``points_conversion_closed`` when the brand set no rate or closed it; 422
    ``points_conversion_invalid`` below the minimum or not whole steps; 409 ``insufficient_balance``
    beyond the points balance. The same request_id again answers the same conversion (nothing moves
    twice); with another number of points it is 409 ``points_conversion_request_reused``.
    """
    existing = _by_request(user.id, request_id)  # plain read: no gap lock (see ledger._entry)
    if existing is None:
        rate = open_rate()
        if rate is None:
            raise ConversionClosed()
        amount = _amount(rate, points)
        conversion = PointsConversion(app_user_id=user.id, request_id=request_id, rate_id=rate.id, points=points,
                                      amount_fen=amount)
        if insert_once(conversion):
            # Points first, then cash: every use case that moves both takes the two balance rows in this order.
            source = f"points-cash:{conversion.id}"
            ledger.debit(app_user_id=user.id, kind=RewardKind.POINTS, amount=points, source=source,
                         note=f"Converted to {amount} fen")
            ledger.credit(app_user_id=user.id, kind=RewardKind.CASH, amount=amount, source=source,
                          note=f"From {points} points")
            return conversion
        existing = _by_request(user.id, request_id, lock=True)  # the same request sent twice at once
    if existing.points != points:
        raise ConversionRequestReused()
    return existing


_CONVERSION_FILTERS = Filters(
    app_user_id=lambda value: PointsConversion.app_user_id == value,
    since=lambda value: PointsConversion.created_at >= value,
    until=lambda value: PointsConversion.created_at < value,
)


def list_conversions(*, app_user_id: int | None = None, since=None, until=None):
    """Conversions of points to cash, newest first, narrowed by the filters given."""
    return _CONVERSION_FILTERS.apply(sa.select(PointsConversion).order_by(PointsConversion.id.desc()),
                                     app_user_id=app_user_id, since=since, until=until)
