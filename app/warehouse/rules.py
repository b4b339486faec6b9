"""Warehouse rules: why a scan is refused (machine code + a sentence)."""
from __future__ import annotations

from app.units import code_reader

# --- per-record reasons (a scan upload answers them per record; the request itself succeeds) -----

FORGED = "forged"
UNKNOWN = "unknown"
VOIDED = "voided"
NOT_COMMISSIONED = "not_commissioned"
SCRAPPED = "scrapped"
PACKED_ELSEWHERE = "packed_elsewhere"
WRONG_LOCATION = "wrong_location"
RECALLED = "recalled"
WAREHOUSE_UNKNOWN = "warehouse_unknown"
DESTINATION_UNKNOWN = "destination_unknown"
SAME_WAREHOUSE = "same_warehouse"
SCAN_TIME_INVALID = "scan_time_invalid"

REASONS = {
    FORGED: "The code is not one of ours: malformed, or its check (MAC) fails.",
    UNKNOWN: "The code verifies but was never issued.",
    VOIDED: "The code is voided (its batch was voided, or its label was replaced).",
    NOT_COMMISSIONED: "The code was never commissioned (nor used as a case or pallet).",
    SCRAPPED: "The unit was scrapped.",
    PACKED_ELSEWHERE: "The code is inside a case or pallet: scan that parent, or unpack it first.",
    WRONG_LOCATION: "The unit is not where this scan moves it from (inbound from a line: not at a line; "
                    "inbound from a transfer: not in transit to this warehouse; outbound: not in this "
                    "warehouse, or in transit).",
    RECALLED: "The unit, or a unit inside it, is recalled: it may not leave the warehouse.",
    WAREHOUSE_UNKNOWN: "The scanning warehouse does not exist or is deactivated.",
    DESTINATION_UNKNOWN: "The dealer or warehouse shipped to does not exist or is deactivated.",
    SAME_WAREHOUSE: "A transfer goes to another warehouse than the one it leaves.",
    SCAN_TIME_INVALID: "The scan time is more than 5 minutes in the future or before 2000.",
    code_reader.EPC_UNKNOWN: code_reader.EPC_UNKNOWN_MESSAGE,
}

# Not a rejection: the record was applied before, or the units are already where it puts them.
DUPLICATE = "duplicate"
ACCEPTED = "accepted"
REJECTED = "rejected"
