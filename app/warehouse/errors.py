"""The warehouse's errors: the whole-request refusals (a single record's refusal is a reason of ``rules``)."""
from __future__ import annotations

from app.errors import ValidationFailed


class ScanRecordsInvalid(ValidationFailed):
    code = "invalid_scan_records"
    message = "The scan records are malformed; see errors for each record."
