"""The line upload's records, as the wire carries them: commission, pack, unpack, remove, replace, scrap.

msgspec structs (one tagged union, validated in C) and each record's result. The engine
(``app.units.line_engine``) applies them; ``as_records`` converts dicts for callers that build them.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Iterable, Literal, Union

import msgspec
from msgspec import Meta

from app.platform.ids import CLIENT_ID_PATTERN
from app.units import rules

MAX_RECORDS = 100_000
MAX_CODES_PER_RECORD = 100_000  # a list or a range of one commission record

RecordIdText = Annotated[str, Meta(min_length=1, max_length=64, pattern=CLIENT_ID_PATTERN)]
CodeText = Annotated[str, Meta(min_length=1, max_length=64)]
EpcText = Annotated[str, Meta(min_length=1, max_length=64)]
AwareTime = Annotated[datetime, Meta(tz=True)]
LotId = Annotated[int, Meta(ge=1, le=2**63 - 1)]


class _Record(msgspec.Struct, kw_only=True, tag_field="type", forbid_unknown_fields=True, gc=False):
    """What every record carries: the client's record id, the scan time, optionally what it corrects.

    (gc=False: records hold no cycles, so the garbage collector needn't walk a hundred thousand of them.)
    """

    record_id: RecordIdText
    scanned_at: AwareTime
    corrects: RecordIdText | None = None  # the record id of an earlier record of the same client


class Commission(_Record, kw_only=True, tag="commission"):
    """Items into a production lot: one code, a list, or an inclusive range code..last_code of one batch."""

    code: CodeText | None = None
    codes: Annotated[list[CodeText], Meta(min_length=1, max_length=MAX_CODES_PER_RECORD)] | None = None
    last_code: CodeText | None = None
    lot_id: LotId | None = None  # default: the session's lot
    epc: EpcText | None = None  # the item's RFID tag (SGTIN-96 hex or TID), bound to its code

    def __post_init__(self):
        if (self.code is None) == (self.codes is None):
            raise ValueError("a commission record has either code (with last_code for a range) or codes")
        if self.last_code is not None and self.code is None:
            raise ValueError("last_code goes with code (an inclusive range)")
        if self.epc is not None and (self.code is None or self.last_code is not None):
            raise ValueError("epc goes with a single code")


class Pack(_Record, kw_only=True, tag="pack"):
    """A child (item or case) into a parent one level above (case or pallet)."""

    code: CodeText
    parent: CodeText
    partial: bool = False  # marks the parent partial (sticky): not held to the packaging count
    parent_epc: EpcText | None = None  # the parent's RFID tag, bound to the parent's code


class Unpack(_Record, kw_only=True, tag="unpack"):
    """Every child out of a parent."""

    code: CodeText


class Remove(_Record, kw_only=True, tag="remove"):
    """One child out of its parent (which, when given, must be the one it is in)."""

    code: CodeText
    parent: CodeText | None = None


class Replace(_Record, kw_only=True, tag="replace"):
    """A damaged label: new_code takes over the unit, code is voided."""

    code: CodeText
    new_code: CodeText


class Scrap(_Record, kw_only=True, tag="scrap"):
    """A unit and everything inside it destroyed."""

    code: CodeText


Record = Union[Commission, Pack, Unpack, Remove, Replace, Scrap]
RECORD_TYPES = ("commission", "pack", "unpack", "remove", "replace", "scrap")


class Upload(msgspec.Struct, forbid_unknown_fields=True):
    records: Annotated[list[Record], Meta(min_length=1)]


class Result(msgspec.Struct, omit_defaults=True, gc=False):
    """One record's outcome: accepted, duplicate or rejected (with reason, message, failing codes)."""

    index: int
    record_id: str
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = None
    message: str | None = None
    codes: list[str] | None = None
    previously_applied: bool = False


def as_records(records: Iterable) -> list[Record]:
    """Records as the engine takes them (dicts are validated and converted, structs pass as they are)."""
    records = list(records)
    if all(isinstance(r, _Record) for r in records):
        return records
    try:
        return msgspec.convert(records, list[Record])
    except msgspec.ValidationError as error:
        raise rules.RecordsInvalid(str(error), errors={"records": [str(error)]})
