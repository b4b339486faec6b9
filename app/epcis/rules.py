"""EPCIS errors (whole request) and the per-event reasons a capture answers with."""
from __future__ import annotations

from app.errors import DomainError, ValidationFailed


class DocumentInvalid(ValidationFailed):
    code = "epcis_document_invalid"
    message = "The document is not a valid EPCIS 2.0 JSON-LD document; see errors."


class TooManyEvents(ValidationFailed):
    code = "epcis_too_many_events"
    message = "A capture holds at most 1,000 events."


class PageTokenInvalid(DomainError):
    status = 400
    code = "epcis_page_token_invalid"
    message = "nextPageToken is not one this query answered; start again without it."


# --- per-event reasons of a capture (the request itself succeeds) --------------------------------

UNSUPPORTED_EVENT = "unsupported_event"
EPC_UNKNOWN = "epc_unknown"
EPC_GTIN_MISMATCH = "epc_gtin_mismatch"
LOCATION_UNKNOWN = "location_unknown"
LOT_UNKNOWN = "lot_unknown"
LOT_AMBIGUOUS = "lot_ambiguous"
EVENT_ID_INVALID = "event_id_invalid"
EVENT_TIME_INVALID = "event_time_invalid"
EVENT_ID_REUSED = "event_id_reused"
RFID_TAGS_INVALID = "rfid_tags_invalid"

REASONS = {
    UNSUPPORTED_EVENT: "Capture records commissioning (ObjectEvent ADD), packing and unpacking (AggregationEvent "
                       "ADD/DELETE), shipping and receiving (ObjectEvent OBSERVE) and destroying (ObjectEvent "
                       "DELETE); this event is none of these.",
    EPC_UNKNOWN: "An EPC is not a Digital Link, SSCC or label URI of one of our codes.",
    EPC_GTIN_MISMATCH: "The EPC's GTIN is not the GTIN of the code's product.",
    LOCATION_UNKNOWN: "A readPoint, bizLocation, source or destination is not a line, warehouse or dealer of ours "
                      "(or the event lacks the one it needs).",
    LOT_UNKNOWN: "Commissioning needs ilmd cbvmda:lotNumber naming a production lot of the code's product.",
    LOT_AMBIGUOUS: "The lot number belongs to several products: send EPCs that carry the product (GTIN).",
    EVENT_ID_INVALID: "eventID is longer than 512 characters.",
    EVENT_TIME_INVALID: "eventTime is not a date-time with a time zone.",
    EVENT_ID_REUSED: "This eventID was captured before with other content; a new event needs a new eventID.",
    RFID_TAGS_INVALID: "mt:rfidTags lists tag EPCs (SGTIN-96 or TID hex) on a commissioning or encoding of one "
                       "EPC, or on an AggregationEvent ADD (the parent's tags).",
}
