"""Line rules: why a record is rejected (machine code + a sentence), and the whole-request refusals."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.errors import Conflict, DomainError, NotFound, ValidationFailed

# --- per-record reasons (an upload answers them per record; the request itself succeeds) ---------

FORGED = "forged"
UNKNOWN = "unknown"
NOT_COMMISSIONED = "not_commissioned"
COMMISSIONED_ELSEWHERE = "commissioned_elsewhere"
PACKED_ELSEWHERE = "packed_elsewhere"
WRONG_PRODUCT = "wrong_product"
WRONG_LEVEL = "wrong_level"
OVER_CAPACITY = "over_capacity"
VOIDED = "voided"
SCRAPPED = "scrapped"
LOT_CLOSED = "lot_closed"
LOT_UNKNOWN = "lot_unknown"
NOT_PACKED = "not_packed"
LOCATION_MISMATCH = "location_mismatch"
IN_TRANSIT_OR_SHIPPED = "in_transit_or_shipped"
SCAN_TIME_INVALID = "scan_time_invalid"
RANGE_INVALID = "range_invalid"
UNKNOWN_RECORD = "unknown_record"
INVALID_RECORD = "invalid_record"  # NDJSON only: a line that is not a record
EPC_INVALID = "epc_invalid"
EPC_MISMATCH = "epc_mismatch"
EPC_TAKEN = "epc_taken"

REASONS = {
    FORGED: "The code is not one of ours: malformed, or its check (MAC) fails.",
    UNKNOWN: "The code verifies but was never issued.",
    NOT_COMMISSIONED: "The code was never commissioned.",
    COMMISSIONED_ELSEWHERE: "The code is already commissioned to another production lot.",
    PACKED_ELSEWHERE: "The code is already packed in another parent; remove or unpack it first.",
    WRONG_PRODUCT: "The code belongs to another product than the lot or parent.",
    WRONG_LEVEL: "The code is of the wrong packaging level (items in cases, cases on pallets).",
    OVER_CAPACITY: "The parent is full; mark it partial to pack it differently.",
    VOIDED: "The code is voided (its batch was voided, or its label was replaced).",
    SCRAPPED: "The unit was scrapped.",
    LOT_CLOSED: "The production lot is closed.",
    LOT_UNKNOWN: "The production lot does not exist.",
    NOT_PACKED: "The unit is not packed in that parent (or the parent holds nothing).",
    LOCATION_MISMATCH: "The child and the parent are in different places.",
    IN_TRANSIT_OR_SHIPPED: "The unit has left the factory or is in transit.",
    SCAN_TIME_INVALID: "The scan time is more than 5 minutes in the future or before 2000.",
    RANGE_INVALID: "A code range runs forward within one batch, at most 100,000 codes.",
    UNKNOWN_RECORD: "The record to correct was never applied.",
    INVALID_RECORD: "The line is not a valid record.",
    EPC_INVALID: "The EPC is neither an SGTIN-96 (24 hex digits, header 30) nor a TID (hex, class E0 or E2).",
    EPC_MISMATCH: "The EPC's GTIN is not the GTIN of the code's product.",
    EPC_TAKEN: "The EPC is already bound to another code (an EPC binds to one code, ever).",
}

# Not a rejection: the fact is already true (or the record id was applied before). Harmless.
DUPLICATE = "duplicate"

EARLIEST_SCAN = datetime(2000, 1, 1, tzinfo=timezone.utc)
CLOCK_SKEW = timedelta(minutes=5)


def scan_time_invalid(scanned_at: datetime, now: datetime) -> bool:
    """A scan time we can't believe: before 2000, or more than 5 minutes ahead of our clock."""
    return scanned_at < EARLIEST_SCAN or scanned_at > now + CLOCK_SKEW


# --- whole-request refusals ----------------------------------------------------------------------

class LineSessionNotFound(NotFound):
    code = "line_session_not_found"
    message = "The line session does not exist."


class LineSessionStopped(Conflict):
    code = "line_session_stopped"
    message = "The line session is stopped; start a new one."


class LineUnknown(ValidationFailed):
    code = "line_unknown"
    message = "The production line does not exist."


class LineInactive(Conflict):
    code = "line_inactive"
    message = "The production line is deactivated."


class LotUnknown(ValidationFailed):
    code = "production_lot_unknown"
    message = "The production lot does not exist."


class LotClosed(Conflict):
    code = "production_lot_closed"
    message = "The production lot is closed; reopen it first."


class LotOnAnotherLine(Conflict):
    code = "production_lot_on_another_line"
    message = "The production lot is made on another line."


class TooManyRecords(ValidationFailed):
    code = "too_many_records"
    message = "An upload holds 1 to 100,000 records; send more as NDJSON."


class RecordsInvalid(ValidationFailed):
    code = "invalid_records"
    message = "The records are malformed."


class RecordsMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"
    message = "Send records as application/json or application/x-ndjson."
