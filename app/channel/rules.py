"""Channel rules: how many codes a request carries, and why a scanned code is refused (machine reason → a
sentence for people)."""
from __future__ import annotations

from app.units import code_reader

MAX_SCAN_CODES = 1000  # codes a shipment scan (or a dealer's unpack) sends
MAX_RECEIPT_CODES = 5000  # codes a receipt scans (and as many damaged ones)

# Why a code is refused (machine reason → sentence for people).
REASONS = {
    "forged": "This is not a code of ours.",
    "unknown": "This code was never issued.",
    code_reader.EPC_UNKNOWN: code_reader.EPC_UNKNOWN_MESSAGE,
    "voided": "This code's batch was voided.",
    "not_commissioned": "This code was never put on a product.",
    "not_in_my_stock": "This is not in your stock (elsewhere, in transit, or packed inside a case or pallet: "
                       "scan that one).",
    "wrong_sku": "No line of this order is for this product.",
    "wrong_lot": "The order line asks for another lot.",
    "line_complete": "The order line has no room for everything inside this code.",
    "already_shipped": "You have already shipped this.",
    "already_scanned": "This is already in an open shipment.",
    "scrapped": "This was scrapped.",
    "recalled": "This is under recall and can't be shipped.",
    "mixed": "This case or pallet holds several products; against an order, scan them one by one.",
    "empty": "Nothing is inside this case or pallet.",
    "order_mismatch": "This order is not from this warehouse to this dealer.",
    "order_not_shippable": "This order is cancelled, closed or already shipped in full.",
}


class Refused(Exception):
    """A scanned code refused, with its machine reason (a key of ``REASONS``)."""

    def __init__(self, reason: str):
        self.reason = reason
