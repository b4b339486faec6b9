"""Retail rules: the reasons a sale scan is refused, and the error each one answers."""
from __future__ import annotations

from app.retail.errors import SaleCodeInvalid, SaleRefused
from app.units.code_reader import EPC_UNKNOWN, EPC_UNKNOWN_MESSAGE

# Sale-scan refusals by reason: (HTTP error class, sentence).
FORGED = "forged"
UNKNOWN = "unknown"
NOT_COMMISSIONED = "not_commissioned"
WRONG_LEVEL = "wrong_level"
SCRAPPED = "scrapped"
VOIDED = "voided"
RECALLED = "recalled"
ALREADY_SOLD = "already_sold"
SCAN_TIME_INVALID = "scan_time_invalid"

SALE_REFUSALS = {
    FORGED: (SaleCodeInvalid, "The code is not one of ours: malformed, or its check fails."),
    UNKNOWN: (SaleCodeInvalid, "The code verifies but was never issued."),
    NOT_COMMISSIONED: (SaleCodeInvalid, "The code was never commissioned: it is on no product."),
    WRONG_LEVEL: (SaleCodeInvalid, "Cases and pallets aren't sold: scan the item's own code."),
    SCAN_TIME_INVALID: (SaleCodeInvalid, "The scan time is in the future or more than 3 days ago."),
    SCRAPPED: (SaleRefused, "The unit was scrapped."),
    VOIDED: (SaleRefused, "The code is voided (its batch was voided, or its label was replaced)."),
    RECALLED: (SaleRefused, "The unit is recalled: it must not be sold. Take it off the shelf."),
    ALREADY_SOLD: (SaleRefused, "The unit was already sale-scanned; a unit is sold and rewarded once."),
    EPC_UNKNOWN: (SaleCodeInvalid, EPC_UNKNOWN_MESSAGE),
}


def refuse_sale(reason: str):
    """The error for a sale-scan refusal reason (its ``code`` is the reason)."""
    cls, message = SALE_REFUSALS[reason]
    return cls(message, code=reason)
