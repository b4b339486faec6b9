"""The code format: 18 Crockford base32 characters, verifiable offline with the key alone.

A code holds 90 bits: key version (5) ‖ serial (40) ‖ MAC (45). The MAC is the first 45 bits of
keyed BLAKE2b-128 over version and serial; the last 64 bits of the same digest give the hidden
(scratch-off) code, so the hidden code is never stored and costs no second hash. A random guess
is valid with probability 2^-45; a forged, mistyped or truncated code fails arithmetic alone.

Because version and serial are exactly 45 bits (9 characters), and so is the MAC, a code reads as
9 characters of version+serial followed by 9 characters of MAC.

Pure functions and classes only: no database, no Flask.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Iterator

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 18
VERSION_BITS = 5
SERIAL_BITS = 40
MAC_BITS = 45
MAX_SERIAL = (1 << SERIAL_BITS) - 1
MAX_VERSION = (1 << VERSION_BITS) - 1
MIN_KEY_BYTES = 32
HIDDEN_DIGITS = (6, 7, 8)
PERSON = b"matong-code"

_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Crockford's reading rules: O is zero, I and L are one; hyphens and spaces are only for people.
_NORMALISE = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
# Three characters (15 bits) per lookup: a code is six lookups, the fast path's inner step.
_T15 = [a + b + c for a in ALPHABET for b in ALPHABET for c in ALPHABET]
_M15 = (1 << 15) - 1
_M64 = (1 << 64) - 1


class InvalidCode(ValueError):
    """The text is not a valid code; ``reason`` is malformed, unknown_key or forged."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CodeId:
    """What a valid code carries."""

    key_version: int
    serial: int


def normalise(text: str) -> str:
    """Upper-case, drop spaces and hyphens, read O as 0 and I/L as 1."""
    return text.strip().upper().translate(_NORMALISE)


def parse(text: str) -> tuple[int, int, int]:
    """(version, serial, mac) of a code's characters; InvalidCode("malformed") if it has none."""
    code = normalise(text)
    if len(code) != CODE_LENGTH:
        raise InvalidCode("malformed", f"A code has {CODE_LENGTH} characters.")
    value = 0
    for ch in code:
        digit = _VALUE.get(ch)
        if digit is None:
            raise InvalidCode("malformed", f"{ch!r} is not a code character.")
        value = value << 5 | digit
    return value >> (SERIAL_BITS + MAC_BITS), (value >> MAC_BITS) & MAX_SERIAL, value & ((1 << MAC_BITS) - 1)


def _chars45(value: int) -> str:
    return _T15[value >> 30] + _T15[(value >> 15) & _M15] + _T15[value & _M15]


