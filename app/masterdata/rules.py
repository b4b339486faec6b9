"""Master-data rules: the errors they raise and the checks that need no database."""
from __future__ import annotations

import math
from urllib.parse import urlsplit

from app import gs1
from app.bulk import BatchRejected, ExternalIdDuplicate  # noqa: F401  (the batch errors master data raises)
from app.errors import DomainError, NotFound, ValidationFailed


class GtinInvalid(ValidationFailed):
    code = "gtin_invalid"
    message = "The GTIN is not valid."


class GtinTaken(ValidationFailed):
    code = "gtin_taken"
    message = "Another product has this GTIN."


class SkuTaken(ValidationFailed):
    code = "sku_taken"
    message = "Another product has this SKU."


class ExternalIdTaken(ValidationFailed):
    code = "external_id_taken"
    message = "Another record has this external id."


class FieldRequired(ValidationFailed):
    code = "field_required"
    message = "A required field is missing or empty."


class PackagingInvalid(ValidationFailed):
    code = "packaging_invalid"
    message = "Units per case and cases per pallet are whole numbers of at least 1."


class ShelfLifeInvalid(ValidationFailed):
    code = "shelf_life_invalid"
    message = "The shelf life is a whole number of days, at least 1."


class ImageUrlInvalid(ValidationFailed):
    code = "image_url_invalid"
    message = "The image URL must be an absolute http(s) URL."


class CoordinatesInvalid(ValidationFailed):
    code = "coordinates_invalid"
    message = "Coordinates need both longitude (-180..180) and latitude (-90..90)."


class StatusInvalid(ValidationFailed):
    code = "status_invalid"
    message = "The status is 'active' or 'inactive'."


class RegionUnknown(ValidationFailed):
    code = "region_unknown"
    message = "No such region code."


class RegionLevelInvalid(ValidationFailed):
    code = "region_level_invalid"
    message = "The region is at the wrong level here."


class DealerUnknown(ValidationFailed):
    code = "dealer_unknown"
    message = "A referenced dealer does not exist."


class DealerInactive(ValidationFailed):
    code = "dealer_inactive"
    message = "A deactivated dealer can't take new sub-dealers or stores; reactivate it first."


class DealerParentUnknown(ValidationFailed):
    code = "dealer_parent_unknown"
    message = "The parent dealer does not exist."


class DealerParentCycle(ValidationFailed):
    code = "dealer_parent_cycle"
    message = "A dealer cannot be its own ancestor."


class DealerTierMismatch(ValidationFailed):
    code = "dealer_tier_mismatch"
    message = "A dealer's tier is its parent's tier + 1 (tier 1 has no parent)."


class FactoryUnknown(ValidationFailed):
    code = "factory_unknown"
    message = "The referenced factory does not exist."


class LineCodeTaken(ValidationFailed):
    code = "line_code_taken"
    message = "The factory already has a line with this code."


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
