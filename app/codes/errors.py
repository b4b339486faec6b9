"""The code domain's errors: what issuing, voiding, resolving and exporting codes refuse."""
from __future__ import annotations

from app.codes.export import MIN_PASSWORD_LENGTH
from app.errors import Conflict, NotFound, ValidationFailed


class ProductUnknown(ValidationFailed):
    code = "product_unknown"
    message = "No such product."


class ProductInactive(ValidationFailed):
    code = "product_inactive"
    message = "The product is inactive; codes are issued for active products only."


class CountOutOfRange(ValidationFailed):
    code = "count_out_of_range"
    message = "The number of codes is out of range."


class LevelInvalid(ValidationFailed):
    code = "level_invalid"
    message = "The packaging level is item, case or pallet."


class HiddenCodeInvalid(ValidationFailed):
    code = "hidden_code_invalid"
    message = "Hidden codes go with item codes only and have 6 to 8 digits."


class PasswordTooShort(ValidationFailed):
    code = "password_too_short"
    message = f"A code pack password has at least {MIN_PASSWORD_LENGTH} characters."


class SerialsExhausted(Conflict):
    code = "serials_exhausted"
    message = "The code serial space (or the SSCC numbers of the GS1 company prefix) is used up."


class BatchNotFound(NotFound):
    code = "batch_not_found"
    message = "No such code batch."


class BatchVoided(Conflict):
    code = "batch_voided"
    message = "The batch is voided; its codes can no longer be exported."


class ExportNotFound(NotFound):
    code = "export_not_found"
    message = "No such code pack export."


class ExportNotReady(Conflict):
    code = "export_not_ready"
    message = "The code pack is not ready (or its export failed)."


class CodeNotFound(NotFound):
    code = "code_not_found"
    message = "The code is not valid or was never issued."
