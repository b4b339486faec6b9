"""The business day: China Standard Time (UTC+8), whatever the server's zone. Stored times are UTC."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

BUSINESS_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def china_day(moment: datetime) -> date:
    """The business day an instant falls on (a naive instant is UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(BUSINESS_TZ).date()


def day_start(day: date) -> datetime:
    """The UTC instant a business day starts."""
    return datetime.combine(day, time.min, BUSINESS_TZ).astimezone(timezone.utc)


def month_span(moment: datetime) -> tuple[datetime, datetime]:
    """The UTC instants the business month holding ``moment`` starts and the next one starts."""
    first = china_day(moment).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return day_start(first), day_start(following)
