"""Reading codes in bulk: the text scanned (a code, a label URL, an RFID tag) to its serial and batch.

``CodeReader`` decodes with one regular expression, ``int(x, 32)`` and one keyed hash per code, and reads
bound RFID tags in a query per chunk; ``BatchIndex`` finds each serial's batch by one bisection over the
batches' serial ranges.
"""
from __future__ import annotations

import bisect
import hmac
import re
from typing import Iterable

import msgspec
import sqlalchemy as sa

from app import rfid
from app.codes.format import ALPHABET, CODE_LENGTH, MAC_BITS, MAX_SERIAL, SERIAL_BITS, normalise
from app.codes.models import BatchStatus, CodeBatch
from app.codes.service import keyring
from app.extensions import db
from app.units.models import EpcBinding, Unit
from app.units.unit_rows import chunks

_CODE = re.compile(f"[{ALPHABET}]{{{CODE_LENGTH}}}")
# Crockford digits to the digits int(x, 32) reads: the parse runs in C.
_TO_BASE32 = str.maketrans(ALPHABET, "0123456789abcdefghijklmnopqrstuv")
_MAC_MASK = (1 << MAC_BITS) - 1
EPC_UNKNOWN = "epc_unknown"  # a read of an RFID tag (EPC or TID) that is bound to no code
EPC_UNKNOWN_MESSAGE = "This RFID tag (EPC or TID) is bound to no code."


class Decoded(msgspec.Struct, frozen=True, gc=False):
    """A code that verifies: its canonical text, key version and serial."""

    code: str
    key_version: int
    serial: int


class CodeReader:
    """Decodes many codes fast, remembering each (a parent code is scanned once per child).

    An RFID read (an SGTIN-96 EPC or a TID, as hex) reads as the code it is bound to: every scan
    path that reads codes through here takes EPCs too. ``epcs=False`` reads codes only, without the
    database (the line engine decodes while its database work runs in another thread).
    """

    def __init__(self, *, epcs: bool = True):
        self._ring = keyring()
        self._versions = self._ring.versions
        self._seen: dict[str, Decoded | str] = {}
        self._epcs = epcs

    def read(self, text: str) -> Decoded | str:
        """The decoded code, or the reason it is refused: "forged" (malformed, unknown key, bad MAC),
        "epc_unknown" (an EPC or TID bound to no code)."""
        known = self._seen.get(text)
        if known is not None:
            return known
        # Printed codes arrive canonical; only a code typed by a person needs normalising. Whether
        # it did is a flag, not `code is not text`: normalising "!" can give back the same object.
        canonical = _CODE.fullmatch(text) is not None
        code = text if canonical else normalise(text)
        if not canonical and not _CODE.fullmatch(code):
            result: Decoded | str = "forged"
        else:
            value = int(code.translate(_TO_BASE32), 32)
            version, serial = value >> (SERIAL_BITS + MAC_BITS), (value >> MAC_BITS) & MAX_SERIAL
            if version not in self._versions or not hmac.compare_digest(
                    self._ring.mac(version, serial).to_bytes(6, "big"), (value & _MAC_MASK).to_bytes(6, "big")):
                result = "forged"
            else:
                result = Decoded(code, version, serial)
        if result == "forged" and self._epcs and rfid.looks_like_epc(text):
            result = self._bound(text)
        if len(self._seen) < 1_000_000:
            self._seen[text] = result
        return result

    def prefetch(self, texts: Iterable[str]) -> None:
        """Resolve the EPCs among many texts in one query per chunk (the scans of an RFID portal)."""
        if not self._epcs:
            return
        wanted: dict[str, list[str]] = {}
        for text in texts:
            # What has a code's shape is read as a code first (read() tries it as a tag if it fails).
            if text not in self._seen and rfid.looks_like_epc(text) and not _CODE.fullmatch(normalise(text)):
                try:
                    wanted.setdefault(rfid.parse_epc(text).hex, []).append(text)
                except rfid.EpcInvalid:
                    pass  # read() refuses it as forged
        for chunk in chunks(sorted(wanted)):
            for epc, serial, version in db.session.execute(
                    sa.select(EpcBinding.epc, Unit.serial, Unit.key_version)
                    .join(Unit, Unit.serial == EpcBinding.serial).where(EpcBinding.epc.in_(chunk))):
                for text in wanted.pop(epc, ()):
                    self._seen[text] = self._decoded(serial, version)
        for texts_left in wanted.values():
            for text in texts_left:
                self._seen[text] = EPC_UNKNOWN

    def _bound(self, text: str) -> Decoded | str:
        try:
            epc = rfid.parse_epc(text)
        except rfid.EpcInvalid:
            return "forged"
        row = db.session.execute(sa.select(Unit.serial, Unit.key_version)
                                 .join(EpcBinding, EpcBinding.serial == Unit.serial)
                                 .where(EpcBinding.epc == epc.hex)).first()
        return EPC_UNKNOWN if row is None else self._decoded(*row)

    def _decoded(self, serial: int, version: int) -> Decoded | str:
        if version not in self._versions:
            return "forged"  # its key was retired: its code no longer verifies either
        return Decoded(self._ring.encode(serial, version), version, serial)


class BatchIndex:
    """The code batches holding a set of serials, found by bisection (batches are serial ranges)."""

    def __init__(self, batches: list[CodeBatch] | None = None):
        self.batches = batches or []
        # Plain lists: a hundred thousand look-ups shouldn't each go through ORM attributes.
        self.starts = [b.serial_start for b in self.batches]
        self._ends = [b.serial_start + b.count for b in self.batches]
        self._versions = [b.key_version for b in self.batches]

    @classmethod
    def covering(cls, serials: Iterable[int]) -> "BatchIndex":
        serials = list(serials)
        if not serials:
            return cls()
        low, high = min(serials), max(serials)
        floor = db.session.scalar(sa.select(sa.func.max(CodeBatch.serial_start))
                                  .where(CodeBatch.serial_start <= low))
        batches = list(db.session.scalars(
            sa.select(CodeBatch).where(CodeBatch.serial_start >= (floor if floor is not None else low),
                                       CodeBatch.serial_start <= high)
            .order_by(CodeBatch.serial_start)))
        return cls(batches)

    def batch_of(self, decoded: Decoded) -> CodeBatch | None:
        """The batch that issued this code (same key version), or None: the code was never issued."""
        serial = decoded.serial
        i = bisect.bisect_right(self.starts, serial) - 1
        if i < 0 or serial >= self._ends[i] or self._versions[i] != decoded.key_version:
            return None
        return self.batches[i]


def issue_reason(batch: CodeBatch | None) -> str | None:
    """Why an issued code can't be used at all: "unknown" (never issued), "voided" (batch voided)."""
    if batch is None:
        return "unknown"
    if batch.status is BatchStatus.VOIDED:
        return "voided"
    return None
