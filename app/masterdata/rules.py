"""Master-data rules: the checks that need no database."""
from __future__ import annotations

import math
from urllib.parse import urlsplit

from app import gs1
from app.errors import DomainError, NotFound, ValidationFailed
from app.masterdata.errors import CoordinatesInvalid, FieldRequired, GtinInvalid, ImageUrlInvalid


def not_found(entity: str) -> DomainError:
    """A 404 with the stable code `<entity>_not_found`."""
    return NotFound(f"No such {entity.replace('_', ' ')}.", code=f"{entity}_not_found")


def gtin14(value: str | None) -> str | None:
    """A GTIN-8/12/13/14 as GTIN-14; None stays None (a product may have no GTIN yet)."""
    if value is None or str(value).strip() == "":
        return None
    try:
        return gs1.normalize_gtin(str(value))
    except ValueError as exc:
        raise GtinInvalid(f"The GTIN {value!r} is not valid: {exc}.", errors={"gtin": [str(exc)]})


def text(value, field: str, *, required: bool = False) -> str | None:
    """A stripped string; an empty required one is refused."""
    value = None if value is None else str(value).strip()
    if required and not value:
        raise FieldRequired(f"{field} is required.", errors={field: ["required"]})
    return value


# Larger than any real case, pallet or shelf life, and within a 32-bit column.
MAX_COUNT = 1_000_000


def positive_int(value, field: str, error: type[ValidationFailed], *, optional: bool = False,
                 maximum: int = MAX_COUNT):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise error(errors={field: [f"a whole number from 1 to {maximum:,}"]})
    return value


def image_url(value: str | None) -> str | None:
    value = text(value, "image_url")
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImageUrlInvalid(errors={"image_url": ["an absolute http(s) URL"]})
    return value


def coordinates(longitude, latitude) -> tuple[float | None, float | None]:
    """Both or neither; in range; not NaN."""
    if longitude is None and latitude is None:
        return None, None
    try:
        lon, lat = float(longitude), float(latitude)
    except (TypeError, ValueError):
        raise CoordinatesInvalid(errors={"coordinates": ["give both longitude and latitude"]})
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise CoordinatesInvalid(errors={"coordinates": ["out of range"]})
    return lon, lat


def region_prefix(code: str) -> str:
    """The adcode prefix every region inside this one shares (33 a province, 3301 a city, 330106 a district).

    A 6- or 9-digit adcode is read as the 12-digit one it stands for (330000 is Zhejiang); any other
    text is its own prefix.
    """
    code = code.strip()
    if len(code) in (6, 9) and code.isdigit():
        code = code.ljust(12, "0")
    if len(code) == 12 and code.isdigit():
        for keep in (2, 4, 6, 9):
            if code[keep:] == "0" * (12 - keep):
                return code[:keep]
    return code


def region_ancestors(code: str) -> list[str]:
    """The code itself, its city and its province, as adcodes (the 12-digit code is hierarchical)."""
    return sorted({code, code[:4].ljust(12, "0"), code[:2].ljust(12, "0")}, reverse=True)
