"""Production's errors: what production lots, materials, suppliers, raw-material lots and consumptions refuse."""
from __future__ import annotations

from app.errors import Conflict, ValidationFailed


class ProductUnknown(ValidationFailed):
    code = "product_unknown"
    message = "The referenced product does not exist."


class FactoryUnknown(ValidationFailed):
    code = "factory_unknown"
    message = "The referenced factory does not exist."


class LineUnknown(ValidationFailed):
    code = "line_unknown"
    message = "The referenced production line does not exist."


class LineNotInFactory(ValidationFailed):
    code = "line_not_in_factory"
    message = "The production line belongs to another factory."


class LotNoTaken(ValidationFailed):
    code = "lot_no_taken"
    message = "The lot number is already used (per product, or per material and supplier)."


class ExpiryBeforeProduction(ValidationFailed):
    code = "expiry_before_production"
    message = "The expiry date must be after the production date."


class MaterialUnknown(ValidationFailed):
    code = "material_unknown"
    message = "The referenced material does not exist."


class MaterialCodeTaken(ValidationFailed):
    code = "material_code_taken"
    message = "Another material has this code."


class SupplierUnknown(ValidationFailed):
    code = "supplier_unknown"
    message = "The referenced supplier does not exist."


class RawMaterialLotUnknown(ValidationFailed):
    code = "raw_material_lot_unknown"
    message = "The referenced raw-material lot does not exist."


class QuantityInvalid(ValidationFailed):
    code = "quantity_invalid"
    message = "A quantity is a number from 0 to 999,999,999,999,999 with at most 3 decimals."


class QuantityExceedsLot(ValidationFailed):
    code = "quantity_exceeds_lot"
    message = "The consumptions would use more of the raw-material lot than it holds."


class InspectionResultInvalid(ValidationFailed):
    code = "inspection_result_invalid"
    message = "The inspection result is pending, passed, failed or conditional."


class RawMaterialLotFailedInspection(ValidationFailed):
    code = "raw_material_lot_failed_inspection"
    message = "The raw-material lot failed inspection; it cannot be consumed."


class RawMaterialLotNotInspected(ValidationFailed):
    code = "raw_material_lot_not_inspected"
    message = "The raw-material lot is still pending inspection; it cannot be consumed yet."


class ConsumptionUnknown(ValidationFailed):
    code = "consumption_unknown"
    message = "The production lot did not consume this raw-material lot."


class ProductionLotClosed(Conflict):
    code = "production_lot_closed"
    message = "The production lot is closed; reopen it to change it."


class DateOutOfRange(ValidationFailed):
    code = "date_out_of_range"
    message = "Dates and times of production and receipt lie between 1970 and 2999."
