"""Master data's errors: what products, places, dealers, stores and the ERP's bulk upsert refuse."""
from __future__ import annotations

from app.bulk import BatchRejected, ExternalIdDuplicate  # noqa: F401  (the batch errors master data raises)
from app.errors import ValidationFailed


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