class CodeKeyring:
    """The code keys by version; the current version issues, every version verifies."""

    def __init__(self, keys: dict[int, bytes], current: int | None = None):
        if not keys:
            raise ValueError("at least one code key is needed")
        for version, key in keys.items():
            if not 1 <= version <= MAX_VERSION:
                raise ValueError(f"code key versions are 1..{MAX_VERSION}, got {version}")
            if len(key) < MIN_KEY_BYTES:
                raise ValueError(f"code key {version} has {len(key)} bytes; at least {MIN_KEY_BYTES} are needed")
        self.current = current or max(keys)
        if self.current not in keys:
            raise ValueError(f"the current code key version {self.current} has no key")
        # A keyed hasher per version, copied per code: cheaper than keying each time.
        self._hashers = {v: hashlib.blake2b(key=k, digest_size=16, person=PERSON) for v, k in keys.items()}

    @classmethod
    def from_setting(cls, setting: str | None, current: int = 0) -> "CodeKeyring":
        """Build from CODE_KEYS ("version:hexkey,version:hexkey"); current 0 means the highest."""
        if not setting:
            raise ValueError("CODE_KEYS is not set")
        keys: dict[int, bytes] = {}
        for part in setting.split(","):
            version, sep, hexkey = part.strip().partition(":")
            try:
                if not sep:
                    raise ValueError
                number, key = int(version), bytes.fromhex(hexkey.strip())
            except ValueError as exc:
                raise ValueError("CODE_KEYS entries look like 1:<hex key>") from exc
            if number in keys:
                raise ValueError(f"code key version {number} is given twice")
            keys[number] = key
        return cls(keys, current or None)

    @property
    def versions(self) -> frozenset[int]:
        return frozenset(self._hashers)

    def _digest(self, version: int, serial: int) -> int:
        hasher = self._hashers[version].copy()
        hasher.update((version << SERIAL_BITS | serial).to_bytes(6, "big"))
        return int.from_bytes(hasher.digest(), "big")

    def mac(self, version: int, serial: int) -> int:
        """The 45-bit MAC of a serial under a key version (the key version must be known)."""
        return self._digest(version, serial) >> 83

    def encode(self, serial: int, version: int | None = None) -> str:
        """The code of a serial under a key version (default: the current one)."""
        version = version or self.current
        if not 0 <= serial <= MAX_SERIAL:
            raise ValueError(f"serials are 0..{MAX_SERIAL}")
        if version not in self._hashers:
            raise ValueError(f"no code key of version {version}")
        head = version << SERIAL_BITS | serial
        return _chars45(head) + _chars45(self._digest(version, serial) >> 83)

    def decode(self, text: str) -> CodeId:
        """Verify a code by arithmetic alone; raise InvalidCode when it is malformed or forged."""
        version, serial, mac = parse(text)
        if version not in self._hashers:
            raise InvalidCode("unknown_key", "The code's key version is unknown.")
        expected = self._digest(version, serial) >> 83
        if not hmac.compare_digest(expected.to_bytes(6, "big"), mac.to_bytes(6, "big")):
            raise InvalidCode("forged", "The code does not verify.")
        return CodeId(version, serial)

    def hidden_code(self, serial: int, digits: int, version: int | None = None) -> str:
        """The hidden verification code (digits long) that goes with a serial's code."""
        _check_digits(digits)
        value = self._digest(version or self.current, serial) & _M64
        return str(value % 10**digits).zfill(digits)

    def check_hidden_code(self, code: CodeId, digits: int, given: str) -> bool:
        """Constant-time check of a hidden code given by a consumer."""
        expected = self.hidden_code(code.serial, digits, code.key_version)
        return hmac.compare_digest(expected.encode(), given.strip().encode())

    def code_chunks(self, *, start: int, count: int, version: int | None = None,
                    hidden_digits: int | None = None, chunk_size: int = 8192
                    ) -> Iterator[tuple[list[str], list[str] | None]]:
        """Codes of serials start..start+count-1 in order, as chunks (codes, hidden codes or None).

        The fast path of exports: one hash and six table lookups per code; the nine version+serial
        characters only change in their last three every 32768 serials, so those are reused.
        """
        version = version or self.current
        if count < 0 or start < 0 or start + count - 1 > MAX_SERIAL:
            raise ValueError(f"serials are 0..{MAX_SERIAL}")
        if hidden_digits is not None:
            _check_digits(hidden_digits)
        copy = self._hashers[version].copy
        from_bytes = int.from_bytes
        table = _T15
        head = version << SERIAL_BITS | start
        end = head + count
        while head < end:
            stop = min(end, head + chunk_size)
            codes: list[str] = []
            hidden: list[str] | None = None if hidden_digits is None else []
            append = codes.append
            while head < stop:
                block_stop = min(stop, (head | _M15) + 1)
                prefix = table[head >> 30] + table[(head >> 15) & _M15]
                if hidden is None:
                    for h in range(head, block_stop):
                        hasher = copy()
                        hasher.update(h.to_bytes(6, "big"))
                        m = from_bytes(hasher.digest(), "big") >> 83
                        append(prefix + table[h & _M15] + table[m >> 30] + table[(m >> 15) & _M15]
                               + table[m & _M15])
                else:
                    modulus, pad, add = 10**hidden_digits, 10**hidden_digits, hidden.append
                    for h in range(head, block_stop):
                        hasher = copy()
                        hasher.update(h.to_bytes(6, "big"))
                        d = from_bytes(hasher.digest(), "big")
                        m = d >> 83
                        append(prefix + table[h & _M15] + table[m >> 30] + table[(m >> 15) & _M15]
                               + table[m & _M15])
                        # pad + value, minus its leading 1: zero-padded without a format call.
                        add(str(pad + (d & _M64) % modulus)[1:])
                head = block_stop
            yield codes, hidden


def _check_digits(digits: int) -> None:
    if digits not in HIDDEN_DIGITS:
        raise ValueError(f"hidden codes have {HIDDEN_DIGITS[0]} to {HIDDEN_DIGITS[-1]} digits")
