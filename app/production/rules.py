"""Production rules: the checks that need no database (quantities, plausible dates)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from app.production.errors import DateOutOfRange, QuantityInvalid

MAX_QUANTITY = Decimal("999999999999999.999")  # Numeric(18, 3)


def quantity(value, field: str = "quantity") -> Decimal | None:
    """A non-negative decimal with at most 3 places, or None."""
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise QuantityInvalid(errors={field: ["a number"]})
    if not number.is_finite() or not 0 <= number <= MAX_QUANTITY or number != number.quantize(Decimal("0.001")):
        raise QuantityInvalid(errors={field: ["0 to 999,999,999,999,999, at most 3 decimals"]})
    return number.quantize(Decimal("0.001"))


FIRST_YEAR, LAST_YEAR = 1970, 2999


def plausible(value, field: str):
    """A date or datetime within FIRST_YEAR..LAST_YEAR (keeps date arithmetic and columns in range)."""
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise DateOutOfRange(errors={field: [f"between {FIRST_YEAR} and {LAST_YEAR}"]})
    return value
