"""The code format: codes verify by arithmetic alone, and anything else is rejected."""
from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.codes.format import (
    ALPHABET, CODE_LENGTH, MAX_SERIAL, CodeId, CodeKeyring, InvalidCode,
)

KEYS = "1:" + "aa" * 32 + ",2:" + "bb" * 32
RING = CodeKeyring.from_setting(KEYS)  # current: 2, the highest
RING_V1 = CodeKeyring.from_setting(KEYS, current=1)


def reason_of(ring: CodeKeyring, text: str) -> str:
    with pytest.raises(InvalidCode) as caught:
        ring.decode(text)
    return caught.value.reason


def test_a_code_is_18_characters_of_the_crockford_alphabet():
    code = RING.encode(123_456)
    assert len(code) == CODE_LENGTH
    assert set(code) <= set(ALPHABET)
    assert not set(code) & set("ILOU")


def test_the_fast_encoder_matches_the_reference_layout():
    # version (5 bits) ‖ serial (40) ‖ first 45 bits of keyed BLAKE2b-128, in base32.
    serial, version = 987_654_321, 1
    digest = hashlib.blake2b((version << 40 | serial).to_bytes(6, "big"), key=bytes.fromhex("aa" * 32),
                             digest_size=16, person=b"matong-code").digest()
    value = (version << 40 | serial) << 45 | int.from_bytes(digest[:6], "big") >> 3
    rfc = base64.b32encode((value << 6).to_bytes(12, "big"))[:18]
    crockford = rfc.translate(bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET.encode()))
    assert RING.encode(serial, version=1) == crockford.decode()


@settings(max_examples=300, deadline=None)
@given(serial=st.integers(min_value=0, max_value=MAX_SERIAL), version=st.sampled_from([1, 2]))
def test_every_code_round_trips(serial, version):
    code = RING.encode(serial, version=version)
    assert RING.decode(code) == CodeId(version, serial)


@settings(max_examples=50, deadline=None)
@given(start=st.integers(min_value=0, max_value=MAX_SERIAL - 70_000),
       count=st.integers(min_value=0, max_value=300), digits=st.sampled_from([None, 6, 7, 8]))
def test_the_batched_fast_path_equals_one_by_one_encoding(start, count, digits):
    codes, hidden = [], []
    for chunk, hidden_chunk in RING.code_chunks(start=start, count=count, hidden_digits=digits, chunk_size=97):
        codes += chunk
        hidden += hidden_chunk or []
    assert codes == [RING.encode(s) for s in range(start, start + count)]
    if digits:
        assert hidden == [RING.hidden_code(s, digits) for s in range(start, start + count)]


def test_the_fast_path_crosses_its_internal_block_boundaries():
    start = 32768 * 3 - 5  # the cached version+serial prefix changes every 32768 serials
    codes = [c for chunk, _ in RING.code_chunks(start=start, count=10, chunk_size=4) for c in chunk]
    assert codes == [RING.encode(s) for s in range(start, start + 10)]


def test_every_single_character_substitution_is_rejected():
    code = RING.encode(424_242)
    for position in range(CODE_LENGTH):
        for ch in ALPHABET:
            if ch != code[position]:
                mistyped = code[:position] + ch + code[position + 1:]
                assert reason_of(RING, mistyped) in ("forged", "unknown_key"), mistyped


def test_every_adjacent_transposition_is_rejected():
    code = RING.encode(31_337)
    for i in range(CODE_LENGTH - 1):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
            assert reason_of(RING, swapped) in ("forged", "unknown_key")


def test_truncated_and_extended_codes_are_malformed():
    code = RING.encode(7)
    for text in (code[:-1], code[1:], code + "0", code + code, "", "   "):
        assert reason_of(RING, text) == "malformed"


@pytest.mark.parametrize("bad", ["U", "*", "é", "_"])
def test_characters_outside_the_alphabet_are_malformed(bad):
    code = RING.encode(7)
    assert reason_of(RING, bad + code[1:]) == "malformed"


def test_lower_case_hyphens_spaces_and_look_alikes_are_read_as_meant():
    serial = next(s for s in range(1000) if {"0", "1"} <= set(RING.encode(s)))
    code = RING.encode(serial)
    people_typed = " " + "-".join([code[:6], code[6:12], code[12:]]).lower().replace("0", "o").replace("1", "l") + " "
    assert RING.decode(people_typed) == CodeId(RING.current, serial)
    assert RING.decode(code.replace("1", "I")) == CodeId(RING.current, serial)


def test_a_code_issued_under_key_1_still_verifies_after_key_2_becomes_current():
    old = RING_V1.encode(55)
    assert RING.current == 2
    assert RING.decode(old) == CodeId(1, 55)
    assert RING.encode(55) != old


def test_a_code_of_an_unknown_key_version_is_rejected():
    ring_v3 = CodeKeyring.from_setting("3:" + "cc" * 32)
    assert reason_of(RING, ring_v3.encode(55)) == "unknown_key"
    # A retired key: once removed from CODE_KEYS, its codes stop verifying.
    assert reason_of(CodeKeyring.from_setting("2:" + "bb" * 32), RING_V1.encode(55)) == "unknown_key"


def test_a_code_under_another_key_of_the_same_version_is_forged():
    other = CodeKeyring.from_setting("2:" + "dd" * 32)
    assert reason_of(RING, other.encode(55)) == "forged"


def test_hidden_codes_have_the_asked_digits_and_check_in_constant_time():
    for digits in (6, 7, 8):
        hidden = RING.hidden_code(99, digits)
        assert len(hidden) == digits and hidden.isdigit()
        assert RING.check_hidden_code(CodeId(2, 99), digits, hidden)
        assert not RING.check_hidden_code(CodeId(2, 99), digits, str((int(hidden) + 1) % 10**digits).zfill(digits))
    with pytest.raises(ValueError):
        RING.hidden_code(99, 5)


def test_hidden_codes_spread_over_their_range():
    values = {RING.hidden_code(s, 6) for s in range(2000)}
    assert len(values) > 1990  # 2000 draws from a million: collisions are rare


@pytest.mark.parametrize("setting, message", [
    ("", "not set"),
    ("1:" + "aa" * 31, "at least 32"),
    ("0:" + "aa" * 32, "1..31"),
    ("32:" + "aa" * 32, "1..31"),
    ("1:zz", "look like"),
    ("1:" + "aa" * 32 + ",1:" + "bb" * 32, "twice"),
])
def test_bad_key_settings_are_refused(setting, message):
    with pytest.raises(ValueError, match=message):
        CodeKeyring.from_setting(setting)


def test_the_current_version_must_have_a_key():
    with pytest.raises(ValueError, match="no key"):
        CodeKeyring.from_setting(KEYS, current=3)


def test_forged_codes_are_rejected_without_touching_the_database(app, monkeypatch):
    from app.codes import service
    from app.extensions import db

    class NoDatabase:
        def __getattr__(self, name):
            raise AssertionError("the database was used")

    monkeypatch.setattr(db, "session", NoDatabase())
    good = service.keyring().encode(1234)
    forged = good[:-1] + ("0" if good[-1] != "0" else "1")
    with app.test_request_context():
        assert service.resolve_code(forged).status == "forged"
        assert service.resolve_code("not-a-code").status == "malformed"
        assert service.resolve_code(CodeKeyring.from_setting("9:" + "ee" * 32).encode(1)).status == "forged"
