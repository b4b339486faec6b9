"""Traceability's errors: what a trace, a lot correction or a recall refuses."""
from __future__ import annotations

from app.errors import Conflict, NotFound, ValidationFailed


class UnitNotCommissioned(Conflict):
    code = "unit_not_commissioned"
    message = "The code was issued but never commissioned: there is no unit to change."


class RecallNotFound(NotFound):
    code = "recall_not_found"
    message = "No such recall."


class LotAlreadyRecalled(Conflict):
    code = "lot_already_recalled"
    message = "Every unit of the lot is already recalled."


class LotUnknown(ValidationFailed):
    code = "production_lot_unknown"
    message = "The referenced production lot does not exist."


class CorrectionItemsOnly(ValidationFailed):
    code = "correction_items_only"
    message = "Only an item's lot can be corrected (a case or pallet takes its lot from its first item)."


class CorrectionWrongProduct(ValidationFailed):
    code = "wrong_product"
    message = "The new lot is of another product than the unit."


class LotUnchanged(ValidationFailed):
    code = "lot_unchanged"
    message = "The unit is already in that lot."


class UnitVoided(Conflict):
    code = "unit_voided"
    message = "The code's label was replaced; correct the code that replaced it."



class RawMaterialLotAlreadyRecalled(Conflict):
    code = "raw_material_lot_already_recalled"
    message = "Every unit of every production lot that consumed this raw-material lot is already recalled."


class RawMaterialLotNotConsumed(Conflict):
    code = "raw_material_lot_not_consumed"
    message = "No production lot consumed this raw-material lot: there is nothing to recall."

