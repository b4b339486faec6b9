"""RFID tag identifiers: SGTIN-96 EPCs (GS1 EPC Tag Data Standard, §14.5.1) and tag TIDs.

An SGTIN-96 is 96 bits: header 0x30 (8), filter (3), partition (3), GS1 company prefix and item
reference (44 bits between them, split by the partition table), serial (38). The item reference
carries the GTIN's indicator digit in front; the GTIN's check digit is not encoded.

A TID is the tag's own factory-written identity (its TID memory bank): read as hex, it starts with
its allocation class, E2 for tags made to the GS1 (EPCglobal) standard, E0 for ISO/IEC 7816-6 ones.

Pure functions only: no database, no Flask.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from app import gs1

SGTIN96_HEADER = 0x30
SERIAL_BITS = 38
MAX_SERIAL = (1 << SERIAL_BITS) - 1
# Partition value -> (company prefix bits, digits, item reference bits, digits): TDS Table 14-2.
PARTITIONS = {
    0: (40, 12, 4, 1),
    1: (37, 11, 7, 2),
    2: (34, 10, 10, 3),
    3: (30, 9, 14, 4),
    4: (27, 8, 17, 5),
    5: (24, 7, 20, 6),
    6: (20, 6, 24, 7),
}
_BY_PREFIX_DIGITS = {digits: partition for partition, (_, digits, _, _) in PARTITIONS.items()}
_HEX = re.compile(r"[0-9A-F]+")
_TID_CLASSES = ("E0", "E2")
TID_MIN_HEX, TID_MAX_HEX = 8, 64  # 32 to 256 bits

SGTIN96 = "sgtin96"
TID = "tid"


class EpcInvalid(ValueError):
    """Not an SGTIN-96 nor a TID we can read."""


@dataclass(frozen=True)
class Sgtin:
    """A decoded SGTIN: filter value, company prefix (as printed, with its leading zeros), item
    reference (indicator digit first) and serial."""

    filter: int
    company_prefix: str
    item_reference: str
    serial: int

    @property
    def gtin(self) -> str:
        """The GTIN-14: indicator digit, company prefix, the rest of the item reference, check digit."""
        body = self.item_reference[0] + self.company_prefix + self.item_reference[1:]
        return body + str(gs1.check_digit(body))

    @property
    def uri(self) -> str:
        """The EPC pure identity URI, urn:epc:id:sgtin:CompanyPrefix.ItemRefAndIndicator.Serial."""
        return f"urn:epc:id:sgtin:{self.company_prefix}.{self.item_reference}.{self.serial}"

    @property
    def tag_uri(self) -> str:
        return f"urn:epc:tag:sgtin-96:{self.filter}.{self.company_prefix}.{self.item_reference}.{self.serial}"


def encode_sgtin96(*, gtin: str, company_prefix_digits: int, serial: int, filter: int = 1) -> str:
    """The 24 hex digits of the SGTIN-96 of a GTIN (8 to 14 digits) and a serial."""
    gtin14 = gs1.normalize_gtin(gtin)
    partition = _BY_PREFIX_DIGITS.get(company_prefix_digits)
    if partition is None:
        raise EpcInvalid("a GS1 company prefix has 6 to 12 digits")
    if not 0 <= filter <= 7:
        raise EpcInvalid("the filter value is 0-7")
    if not 0 <= serial <= MAX_SERIAL:
        raise EpcInvalid(f"an SGTIN-96 serial is 0 to {MAX_SERIAL}")
    company = gtin14[1:1 + company_prefix_digits]
    item = gtin14[0] + gtin14[1 + company_prefix_digits:13]
    company_bits, _, item_bits, _ = PARTITIONS[partition]
    value = SGTIN96_HEADER
    for number, bits in ((filter, 3), (partition, 3), (int(company), company_bits), (int(item), item_bits),
                         (serial, SERIAL_BITS)):
        value = value << bits | number
    return f"{value:024X}"


def decode_sgtin96(text: str) -> Sgtin:
    """An SGTIN-96 from its 24 hex digits; EpcInvalid when it is not one."""
    hexa = text.strip().upper()
    if len(hexa) != 24 or not _HEX.fullmatch(hexa):
        raise EpcInvalid("an SGTIN-96 is 24 hex digits")
    value = int(hexa, 16)
    if value >> 88 != SGTIN96_HEADER:
        raise EpcInvalid("not an SGTIN-96 (its header is not 30)")
    filter_value = value >> 85 & 0b111
    partition = value >> 82 & 0b111
    if partition not in PARTITIONS:
        raise EpcInvalid("the SGTIN-96 partition value is 7 (reserved)")
    company_bits, company_digits, item_bits, item_digits = PARTITIONS[partition]
    company = value >> (SERIAL_BITS + item_bits) & ((1 << company_bits) - 1)
    item = value >> SERIAL_BITS & ((1 << item_bits) - 1)
    if company >= 10**company_digits or item >= 10**item_digits:
        raise EpcInvalid("the SGTIN-96 company prefix or item reference has too many digits")
    return Sgtin(filter_value, f"{company:0{company_digits}d}", f"{item:0{item_digits}d}", value & MAX_SERIAL)


@dataclass(frozen=True)
class Epc:
    """An RFID identifier as bound to a code: its kind (sgtin96 or tid), canonical hex, GTIN if any."""

    kind: str
    hex: str
    gtin: str | None = None


def looks_like_epc(text: str) -> bool:
    """Whether a scanned text is shaped like an EPC or a TID (hex, 8 to 64 digits), not like a code."""
    hexa = text.strip().upper()
    return TID_MIN_HEX <= len(hexa) <= TID_MAX_HEX and _HEX.fullmatch(hexa) is not None


def parse_epc(text: str) -> Epc:
    """An EPC read from a tag: an SGTIN-96 (24 hex digits, header 30) or a TID (hex, class E0/E2,
    whole bytes, 32 to 256 bits); EpcInvalid otherwise."""
    hexa = text.strip().upper()
    if not looks_like_epc(hexa):
        raise EpcInvalid("an EPC is 8 to 64 hex digits")
    if hexa.startswith("30"):
        return Epc(SGTIN96, hexa, decode_sgtin96(hexa).gtin)
    if hexa[:2] in _TID_CLASSES and len(hexa) % 2 == 0:
        return Epc(TID, hexa)
    raise EpcInvalid("neither an SGTIN-96 (header 30) nor a TID (class E0 or E2)")
